#!/bin/sh
# A replica that notes its start and the stop signal it got in $OUT
# ("start REPLICA VERSION", "term REPLICA VERSION"), and exits on SIGTERM
# only once the file $GATE exists.
echo "start $LOOP_REPLICA $VERSION" >>"$OUT"
trap 'echo "term $LOOP_REPLICA $VERSION" >>"$OUT"; while [ ! -e "$GATE" ]; do sleep 0.05; done; exit 0' TERM
while :; do
    sleep 1 &
    wait $!
done

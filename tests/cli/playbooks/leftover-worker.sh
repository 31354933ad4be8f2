#!/bin/sh
# A worker that claims `item`, leaves a child in its process group that
# records the stop signal it gets, and on its next start reports whether
# the previous child was still running when the claim was granted again.
loop _ claim item --wait inf || exit 1
if [ -s "$OUT_DIR/old" ]; then
    s=$(ps -o stat= -p "$(cat "$OUT_DIR/old")" 2>/dev/null)
    case "$s" in
    '' | Z*) echo clean ;;
    *) echo overlap ;;
    esac >>"$OUT_DIR/result"
fi
sh -c 'trap "echo term >>\"$OUT_DIR/term\"; exit 0" TERM; while :; do sleep 1; done' &
echo $! >"$OUT_DIR/old"
wait

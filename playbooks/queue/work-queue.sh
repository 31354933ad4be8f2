#!/bin/sh
# A queue worker: works every pending item of a queue directory once, however
# many copies of it run at the same time (by hand, from cron, or as the
# replicas of a worker of a playbook run by `loop supervise`).
#
#   work-queue.sh [QUEUE]        (default: $QUEUE_DIR)
#
# The queue is a directory:
#   QUEUE/items/NAME   one file per work item (NAME: letters, digits and
#                      ._:@+=- only, since it becomes part of a claim name)
#   QUEUE/done/NAME    written when NAME has been worked (created as needed)
#
# The pattern: list, claim, RE-CHECK, work, mark done, release.
#   1. List the pending items (those without a done marker).
#   2. For each, `loop _ claim queue:NAME --wait 0`; busy means another worker
#      has it: skip it.
#   3. Holding the claim, check again that NAME is still pending. Between the
#      listing and the claim another worker may have claimed NAME, worked it,
#      marked it done and released it: the claim then succeeds although
#      there is nothing left to do. Without this check that item is worked
#      twice. The check is only trustworthy under the claim: whoever marks
#      NAME done holds the claim while doing so.
#   4. Work, mark done (written under a temporary name and renamed, so a
#      marker is never seen half-written), then release the claim.
# A pass that found items held by others waits (on the claim's
# notification, not a poll) for one of them and lists again; the worker
# exits 0 once nothing is pending.
#
# Environment:
#   WORK_CMD      the work: a command line run by sh with ITEM (the name) and
#                 ITEM_FILE (its file) set (default: print the item's file)
#   CLAIM_PREFIX  prepended to NAME to make the claim name (default "queue:")
#   WAIT          how long to wait for an item another worker holds (default 60s)
#
# Claims belong to $LOOP_SESSION_ID when set (a supervised worker), else to
# this shell: if the worker dies, its claim is stale at once and the item is
# taken over by the next worker that asks, so nothing is lost.
set -u

queue=${1:-${QUEUE_DIR:-}}
if [ -z "$queue" ] || [ ! -d "$queue/items" ]; then
    echo "usage: work-queue.sh QUEUE (a directory with items/ in it)" >&2
    exit 2
fi
# shellcheck disable=SC2016 # expanded by the work command's shell
WORK_CMD=${WORK_CMD:-'cat "$ITEM_FILE"'}
CLAIM_PREFIX=${CLAIM_PREFIX-queue:}
WAIT=${WAIT:-60s}
mkdir -p "$queue/done" || exit 3

errors=$(mktemp) || exit 3
held=''
release() {
    [ -n "$held" ] && loop _ unclaim "$held" >/dev/null
    held=''
}
trap 'rm -f "$errors"' EXIT
trap 'release; exit 143' TERM
trap 'release; exit 130' INT

# The items without a done marker, one name per line.
pending() {
    for f in "$queue"/items/*; do
        [ -f "$f" ] || continue
        n=${f##*/}
        [ -e "$queue/done/$n" ] || printf '%s\n' "$n"
    done
}

# take NAME WAIT: claims NAME and, if it is still pending, works it.
# Returns 0 when NAME is done (by us or by someone else), 1 when another
# worker holds it, 2 when the work failed (NAME stays pending); exits on any
# other error of loop.
take() {
    name=$1
    loop _ claim "$CLAIM_PREFIX$name" --wait "$2" --reason "work-queue $name" \
        >/dev/null 2>"$errors"
    rc=$?
    case $rc in
    0) held=$CLAIM_PREFIX$name ;;
    1) return 1 ;;
    *)
        cat "$errors" >&2
        echo "work-queue: cannot claim $CLAIM_PREFIX$name (exit $rc)" >&2
        exit "$rc"
        ;;
    esac
    # The re-check: finished by another worker since the listing?
    if [ -e "$queue/done/$name" ]; then
        release
        return 0
    fi
    if ! ITEM=$name ITEM_FILE=$queue/items/$name sh -c "$WORK_CMD"; then
        echo "work-queue: $name failed; left pending" >&2
        release
        return 2
    fi
    printf '%s\n' "${LOOP_SESSION_ID:-$$}" >"$queue/done/.$name.$$" &&
        mv -f "$queue/done/.$name.$$" "$queue/done/$name" || exit 3
    release
    return 0
}

while :; do
    list=$(pending)
    [ -n "$list" ] || exit 0
    busy='' progress=''
    for name in $list; do
        take "$name" 0
        case $? in
        0) progress=1 ;;
        1) busy=$name ;;
        esac
    done
    if [ -n "$busy" ]; then
        # Held by others: wait for one of them to be released (or for its
        # holder to die), then list again.
        take "$busy" "$WAIT"
    elif [ -z "$progress" ]; then
        echo "work-queue: every pending item failed" >&2
        exit 1
    fi
done

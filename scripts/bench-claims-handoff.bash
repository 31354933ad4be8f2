# shellcheck shell=bash
# shellcheck disable=SC2154 # the variables of scripts/bench-claims, which sources this
# The --handoff mode of scripts/bench-claims (sourced by it, after its
# helpers and its session exist): hand-over latency on the file backend.
#
# A waiter `loop _ claim NAME --wait 30s --session W` blocks (seen asleep in
# poll(2) in /proc/PID/wchan) while another session holds NAME; then
#   release: the holder runs `loop _ unclaim NAME --session H`;
#   death:   the `sleep 1000` that the holder's session is anchored to
#            (`loop _ session start --pid P`) gets SIGKILL.
# The peer is flock(1): a waiter `flock -x FILE true` blocks (in the kernel's
# lock wait) while `flock -x FILE sleep 1000` holds FILE; the holder (flock
# and its sleep, one process group: both hold the lock's file description)
# gets SIGKILL. For flock, release and death are the same event.
# Measured: from just before the unclaim (the kill) to the waiter's exit, as
# seen by a bash wrapper that waits for it (EPOCHREALTIME). Every hand-over
# must be valid: the waiter exits 0 and, for loop, printed `claimed NAME`.
#
# With --compare PATH the second binary is measured too, each binary in a
# home of its own, every case of both interleaved in one run, so that
# before/after figures share the machine's load.

ho_n="${BENCH_HANDOFFS:-30}"; positive_int BENCH_HANDOFFS "$ho_n"
ho_name=bench-handoff
ho_bins=("$loop_bin")
ho_tags=(loop)
if [ -n "$compare_bin" ]; then
  ho_bins+=("$compare_bin")
  ho_tags+=(compare)
fi
ho_flockfile="$tmp/handoff-flock"
: >"$ho_flockfile"
declare -A ho_times   # "CASE TAG" -> the latencies in ms, one a line
declare -A ho_holder  # TAG -> the holder session of the release case
declare -A ho_waiter  # TAG -> the waiter session
declare -A ho_bin     # TAG -> the binary
declare -A ho_home    # TAG -> its home

load() { cut -d' ' -f1-3 /proc/loadavg; }
ms_since() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", (b - a) * 1000 }'; }

# Waits until PID sleeps in the kernel where WCHAN_GLOB says (poll for loop,
# the lock wait for flock), then a little more so that it is settled there.
# Fails when PID exits first or after 10 s.
ho_await_blocked() { # PID WCHAN_GLOB
  local i w
  for ((i = 0; i < 1000; i++)); do
    kill -0 "$1" 2>/dev/null || return 1
    w="$(cat "/proc/$1/wchan" 2>/dev/null)" || w=""
    # shellcheck disable=SC2254 # the pattern is the argument
    case "$w" in $2) sleep 0.02; return 0 ;; esac
    sleep 0.01
  done
  return 1
}

# Starts the timing wrapper: a subshell that runs "$@" (the waiter) with its
# output in $tmp/waiter.out, waits for it and writes "EPOCHREALTIME STATUS"
# to $tmp/waiter.end. Sets ho_wrap (the subshell) and ho_wpid (the waiter);
# both are in bg_pids until ho_reap_waiter.
ho_start_waiter() {
  rm -f "$tmp/waiter.pid" "$tmp/waiter.end" "$tmp/waiter.out"
  (
    "$@" >"$tmp/waiter.out" 2>&1 &
    echo $! >"$tmp/waiter.pid"
    wrc=0
    wait $! || wrc=$?
    echo "$EPOCHREALTIME $wrc" >"$tmp/waiter.end"
  ) &
  ho_wrap=$!
  bg_pids+=("$ho_wrap")
  while [ ! -s "$tmp/waiter.pid" ]; do sleep 0.005; done
  ho_wpid="$(cat "$tmp/waiter.pid")"
  bg_pids+=("$ho_wpid") # the wrapper's child: stopped by the trap too
}

ho_reap_waiter() { # sets ho_t1 and ho_rc from the wrapper's note
  wait "$ho_wrap" 2>/dev/null || true
  forget_pid "$ho_wrap"
  forget_pid "$ho_wpid"
  ho_t1="" ho_rc=""
  [ -s "$tmp/waiter.end" ] && read -r ho_t1 ho_rc <"$tmp/waiter.end"
  return 0
}

# A waiter that never blocked (it got the name at once, or it waits in some
# other way): the measurement is invalid and what state it left is unknown, so
# the run stops here (the trap stops every process and removes $tmp).
ho_abort() { # MESSAGE
  fail "$1"
  echo "bench-claims: $failures measurement(s) invalid" >&2
  exit 1
}

ho_record() { # "CASE TAG" T0 RECORD(0|1)
  [ "$3" = 1 ] && ho_times["$1"]+="$(ms_since "$2" "$ho_t1")"$'\n'
  return 0
}

# One hand-over by loop binary TAG: KIND release or death.
ho_loop() { # KIND TAG RECORD(0|1)
  local kind="$1" tag="$2" b="${ho_bin[$2]}" h="${ho_home[$2]}" holder_s anchor="" t0
  if [ "$kind" = release ]; then
    holder_s="${ho_holder[$tag]}"
  else
    sleep 1000 &
    anchor=$!
    bg_pids+=("$anchor")
    holder_s="$("$b" --home "$h" --backend file _ session start --pid "$anchor" \
      --label bench-handoff-doomed)" || { echo "bench-claims: $tag: no session" >&2; exit 3; }
  fi
  "$b" --home "$h" --backend file _ claim "$ho_name" --session "$holder_s" >/dev/null ||
    { echo "bench-claims: $tag: the holder could not claim $ho_name" >&2; exit 3; }
  ho_start_waiter "$b" --home "$h" --backend file _ claim "$ho_name" --wait 30s \
    --session "${ho_waiter[$tag]}"
  if ho_await_blocked "$ho_wpid" '*poll*'; then
    if [ "$kind" = release ]; then
      t0="$EPOCHREALTIME"
      "$b" --home "$h" --backend file _ unclaim "$ho_name" --session "$holder_s" >/dev/null ||
        { echo "bench-claims: $tag: the holder could not unclaim $ho_name" >&2; exit 3; }
    else
      t0="$EPOCHREALTIME"
      kill -KILL "$anchor"
    fi
  else
    ho_abort "$tag $kind hand-over: the waiter never blocked ($(head -c 300 "$tmp/waiter.out"))"
  fi
  ho_reap_waiter
  if [ -n "$anchor" ]; then
    kill -KILL "$anchor" 2>/dev/null || true
    wait "$anchor" 2>/dev/null || true
    forget_pid "$anchor"
  fi
  if [ "$ho_rc" != 0 ] || ! grep -q "^claimed $ho_name\\b" "$tmp/waiter.out"; then
    fail "$tag $kind hand-over: the waiter exited ${ho_rc:-?}, output: $(head -c 300 "$tmp/waiter.out")"
  else
    ho_record "$kind $tag" "$t0" "$3"
  fi
  # back to the start: nobody holds the name, no dead session is left over
  "$b" --home "$h" --backend file _ unclaim "$ho_name" --session "${ho_waiter[$tag]}" \
    >/dev/null 2>&1 || true
  if [ "$kind" = release ]; then
    "$b" --home "$h" --backend file _ unclaim "$ho_name" --session "$holder_s" >/dev/null 2>&1 || true
  else
    "$b" --home "$h" --backend file _ session end "$holder_s" >/dev/null 2>&1 || true
  fi
}

# One hand-over of flock(1): the holder is a process group of its own (flock
# and its sleep share the lock), killed as one.
ho_flock() { # RECORD(0|1)
  local holder t0 i
  set -m
  flock -x "$ho_flockfile" sleep 1000 &
  holder=$!
  set +m
  bg_groups+=("$holder")
  # the holder holds the lock once its sleep runs (flock execs it after locking)
  for ((i = 0; i < 1000; i++)); do
    [ -n "$(cat "/proc/$holder/task/$holder/children" 2>/dev/null)" ] && break
    kill -0 "$holder" 2>/dev/null || break
    sleep 0.005
  done
  ho_start_waiter flock -x "$ho_flockfile" true
  if ho_await_blocked "$ho_wpid" '*lock*'; then
    t0="$EPOCHREALTIME"
    kill -KILL -- "-$holder"
  else
    ho_abort "flock hand-over: the waiter never blocked ($(head -c 300 "$tmp/waiter.out"))"
  fi
  ho_reap_waiter
  wait "$holder" 2>/dev/null || true
  forget_pid "$holder"
  if [ "$ho_rc" != 0 ]; then
    fail "flock hand-over: the waiter exited ${ho_rc:-?}, output: $(head -c 300 "$tmp/waiter.out")"
  else
    ho_record "flock flock" "$t0" "$1"
  fi
}

ho_case() { # "CASE TAG" RECORD(0|1)
  if [ "${1% *}" = flock ]; then ho_flock "$2"; else ho_loop "${1% *}" "${1#* }" "$2"; fi
}

ho_stats() { # latencies one a line -> "n median p90 min max" (p90: nearest rank)
  sort -n | awk 'NF { v[n++] = $1 }
    END { if (n == 0) { print "0 n/a n/a n/a n/a"; exit }
          m = (n % 2) ? v[(n - 1) / 2] : (v[n / 2 - 1] + v[n / 2]) / 2
          r = int((9 * n + 9) / 10); if (r < 1) r = 1
          printf "%d %.2f %.2f %.2f %.2f\n", n, m, v[r - 1], v[0], v[n - 1] }'
}

ho_cases=()
for ((k = 0; k < ${#ho_bins[@]}; k++)); do
  tag="${ho_tags[$k]}"
  ho_bin[$tag]="${ho_bins[$k]}"
  ho_home[$tag]="$tmp/handoff-$tag"
  ho_holder[$tag]="$("${ho_bin[$tag]}" --home "${ho_home[$tag]}" --backend file _ session start \
    --pid $$ --label bench-handoff-holder)"
  ho_waiter[$tag]="$("${ho_bin[$tag]}" --home "${ho_home[$tag]}" --backend file _ session start \
    --pid $$ --label bench-handoff-waiter)"
  if [ -z "${ho_holder[$tag]}" ] || [ -z "${ho_waiter[$tag]}" ]; then
    echo "bench-claims: $tag: could not start the sessions" >&2
    exit 3
  fi
  ho_cases+=("release $tag" "death $tag")
done
ho_cases+=("flock flock")

echo "hand-over: a waiter blocked in \`loop _ claim NAME --wait 30s --session W\` (file backend);"
echo "  time from just before the holder's unclaim (release) or the SIGKILL of its session's"
echo "  anchor (death) to the waiter's exit; the peer: \`flock -x FILE true\` waiting, its holder"
echo "  \`flock -x FILE sleep 1000\` killed with SIGKILL; $ho_n of each, interleaved, after one"
echo "  warm-up of each"
for ((k = 0; k < ${#ho_bins[@]}; k++)); do
  printf '  %-8s %s (home %s)\n' "${ho_tags[$k]}:" "${ho_bins[$k]}" "${ho_home[${ho_tags[$k]}]}"
done
echo "  load at start: $(load)"
for c in "${ho_cases[@]}"; do ho_case "$c" 0; done
for ((i = 1; i <= ho_n; i++)); do
  ((i % 10 == 0)) && printf ' %d' "$i" >&2
  for c in "${ho_cases[@]}"; do ho_case "$c" 1; done
done
((ho_n >= 10)) && echo >&2
echo
printf '  %-8s %-8s %5s %10s %8s %8s %8s\n' "case" "binary" "n" "median ms" "p90 ms" "min ms" "max ms"
declare -A ho_med
for c in "${ho_cases[@]}"; do
  read -r n m p mi ma < <(printf '%s' "${ho_times[$c]:-}" | ho_stats)
  ho_med[$c]="$m"
  kind="${c% *}"
  [ "$kind" = flock ] && kind="kill"
  printf '  %-8s %-8s %5s %10s %8s %8s %8s\n' "$kind" "${c#* }" "$n" "$m" "$p" "$mi" "$ma"
done
echo "  (load now $(load))"
for tag in "${ho_tags[@]}"; do
  for kind in release death; do
    m="${ho_med[$kind $tag]}"
    if [ "$m" = n/a ]; then
      printf '  goal: %-7s hand-over, %-7s median  n/a (<= 5.00)  MISS\n' "$kind" "$tag"
    else
      printf '  goal: %-7s hand-over, %-7s median %5s ms (<= 5.00)  %s\n' "$kind" "$tag" "$m" \
        "$(verdict "$m" 5)"
    fi
  done
done

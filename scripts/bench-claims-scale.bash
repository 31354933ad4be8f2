# shellcheck shell=bash
# shellcheck disable=SC2154 # the variables of scripts/bench-claims, which sources this
# The --scale N mode of scripts/bench-claims (sourced by it, after its
# helpers and its session exist): claim and unclaim latency with N claims
# held (against 0 held), a reap of N dead claims (against `rm -rf` of N
# files), and listing N claims (against `cat` of the N files), measured in
# one run with hyperfine -N and compared by medians.
#
# The N claims are taken once, BENCH_SCALE_BATCH names per call, by
# BENCH_SCALE_SESSIONS sessions anchored to processes of this script; those
# are killed after the live measurements, which turns the home into the
# template of N dead claims that every reap run starts from (a fresh copy,
# made by hyperfine's --prepare, not timed).

scale_sessions="${BENCH_SCALE_SESSIONS:-10}"; positive_int BENCH_SCALE_SESSIONS "$scale_sessions"
scale_batch="${BENCH_SCALE_BATCH:-250}";      positive_int BENCH_SCALE_BATCH "$scale_batch"
scale_runs="${BENCH_SCALE_RUNS:-10}";         positive_int BENCH_SCALE_RUNS "$scale_runs"
scale_warmup="${BENCH_SCALE_WARMUP:-2}"

big="$tmp/big"     # N claims (live, later dead: the template)
empty="$tmp/empty" # no claims
work="$tmp/work"   # a copy of the template, reaped
files="$tmp/files" # a copy of the template's claims/, removed by rm -rf
B="$(q "$big")"
E="$(q "$empty")"

scale_measure() { # KEY COMMAND [PREPARE]: hyperfine -N, median into med[KEY]
  local key="$1" json="$tmp/scale-$1.1.json"
  local args=(-N --style none --warmup "$scale_warmup" --runs "$scale_runs" --export-json "$json")
  [ -n "${3:-}" ] && args+=(--prepare "$3")
  if ! run_bg hyperfine "${args[@]}" "$2" >"$tmp/scale-$key.out" 2>&1; then
    cat "$tmp/scale-$key.out" >&2
    echo "bench-claims: hyperfine failed on: ${2:0:200}" >&2
    exit 3
  fi
  read -r "med[$key]" "mn[$key]" < <(pooled "scale-$key")
}

scale_row() { # LABEL KEY PEER-KEY GOAL
  local r
  r="$(ratio "${med[$2]}" "${med[$3]}")"
  printf '  %-40s %9s %9s %7sx  (<= %s)  %s\n' "$1" "$(fmt "${med[$2]}" 1)" \
    "$(fmt "${med[$3]}" 1)" "$r" "$4" "$(verdict "$r" "$4")"
}

echo "scale: $scale_n claims held by $scale_sessions sessions; hyperfine -N, $scale_warmup warm-up +" \
  "$scale_runs runs per command, medians"
t0="$EPOCHREALTIME"
anchors=()
per=$(((scale_n + scale_sessions - 1) / scale_sessions))
made=0
for ((s = 0; s < scale_sessions && made < scale_n; s++)); do
  sleep 1000000 &
  anchors+=($!)
  bg_pids+=($!)
  sid="$("$loop_bin" --home "$big" _ session start --pid "${anchors[-1]}" --label "bench-scale-$s")"
  names=()
  for ((i = 0; i < per && made < scale_n; i++, made++)); do
    names+=("s$s-c$i")
    if [ ${#names[@]} -ge "$scale_batch" ]; then
      "$loop_bin" --home "$big" _ claim "${names[@]}" --session "$sid" >/dev/null
      names=()
    fi
  done
  if [ ${#names[@]} -gt 0 ]; then
    "$loop_bin" --home "$big" _ claim "${names[@]}" --session "$sid" >/dev/null
  fi
done
held="$(find "$big/claims" -mindepth 1 -maxdepth 1 -name '[!.]*' | wc -l)"
[ "$held" -eq "$scale_n" ] || { echo "bench-claims: $held claims held, not $scale_n" >&2; exit 3; }
"$loop_bin" --home "$empty" _ claim bench-warm --session "$session" >/dev/null 2>&1 || true
echo "  (set up in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s;" \
  "load $(cut -d' ' -f1-3 /proc/loadavg))"
echo

# 1. Claim and unclaim of a free name, with N held and with none. The bench
# session lives in the big home too (same home, same session count + 1).
sid_big="$("$loop_bin" --home "$big" _ session start --pid $$ --label bench-claims)"
sid_empty="$("$loop_bin" --home "$empty" _ session start --pid $$ --label bench-claims)"
for where in big empty; do
  H="$B"; S="$(q "$sid_big")"
  [ "$where" = empty ] && { H="$E"; S="$(q "$sid_empty")"; }
  scale_measure "claim-$where" "$L --home $H _ claim bench-x --session $S" \
    "$L --home $H _ unclaim bench-x --session $S"
  scale_measure "unclaim-$where" "$L --home $H _ unclaim bench-y --session $S" \
    "$L --home $H _ claim bench-y --session $S"
done

# 3. Listing N live claims, against reading the files once.
# (the peer as a shell runs it, `cat claims/* >/dev/null`: one argument of
# hyperfine cannot hold N paths)
"$loop_bin" --home "$big" _ unclaim bench-x --session "$sid_big" >/dev/null
scale_measure cat "sh -c $(q "cd $B/claims && exec cat -- *")"
scale_measure claims-json "$L --home $B claims --json"
scale_measure status-json "$L --home $B status --json"
scale_measure metrics "$L --home $B metrics"
scale_measure doctor "$L --home $B doctor"

# 2. Reap of N dead claims: the anchors die, the home becomes the template.
for pid in "${anchors[@]}"; do
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  forget_pid "$pid"
done
"$loop_bin" --home "$big" _ session end "$sid_big" >/dev/null
W="$(q "$work")"
F="$(q "$files")"
scale_measure reap "$L --home $W reap" "sh -c $(q "rm -rf $W && cp -a $B $W")"
left="$(find "$work/claims" -mindepth 1 -maxdepth 1 -name '[!.]*' | wc -l)"
reaped="$(grep -c '"by":"reap"' "$work/events.jsonl" || true)"
[ "$left" -eq 0 ] || fail "reap left $left of $scale_n dead claims"
[ "$reaped" -ge "$scale_n" ] || fail "reap logged $reaped of $scale_n dead claims"
scale_measure rm "rm -rf $F" "sh -c $(q "rm -rf $F && cp -a $B/claims $F")"

printf '  %-40s %9s %9s %8s\n' "command (N = $scale_n)" "median ms" "peer ms" "ratio"
scale_row "claim NAME, N held / 0 held" claim-big claim-empty 1.1
scale_row "unclaim NAME, N held / 0 held" unclaim-big unclaim-empty 1.1
scale_row "loop reap of N dead / rm -rf N files" reap rm 2.0
scale_row "loop claims --json / cat N files" claims-json cat 2.0
scale_row "loop status --json / cat N files" status-json cat 2.0
scale_row "loop metrics / cat N files" metrics cat 2.0
scale_row "loop doctor / cat N files" doctor cat 2.0
r_reap="${med[reap]}"
printf '  goal: reap of %s dead <= 300 ms: %s ms  %s\n' "$scale_n" "$(fmt "$r_reap" 1)" \
  "$(verdict "$r_reap" 300)"
echo "  (reap removed all $scale_n and logged $reaped; load now $(cut -d' ' -f1-3 /proc/loadavg))"

#!/usr/bin/env bash
# Reproduces the tables of docs/BENCHMARKS.md on this machine:
#   1. the Go benchmarks of the hot paths (benchstat-friendly text),
#   2. the load tool on the issue's workload (100 namespaces, 200 roles x 20
#      permissions, 100k users with 1-3 roles in 1-5 namespaces),
#   3. the scale runs (10k, 100k and 1M users: in-process check latency, a
#      replica process's cold start from a snapshot and from zero, its RSS),
#   4. the charts (SVG) drawn from those JSON reports.
# Everything goes to $OUT (default bin/bench). Takes about 8 minutes on
# 2 cores. BENCH_SCALE="10000 100000" skips the 1M run; BENCH_COUNT sets how
# often each Go benchmark runs (default 3).
set -euo pipefail
cd "$(dirname "$0")/.."

OUT=${OUT:-bin/bench}
SCALE=${BENCH_SCALE:-10000 100000 1000000}
COUNT=${BENCH_COUNT:-3}
mkdir -p "$OUT"
started=$(date +%s)
say() { printf '== %s (%ds)\n' "$*" "$(( $(date +%s) - started ))" >&2; }

say "building the load tool"
go build -o "$OUT/grantbench" ./cmd/grantbench

say "Go benchmarks of the hot paths (count $COUNT) -> $OUT/go-bench.txt"
go test -run='^$' -bench=. \
  -benchmem -count="$COUNT" -timeout 20m ./perm/ ./query/ ./projector/ ./internal/storage/index/ ./internal/edge/checkjson/ | tee "$OUT/go-bench.txt"

say "load tool, the issue's workload (100k users) -> $OUT/grantbench.json"
"$OUT/grantbench" --json "$OUT/grantbench.json" | tee "$OUT/grantbench.txt"

for n in $SCALE; do
  say "scale run: $n users -> $OUT/scale-$n.json"
  "$OUT/grantbench" --users "$n" --phases load,inproc,follower,coldstart,resources --inproc-checks 300000 --checks 5000 \
    --json "$OUT/scale-$n.json" | tee "$OUT/scale-$n.txt"
done

say "charts -> $OUT/plots"
scale_reports=()
for n in $SCALE; do scale_reports+=("$OUT/scale-$n.json"); done
"$OUT/grantbench" plot --out "$OUT/plots" "$OUT/grantbench.json" "${scale_reports[@]}"
say "done; copy $OUT/plots/*.svg to docs/plots/ to update the record"

#!/usr/bin/env bash
# Whole-system X12 benchmark: times `wharf x12 validate` against sha256sum on the
# same file, and against the npm peers node-x12 and x12-parser, with wall time, CPU
# time and peak RSS from /usr/bin/time -v. Usage (from the repository root):
#   bench/x12/run.sh [MB ...]        default: 200
# RUNS=N (default 5) runs sha256sum and wharf N times and keeps the fastest;
# the node peers run twice. PEERS=0 skips them.
# Inputs are generated into ${BENCH_DIR:-/tmp} (never into the repository).
set -euo pipefail
root=$(git rev-parse --show-toplevel)
here="$root/bench/x12"
dir=${BENCH_DIR:-/tmp}
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(200)
peers=${PEERS:-1} # PEERS=0 skips the node peers (e.g. for the 1 GB run)

cd "$root"
if [ -f cmd/wharf/main.go ]; then
  go build -o "$dir/wharf" ./cmd/wharf
else
  # Until cmd/wharf/main.go exists: build x12.go alone with a stub main that
  # dispatches "x12" (other files of the package may be work in progress).
  stub=$(mktemp -d)
  printf 'package main\n\nimport (\n\t"context"\n\t"os"\n)\n\nfunc main() { os.Exit(runX12(context.Background(), os.Args[2:], os.Stdin, os.Stdout, os.Stderr)) }\n' >"$stub/main.go"
  {
    printf '{"Replace":{"%s":"%s"' "$root/cmd/wharf/main.go" "$stub/main.go"
    for g in "$root"/cmd/wharf/*.go; do
      case "$(basename "$g")" in x12.go|x12_test.go) ;; *) printf ',"%s":""' "$g" ;; esac
    done
    printf '}}'
  } >"$stub/overlay.json"
  go build -overlay "$stub/overlay.json" -o "$dir/wharf" ./cmd/wharf
fi
if [ "$peers" = 1 ] && [ ! -d "$here/node_modules/node-x12" ]; then
  (cd "$here" && npm install --no-audit --no-fund >/dev/null)
fi

# measure NAME RUNS COMMAND...: runs COMMAND RUNS times under /usr/bin/time -v and
# prints the fastest run's wall and CPU time and the largest peak RSS seen. The
# minimum is the figure least disturbed by other work on a shared machine.
measure() {
  local name=$1 runs=$2; shift 2
  local log; log=$(mktemp)
  local best="" bestcpu="" rssmax=0 i
  for ((i = 0; i < runs; i++)); do
    /usr/bin/time -v "$@" >/dev/null 2>"$log" || { echo "$name failed:"; tail -5 "$log"; }
    local wall rss usr sys secs
    wall=$(grep 'Elapsed (wall clock)' "$log" | awk '{print $NF}')
    rss=$(grep 'Maximum resident set size' "$log" | awk '{print $NF}')
    usr=$(grep 'User time' "$log" | awk '{print $NF}')
    sys=$(grep 'System time' "$log" | awk '{print $NF}')
    secs=$(echo "$wall" | awk -F: '{ if (NF == 3) print $1*3600+$2*60+$3; else print $1*60+$2 }')
    if [ -z "$best" ] || [ "$(echo "$secs < $best" | bc)" = 1 ]; then
      best=$secs
      bestcpu=$(echo "$usr + $sys" | bc)
    fi
    [ "$rss" -gt "$rssmax" ] && rssmax=$rss
  done
  printf '| %-26s | %4d | %8.2f s | %8.2f s | %8d MB |\n' "$name" "$runs" "$best" "$bestcpu" $((rssmax / 1024))
  rm -f "$log"
}

runs=${RUNS:-5}
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "machine: $(nproc) cores, $(uname -sr), $(go version | awk '{print $3}'), node $(node --version 2>/dev/null || echo none)"
for mb in "${sizes[@]}"; do
  f="$dir/x12-bench-$mb.edi"
  [ -f "$f" ] || go run ./bench/x12/gen -mb "$mb" -o "$f"
  cat "$f" >/dev/null # warm the page cache so every tool reads from memory
  echo
  echo "### $mb MiB: $(stat -c %s "$f") bytes"
  echo
  echo "| tool | runs | best wall | its CPU (user+sys) | peak RSS |"
  echo "|---|---|---|---|---|"
  measure "sha256sum" "$runs" sha256sum "$f"
  measure "wharf x12 validate" "$runs" "$dir/wharf" x12 validate "$f"
  if [ "$peers" = 1 ]; then
    measure "node-x12 1.7.1 (stream)" 2 node "$here/node-x12.js" "$f"
    measure "x12-parser 1.3.0 (stream)" 2 node "$here/x12-parser.js" "$f"
  fi
done
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

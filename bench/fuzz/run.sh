#!/usr/bin/env bash
# Fuzz every target of the module for a budget each (default 10 minutes):
# the long run that CI's short one (.ci/run, 10,000 inputs per target)
# cannot afford. Run it by hand or from a scheduled job:
#
#   bench/fuzz/run.sh                 # every target, 10m each
#   FUZZTIME=30m bench/fuzz/run.sh ./edi/x12 FuzzReader
#   FUZZ_KEEP=1 bench/fuzz/run.sh     # also copy the inputs the fuzzer found interesting
#                                     # into each package's testdata/fuzz/<Target>/
#
# A finding is a failing input: Go writes it to the package's
# testdata/fuzz/<Target>/ and this script fails, naming it; commit it with
# the fix (it then runs in every `go test`). Go 1.26's coordinator can end
# a duration-bounded run with a bare "context deadline exceeded" and no
# input (go.dev/issue/75804, fixed in Go 1.27): that is reported as a
# flake, not a finding.
set -u
cd "$(dirname "$0")/../.."
budget="${FUZZTIME:-10m}"
pkgs="${1:-./...}"
only="${2:-}"
cache="$(go env GOCACHE)/fuzz"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
found=0 flaked=0 passed=0
for pkg in $(go list "$pkgs"); do
  dir="$(go list -f '{{.Dir}}' "$pkg")"
  for fz in $(grep -ho '^func Fuzz[A-Za-z0-9_]*' "$dir"/*_test.go 2>/dev/null | sed 's/^func //' | sort -u); do
    [ -n "$only" ] && [ "$fz" != "$only" ] && continue
    before="$(ls "$dir/testdata/fuzz/$fz" 2>/dev/null | wc -l)"
    echo "== $pkg $fz ($budget)"
    if go test -run '^$' -fuzz "^$fz\$" -fuzztime "$budget" "$pkg" >"$log" 2>&1; then
      passed=$((passed + 1)); tail -n 3 "$log"
    elif grep -q 'Failing input written to' "$log" || [ "$(ls "$dir/testdata/fuzz/$fz" 2>/dev/null | wc -l)" -gt "$before" ]; then
      found=$((found + 1)); cat "$log"
    elif grep -q 'context deadline exceeded' "$log" && ! grep -qE 'panic:|_test\.go:[0-9]+:' "$log"; then
      flaked=$((flaked + 1)); echo "flake: a bare 'context deadline exceeded' at the budget's end, no input (go.dev/issue/75804)"
    else
      found=$((found + 1)); cat "$log"
    fi
    if [ "${FUZZ_KEEP:-}" = 1 ] && [ -d "$cache/$pkg/$fz" ]; then
      mkdir -p "$dir/testdata/fuzz/$fz"
      cp -n "$cache/$pkg/$fz"/* "$dir/testdata/fuzz/$fz/" 2>/dev/null
      echo "kept $(ls "$dir/testdata/fuzz/$fz" | wc -l) inputs in ${dir#"$PWD"/}/testdata/fuzz/$fz"
    fi
  done
done
echo "fuzz: $passed passed, $found with findings, $flaked flaked (budget $budget each)"
[ "$found" -eq 0 ]

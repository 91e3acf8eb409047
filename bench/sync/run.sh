#!/usr/bin/env bash
# Whole-system sync benchmark: the demo's order → shipment → invoice flow at
# scale (`wharf demo --orders N --latency`), on SQLite and, when
# WHARF_BENCH_PG=1, on a fresh PostgreSQL database. Every message goes over
# the real transports (folder, SFTP, AS2, webhook, HTTP) against a real
# server; the per-stage latency table comes from the store's records.
# Usage (from the repository root): bench/sync/run.sh [N]   (default 10000)
# Output and data go to ${BENCH_DIR:-/tmp}/wharf-bench-sync-*; nothing stays running.
set -euo pipefail
root=$(git rev-parse --show-toplevel)
n=${1:-10000}
dir=${BENCH_DIR:-/tmp}
cd "$root"
go build -o "$dir/wharf-bench-sync" ./cmd/wharf
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
run() { # run NAME [env...]
  local name=$1; shift
  local out="$dir/wharf-bench-sync-$name-$n"
  rm -rf "$out"
  echo "== $name, $n orders; load before: $(uptime | sed 's/.*load average: //')"
  env "$@" WHARF_HTTP_ADDR="127.0.0.1:$(free_port)" WHARF_SFTP_ADDR="127.0.0.1:$(free_port)" \
    /usr/bin/time -v "$dir/wharf-bench-sync" demo --dir "$out" --orders "$n" --timeout 3600s --latency >"$out.log" 2>"$out.time" || {
    echo "demo failed: $out.log"; tail -5 "$out.log"; return 1; }
  sed -n '/^Latency per stage/,$p' "$out.log"
  grep -E "Maximum resident|Elapsed" "$out.time" | sed 's/^\t/   /'
  echo "   load after: $(uptime | sed 's/.*load average: //')"
}
run sqlite
if [ "${WHARF_BENCH_PG:-0}" = 1 ]; then
  db="wharf_bench_sync_$$"
  psql -q -h 127.0.0.1 -U postgres -d postgres -c "CREATE DATABASE $db" >/dev/null
  trap 'psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null' EXIT
  run postgres WHARF_DATABASE_URL="postgres://postgres@127.0.0.1:5432/$db?sslmode=disable"
fi

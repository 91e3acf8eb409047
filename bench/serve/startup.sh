#!/usr/bin/env bash
# Start-up time and idle memory of `wharf serve`.
#
#   go build -o /tmp/wharf ./cmd/wharf
#   WHARF_BIN=/tmp/wharf bench/serve/startup.sh "sqlite"
#   WHARF_BIN=/tmp/wharf bench/serve/startup.sh "postgres" WHARF_DATABASE_URL=postgres://postgres@127.0.0.1:5432/wharf_bench
#
# Each run uses a fresh data folder: "ready" is from exec to the first 200
# from /healthz (it includes creating the database and applying migrations
# on SQLite); RSS is read from /proc after IDLE seconds (default 20).
set -euo pipefail
label=$1; shift
bin=${WHARF_BIN:-wharf}
d=$(mktemp -d); cd "$d"
http=127.0.0.1:${HTTP_PORT:-18080}
s=$(date +%s%N)
env "$@" WHARF_HTTP_ADDR=$http WHARF_SFTP_ADDR=127.0.0.1:${SFTP_PORT:-12222} "$bin" serve >log 2>&1 &
pid=$!
until curl -sf -o /dev/null "http://$http/healthz"; do
  kill -0 $pid 2>/dev/null || { cat log; exit 1; }
  sleep 0.005
done
e=$(date +%s%N)
sleep "${IDLE:-20}"
rss=$(awk '/VmRSS/{print $2}' /proc/$pid/status)
hwm=$(awk '/VmHWM/{print $2}' /proc/$pid/status)
kill -TERM $pid
rc=0; wait $pid || rc=$?
echo "$label: ready in $(( (e-s)/1000000 )) ms; RSS after ${IDLE:-20}s idle $((rss/1024)) MiB (peak $((hwm/1024)) MiB); exit $rc"
rm -rf "$d"

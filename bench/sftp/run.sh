#!/usr/bin/env bash
# SFTP throughput: OpenSSH's sftp client uploading to Wharf's SFTP server
# (archiving included) and to a private OpenSSH sshd, in the same run.
#
#   bench/sftp/run.sh            # 1 GiB upload + 10,000 x 4 KiB from 8 clients
#   MB=256 SMALL=2000 bench/sftp/run.sh
#   PROFILE=/tmp/sftp MB=16 SMALL=4000 bench/sftp/run.sh
#                                # CPU profile (/tmp/sftp.pprof), execution
#                                # trace and goroutine dump of wharf serve,
#                                # taken 1 s into the small-file uploads
#                                # (PROFILE_SECONDS long, default 4)
#   WHARF_BIN=/tmp/wharf-old bench/sftp/run.sh   # an already built binary
#   WHARF_CONFIG='jobs: {workers: 4}' bench/sftp/run.sh   # more of wharf.yaml
#   TMPDIR=/dev/shm bench/sftp/run.sh            # everything on tmpfs: flushes cost
#                                # nothing, so what is left is CPU and latency
#
# It also prints the CPU time wharf serve and the sshd processes used for
# the small files (user+system, from /proc), per file: on a shared machine
# that is steadier than files/s.
#
# Needs openssh-server and openssh-client. Everything runs on loopback in a
# temporary folder; nothing is left behind.
set -euo pipefail
cd "$(dirname "$0")/../.."
MB=${MB:-1024}
SMALL=${SMALL:-10000}
CLIENTS=${CLIENTS:-8}
W=$(mktemp -d "${TMPDIR:-/tmp}/wharf-bench-sftp.XXXXXX")
PIDS=()
trap 'for p in "${PIDS[@]}"; do kill $p 2>/dev/null || true; done; rm -rf "$W"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }

PROFILE=${PROFILE:-}
if [ -n "${WHARF_BIN:-}" ]; then cp "$WHARF_BIN" "$W/wharf"; else go build -o "$W/wharf" ./cmd/wharf; fi
ssh-keygen -q -t ed25519 -N '' -f "$W/client_key"
ssh-keygen -q -t ed25519 -N '' -f "$W/host_key"

# Private sshd (the peer), writing into $W/sshd-files.
SSHD_PORT=$(free_port)
mkdir -p "$W/sshd-files" /run/sshd
cp "$W/client_key.pub" "$W/authorized_keys"
cat > "$W/sshd_config" <<CFG
Port $SSHD_PORT
ListenAddress 127.0.0.1
HostKey $W/host_key
PidFile $W/sshd.pid
AuthorizedKeysFile $W/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
Subsystem sftp internal-sftp
MaxSessions 128
MaxStartups 128
CFG
/usr/sbin/sshd -D -e -f "$W/sshd_config" 2>"$W/sshd.log" &
SSHD_PID=$!
PIDS+=($SSHD_PID)

# Wharf with the same client key for partner "bench" (no acks pushed anywhere:
# acknowledgments are archived into outbound/ as for any SFTP partner).
WHARF_HTTP=$(free_port); WHARF_SFTP=$(free_port)
mkdir -p "$W/wharf-run"
cat > "$W/wharf-run/wharf.yaml" <<CFG
sftp: {max_sessions: 128, max_sessions_per_ip: 128}
limits: {inbound: {per_minute: 0}} # sshd has none; the default (burst 5,000) would refuse the 10,000 files
partners:
  - id: bench
    ssh_key_files: [$W/client_key.pub]
${WHARF_CONFIG:-}
CFG
PPROF_ENV=(); [ -n "$PROFILE" ] && PPROF_ENV=(WHARF_DEBUG_PPROF=1)
( cd "$W/wharf-run" && exec env "${PPROF_ENV[@]}" WHARF_HTTP_ADDR=127.0.0.1:$WHARF_HTTP WHARF_SFTP_ADDR=127.0.0.1:$WHARF_SFTP \
    "$W/wharf" serve --config wharf.yaml >"$W/wharf.log" 2>&1 ) &
WHARF_PID=$!
PIDS+=($WHARF_PID)
until curl -sf -o /dev/null "http://127.0.0.1:$WHARF_HTTP/healthz"; do sleep 0.05; done
until ssh-keyscan -p "$SSHD_PORT" 127.0.0.1 >/dev/null 2>&1; do sleep 0.05; done
ssh-keyscan -p "$SSHD_PORT" 127.0.0.1 2>/dev/null >"$W/known_hosts"
ssh-keyscan -p "$WHARF_SFTP" 127.0.0.1 2>/dev/null >>"$W/known_hosts"

sftp_to() { # PORT USER BATCH
  sftp -q -b "$3" -P "$1" -i "$W/client_key" -o UserKnownHostsFile="$W/known_hosts" -o IdentitiesOnly=yes -o BatchMode=yes "$2@127.0.0.1" >/dev/null
}
ME=$(id -un)

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== one ${MB} MiB file"
head -c $((MB<<20)) /dev/urandom > "$W/big.bin"
cat "$W/big.bin" > /dev/null
echo "put $W/big.bin $W/sshd-files/big.bin" > "$W/b-sshd"
echo "put $W/big.bin inbound/big.bin" > "$W/b-wharf"
for round in 1 2; do
  sync
  s=$(now); sftp_to "$SSHD_PORT" "$ME" "$W/b-sshd"; e=$(now); sync; e2=$(now)
  sshd_t=$(echo "$e - $s" | bc); sshd_sync_t=$(echo "$e2 - $s" | bc); rm -f "$W/sshd-files/big.bin"; sync
  s=$(now); sftp_to "$WHARF_SFTP" bench "$W/b-wharf"; e=$(now)
  wharf_t=$(echo "$e - $s" | bc)
  printf 'round %d: OpenSSH sshd %.2f s (%.0f MB/s; %.2f s with a sync after it) | Wharf %.2f s (%.0f MB/s), archived and fsync-ed before CLOSE OK | ratio %.2fx (%.2fx against sshd+sync)\n' \
    $round "$sshd_t" "$(echo "$MB*1.048576/$sshd_t" | bc -l)" "$sshd_sync_t" "$wharf_t" "$(echo "$MB*1.048576/$wharf_t" | bc -l)" "$(echo "$sshd_t/$wharf_t" | bc -l)" "$(echo "$sshd_sync_t/$wharf_t" | bc -l)"
done
rm -f "$W/big.bin"

echo "== ${SMALL} files of 4 KiB from ${CLIENTS} concurrent clients"
mkdir -p "$W/small"
python3 - "$W/small" "$SMALL" <<'PY'
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    # a valid X12 204 interchange of about 4 KiB (100 L11 references), its
    # own ISA13 each: `wharf x12 validate` accepts it, so processing takes
    # the ordinary path (997 accepting it), not the rejection path
    isa = "ISA*00*          *00*          *ZZ*BENCH          *ZZ*WHARF          *261127*1200*U*00401*%09d*0*P*>~\n" % (i + 1)
    refs = lambda tag: "".join("L11*%s*ZZ~\n" % ("%s%05d%02d" % (tag, i, k) + "X" * 21) for k in range(50))
    st = ["ST*204*0001~\n", "B2**SCAC**SH%07d**PP~\n" % i, "B2A*00~\n", refs("H"), "S5*1*CL~\n", refs("S"),
          "N1*SH*SHIPPER~\n", "L3*100*G~\n"]
    nseg = sum(s.count("~") for s in st) + 1
    doc = (isa + "GS*SM*BENCH*WHARF*20261127*1200*%d*X*004010~\n" % (i + 1) + "".join(st) +
           "SE*%d*0001~\nGE*1*%d~\nIEA*1*%09d~\n" % (nseg, i + 1, i + 1))
    open(os.path.join(d, "f%05d.edi" % i), "w").write(doc)
PY
per=$(( (SMALL + CLIENTS - 1) / CLIENTS ))
for c in $(seq 0 $((CLIENTS-1))); do
  : > "$W/bs-sshd-$c"; : > "$W/bs-wharf-$c"
  for i in $(seq $((c*per)) $(( (c+1)*per - 1 ))); do
    [ "$i" -ge "$SMALL" ] && break
    f=$(printf 'f%05d.edi' "$i")
    echo "put $W/small/$f $W/sshd-files/$f" >> "$W/bs-sshd-$c"
    echo "put $W/small/$f inbound/$f" >> "$W/bs-wharf-$c"
  done
done
run_clients() { # PORT USER PREFIX
  local cl=()
  for c in $(seq 0 $((CLIENTS-1))); do sftp_to "$1" "$2" "$W/$3-$c" & cl+=($!); done
  local rc=0
  for p in "${cl[@]}"; do wait "$p" || rc=1; done
  return $rc
}
# CPU seconds (user+system) a process and its reaped children used so far.
cpu_of() { awk -v hz="$(getconf CLK_TCK)" '{print ($14+$15+$16+$17)/hz}' "/proc/$1/stat" 2>/dev/null || echo 0; }
# CPU seconds the whole machine used so far (every core, user+nice+system+
# irq+softirq): minus the servers' own, what the clients cost.
machine_cpu() { awk -v hz="$(getconf CLK_TCK)" '/^cpu /{print ($2+$3+$4+$7+$8)/hz}' /proc/stat; }
s=$(now); sc0=$(cpu_of "$SSHD_PID"); sm0=$(machine_cpu)
run_clients "$SSHD_PORT" "$ME" bs-sshd || echo "warning: an sshd client failed"
e=$(now); sshd_t=$(echo "$e - $s" | bc); sm1=$(machine_cpu)
sleep 0.3; sc1=$(cpu_of "$SSHD_PID") # its per-connection processes, once reaped
s=$(now); wc0=$(cpu_of "$WHARF_PID"); wm0=$(machine_cpu)
if [ -n "$PROFILE" ]; then
  ( sleep 1
    curl -sf -o "$PROFILE.pprof" "http://127.0.0.1:$WHARF_HTTP/debug/pprof/profile?seconds=${PROFILE_SECONDS:-4}"
    curl -sf -o "$PROFILE.trace" "http://127.0.0.1:$WHARF_HTTP/debug/pprof/trace?seconds=1"
    curl -sf -o "$PROFILE.goroutines" "http://127.0.0.1:$WHARF_HTTP/debug/pprof/goroutine?debug=1" ) &
fi
if ! run_clients "$WHARF_SFTP" bench bs-wharf; then
  echo "error: a Wharf client failed (its uploads were refused or broke off); wharf serve's log says why:" >&2
  grep -E 'level=(WARN|ERROR)' "$W/wharf.log" | tail -5 >&2
  exit 1
fi
e=$(now); wharf_t=$(echo "$e - $s" | bc); wc1=$(cpu_of "$WHARF_PID"); wm1=$(machine_cpu)
# Acknowledged: every upload processed and its 997 archived.
db="$W/wharf-run/wharf-data/wharf.db"
acked_during=$(sqlite3 "$db" "select count(*) from messages where direction='out'")
deadline=$(echo "$(now) + 120 + $SMALL/10" | bc)
until [ "$(sqlite3 "$db" "select count(*) from messages where direction='out'")" -ge "$SMALL" ]; do
  if [ "$(echo "$(now) > $deadline" | bc)" = 1 ]; then echo "error: not every upload was acknowledged in time"; exit 1; fi
  sleep 0.2
done
a=$(now); ack_t=$(echo "$a - $s" | bc)
archived=$(sqlite3 "$db" "select count(*) from messages where direction='in'")
printf 'OpenSSH sshd: %.1f s, %.0f files/s\n' "$sshd_t" "$(echo "$SMALL/$sshd_t" | bc -l)"
printf 'Processing: %d of the %d acknowledged when the last upload closed, all %.1f s after it\n' "$acked_during" "$SMALL" "$(echo "$a - $e" | bc)"
printf 'Wharf: %d archived in %.1f s (%.0f files/s, every CLOSE OK after archive commit); all %d acknowledged (997 archived) after %.1f s (%.0f files/s)\n' \
  "$archived" "$wharf_t" "$(echo "$SMALL/$wharf_t" | bc -l)" "$SMALL" "$ack_t" "$(echo "$SMALL/$ack_t" | bc -l)"
wc2=$(cpu_of "$WHARF_PID")
printf 'CPU of sshd: %.2f s (%.2f ms per file)\n' "$(echo "$sc1 - $sc0" | bc)" "$(echo "1000*($sc1 - $sc0)/$SMALL" | bc -l)"
printf 'CPU of wharf serve: %.2f s during the uploads (%.0f%% of one core, %.2f ms per file), %.2f s until all acknowledged (%.2f ms per file)\n' \
  "$(echo "$wc1 - $wc0" | bc)" "$(echo "100*($wc1 - $wc0)/$wharf_t" | bc -l)" "$(echo "1000*($wc1 - $wc0)/$SMALL" | bc -l)" \
  "$(echo "$wc2 - $wc0" | bc)" "$(echo "1000*($wc2 - $wc0)/$SMALL" | bc -l)"
ncpu=$(nproc)
printf 'CPU of the whole machine: %.0f%% of its %d cores busy during sshd'"'"'s uploads (%.2f ms per file, the clients included), %.0f%% during Wharf'"'"'s (%.2f ms per file)\n' \
  "$(echo "100*($sm1 - $sm0)/$sshd_t/$ncpu" | bc -l)" "$ncpu" "$(echo "1000*($sm1 - $sm0)/$SMALL" | bc -l)" \
  "$(echo "100*($wm1 - $wm0)/$wharf_t/$ncpu" | bc -l)" "$(echo "1000*($wm1 - $wm0)/$SMALL" | bc -l)"
printf 'ratio (Wharf upload files/s over sshd): %.2fx\n' "$(echo "$sshd_t/$wharf_t" | bc -l)"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

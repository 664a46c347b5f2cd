#!/usr/bin/env bash
# Two builds of the gateway side by side (A/B), for a change to the proxied path.
#
# Both gateways run at once (`workers = 2`, each with its own copy of the demo folder: test PKI,
# keys, staff, session store) in front of one upstream nginx; wrk (64 connections, 2 threads)
# drives A, then B, then A, … so drifts in the machine's load hit both alike. Each run prints
# requests/s, p99 and the CPU per request of that gateway process (utime+stime from
# /proc/<pid>/stat over the requests wrk counted). The per-round pairs are the result: on a
# shared virtual machine absolute figures move by ±15 % between runs minutes apart, the
# difference within a round much less.
#
# Usage: bench/gateway-ab.sh BIN_A LOGIN_A BIN_B LOGIN_B [ROUNDS] [BODY]
#        BIN_*: eds-gateway binaries; LOGIN_*: their `bench_login` examples
#        (target/release/examples/bench_login); ROUNDS default 5; BODY small (100 B) or 64k.
# Env:   DURATION=8 BASE_PORT=18200 OUT=target/bench-ab
# Needs: wrk, nginx (Debian: apt-get install -y wrk nginx).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 4 ] || { sed -n 2,16p "$0" >&2; exit 2; }
BIN_A=$1 LOGIN_A=$2 BIN_B=$3 LOGIN_B=$4
ROUNDS=${5:-5}
BODY=${6:-small}
DURATION=${DURATION:-8}
BASE_PORT=${BASE_PORT:-18200}
OUT=${OUT:-target/bench-ab}
for t in wrk nginx; do
  command -v "$t" >/dev/null || { echo "needs $t (apt-get install -y wrk nginx)" >&2; exit 1; }
done
# The demo folder is made for A's port: its responder is on A + 1 (the demo's layout).
PORT_A=$BASE_PORT
RESPONDER_PORT=$((BASE_PORT + 1))
PORT_B=$((BASE_PORT + 5))
UP_PORT=$((BASE_PORT + 10))

rm -rf "$OUT"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
# shellcheck source=bench/lib.sh
. bench/lib.sh
start_upstream "$OUT/up" "$UP_PORT"

# One demo folder (made by A), copied for each gateway; one responder for both.
"$BIN_A" demo --dir "$OUT/demo" --port "$PORT_A" --smoke >"$OUT/demo-smoke.log" 2>&1 ||
  { cat "$OUT/demo-smoke.log" >&2; exit 1; }
PASSWORD=$(sed -n 's/.*password \(.*\)$/\1/p' "$OUT/demo-smoke.log" | head -1)
[ -n "$PASSWORD" ] || { echo "no demo password in the smoke log" >&2; exit 1; }
"$BIN_A" pki serve "$OUT/demo/pki" --listen "127.0.0.1:$RESPONDER_PORT" >"$OUT/responder.log" 2>&1 &
PIDS+=($!)

start() { # NAME BIN PORT → pid
  local d="$OUT/$1"
  cp -r "$OUT/demo" "$d"
  rm -rf "$d/data/sessions" "$d/data/audit"
  sed -i "s|^instance = \"demo\"$|instance = \"$1\"\nworkers = 2|; \
    s|127.0.0.1:$PORT_A\"|127.0.0.1:$3\"|g; \
    s|^url = \"http://127.0.0.1:[0-9]*\"$|url = \"http://127.0.0.1:$UP_PORT\"|" "$d/gateway.toml"
  "$2" serve --config "$d/gateway.toml" >"$OUT/$1.log" 2>&1 &
  echo $!
}
PID_A=$(start a "$BIN_A" "$PORT_A")
PID_B=$(start b "$BIN_B" "$PORT_B")
PIDS+=("$PID_A" "$PID_B")
wait_port "$UP_PORT"
wait_port "$RESPONDER_PORT"
wait_port "$PORT_A"
wait_port "$PORT_B"
COOKIE_A=$("$LOGIN_A" "127.0.0.1:$PORT_A" "$OUT/a/keys/doctor.p12" "$PASSWORD")
COOKIE_B=$("$LOGIN_B" "127.0.0.1:$PORT_B" "$OUT/b/keys/doctor.p12" "$PASSWORD")
HZ=$(getconf CLK_TCK)

run() { # NAME PID COOKIE PORT
  local before after out n rps p99
  before=$(awk '{print $14 + $15}' "/proc/$2/stat")
  out=$(wrk -t2 -c64 -d"${DURATION}s" --latency -H "Cookie: $3" "http://127.0.0.1:$4/$BODY")
  after=$(awk '{print $14 + $15}' "/proc/$2/stat")
  if echo "$out" | grep -q "Non-2xx"; then
    echo "$out" >&2
    echo "non-2xx answers from $1" >&2
    exit 1
  fi
  n=$(echo "$out" | awk '/requests in/ {print $1}')
  rps=$(echo "$out" | awk '/^Requests\/sec:/ {print $2}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  awk -v name="$1" -v t=$((after - before)) -v hz="$HZ" -v n="$n" -v r="$rps" -v p="$p99" \
    'BEGIN {printf "%s\t%.0f\t%s\t%.1f\n", name, r, p, t / hz * 1e6 / n}'
}

wrk -t1 -c8 -d2s -H "Cookie: $COOKIE_A" "http://127.0.0.1:$PORT_A/$BODY" >/dev/null
wrk -t1 -c8 -d2s -H "Cookie: $COOKIE_B" "http://127.0.0.1:$PORT_B/$BODY" >/dev/null
printf 'build\treq_per_s\tp99\tcpu_us_per_req\n' | tee "$OUT/results.tsv"
for _ in $(seq "$ROUNDS"); do
  run A "$PID_A" "$COOKIE_A" "$PORT_A" | tee -a "$OUT/results.tsv"
  run B "$PID_B" "$COOKIE_B" "$PORT_B" | tee -a "$OUT/results.tsv"
done
awk -F'\t' 'NR > 1 { r[$1] += $2; c[$1] += $4; k[$1]++ }
END { printf "means over %d rounds: A %.0f req/s %.1f us/req; B %.0f req/s %.1f us/req; B/A req/s %.3f, CPU %.3f\n",
      k["A"], r["A"] / k["A"], c["A"] / k["A"], r["B"] / k["B"], c["B"] / k["B"],
      (r["B"] / k["B"]) / (r["A"] / k["A"]), (c["B"] / k["B"]) / (c["A"] / k["A"]) }' "$OUT/results.tsv"

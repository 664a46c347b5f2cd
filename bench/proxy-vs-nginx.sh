#!/usr/bin/env bash
# eds-gateway against nginx as a reverse proxy, side by side (issue 7 item 7).
#
# Both proxies sit in front of the same upstream (a separate nginx serving a small body and a
# 64 KiB body from files); wrk drives 64 connections at each in turn, alternating
# (gateway, nginx, gateway, nginx, …) so drifts in the machine's load hit both alike. The gateway
# request carries a valid session cookie (a real login with a demo test key), so every request
# goes through the session check, the access policy and the identity headers.
#
# For each run: requests/s, p99 latency, and CPU per request of the proxy process(es) only
# (utime+stime from /proc/<pid>/stat before and after; nginx: master and workers).
#
# nginx runs twice over: `nginx` with `access_log off` (the fastest nginx can proxy), and
# `nginx-log` with an access log line per request written through a 64 KiB buffer — what a
# production nginx does, and the like of the gateway, which logs every request (one JSON line,
# written by a buffering thread). The goal of issue 7 is stated against `nginx`.
#
# Usage: bench/proxy-vs-nginx.sh [WORKERS...]      (default: 0 1 2; see docs/tls.md "Workers")
# Env:   DURATION=10 ROUNDS=3 CONNECTIONS=64 THREADS=2 NGINX_WORKERS=auto BASE_PORT=18080
#        OUT=target/bench-proxy   (work folder; results in $OUT/results.tsv)
#        BIN=path/eds-gateway LOGIN=path/bench_login   (prebuilt binaries; no build)
# Needs: wrk, nginx (Debian: apt-get install -y wrk nginx), a Rust toolchain.
set -euo pipefail

cd "$(dirname "$0")/.."
DURATION=${DURATION:-10}
ROUNDS=${ROUNDS:-3}
CONNECTIONS=${CONNECTIONS:-64}
THREADS=${THREADS:-2}
NGINX_WORKERS=${NGINX_WORKERS:-auto}
BASE_PORT=${BASE_PORT:-18080}
OUT=${OUT:-target/bench-proxy}
WORKERS=("$@")
[ ${#WORKERS[@]} -eq 0 ] && WORKERS=(0 1 2)

GW_PORT=$BASE_PORT
RESPONDER_PORT=$((BASE_PORT + 1))
UP_PORT=$((BASE_PORT + 10))
NGX_PORT=$((BASE_PORT + 11))
NGX_LOG_PORT=$((BASE_PORT + 12))

for t in wrk nginx cargo; do
  command -v "$t" >/dev/null || { echo "needs $t (apt-get install -y wrk nginx)" >&2; exit 1; }
done

# BIN/LOGIN: binaries to use instead of building (e.g. an older build, to compare).
if [ -z "${BIN:-}" ]; then
  echo "== building (release)"
  cargo build --release --bin eds-gateway --example bench_login >&2
fi
BIN=${BIN:-target/release/eds-gateway}
LOGIN=${LOGIN:-target/release/examples/bench_login}

rm -rf "$OUT"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
# shellcheck source=bench/lib.sh
. bench/lib.sh

# --- the upstream: static files, same for both proxies
start_upstream "$OUT/up" "$UP_PORT"
mkdir -p "$OUT/px/logs"
# --- nginx as the reverse proxy under test: pooled keep-alive upstream connections, as the
# gateway's hyper client pool does.
cat >"$OUT/px/proxy.conf" <<EOF
location / {
  proxy_pass http://mis;
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  proxy_set_header Host \$host;
  proxy_set_header X-Forwarded-For \$remote_addr;
  proxy_set_header X-Forwarded-Proto \$scheme;
}
EOF
cat >"$OUT/px/nginx.conf" <<EOF
worker_processes $NGINX_WORKERS;
daemon off;
pid $OUT/px/nginx.pid;
error_log $OUT/px/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 1000000;
  upstream mis { server 127.0.0.1:$UP_PORT; keepalive 128; }
  server {
    listen 127.0.0.1:$NGX_PORT;
    include $OUT/px/proxy.conf;
  }
  server {
    listen 127.0.0.1:$NGX_LOG_PORT;
    access_log $OUT/px/logs/access.log combined buffer=64k flush=1s;
    include $OUT/px/proxy.conf;
  }
}
EOF
nginx -p "$OUT/px" -c "$OUT/px/nginx.conf" &
NGX_PID=$!
PIDS+=($NGX_PID)

# --- the gateway: the demo's test PKI, keys, staff and config, pointed at the upstream
echo "== preparing the demo folder (test PKI, keys, config)"
"$BIN" demo --dir "$OUT/demo" --port "$GW_PORT" --smoke >"$OUT/demo-smoke.log" 2>&1 ||
  { cat "$OUT/demo-smoke.log" >&2; exit 1; }
"$BIN" pki serve "$OUT/demo/pki" --listen "127.0.0.1:$RESPONDER_PORT" >"$OUT/responder.log" 2>&1 &
PIDS+=($!)
sed -i "s|^url = \"http://127.0.0.1:[0-9]*\"$|url = \"http://127.0.0.1:$UP_PORT\"|" "$OUT/demo/gateway.toml"
cp "$OUT/demo/gateway.toml" "$OUT/gateway.base.toml"
PASSWORD=$(sed -n 's/.*password \(.*\)$/\1/p' "$OUT/demo-smoke.log" | head -1)
[ -n "$PASSWORD" ] || { echo "no demo password in the smoke log" >&2; exit 1; }

wait_port "$UP_PORT"
wait_port "$NGX_PORT"
wait_port "$NGX_LOG_PORT"
wait_port "$RESPONDER_PORT"

ticks() { # utime+stime of a process and its children threads/processes, in clock ticks
  local t=0 p
  for p in "$@"; do
    [ -r "/proc/$p/stat" ] || continue
    t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat")))
  done
  echo "$t"
}
nginx_pids() { echo "$NGX_PID $(pgrep -P "$NGX_PID" | tr '\n' ' ')"; }
HZ=$(getconf CLK_TCK)

# run NAME URL PIDS... → appends one line to results.tsv
run() {
  local name=$1 url=$2 body=$3 workers=$4
  shift 4
  local before after out rps p99 reqs cpu_us
  before=$(ticks "$@")
  out=$(wrk -t"$THREADS" -c"$CONNECTIONS" -d"${DURATION}s" --latency -H "Cookie: $COOKIE" "$url")
  after=$(ticks "$@")
  rps=$(echo "$out" | awk '/^Requests\/sec:/ {print $2}')
  reqs=$(echo "$out" | awk '/requests in/ {print $1}')
  p99=$(echo "$out" | awk '$1=="99%" {print $2}')
  if echo "$out" | grep -q "Non-2xx"; then
    echo "$out" >&2
    echo "non-2xx answers from $name: the cookie or the proxy is wrong" >&2
    exit 1
  fi
  cpu_us=$(awk -v t=$((after - before)) -v hz="$HZ" -v n="$reqs" 'BEGIN {printf "%.1f", t / hz * 1e6 / n}')
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$workers" "$body" "$rps" "$p99" "$cpu_us" | tee -a "$OUT/results.tsv"
}

printf 'proxy\tworkers\tbody\treq_per_s\tp99\tcpu_us_per_req\n' >"$OUT/results.tsv"
for w in "${WORKERS[@]}"; do
  echo "== gateway with server.workers = $w"
  cp "$OUT/gateway.base.toml" "$OUT/demo/gateway.toml"
  sed -i "s|^instance = \"demo\"$|instance = \"demo\"\nworkers = $w|" "$OUT/demo/gateway.toml"
  "$BIN" serve --config "$OUT/demo/gateway.toml" >"$OUT/gateway-w$w.log" 2>&1 &
  GW_PID=$!
  PIDS+=($GW_PID)
  wait_port "$GW_PORT"
  COOKIE=$("$LOGIN" "127.0.0.1:$GW_PORT" "$OUT/demo/keys/doctor.p12" "$PASSWORD")
  # Warm-up (pools, caches) for both.
  wrk -t1 -c8 -d2s -H "Cookie: $COOKIE" "http://127.0.0.1:$GW_PORT/small" >/dev/null
  wrk -t1 -c8 -d2s "http://127.0.0.1:$NGX_PORT/small" >/dev/null
  for body in small 64k; do
    for r in $(seq "$ROUNDS"); do
      run gateway "http://127.0.0.1:$GW_PORT/$body" "$body" "$w" "$GW_PID"
      # shellcheck disable=SC2046
      run nginx "http://127.0.0.1:$NGX_PORT/$body" "$body" "$w" $(nginx_pids)
      # shellcheck disable=SC2046
      run nginx-log "http://127.0.0.1:$NGX_LOG_PORT/$body" "$body" "$w" $(nginx_pids)
    done
  done
  kill -TERM "$GW_PID"
  wait "$GW_PID" || true
done

echo
echo "== medians (gateway / nginx)"
awk -F'\t' 'NR > 1 {
  k = $2 "\t" $3
  if ($1 == "gateway") { g[k] = g[k] " " $4; gp[k] = gp[k] " " $5; gc[k] = gc[k] " " $6 }
  else if ($1 == "nginx") { n[k] = n[k] " " $4; np[k] = np[k] " " $5; nc[k] = nc[k] " " $6 }
  else { l[k] = l[k] " " $4; lp[k] = lp[k] " " $5; lc[k] = lc[k] " " $6 }
}
function med(s,   a, m, i, j, t) {
  m = split(s, a, " ")
  for (i = 1; i <= m; i++) { sub(/ms$/, "", a[i]); if (a[i] ~ /us$/) { sub(/us$/, "", a[i]); a[i] /= 1000 } else if (a[i] ~ /s$/) { sub(/s$/, "", a[i]); a[i] *= 1000 } }
  for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
  return (m % 2) ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2
}
END {
  printf "%-8s %-5s %10s %10s %7s %9s %9s %9s %9s   %10s %7s %9s %9s\n", "workers", "body", "gw req/s", "ngx req/s", "ratio", "gw p99ms", "ngx p99ms", "gw us/req", "ngx us/req", "ngxlog r/s", "ratio", "ngxlog p99", "ngxlog us"
  for (k in g) {
    split(k, kk, "\t")
    printf "%-8s %-5s %10.0f %10.0f %7.2f %9.2f %9.2f %9.1f %9.1f   %10.0f %7.2f %9.2f %9.1f\n", kk[1], kk[2], med(g[k]), med(n[k]), med(g[k]) / med(n[k]), med(gp[k]), med(np[k]), med(gc[k]), med(nc[k]), med(l[k]), med(g[k]) / med(l[k]), med(lp[k]), med(lc[k])
  }
}' "$OUT/results.tsv" | tee "$OUT/summary.txt"

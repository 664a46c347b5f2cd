# Shared by bench/proxy-vs-nginx.sh and bench/gateway-ab.sh (sourced, not run).

# PIDS: processes the script started; killed on exit.
PIDS=()
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT

# Waits (≤ 10 s) until something accepts on 127.0.0.1:PORT.
wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on $1" >&2
  return 1
}

# start_upstream DIR PORT: the benchmarks' upstream, one nginx worker serving `small` (100 bytes)
# and `64k` (65,536 bytes) from DIR/html, no access log; its pid joins PIDS.
start_upstream() {
  local dir=$1 port=$2
  mkdir -p "$dir/html" "$dir/logs"
  head -c 100 /dev/zero | tr '\0' 'a' >"$dir/html/small"
  head -c 65536 /dev/zero | tr '\0' 'b' >"$dir/html/64k"
  cat >"$dir/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:$port;
    root $dir/html;
    default_type application/octet-stream;
    location / { try_files \$uri =404; }
  }
}
CONF
  nginx -p "$dir" -c "$dir/nginx.conf" &
  PIDS+=($!)
}

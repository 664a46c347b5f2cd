#!/usr/bin/env bash
# GOST verification next to OpenSSL's ECDSA verification, on the same machine in the same run
# (BENCHMARKS.md "## GOST"; goal of issue 3: GOST-512 verify within 2x of P-521, GOST-256 within
# 2x of P-256).
#
#   benches/gost_vs_openssl.sh [RUNS]     (default 3)
#
# Each run executes `openssl speed -seconds 3 ecdsap256 ecdsap521` and then
# `cargo bench --bench gost` (all operations, interleaved rounds), one after the other, so the
# two see the same machine load; the ratio of each run is computed from that run's numbers and
# the summary gives the median, min and max over the runs. Both sides are single-threaded.
# ratio = our verify time / OpenSSL's verify time (= OpenSSL verify/s / ours); <= 2 meets the goal.
#
# Clock: `openssl speed` divides by the CPU (user) time of the process unless given -elapsed, so
# by default our rates are also per on-CPU second of the bench thread (/proc/thread-self/schedstat).
# On a shared machine this is the like-for-like comparison; wall-clock rates there depend on how
# much of a core each side happened to get. GOST_BENCH_ELAPSED=1 compares wall clock instead
# (`openssl speed -elapsed` and the bench's wall-clock rates).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS="${1:-3}"
ROUNDS="${GOST_BENCH_ROUNDS:-5}"
MS="${GOST_BENCH_MS:-300}"
if [ "${GOST_BENCH_ELAPSED:-0}" = 1 ]; then
    ELAPSED=(-elapsed); COL=6; CLOCK="wall clock (openssl speed -elapsed)"
else
    ELAPSED=(); COL=3; CLOCK="on-CPU time (openssl speed default: CPU user time)"
fi

command -v openssl >/dev/null || { echo "openssl not found" >&2; exit 2; }
echo "building the bench (cargo bench --bench gost --no-run)..." >&2
cargo bench --quiet --bench gost --no-run >&2

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

echo "$(openssl version); $(nproc) CPU(s); load average: $(cut -d' ' -f1-3 /proc/loadavg); rates per second of $CLOCK"
printf '%-4s %12s %12s %7s | %12s %12s %7s | %10s %10s %10s %10s\n' \
    run "P-256 vfy/s" "GOST256 v/s" ratio "P-521 vfy/s" "GOST512 v/s" ratio \
    "2004 v/s" "512 sign/s" "login/s" "P-521 sig/s"
for i in $(seq 1 "$RUNS"); do
    openssl speed "${ELAPSED[@]}" -seconds 3 ecdsap256 ecdsap521 >"$tmp/openssl.$i" 2>/dev/null
    cargo bench --quiet --bench gost -- --rounds "$ROUNDS" --ms "$MS" >"$tmp/gost.$i"
    p256=$(awk '/ecdsa \(nistp256\)/ {print $NF}' "$tmp/openssl.$i")
    p521=$(awk '/ecdsa \(nistp521\)/ {print $NF}' "$tmp/openssl.$i")
    p521s=$(awk '/ecdsa \(nistp521\)/ {print $(NF-1)}' "$tmp/openssl.$i")
    res() { awk -v n="$1" -v c="$COL" '$1 == "RESULT" && $2 == n {print $c}' "$tmp/gost.$i"; }
    g256=$(res gost2015_256_verify)
    g512=$(res gost2015_512_verify)
    g2004=$(res gost2004_verify)
    sign=$(res gost2015_512_sign)
    login=$(res gost2015_512_login)
    for v in p256 p521 g256 g512; do
        [ -n "${!v}" ] || { echo "run $i: no number for $v" >&2; exit 2; }
    done
    r256=$(awk -v a="$p256" -v b="$g256" 'BEGIN {printf "%.2f", a / b}')
    r512=$(awk -v a="$p521" -v b="$g512" 'BEGIN {printf "%.2f", a / b}')
    echo "$r256" >>"$tmp/r256"
    echo "$r512" >>"$tmp/r512"
    printf '%-4s %12s %12s %7s | %12s %12s %7s | %10s %10s %10s %10s\n' \
        "$i" "$p256" "$g256" "$r256" "$p521" "$g512" "$r512" "$g2004" "$sign" "$login" "$p521s"
done

summary() {
    sort -n "$1" | awk -v name="$2" '
        { v[NR] = $1 }
        END {
            med = v[int((NR + 1) / 2)]
            printf "%s: ratio (our verify time / OpenSSL verify time) median %.2f, min %.2f, max %.2f over %d run(s): goal (<= 2) %s\n",
                name, med, v[1], v[NR], NR, (med <= 2 ? "MET" : "NOT met")
        }'
}
summary "$tmp/r256" "GOST-256 vs P-256"
summary "$tmp/r512" "GOST-512 vs P-521"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"

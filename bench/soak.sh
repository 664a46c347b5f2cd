#!/usr/bin/env bash
# Soak (issue 7 item 6): 1,000 sessions made by real logins, then mixed traffic through the
# gateway to the echo MIS from 4 concurrent clients for 10 minutes (release build), with zero
# errors and the process's VmRSS at the start, middle and end of the steady phase.
#
#   bench/soak.sh                    # 600 s
#   EDS_SOAK_SECS=120 bench/soak.sh  # shorter
set -uo pipefail
cd "$(dirname "$0")/.."
secs="${EDS_SOAK_SECS:-600}"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
echo "soak: ${secs} s steady phase, release build, $(nproc) cores, $(uname -sr)"
EDS_SOAK_SECS="$secs" cargo test --release --test gateway_soak -- --nocapture >"$log" 2>&1
rc=$?
grep -E '^soak:|^test result|panicked|first error' "$log"
if [ "$rc" -ne 0 ]; then
  echo "soak FAILED (exit $rc); full output:" >&2
  tail -50 "$log" >&2
fi
exit "$rc"

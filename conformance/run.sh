#!/usr/bin/env bash
# Runs ../shared/conformance through `eds-gateway verify cert` in two passes: every category but
# `sha1` with SHA-1 refused (the default), then the `sha1` category (ocsp-openssl) with
# --allow-sha1. Divergences are listed, with reasons, in conformance/exceptions.json.
# Usage: conformance/run.sh [BINARY]   (default target/release/eds-gateway)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/.." && pwd)"
shared="${EDS_SHARED_DIR:-$root/../shared}"
bin="$(realpath "${1:-$root/target/release/eds-gateway}")"
if [ ! -f "$shared/conformance/cases.jsonl" ]; then
  echo "conformance: cases not found at $shared/conformance (set EDS_SHARED_DIR)" >&2
  exit 1
fi
mkdir -p "$root/target"
status=0
echo "-- pass 1: all categories except sha1 (SHA-1 refused)"
EDS_GATEWAY_BIN="$bin" python3 "$shared/conformance/run.py" \
  --category core,core-dos,optional,exclude,policy,disputed \
  --adapter "python3 $shared/conformance/adapter.py" \
  --exceptions "$here/exceptions.json" --out "$root/target/conformance-main.json" || status=1
echo "-- pass 2: category sha1 (ocsp-openssl) with --allow-sha1"
EDS_GATEWAY_REAL_BIN="$bin" EDS_GATEWAY_BIN="$here/allow-sha1.sh" python3 "$shared/conformance/run.py" \
  --category sha1 \
  --adapter "python3 $shared/conformance/adapter.py" \
  --exceptions "$here/exceptions.json" --out "$root/target/conformance-sha1.json" || status=1
exit $status

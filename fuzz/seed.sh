#!/bin/sh
# Seeds fuzz/corpus/<target>/ from the shared NCA fixtures and conformance material, at run time.
# The copies are never committed (fuzz/corpus/ is in the repository's .gitignore).
#
# Usage: fuzz/seed.sh            (from anywhere; shared folder = $EDS_SHARED_DIR or ../shared
#                                 beside the repository)
# Needs: sh, find, cp; openssl to turn PEM certificates into DER for the `path` target
# (without it the `path` corpus holds single DER certificates only).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
shared=${EDS_SHARED_DIR:-$here/../../shared}
nca=$shared/fixtures/nca
conf=$shared/conformance
if [ ! -d "$nca" ]; then
    echo "seed.sh: NCA fixtures not found at $nca (set EDS_SHARED_DIR)" >&2
    exit 1
fi
corpus=$here/corpus
for t in cert cms crl ocsp path; do mkdir -p "$corpus/$t"; done

# copy <dest-dir> <prefix> files... : copies under a flat, collision-free name.
copy() {
    dest=$1; prefix=$2; shift 2
    for f in "$@"; do
        [ -f "$f" ] || continue
        cp "$f" "$dest/$prefix-$(basename "$f")"
    done
}

# cert: every NCA certificate, the x509-limbo and BSI certificates (PEM and DER both parse).
for d in "$nca"/ca/* "$nca"/certs/*; do copy "$corpus/cert" nca "$d"/*; done
[ -d "$conf/limbo" ] && copy "$corpus/cert" limbo $(find "$conf/limbo" -name '*.pem' ! -name '*.crl.pem' | head -n 300)
[ -d "$conf/bsi" ] && copy "$corpus/cert" bsi $(find "$conf/bsi" -type f -name '*.crt' | head -n 300)

# cms: every .p7s and the RFC 3161 token (a SignedData too).
copy "$corpus/cms" nca "$nca"/cms/*.p7s "$nca"/tsp/tsp_token.bin

# crl: NCA CRLs plus conformance CRLs.
copy "$corpus/crl" nca "$nca"/crl/*
[ -d "$conf/limbo" ] && copy "$corpus/crl" limbo $(find "$conf/limbo" -name '*.crl.pem' | head -n 100)
[ -d "$conf/bsi" ] && copy "$corpus/crl" bsi $(find "$conf/bsi" -type f -name '*.crl' | head -n 100)

# ocsp: NCA responses plus the conformance OCSP material.
copy "$corpus/ocsp" nca "$nca"/ocsp/*
# (responses only: *.der files whose name is not a certificate's)
[ -d "$conf/ocsp" ] && copy "$corpus/ocsp" conf $(find "$conf/ocsp" -type f -name '*.der' | head -n 200)

# path: concatenated DER "leaf, issuer[, anchor]" chains (the target reads consecutive DER
# elements). PEM is converted with openssl.
der() {
    if head -c 11 "$1" | grep -q -- '-----BEGIN'; then
        command -v openssl >/dev/null 2>&1 || return 1
        openssl x509 -in "$1" -outform DER
    else
        cat "$1"
    fi
}
chain() {
    name=$1; shift
    out=$corpus/path/$name
    : > "$out"
    for f in "$@"; do der "$f" >> "$out" || { rm -f "$out"; return 0; }; done
}
chain nca-rsa-2021 "$nca/certs/rsa-2021-2022/individual_sign_rsa_2021.pem" "$nca/ca/test/nca_rsa_test_2019.pem"
chain nca-rsa-2022 "$nca/certs/rsa-2021-2022/ncanode_individual_sign_rsa_2022.pem" "$nca/ca/test/nca_rsa_test_2019.pem"
chain nca-gost2015 "$nca/certs/gost2015-2026/individual_valid.pem" "$nca/ca/test/nca_gost2022_test.cer" "$nca/ca/test/root_test_gost_2022.cer"
chain nca-gost2022-ca "$nca/ca/test/nca_gost2022_test.cer" "$nca/ca/test/root_test_gost_2022.cer"
chain nca-ocsp-responder "$nca/certs/ocsp-responders/ocsp_responder_rsa_test_2022.der" "$nca/ca/test/nca_rsa_test_2019.pem"
# x509-limbo issuer cycles (pathological::intermediate-cycle-*): leaf, both intermediates, anchor.
if [ -f "$conf/cases.jsonl" ]; then
    grep '"pathological::intermediate-cycle-' "$conf/cases.jsonl" | while IFS= read -r line; do
        id=$(printf '%s' "$line" | sed 's/.*"id": "\([^"]*\)".*/\1/' | tr ':' '_')
        files=$(printf '%s' "$line" | sed 's/.*"trust_anchors": \[\([^]]*\)\], "intermediates": \[\([^]]*\)\], "leaf": \("[^"]*"\).*/\3 \2 \1/' | tr -d '",')
        set --
        for f in $files; do set -- "$@" "$conf/$f"; done
        chain "limbo-$id" "$@"
    done
fi

for t in cert cms crl ocsp path; do
    echo "corpus/$t: $(find "$corpus/$t" -type f | wc -l) files"
done

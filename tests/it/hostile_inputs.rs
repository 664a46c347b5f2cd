//! Hostile bytes into every parser of the verification core (certificates, CMS SignedData, CRLs,
//! OCSP responses) and into path building: each input ends, in bounded work, in `Ok` or in a named
//! error (a non-empty snake_case `.code()`), never in a panic.
//!
//! - proptest properties over every NCA fixture: truncations, 1–8 byte overwrites, 1–8 byte
//!   insertions/deletions, and DER length inflation (a header's length rewritten to
//!   `84 ff ff ff ff`, `83 ff ff ff`, indefinite, ...). Whatever still parses is pushed through the
//!   downstream check (`verify_signers`, `crl::check`, `ocsp::check`, `build_and_validate`).
//! - 10,000-deep nesting (definite SEQUENCE, `[0]` constructed, indefinite BER) for each parser.
//! - huge declared sizes in tiny inputs; inputs above each size budget give the TooLarge variant.
//! - a 10,000-certificate pool and issuer cycles (x509-limbo `pathological::intermediate-cycle-*`)
//!   given to path building.
//! - CMS over the signer (8) and certificate (32) budgets, by byte surgery and by `openssl cms`.
//!
//! Fixtures are read from ../shared (or `$EDS_SHARED_DIR`); a missing folder fails loudly.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use eds_gateway::pki::cert::{self, CertError, Certificate};
use eds_gateway::pki::cms::{self, CmsError, SignedData, verify_signers};
use eds_gateway::pki::crl::{self, Crl, CrlError};
use eds_gateway::pki::der_util::read_tlv;
use eds_gateway::pki::identity::NcaIdentity;
use eds_gateway::pki::ocsp::{self, OcspCheckOptions, OcspError, OcspResponse};
use eds_gateway::pki::path::{PathError, ValidationOptions, build_and_validate};
use eds_gateway::pki::signature::SignaturePolicy;
use eds_gateway::pki::time::UnixTime;
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------
// Fixtures and helpers
// ---------------------------------------------------------------------------------------------

const RSA_LEAF: &str = "certs/rsa-2021-2022/individual_sign_rsa_2021.pem";
const RSA_CA: &str = "ca/test/nca_rsa_test_2019.pem";
const GOST_LEAF: &str = "certs/gost2015-2026/individual_valid.pem";
const GOST_CA: &str = "ca/test/nca_gost2022_test.cer";
const UNRELATED_ROOT: &str = "ca/test/root_test_gost_2022.cer";

struct Fixtures {
    /// (name, DER) of every fixture certificate.
    certs: Vec<(String, Vec<u8>)>,
    cms: Vec<(String, Vec<u8>)>,
    crls: Vec<(String, Vec<u8>)>,
    ocsp: Vec<(String, Vec<u8>)>,
    rsa_leaf: Certificate,
    rsa_ca: Certificate,
    gost_leaf: Certificate,
    gost_ca: Certificate,
}

fn read_all(dir: &str, keep: impl Fn(&Path) -> bool) -> Vec<(String, Vec<u8>)> {
    let out: Vec<(String, Vec<u8>)> = common::nca_files(dir)
        .into_iter()
        .filter(|p| p.is_file() && keep(p))
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p.display().to_string(), bytes)
        })
        .collect();
    assert!(!out.is_empty(), "no fixtures in {dir}");
    out
}

#[track_caller]
fn nca_cert(rel: &str) -> Certificate {
    Certificate::parse(&common::nca_bytes(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn fixtures() -> &'static Fixtures {
    static F: OnceLock<Fixtures> = OnceLock::new();
    F.get_or_init(|| {
        let mut certs = Vec::new();
        for dir in common::CA_CERT_DIRS
            .iter()
            .chain(common::LEAF_CERT_DIRS.iter())
        {
            for (name, bytes) in read_all(dir, |_| true) {
                let c = Certificate::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
                certs.push((name, c.der().to_vec()));
            }
        }
        let is_p7s = |p: &Path| p.extension().is_some_and(|e| e == "p7s");
        let mut cms = read_all("cms", is_p7s);
        // RFC 3161 tokens are SignedData too.
        cms.extend(read_all("tsp", |p| p.ends_with("tsp_token.bin")));
        Fixtures {
            certs,
            cms,
            crls: read_all("crl", |_| true),
            ocsp: read_all("ocsp", |_| true),
            rsa_leaf: nca_cert(RSA_LEAF),
            rsa_ca: nca_cert(RSA_CA),
            gost_leaf: nca_cert(GOST_LEAF),
            gost_ca: nca_cert(GOST_CA),
        }
    })
}

fn at_rsa() -> UnixTime {
    common::at("2021-06-01T00:00:00Z")
}

/// A reason code must be a non-empty snake_case identifier.
#[track_caller]
fn assert_named(code: &str, what: &dyn std::fmt::Debug) {
    let ok = !code.is_empty()
        && code.starts_with(|c: char| c.is_ascii_lowercase())
        && !code.ends_with('_')
        && !code.contains("__")
        && code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    assert!(ok, "error code {code:?} is not snake_case: {what:?}");
}

/// Certificate parsing plus what the identity layer reads.
fn exercise_cert(bytes: &[u8]) {
    match Certificate::parse(bytes) {
        Ok(c) => {
            let _ = NcaIdentity::from_certificate(&c);
            let _ = (c.tbs_der(), c.serial_hex(), c.sha256_fingerprint());
            let _ = (c.subject.to_display_string(), c.issuer.to_display_string());
        }
        Err(e) => assert_named(e.code(), &e),
    }
}

/// CMS parsing, then message- and signer-level verification of whatever parses.
fn exercise_cms(bytes: &[u8]) {
    match SignedData::parse(bytes) {
        Ok(sd) => {
            for detached in [None, Some(&b"test123"[..])] {
                match verify_signers(&sd, detached, &[], &SignaturePolicy::default()) {
                    Ok(verdicts) => {
                        for v in verdicts {
                            if let Err(e) = &v.result {
                                assert_named(e.code(), e);
                            }
                        }
                    }
                    Err(e) => assert_named(e.code(), &e),
                }
            }
            for s in &sd.signers {
                if let Err(e) = s.signing_time() {
                    assert_named(e.code(), &e);
                }
            }
        }
        Err(e) => assert_named(e.code(), &e),
    }
}

/// CRL parsing, then the revocation check of whatever parses for the RSA and GOST test pairs.
fn exercise_crl(bytes: &[u8]) {
    let f = fixtures();
    match Crl::parse(bytes) {
        Ok(c) => {
            let _ = c.find(&f.rsa_leaf.serial);
            let crls = [c];
            for (leaf, ca, at) in [
                (&f.rsa_leaf, &f.rsa_ca, common::at("2022-05-01T00:00:00Z")),
                (&f.gost_leaf, &f.gost_ca, common::at("2022-08-01T00:00:00Z")),
            ] {
                if let Err(e) = crl::check(leaf, ca, &crls, at, &SignaturePolicy::default()) {
                    assert_named(e.code(), &e);
                }
            }
        }
        Err(e) => assert_named(e.code(), &e),
    }
}

/// OCSP parsing, then the check of whatever parses for the RSA and GOST test pairs.
fn exercise_ocsp(bytes: &[u8]) {
    let f = fixtures();
    match OcspResponse::parse(bytes) {
        Ok(r) => {
            let _ = r.nonce();
            for (leaf, ca, at) in [
                (&f.rsa_leaf, &f.rsa_ca, common::at("2022-09-02T17:00:00Z")),
                (&f.gost_leaf, &f.gost_ca, common::at("2022-09-02T17:00:00Z")),
            ] {
                if let Err(e) = ocsp::check(&r, leaf, ca, at, &OcspCheckOptions::default()) {
                    assert_named(e.code(), &e);
                }
            }
        }
        Err(e) => assert_named(e.code(), &e),
    }
}

/// Path building with `extra` as additional pool certificates (and as candidate anchors).
fn exercise_path(extra: &[u8]) {
    let f = fixtures();
    if let Ok(c) = Certificate::parse(extra) {
        let anchors = [c.clone(), f.rsa_ca.clone()];
        let pool = [c, f.rsa_ca.clone()];
        let opts = ValidationOptions::at(at_rsa());
        for leaf in [&f.rsa_leaf, &pool[0]] {
            let r = build_and_validate(leaf, &anchors, &pool, &opts, &mut |_| Ok(()));
            if let Err(e) = r {
                assert_named(e.code(), &e);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Mutations
// ---------------------------------------------------------------------------------------------

/// Offsets of the length octets of every TLV in a DER tree (descending into constructed
/// elements), with the number of length octets.
fn length_fields(buf: &[u8]) -> Vec<(usize, usize)> {
    fn walk(buf: &[u8], start: usize, end: usize, depth: usize, out: &mut Vec<(usize, usize)>) {
        let mut pos = start;
        while pos < end && depth < 64 {
            let Some(t) = read_tlv(buf, pos) else { return };
            if t.end > end {
                return;
            }
            out.push((pos + 1, t.content_start - pos - 1));
            if t.tag & 0x20 != 0 {
                walk(buf, t.content_start, t.end, depth + 1, out);
            }
            pos = t.end;
        }
    }
    let mut out = Vec::new();
    walk(buf, 0, buf.len(), 0, &mut out);
    out
}

/// Replacement length encodings: huge, indefinite, non-minimal, over-long.
const INFLATED: &[&[u8]] = &[
    &[0x84, 0xff, 0xff, 0xff, 0xff],
    &[0x84, 0x7f, 0xff, 0xff, 0xff],
    &[0x83, 0xff, 0xff, 0xff],
    &[0x82, 0xff, 0xff],
    &[0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    &[0x85, 0x01, 0x00, 0x00, 0x00, 0x00],
    &[0x80],
    &[0xff],
    &[0x81, 0x00],
    &[0x84, 0x00, 0x00, 0x00, 0x00],
];

fn inflate(buf: &[u8], field: usize, form: usize) -> Vec<u8> {
    let fields = length_fields(buf);
    if fields.is_empty() {
        return buf.to_vec();
    }
    let (off, n) = fields[field % fields.len()];
    let mut out = buf[..off].to_vec();
    out.extend_from_slice(INFLATED[form % INFLATED.len()]);
    out.extend_from_slice(&buf[off + n..]);
    out
}

fn overwrite(buf: &[u8], edits: &[(usize, u8)]) -> Vec<u8> {
    let mut out = buf.to_vec();
    for &(i, v) in edits {
        let i = i % out.len();
        out[i] = if out[i] == v { !v } else { v };
    }
    out
}

/// `Some(b)` inserts `b`, `None` deletes one byte, at a position taken modulo the length.
fn splice(buf: &[u8], edits: &[(usize, Option<u8>)]) -> Vec<u8> {
    let mut out = buf.to_vec();
    for &(i, op) in edits {
        match op {
            Some(b) => {
                let i = i % (out.len() + 1);
                out.insert(i, b);
            }
            None if !out.is_empty() => {
                let i = i % out.len();
                out.remove(i);
            }
            None => {}
        }
    }
    out
}

fn pick(set: &[(String, Vec<u8>)], i: usize) -> &[u8] {
    &set[i % set.len()].1
}

fn edits() -> impl Strategy<Value = Vec<(usize, u8)>> {
    prop::collection::vec((any::<usize>(), any::<u8>()), 1..=8)
}

fn splices() -> impl Strategy<Value = Vec<(usize, Option<u8>)>> {
    prop::collection::vec((any::<usize>(), any::<Option<u8>>()), 1..=8)
}

/// Cases per property: the default, or `$HOSTILE_INPUT_CASES` for longer soak runs.
fn cases(default: u32) -> u32 {
    std::env::var("HOSTILE_INPUT_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

// Case counts: 1024 per property for the three mutation kinds and truncation, 16 properties over
// four parsers, plus 128 each for path building and for
// keys/signatures (about 10 s in debug on two shared cores).
proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(1024)))]

    // ----- certificates
    #[test]
    fn truncated_certificate_fixtures_never_panic(i in any::<usize>(), cut in any::<usize>()) {
        let b = pick(&fixtures().certs, i);
        exercise_cert(&b[..cut % b.len()]);
    }

    #[test]
    fn byte_mutated_certificate_fixtures_never_panic(i in any::<usize>(), e in edits()) {
        exercise_cert(&overwrite(pick(&fixtures().certs, i), &e));
    }

    #[test]
    fn spliced_certificate_fixtures_never_panic(i in any::<usize>(), e in splices()) {
        exercise_cert(&splice(pick(&fixtures().certs, i), &e));
    }

    #[test]
    fn length_inflated_certificate_fixtures_never_panic(
        i in any::<usize>(), field in any::<usize>(), form in any::<usize>()
    ) {
        exercise_cert(&inflate(pick(&fixtures().certs, i), field, form));
    }

    // ----- CMS
    #[test]
    fn truncated_cms_fixtures_never_panic(i in any::<usize>(), cut in any::<usize>()) {
        let b = pick(&fixtures().cms, i);
        exercise_cms(&b[..cut % b.len()]);
    }

    #[test]
    fn byte_mutated_cms_fixtures_never_panic(i in any::<usize>(), e in edits()) {
        exercise_cms(&overwrite(pick(&fixtures().cms, i), &e));
    }

    #[test]
    fn spliced_cms_fixtures_never_panic(i in any::<usize>(), e in splices()) {
        exercise_cms(&splice(pick(&fixtures().cms, i), &e));
    }

    #[test]
    fn length_inflated_cms_fixtures_never_panic(
        i in any::<usize>(), field in any::<usize>(), form in any::<usize>()
    ) {
        exercise_cms(&inflate(pick(&fixtures().cms, i), field, form));
    }

    // ----- CRLs
    #[test]
    fn truncated_crl_fixtures_never_panic(i in any::<usize>(), cut in any::<usize>()) {
        let b = pick(&fixtures().crls, i);
        exercise_crl(&b[..cut % b.len()]);
    }

    #[test]
    fn byte_mutated_crl_fixtures_never_panic(i in any::<usize>(), e in edits()) {
        exercise_crl(&overwrite(pick(&fixtures().crls, i), &e));
    }

    #[test]
    fn spliced_crl_fixtures_never_panic(i in any::<usize>(), e in splices()) {
        exercise_crl(&splice(pick(&fixtures().crls, i), &e));
    }

    #[test]
    fn length_inflated_crl_fixtures_never_panic(
        i in any::<usize>(), field in any::<usize>(), form in any::<usize>()
    ) {
        exercise_crl(&inflate(pick(&fixtures().crls, i), field, form));
    }

    // ----- OCSP
    #[test]
    fn truncated_ocsp_fixtures_never_panic(i in any::<usize>(), cut in any::<usize>()) {
        let b = pick(&fixtures().ocsp, i);
        exercise_ocsp(&b[..cut % b.len()]);
    }

    #[test]
    fn byte_mutated_ocsp_fixtures_never_panic(i in any::<usize>(), e in edits()) {
        exercise_ocsp(&overwrite(pick(&fixtures().ocsp, i), &e));
    }

    #[test]
    fn spliced_ocsp_fixtures_never_panic(i in any::<usize>(), e in splices()) {
        exercise_ocsp(&splice(pick(&fixtures().ocsp, i), &e));
    }

    #[test]
    fn length_inflated_ocsp_fixtures_never_panic(
        i in any::<usize>(), field in any::<usize>(), form in any::<usize>()
    ) {
        exercise_ocsp(&inflate(pick(&fixtures().ocsp, i), field, form));
    }
}

/// Overwrites bytes only inside `range` of `buf` (the edits' positions taken modulo its length).
fn overwrite_within(buf: &[u8], range: std::ops::Range<usize>, edits: &[(usize, u8)]) -> Vec<u8> {
    let mut out = buf.to_vec();
    let len = range.end - range.start;
    for &(i, v) in edits {
        let i = range.start + i % len;
        out[i] = if out[i] == v { !v } else { v };
    }
    out
}

/// Where `part` sits inside `whole`.
fn range_of(whole: &[u8], part: &[u8]) -> std::ops::Range<usize> {
    let start = whole
        .windows(part.len())
        .position(|w| w == part)
        .expect("part inside whole");
    start..start + part.len()
}

/// The RSA test pair with the issuer's SubjectPublicKeyInfo (`which` even) or the leaf's
/// signature (`which` odd) overwritten, through path building, CRL and OCSP checks.
fn exercise_keys_and_signatures(which: u8, e: &[(usize, u8)]) {
    let f = fixtures();
    let (leaf_der, ca_der) = (f.rsa_leaf.der(), f.rsa_ca.der());
    let (leaf, ca) = if which.is_multiple_of(2) {
        let m = overwrite_within(ca_der, range_of(ca_der, &f.rsa_ca.spki_der), e);
        (f.rsa_leaf.clone(), Certificate::parse(&m))
    } else {
        let m = overwrite_within(leaf_der, range_of(leaf_der, &f.rsa_leaf.signature), e);
        match Certificate::parse(&m) {
            Ok(l) => (l, Ok(f.rsa_ca.clone())),
            Err(e) => return assert_named(e.code(), &e),
        }
    };
    let ca = match ca {
        Ok(c) => c,
        Err(e) => return assert_named(e.code(), &e),
    };
    let anchors = [ca];
    let opts = ValidationOptions::at(at_rsa());
    if let Err(e) = build_and_validate(&leaf, &anchors, &[], &opts, &mut |_| Ok(())) {
        assert_named(e.code(), &e);
    }
    for (_, bytes) in &f.crls {
        let c = Crl::parse(bytes).expect("fixture CRL");
        let at = common::at("2022-05-01T00:00:00Z");
        if let Err(e) = c.verify_signature(&anchors[0], &SignaturePolicy::default()) {
            assert_named(e.code(), &e);
        }
        if let Err(e) = crl::check(&leaf, &anchors[0], &[c], at, &SignaturePolicy::default()) {
            assert_named(e.code(), &e);
        }
    }
    for (_, bytes) in &f.ocsp {
        let r = OcspResponse::parse(bytes).expect("fixture OCSP response");
        let at = r.produced_at.plus_seconds(60);
        if let Err(e) = ocsp::check(&r, &leaf, &anchors[0], at, &OcspCheckOptions::default()) {
            assert_named(e.code(), &e);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases(128)))]

    #[test]
    fn mutated_issuer_keys_and_leaf_signatures_never_panic_the_checks(
        which in any::<u8>(), e in edits()
    ) {
        exercise_keys_and_signatures(which, &e);
    }

    #[test]
    fn mutated_certificates_in_pool_and_anchors_never_panic_path_building(
        i in any::<usize>(), e in edits()
    ) {
        exercise_path(&overwrite(pick(&fixtures().certs, i), &e));
    }
}

// ---------------------------------------------------------------------------------------------
// Deep nesting
// ---------------------------------------------------------------------------------------------

fn der_len(n: usize) -> Vec<u8> {
    if n < 0x80 {
        return vec![u8::try_from(n).expect("short form")];
    }
    let bytes = u32::try_from(n).expect("fits u32").to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    let mut out = vec![0x80 | u8::try_from(4 - skip).expect("small")];
    out.extend_from_slice(&bytes[skip..]);
    out
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    out.extend(der_len(content.len()));
    out.extend_from_slice(content);
    out
}

/// `depth` nested definite-length elements with identifier `tag`, innermost a NULL.
fn nested_definite(tag: u8, depth: usize) -> Vec<u8> {
    let mut der = vec![0x05, 0x00];
    for _ in 0..depth {
        der = tlv(tag, &der);
    }
    der
}

/// `depth` nested indefinite-length elements with identifier `tag`, each closed by `00 00`.
fn nested_indefinite(tag: u8, depth: usize) -> Vec<u8> {
    let mut ber = Vec::with_capacity(depth * 4);
    for _ in 0..depth {
        ber.extend_from_slice(&[tag, 0x80]);
    }
    ber.extend(std::iter::repeat_n(0u8, depth * 2));
    ber
}

fn deep_inputs() -> Vec<(&'static str, Vec<u8>)> {
    let mut inputs = vec![
        ("10,000 SEQUENCEs", nested_definite(0x30, 10_000)),
        ("10,000 [0] constructed", nested_definite(0xa0, 10_000)),
        ("10,000 SETs", nested_definite(0x31, 10_000)),
        (
            "10,000 indefinite SEQUENCEs",
            nested_indefinite(0x30, 10_000),
        ),
        ("10,000 indefinite [0]", nested_indefinite(0xa0, 10_000)),
        (
            "10,000 indefinite constructed OCTET STRINGs",
            nested_indefinite(0x24, 10_000),
        ),
    ];
    // SEQUENCE { SEQUENCE { [0] { [0] { ... } } } }: the shape of Certificate › TBS › version,
    // and of ContentInfo › content.
    let mut mixed = nested_definite(0xa0, 10_000);
    mixed = tlv(0x30, &tlv(0x30, &mixed));
    inputs.push(("SEQUENCE SEQUENCE then 10,000 [0]", mixed));
    // ContentInfo { id-signedData, [0] { 10,000 nested SEQUENCEs } }.
    let oid = tlv(0x06, &hex::decode("2a864886f70d010702").expect("hex"));
    let mut ci = oid.clone();
    ci.extend(tlv(0xa0, &nested_definite(0x30, 10_000)));
    inputs.push(("ContentInfo holding 10,000 SEQUENCEs", tlv(0x30, &ci)));
    // OCSPResponse { successful, [0] { 10,000 [0] } }.
    let mut resp = vec![0x0a, 0x01, 0x00];
    resp.extend(tlv(0xa0, &nested_definite(0xa0, 10_000)));
    inputs.push(("OCSPResponse holding 10,000 [0]", tlv(0x30, &resp)));
    inputs
}

#[test]
fn deeply_nested_certificates_are_named_errors() {
    for (what, input) in deep_inputs() {
        let e = Certificate::parse(&input).expect_err(what);
        assert_named(e.code(), &e);
        assert!(matches!(e, CertError::BadEncoding { .. }), "{what}: {e:?}");
    }
}

#[test]
fn deeply_nested_cms_is_a_named_error() {
    for (what, input) in deep_inputs() {
        let e = SignedData::parse(&input).expect_err(what);
        assert_named(e.code(), &e);
        assert!(
            matches!(
                e,
                CmsError::TooDeep { .. }
                    | CmsError::Malformed { .. }
                    | CmsError::BadEncoding { .. }
            ),
            "{what}: {e:?}"
        );
    }
    // Binary nesting by itself (no ContentInfo around it) is refused by the BER depth budget
    // (an input not starting with a SEQUENCE is read as base64 text: BadEncoding above).
    for input in [
        nested_definite(0x30, 10_000),
        nested_indefinite(0x30, 10_000),
        [&[0x30, 0x80][..], &nested_indefinite(0xa0, 10_000), &[0, 0]].concat(),
    ] {
        assert_eq!(
            SignedData::parse(&input),
            Err(CmsError::TooDeep {
                max: eds_gateway::pki::ber::MAX_DEPTH
            })
        );
    }
}

#[test]
fn deeply_nested_crls_are_named_errors() {
    for (what, input) in deep_inputs() {
        let e = Crl::parse(&input).expect_err(what);
        assert_named(e.code(), &e);
        assert!(matches!(e, CrlError::BadEncoding { .. }), "{what}: {e:?}");
    }
}

#[test]
fn deeply_nested_ocsp_responses_are_named_errors() {
    for (what, input) in deep_inputs() {
        let e = OcspResponse::parse(&input).expect_err(what);
        assert_named(e.code(), &e);
        assert!(matches!(e, OcspError::Malformed { .. }), "{what}: {e:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Declared sizes and size budgets
// ---------------------------------------------------------------------------------------------

/// Tiny inputs whose headers declare gigabytes (or impossible lengths).
fn huge_declared_inputs() -> Vec<Vec<u8>> {
    let mut v = vec![
        vec![0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
        vec![0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x30, 0x00],
        vec![0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x02, 0x01, 0x01],
        vec![0x30, 0x83, 0xff, 0xff, 0xff, 0x30, 0x00],
        vec![0x30, 0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        vec![0x30, 0x89, 0x01, 0, 0, 0, 0, 0, 0, 0, 0],
        vec![0x30, 0xff],
        vec![0x30, 0x80],
        vec![0x30],
        vec![],
        vec![0x00, 0x00],
    ];
    // Outer header fine, inner header inflated.
    v.push(vec![0x30, 0x06, 0x30, 0x84, 0xff, 0xff, 0xff, 0xff]);
    v.push(vec![0x30, 0x07, 0x30, 0x84, 0xff, 0xff, 0xff, 0xff, 0x00]);
    // ContentInfo { id-signedData, [0] 4 GB }.
    let mut ci = tlv(0x06, &hex::decode("2a864886f70d010702").expect("hex"));
    ci.extend_from_slice(&[0xa0, 0x84, 0xff, 0xff, 0xff, 0xff, 0x30, 0x00]);
    v.push(tlv(0x30, &ci));
    // OCSPResponse { successful, [0] 4 GB }.
    v.push(vec![
        0x30, 0x0b, 0x0a, 0x01, 0x00, 0xa0, 0x84, 0xff, 0xff, 0xff, 0xff, 0x30, 0x00,
    ]);
    v
}

#[test]
fn huge_declared_sizes_in_tiny_inputs_are_named_errors_for_every_parser() {
    for input in huge_declared_inputs() {
        let hexed = hex::encode(&input);
        let e = Certificate::parse(&input).expect_err(&hexed);
        assert_named(e.code(), &e);
        let e = SignedData::parse(&input).expect_err(&hexed);
        assert_named(e.code(), &e);
        let e = Crl::parse(&input).expect_err(&hexed);
        assert_named(e.code(), &e);
        let e = OcspResponse::parse(&input).expect_err(&hexed);
        assert_named(e.code(), &e);
    }
}

#[test]
fn certificate_over_the_size_budget_is_too_large() {
    let pem_budget = cert::MAX_CERT_SIZE * 2;
    assert!(matches!(
        Certificate::parse(&vec![0x30; pem_budget + 1]),
        Err(CertError::TooLarge { size }) if size == pem_budget + 1
    ));
    // A DER certificate that declares and carries 64 KiB + 1 of content.
    let mut big = vec![0x30, 0x83];
    big.extend_from_slice(
        &u32::try_from(cert::MAX_CERT_SIZE + 1)
            .expect("u32")
            .to_be_bytes()[1..],
    );
    big.resize(big.len() + cert::MAX_CERT_SIZE + 1, 0);
    assert!(matches!(
        Certificate::parse(&big),
        Err(CertError::TooLarge { .. })
    ));
    assert!(matches!(
        Certificate::from_der(vec![0x30; cert::MAX_CERT_SIZE + 1]),
        Err(CertError::TooLarge { .. })
    ));
}

#[test]
fn cms_over_the_size_budget_is_too_large() {
    // Binary input between the DER and the text budget: refused after decoding.
    let der = vec![0x30; cms::MAX_CMS_SIZE + 1];
    assert_eq!(
        SignedData::parse(&der),
        Err(CmsError::TooLarge {
            size: cms::MAX_CMS_SIZE + 1,
            max: cms::MAX_CMS_SIZE
        })
    );
    // Anything above the text budget: refused before any decoding.
    let text = vec![b'A'; cms::MAX_TEXT_SIZE + 1];
    assert_eq!(
        SignedData::parse(&text),
        Err(CmsError::TooLarge {
            size: cms::MAX_TEXT_SIZE + 1,
            max: cms::MAX_TEXT_SIZE
        })
    );
    // Base64 text under the text budget that decodes to more than the DER budget.
    let b64 = vec![b'M'; cms::MAX_TEXT_SIZE];
    assert!(matches!(
        SignedData::parse(&b64),
        Err(CmsError::TooLarge { max, .. }) if max == cms::MAX_CMS_SIZE
    ));
}

#[test]
fn crl_over_the_size_budget_is_too_large() {
    // Zeroed allocations: the pages are never touched because the size check comes first.
    let input = vec![0u8; crl::MAX_CRL_SIZE * 2 + 1];
    assert!(matches!(
        Crl::parse(&input),
        Err(CrlError::TooLarge { size }) if size == crl::MAX_CRL_SIZE * 2 + 1
    ));
    drop(input);
    assert!(matches!(
        Crl::from_der(vec![0u8; crl::MAX_CRL_SIZE + 1]),
        Err(CrlError::TooLarge { .. })
    ));
}

#[test]
fn ocsp_response_over_the_size_budget_is_too_large() {
    let input = vec![0x30; ocsp::MAX_RESPONSE_SIZE * 2 + 1];
    assert!(matches!(
        OcspResponse::parse(&input),
        Err(OcspError::TooLarge { .. })
    ));
    let der = vec![0x30; ocsp::MAX_RESPONSE_SIZE + 1];
    assert!(matches!(
        OcspResponse::parse(&der),
        Err(OcspError::TooLarge { .. })
    ));
    assert!(matches!(
        OcspResponse::from_der(&der),
        Err(OcspError::TooLarge { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Path building: a 10,000-certificate pool, issuer cycles
// ---------------------------------------------------------------------------------------------

/// The DER with the serial number's content octets (after the first) replaced by `n`.
fn with_serial(der: &[u8], n: u32) -> Vec<u8> {
    let outer = read_tlv(der, 0).expect("certificate");
    let tbs = read_tlv(der, outer.content_start).expect("tbs");
    let mut pos = tbs.content_start;
    let mut first = read_tlv(der, pos).expect("first TBS field");
    if first.tag == 0xa0 {
        pos = first.end;
        first = read_tlv(der, pos).expect("serial");
    }
    assert_eq!(first.tag, 0x02, "serial INTEGER");
    let mut out = der.to_vec();
    let content = &mut out[first.content_start..first.end];
    assert!(content.len() >= 5, "serial long enough to edit");
    let tail = content.len() - 4;
    content[tail..].copy_from_slice(&n.to_be_bytes());
    out
}

/// 10,000 certificates: copies of every fixture certificate with fresh serials, a third of them
/// copies of the leaf's issuing CA (same subject and key: every one a valid issuer).
fn pool_of_10000() -> Vec<Certificate> {
    let f = fixtures();
    let ca = f.rsa_ca.der().to_vec();
    (0..10_000u32)
        .map(|n| {
            let der = if n % 3 == 0 {
                &ca
            } else {
                &f.certs[n as usize % f.certs.len()].1
            };
            Certificate::parse(&with_serial(der, n + 1))
                .unwrap_or_else(|e| panic!("copy {n} of a fixture: {e}"))
        })
        .collect()
}

#[test]
fn pool_of_10000_certificates_ends_in_ok_or_a_named_error() {
    let f = fixtures();
    let pool = pool_of_10000();
    assert_eq!(pool.len(), 10_000);
    let opts = ValidationOptions::at(at_rsa());
    // No anchor reachable: the search must stop on a budget or run out of candidates.
    let unrelated = [nca_cert(UNRELATED_ROOT)];
    let r = build_and_validate(&f.rsa_leaf, &unrelated, &pool, &opts, &mut |_| Ok(()));
    let e = r.expect_err("no anchor is reachable");
    eprintln!("10,000 pool, unreachable anchor: {} ({e})", e.code());
    assert_named(e.code(), &e);
    // Anchor reachable, but every path refused by revocation: backtracking over the pool.
    let anchor = [f.rsa_ca.clone()];
    let r = build_and_validate(&f.rsa_leaf, &anchor, &pool, &opts, &mut |_| {
        Err(PathError::Revocation {
            code: "revoked",
            detail: "refused by the test".into(),
        })
    });
    if let Err(e) = &r {
        eprintln!("10,000 pool, every path refused: {} ({e})", e.code());
        assert_named(e.code(), e);
    }
    // Anchor reachable: Ok or a named error, and it completes.
    match build_and_validate(&f.rsa_leaf, &anchor, &pool, &opts, &mut |_| Ok(())) {
        Ok(p) => assert_eq!(p.certs.len(), 2),
        Err(e) => assert_named(e.code(), &e),
    }
    // The pool also as anchors, and a pool member as the leaf.
    let r = build_and_validate(&pool[1], &pool[..2000], &pool, &opts, &mut |_| Ok(()));
    if let Err(e) = r {
        assert_named(e.code(), &e);
    }
}

fn limbo_cycle_cases() -> Vec<serde_json::Value> {
    let dir = common::shared_dir().join("conformance");
    let text = std::fs::read_to_string(dir.join("cases.jsonl")).expect("conformance/cases.jsonl");
    let cases: Vec<serde_json::Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .filter(|c: &serde_json::Value| {
            c["id"]
                .as_str()
                .is_some_and(|id| id.starts_with("pathological::intermediate-cycle-"))
        })
        .collect();
    assert!(
        cases.len() >= 3,
        "the x509-limbo intermediate-cycle cases are missing from cases.jsonl"
    );
    cases
}

fn conformance_certs(dir: &Path, v: &serde_json::Value) -> Vec<Certificate> {
    let list: Vec<&str> = match v {
        serde_json::Value::Array(a) => a.iter().filter_map(|x| x.as_str()).collect(),
        serde_json::Value::String(s) => vec![s.as_str()],
        _ => Vec::new(),
    };
    list.into_iter()
        .map(|rel| {
            let p: PathBuf = dir.join(rel);
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            Certificate::parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        })
        .collect()
}

#[test]
fn limbo_intermediate_cycles_end_in_a_named_error() {
    let dir = common::shared_dir().join("conformance");
    for case in limbo_cycle_cases() {
        let id = case["id"].as_str().unwrap_or_default().to_string();
        let anchors = conformance_certs(&dir, &case["trust_anchors"]);
        let intermediates = conformance_certs(&dir, &case["intermediates"]);
        let leaf = conformance_certs(&dir, &case["leaf"]).remove(0);
        let at = case["validation_time"]
            .as_str()
            .and_then(UnixTime::parse_rfc3339)
            .unwrap_or(leaf.not_before.plus_seconds(60));
        let mut opts = ValidationOptions::at(at);
        if let Some(d) = case["max_chain_depth"].as_u64() {
            opts.max_depth = usize::try_from(d).expect("depth");
        }
        let r = build_and_validate(&leaf, &anchors, &intermediates, &opts, &mut |_| Ok(()));
        let e = r.expect_err(&id);
        eprintln!("{id}: {} ({e})", e.code());
        assert_named(e.code(), &e);
        // The same cycle, without the anchor and repeated 500 times in the pool.
        let pool: Vec<Certificate> = intermediates
            .iter()
            .cycle()
            .take(intermediates.len() * 500)
            .cloned()
            .collect();
        let e = build_and_validate(&leaf, &[], &pool, &opts, &mut |_| Ok(()))
            .expect_err(&format!("{id} without anchors"));
        assert_named(e.code(), &e);
        // Each cycle member as the leaf.
        for l in &intermediates {
            if let Err(e) = build_and_validate(l, &anchors, &intermediates, &opts, &mut |_| Ok(()))
            {
                assert_named(e.code(), &e);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// CMS count budgets
// ---------------------------------------------------------------------------------------------

/// Rebuilds a DER SignedData ContentInfo with the first embedded certificate repeated `certs`
/// times and the first SignerInfo repeated `signers` times.
fn cms_with_counts(der: &[u8], certs: usize, signers: usize) -> Vec<u8> {
    let ci = read_tlv(der, 0).expect("ContentInfo");
    let oid = read_tlv(der, ci.content_start).expect("contentType");
    let explicit = read_tlv(der, oid.end).expect("[0]");
    let sd = read_tlv(der, explicit.content_start).expect("SignedData");
    let mut fields = Vec::new();
    let mut pos = sd.content_start;
    while pos < sd.end {
        let t = read_tlv(der, pos).expect("SignedData field");
        pos = t.end;
        fields.push(t);
    }
    let mut body = Vec::new();
    for t in &fields {
        let repeat = match t.tag {
            0xa0 => Some(certs),
            0x31 if t.end == sd.end => Some(signers),
            _ => None,
        };
        match repeat {
            Some(n) => {
                let first = read_tlv(der, t.content_start).expect("first element");
                let one = first.whole(der);
                let content: Vec<u8> = one.iter().copied().cycle().take(one.len() * n).collect();
                body.extend(tlv(t.tag, &content));
            }
            None => body.extend_from_slice(t.whole(der)),
        }
    }
    let mut out = oid.whole(der).to_vec();
    out.extend(tlv(0xa0, &tlv(0x30, &body)));
    tlv(0x30, &out)
}

#[test]
fn cms_with_nine_signers_or_thirty_three_certificates_is_over_budget() {
    let base = common::nca_bytes("cms/ncanode_rsa_sign_attached_test123.p7s");
    // The budgets themselves are accepted.
    let at_budget = cms_with_counts(&base, cms::MAX_CERTIFICATES, cms::MAX_SIGNERS);
    let sd = SignedData::parse(&at_budget).expect("8 signers and 32 certificates are accepted");
    assert_eq!(sd.signers.len(), cms::MAX_SIGNERS);
    assert_eq!(sd.certificates.len(), cms::MAX_CERTIFICATES);
    let v = verify_signers(&sd, None, &[], &SignaturePolicy::default()).expect("message ok");
    assert_eq!(v.len(), cms::MAX_SIGNERS);
    // One more of either is the budget error.
    for (certs, signers) in [
        (1, cms::MAX_SIGNERS + 1),
        (cms::MAX_CERTIFICATES + 1, 1),
        (1, 1000),
        (500, 1),
    ] {
        let input = cms_with_counts(&base, certs, signers);
        match SignedData::parse(&input) {
            Err(CmsError::TooMany { what, max }) => {
                let want = if signers > cms::MAX_SIGNERS {
                    cms::MAX_SIGNERS
                } else {
                    cms::MAX_CERTIFICATES
                };
                assert_eq!(max, want, "{certs} certs, {signers} signers: {what}");
            }
            other => panic!("{certs} certs, {signers} signers: {other:?}"),
        }
    }
}

/// A unique temporary folder removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> TempDir {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let dir =
            std::env::temp_dir().join(format!("eds-hostile-{tag}-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[track_caller]
fn openssl_ok(dir: &Path, args: &[String]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("openssl must be installed for these tests (not skipped): {e}"));
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| (*x).to_string()).collect()
}

#[test]
fn openssl_cms_with_nine_signers_and_thirty_three_certificates_is_over_budget() {
    let dir = TempDir::new("budget");
    let d = &dir.0;
    std::fs::write(d.join("data.bin"), b"test123").expect("data");
    let signers = cms::MAX_SIGNERS + 1;
    for i in 0..signers {
        openssl_ok(
            d,
            &s(&[
                "req",
                "-x509",
                "-nodes",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-keyout",
                &format!("k{i}.key"),
                "-out",
                &format!("k{i}.crt"),
                "-subj",
                &format!("/CN=hostile signer {i}"),
                "-days",
                "2",
            ]),
        );
    }
    let sign = |n: usize, certfile: Option<&str>, out: &str| {
        let mut args = s(&[
            "cms",
            "-sign",
            "-binary",
            "-nodetach",
            "-nosmimecap",
            "-in",
            "data.bin",
            "-outform",
            "DER",
            "-out",
            out,
        ]);
        for i in 0..n {
            args.extend(s(&[
                "-signer",
                &format!("k{i}.crt"),
                "-inkey",
                &format!("k{i}.key"),
            ]));
        }
        if let Some(f) = certfile {
            args.extend(s(&["-certfile", f]));
        }
        openssl_ok(d, &args);
        std::fs::read(d.join(out)).expect("cms output")
    };
    // Nine real signers.
    let nine = sign(signers, None, "nine.der");
    assert!(
        matches!(
            SignedData::parse(&nine),
            Err(CmsError::TooMany { max, .. }) if max == cms::MAX_SIGNERS
        ),
        "{:?}",
        SignedData::parse(&nine)
    );
    // Eight signers are fine.
    let eight = sign(cms::MAX_SIGNERS, None, "eight.der");
    let sd = SignedData::parse(&eight).expect("8 signers");
    assert_eq!(sd.signers.len(), cms::MAX_SIGNERS);
    // One signer, 33 certificates (the signer's plus 32 extra, distinct ones from the fixtures
    // and the generated keys).
    let f = fixtures();
    let mut pem = String::new();
    let mut added = 0;
    let extra: Vec<Vec<u8>> = f
        .certs
        .iter()
        .map(|(_, der)| der.clone())
        .chain((1..signers).map(|i| {
            let p = std::fs::read(d.join(format!("k{i}.crt"))).expect("crt");
            Certificate::parse(&p).expect("generated").der().to_vec()
        }))
        .collect();
    let mut seen = std::collections::HashSet::new();
    for der in extra {
        if added == cms::MAX_CERTIFICATES {
            break;
        }
        if !seen.insert(der.clone()) {
            continue;
        }
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        for line in b64.as_bytes().chunks(64) {
            pem.push_str(std::str::from_utf8(line).expect("ascii"));
            pem.push('\n');
        }
        pem.push_str("-----END CERTIFICATE-----\n");
        added += 1;
    }
    assert_eq!(added, cms::MAX_CERTIFICATES, "enough distinct certificates");
    std::fs::write(d.join("extra.pem"), pem).expect("certfile");
    let many = sign(1, Some("extra.pem"), "many.der");
    assert!(
        matches!(
            SignedData::parse(&many),
            Err(CmsError::TooMany { max, .. }) if max == cms::MAX_CERTIFICATES
        ),
        "{:?}",
        SignedData::parse(&many)
    );
}

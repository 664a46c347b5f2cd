//! GOST end to end (issue 3): NCA's GOST 34.10-2015-512 and GOST 34.310-2004 material through the
//! real `eds-gateway verify` binary (certificate paths with the GOST-signed 2026 CRL, Kalkan CMS
//! with GOST and mixed GOST+RSA signers), and sign → verify round trips with the keys of NCA's
//! .p12 containers. Fixtures: ../shared/fixtures/nca (PROVENANCE.md).

use crate::common;

use std::path::PathBuf;

use eds_gateway::pki::cert::{AlgorithmId, Certificate};
use eds_gateway::pki::gost::{self, Algorithm, GostError};
use eds_gateway::pki::p12::{self, P12Error, P12Key};
use eds_gateway::pki::signature::{self, SignatureError, SignaturePolicy};

const GOST_ROOT_2022: &str = "ca/test/root_test_gost_2022.cer";
const GOST_CA_2022: &str = "ca/test/nca_gost2022_test.cer";
const GOST_CA_2004: &str = "ca/test/nca_gost_test_2019.pem";
const RSA_CA_2019: &str = "ca/test/nca_rsa_test_2019.pem";
const CRL_2026: &str = "crl/nca_gost2022_test_2026-08-11.crl";
const AT_2026: &str = "2026-11-25T00:00:00Z";

const GOST2004_CMS: &str = "cms/dk_organization_active_GOSTKNCA_13a3741b52d7bf860aab199b56fad1f4652e357b_attached_asdasd.p7s";
const TWO_SIGNERS_ATTACHED: &str = "cms/ncanode_2signers_gost2015+rsa_attached_test123.p7s";
const TWO_SIGNERS_DETACHED: &str = "cms/ncanode_2signers_gost2015+rsa_detached.p7s";
const TWO_SIGNERS_DATA: &str = "cms/ncanode_2signers_gost2015+rsa_detached.data";

use common::{CliRun as Run, run_cli as run};
use serde_json::Value;

fn f(rel: &str) -> String {
    common::nca_arg(rel)
}

/// A per-test scratch folder under the system temp dir (removed by the caller).
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eds-gost-e2e-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

// ---------------------------------------------------------------------------------------------
// `verify cert`: the 2026 NCA test pack with the GOST-signed 2026 CRL
// ---------------------------------------------------------------------------------------------

#[track_caller]
fn verify_2026_leaf(name: &str) -> Run {
    run(&[
        "verify",
        "cert",
        &f(&format!("certs/gost2015-2026/{name}.pem")),
        "--root",
        &f(GOST_ROOT_2022),
        "--intermediate",
        &f(GOST_CA_2022),
        "--crl",
        &f(CRL_2026),
        "--at",
        AT_2026,
        "--revocation",
        "crl",
        "--revocation-scope",
        "leaf",
        "--json",
    ])
}

#[test]
fn test_pack_2026_keys_not_on_the_crl_are_valid_through_the_gost_chain() {
    for name in [
        "individual_valid",
        "legal_valid_head",
        "legal_valid_employee_signright",
        "legal_valid_treasury_client",
    ] {
        let r = verify_2026_leaf(name);
        assert_eq!(r.code, 0, "{name}: {}{}", r.stdout, r.stderr);
        let v = r.json();
        assert_eq!(v["valid"], true, "{name}");
        assert_eq!(v["code"], "ok", "{name}");
        let path = v["path"].as_array().expect("path");
        assert_eq!(path.len(), 3, "{name}: leaf, NCA GOST 2022, root");
        assert_eq!(
            path[1]["serial"], "7AD24B1BA3A0C961FE1CA8503E6AA2BB450DB8A3",
            "{name}"
        );
        assert_eq!(
            path[2]["serial"], "27D3AB7790372E5B698170DDE60CCCA38BC3A4B2",
            "{name}"
        );
        assert_eq!(v["revocation"][0]["sources"][0]["source"], "crl", "{name}");
        assert_eq!(v["revocation"][0]["sources"][0]["status"], "good", "{name}");
    }
}

#[test]
fn test_pack_2026_keys_on_the_crl_are_refused_as_revoked_with_their_reason() {
    let cases = [
        ("individual_revoked", "certificate_hold"),
        ("legal_revoked_head", "certificate_hold"),
        ("legal_revoked_employee", "certificate_hold"),
        ("legal_revoked_employee_signright", "certificate_hold"),
        ("legal_revoked_infosystem", "certificate_hold"),
        ("legal_revoked_treasury_client", "certificate_hold"),
        ("legal_valid_employee", "superseded"),
        ("legal_valid_infosystem", "superseded"),
    ];
    for (name, reason) in cases {
        let r = verify_2026_leaf(name);
        assert_eq!(r.code, 1, "{name}: {}{}", r.stdout, r.stderr);
        let v = r.json();
        assert_eq!(v["valid"], false, "{name}");
        assert_eq!(v["code"], "cert_revoked", "{name}: {}", r.stdout);
        let src = &v["revocation"][0]["sources"][0];
        assert_eq!(src["source"], "crl", "{name}");
        assert_eq!(src["status"], "revoked", "{name}");
        assert_eq!(src["reason"], reason, "{name}");
    }
}

#[test]
fn test_pack_2026_revoked_key_is_refused_on_the_text_output_last_line() {
    let r = run(&[
        "verify",
        "cert",
        &f("certs/gost2015-2026/legal_valid_employee.pem"),
        "--root",
        &f(GOST_ROOT_2022),
        "--intermediate",
        &f(GOST_CA_2022),
        "--crl",
        &f(CRL_2026),
        "--at",
        AT_2026,
        "--revocation",
        "crl",
        "--revocation-scope",
        "leaf",
    ]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.last_line().starts_with("INVALID cert_revoked: ") && r.last_line().contains("superseded"),
        "{}",
        r.last_line()
    );
}

// ---------------------------------------------------------------------------------------------
// `verify cms`: GOST 34.310-2004 Kalkan CMS
// ---------------------------------------------------------------------------------------------

#[test]
fn gost2004_kalkan_cms_is_valid_at_its_signing_time_with_the_2019_gost_ca_as_anchor() {
    let r = run(&[
        "verify",
        "cms",
        &f(GOST2004_CMS),
        "--root",
        &f(GOST_CA_2004),
        "--at-signing-time",
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["valid"], true);
    assert_eq!(v["code"], "ok");
    assert_eq!(v["content_length"], 6);
    let s = &v["signers"][0];
    assert_eq!(s["valid"], true);
    assert_eq!(s["signature_algorithm"], "1.2.398.3.10.1.1.1.2");
    assert_eq!(s["digest_algorithm"], "1.2.398.3.10.1.3.1");
    assert_eq!(s["signing_time"], "2020-09-09T20:03:14Z");
    assert_eq!(s["validated_at"], "2020-09-09T20:03:14Z");
    assert_eq!(s["identity"]["profile"], "gost2004");
    assert_eq!(s["identity"]["iin"]["value"], "123456789011");
    assert_eq!(s["identity"]["bin"]["value"], "123456789021");
    assert_eq!(s["path"].as_array().map(Vec::len), Some(2));
}

#[test]
fn gost2004_kalkan_cms_with_one_content_byte_changed_is_refused() {
    let bytes = common::nca_bytes(GOST2004_CMS);
    let pos = bytes
        .windows(6)
        .position(|w| w == b"asdasd")
        .expect("content");
    let mut tampered = bytes.clone();
    tampered[pos + 5] = b'e';
    let dir = scratch("gost2004-tampered");
    let path = dir.join("tampered.p7s");
    std::fs::write(&path, &tampered).expect("write");
    let r = run(&[
        "verify",
        "cms",
        &path.display().to_string(),
        "--root",
        &f(GOST_CA_2004),
        "--at-signing-time",
    ]);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.last_line()
            .starts_with("INVALID cms_message_digest_mismatch: signer 0:"),
        "{}",
        r.last_line()
    );
}

// ---------------------------------------------------------------------------------------------
// `verify cms`: the two-signer GOST-2015 + RSA CMS (attached and detached)
// ---------------------------------------------------------------------------------------------

#[track_caller]
fn verify_two_signers(cms: &str, data: Option<&str>, json: bool) -> Run {
    let cms = f(cms);
    let data = data.map(f);
    let mut args = vec!["verify", "cms", cms.as_str()];
    if let Some(d) = &data {
        args.extend(["--data", d.as_str()]);
    }
    let (root_gost, root_rsa, ca) = (f(GOST_ROOT_2022), f(RSA_CA_2019), f(GOST_CA_2022));
    args.extend([
        "--root",
        root_gost.as_str(),
        "--root",
        root_rsa.as_str(),
        "--intermediate",
        ca.as_str(),
        "--at-signing-time",
    ]);
    if json {
        args.push("--json");
    }
    run(&args)
}

#[track_caller]
fn assert_gost_valid_rsa_expired(v: &Value, signing_time: &str, what: &str) {
    assert_eq!(v["valid"], false, "{what}");
    assert_eq!(v["code"], "cert_expired", "{what}");
    assert!(
        v["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("signer 1:")),
        "{what}: {}",
        v["message"]
    );
    let signers = v["signers"].as_array().expect("signers");
    assert_eq!(signers.len(), 2, "{what}");

    let gost = &signers[0];
    assert_eq!(gost["index"], 0, "{what}");
    assert_eq!(gost["valid"], true, "{what}");
    assert_eq!(gost["code"], "ok", "{what}");
    assert_eq!(
        gost["signature_algorithm"], "1.2.398.3.10.1.1.2.3.2",
        "{what}"
    );
    assert_eq!(gost["digest_algorithm"], "1.2.398.3.10.1.3.3", "{what}");
    assert_eq!(gost["signing_time"], signing_time, "{what}");
    assert_eq!(gost["validated_at"], signing_time, "{what}");
    assert_eq!(
        gost["certificate"]["serial"], "0FF06211DC82BEB00253FFA000F1DE84ABEF454F",
        "{what}"
    );
    assert_eq!(gost["identity"]["iin"]["value"], "123456789012", "{what}");
    assert_eq!(gost["path"].as_array().map(Vec::len), Some(3), "{what}");

    let rsa = &signers[1];
    assert_eq!(rsa["index"], 1, "{what}");
    assert_eq!(rsa["valid"], false, "{what}");
    assert_eq!(rsa["code"], "cert_expired", "{what}");
    assert_eq!(
        rsa["signature_algorithm"], "1.2.840.113549.1.1.11",
        "{what}"
    );
    assert_eq!(
        rsa["certificate"]["serial"], "4279390A141F5353A62947B61ED65E81741467D1",
        "{what}"
    );
    assert_eq!(
        rsa["certificate"]["not_after"], "2022-01-18T13:09:14Z",
        "{what}"
    );
    assert_eq!(rsa["signing_time"], signing_time, "{what}");
}

#[test]
fn two_signer_attached_cms_gost_signer_valid_rsa_signer_expired_so_cms_refused() {
    let r = verify_two_signers(TWO_SIGNERS_ATTACHED, None, true);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["detached"], false);
    assert_eq!(v["content_length"], 7);
    assert_gost_valid_rsa_expired(&v, "2022-09-27T21:17:59Z", "attached");
}

#[test]
fn two_signer_detached_cms_gost_signer_valid_rsa_signer_expired_so_cms_refused() {
    let r = verify_two_signers(TWO_SIGNERS_DETACHED, Some(TWO_SIGNERS_DATA), true);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["detached"], true);
    assert_eq!(v["content_length"], 7);
    assert_gost_valid_rsa_expired(&v, "2022-09-27T21:29:41Z", "detached");
}

#[test]
fn two_signer_attached_cms_text_output_names_the_expired_rsa_signer_last() {
    let r = verify_two_signers(TWO_SIGNERS_ATTACHED, None, false);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .lines()
            .any(|l| l.starts_with("signer 0:") && l.ends_with(": valid")),
        "{}",
        r.stdout
    );
    assert!(
        r.last_line().starts_with("INVALID cert_expired: signer 1:"),
        "{}",
        r.last_line()
    );
}

// ---------------------------------------------------------------------------------------------
// Sign → verify round trips with NCA .p12 keys
// ---------------------------------------------------------------------------------------------

/// (container, password, certificate fixture, expected algorithm)
const P12_CASES: [(&str, &str, &str, Algorithm); 4] = [
    (
        "keys/gost2015-2026/individual_valid.p12",
        "Qwerty12",
        "certs/gost2015-2026/individual_valid.pem",
        Algorithm::Gost2015_512,
    ),
    (
        "keys/gost2015-2022/ceo_revoked_2015.p12",
        "Aa123456",
        "certs/gost2015-2022/ceo_revoked_2015.pem",
        Algorithm::Gost2015_512,
    ),
    (
        "keys/gost2004/ceo_sign_gost2004_revoked_2022.p12",
        "Qwerty12",
        "certs/gost2004/ceo_sign_gost2004_revoked_2022.pem",
        Algorithm::Gost2004,
    ),
    (
        "keys/gost2004/dk_organization_active_GOSTKNCA_13a3741b52d7bf860aab199b56fad1f4652e357b.p12",
        "Qwerty12",
        "certs/gost2004/dk_organization_active_GOSTKNCA_13a3741b52d7bf860aab199b56fad1f4652e357b.pem",
        Algorithm::Gost2004,
    ),
];

#[track_caller]
fn gost_key(container: &str, password: &str) -> gost::PrivateKey {
    let contents =
        p12::parse(&common::nca_bytes(container), password).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(contents.keys.len(), 1, "{container}");
    match contents.keys.into_iter().next() {
        Some(P12Key::Gost(k)) => k,
        _ => panic!("{container}: not a GOST key"),
    }
}

fn sig_alg(alg: Algorithm) -> AlgorithmId {
    AlgorithmId {
        oid: alg.signature_oid(),
        params: None,
    }
}

#[test]
fn p12_gost_keys_sign_and_their_certificates_verify_for_each_gost_algorithm() {
    let message = "eds-gateway: вход в МИС / MIS login".as_bytes();
    let mut seen = Vec::new();
    for (container, password, cert_rel, alg) in P12_CASES {
        let key = gost_key(container, password);
        assert_eq!(key.algorithm(), alg, "{container}");
        let cert = Certificate::parse(&common::nca_bytes(cert_rel)).expect("certificate");
        let sig = gost::sign(&key, message).unwrap_or_else(|e| panic!("{container}: {e}"));
        assert_eq!(sig.len(), 2 * alg.field_len(), "{container}: r||s");
        assert_eq!(
            signature::verify(
                &sig_alg(alg),
                &cert.spki_der,
                message,
                &sig,
                &SignaturePolicy::default()
            ),
            Ok(()),
            "{container}"
        );
        seen.push(alg);
    }
    assert!(seen.contains(&Algorithm::Gost2015_512) && seen.contains(&Algorithm::Gost2004));
}

#[test]
fn p12_gost_signature_over_another_message_is_a_gost_bad_signature() {
    for (container, password, cert_rel, alg) in P12_CASES {
        let key = gost_key(container, password);
        let cert = Certificate::parse(&common::nca_bytes(cert_rel)).expect("certificate");
        let sig = gost::sign(&key, b"login nonce 1").expect("sign");
        assert_eq!(
            signature::verify(
                &sig_alg(alg),
                &cert.spki_der,
                b"login nonce 2",
                &sig,
                &SignaturePolicy::default()
            ),
            Err(SignatureError::Gost(GostError::InvalidSignature)),
            "{container}"
        );
    }
}

#[test]
fn p12_gost_signature_does_not_verify_with_another_certificate_of_the_same_algorithm() {
    // 2026 individual key, checked against the 2022 CEO certificate (both GOST-2015-512).
    let (container, password, _, alg) = P12_CASES[0];
    let key = gost_key(container, password);
    let other = Certificate::parse(&common::nca_bytes(P12_CASES[1].2)).expect("certificate");
    let sig = gost::sign(&key, b"hello").expect("sign");
    assert_eq!(
        signature::verify(
            &sig_alg(alg),
            &other.spki_der,
            b"hello",
            &sig,
            &SignaturePolicy::default()
        ),
        Err(SignatureError::Gost(GostError::InvalidSignature))
    );
}

#[test]
fn p12_gost2015_signature_checked_as_gost2004_is_a_key_algorithm_mismatch() {
    let (container, password, cert_rel, _) = P12_CASES[0];
    let key = gost_key(container, password);
    let cert = Certificate::parse(&common::nca_bytes(cert_rel)).expect("certificate");
    let sig = gost::sign(&key, b"hello").expect("sign");
    assert_eq!(
        signature::verify(
            &sig_alg(Algorithm::Gost2004),
            &cert.spki_der,
            b"hello",
            &sig,
            &SignaturePolicy::default()
        ),
        Err(SignatureError::Gost(GostError::KeyAlgorithmMismatch {
            signature: Algorithm::Gost2004.signature_oid(),
            key: Algorithm::Gost2015_512.key_oid(),
        }))
    );
}

#[test]
fn p12_gost_container_with_the_other_fixture_password_is_a_wrong_password() {
    let r = p12::parse(
        &common::nca_bytes("keys/gost2015-2022/ceo_revoked_2015.p12"),
        "Qwerty12",
    );
    assert_eq!(r.err(), Some(P12Error::WrongPassword));
}

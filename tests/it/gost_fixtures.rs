//! GOST signatures on NCA material: the Kalkan JCE oracle vector and every GOST certificate, CRL
//! and OCSP responder certificate in ../shared/fixtures/nca, verified end to end through the
//! signature registry (`pki::signature::verify`).

use crate::common;

use std::collections::HashMap;

use const_oid::ObjectIdentifier;
use eds_gateway::pki::cert::{AlgorithmId, Certificate};
use eds_gateway::pki::der_util;
use eds_gateway::pki::gost::{self, Algorithm, GostError, PrivateKey, PublicKey};
use eds_gateway::pki::signature::{self, SignatureError, SignaturePolicy};

/// The Kalkan vector file as key → value.
fn kalkan_vector() -> HashMap<String, String> {
    let text = String::from_utf8(common::nca_bytes("vectors/kalkan_gost512_oracle.vectors"))
        .expect("utf-8");
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_string(), v.trim().to_string()))
        .collect()
}

#[track_caller]
fn hexv(v: &HashMap<String, String>, key: &str) -> Vec<u8> {
    hex::decode(v.get(key).unwrap_or_else(|| panic!("vector field {key}"))).expect("hex")
}

#[track_caller]
fn cert(rel: &str) -> Certificate {
    Certificate::parse(&common::nca_bytes(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// Verifies `child`'s signature with `issuer`'s key through the registry.
#[track_caller]
fn verify_cert(child: &Certificate, issuer: &Certificate) -> Result<(), SignatureError> {
    signature::verify(
        &child.signature_algorithm,
        &issuer.spki_der,
        child.tbs_der(),
        &child.signature,
        &SignaturePolicy::default(),
    )
}

fn reversed(v: &[u8]) -> Vec<u8> {
    v.iter().rev().copied().collect()
}

#[test]
fn kalkan_vector_verifies_derives_q_and_round_trips() {
    let v = kalkan_vector();
    let msg = v["msg"].as_bytes();
    let digest = hexv(&v, "digest");
    assert_eq!(
        Algorithm::Gost2015_512.hash(msg),
        digest,
        "Streebog-512 of msg"
    );

    let spki = hexv(&v, "spki");
    let sig = hexv(&v, "sig");
    let alg = ObjectIdentifier::new(&v["sigalg_oid"]).expect("oid");
    gost::verify(&alg, &spki, msg, &sig).expect("Kalkan signature verifies");

    // d and Q are printed big-endian; NCA bytes are little-endian.
    let d = PrivateKey::from_le_bytes(Algorithm::Gost2015_512, &reversed(&hexv(&v, "d")))
        .expect("scalar");
    let q = d.public_key().expect("Q");
    let mut xy = reversed(&hexv(&v, "qx"));
    xy.extend(reversed(&hexv(&v, "qy")));
    assert_eq!(q.as_le_bytes(), &xy[..]);
    assert_eq!(q.to_spki_der(), spki, "re-encoded SPKI is byte-identical");
    assert_eq!(PublicKey::from_spki_der(&spki).expect("spki"), q);

    for m in [msg, &b""[..], &b"another message"[..]] {
        let s = d.sign(m).expect("sign");
        assert_eq!(s.len(), 128);
        gost::verify(&alg, &spki, m, &s).expect("own signature verifies");
    }
    let s = gost::sign(&d, msg).expect("sign");
    assert_ne!(s, sig, "k is random");
    assert_eq!(
        gost::verify(&alg, &spki, b"other", &s),
        Err(GostError::InvalidSignature)
    );
}

#[test]
fn kalkan_selfsigned_certificate_verifies() {
    let v = kalkan_vector();
    let c = cert("vectors/kalkan_gost512_oracle_selfsigned.pem");
    assert_eq!(c.tbs_der(), &hexv(&v, "cert_tbs")[..]);
    assert_eq!(c.signature, hexv(&v, "cert_sig"));
    assert_eq!(c.spki_der, hexv(&v, "spki"));
    verify_cert(&c, &c).expect("self-signature");
}

#[test]
fn test_root_2022_self_signature_verifies() {
    let root = cert("ca/test/root_test_gost_2022.cer");
    assert_eq!(
        root.signature_algorithm.oid,
        gost::oids::GOST2015_512_SIGNATURE
    );
    verify_cert(&root, &root).expect("root self-signature");
}

#[test]
fn test_intermediate_2022_is_signed_by_the_root() {
    let root = cert("ca/test/root_test_gost_2022.cer");
    let ca = cert("ca/test/nca_gost2022_test.cer");
    verify_cert(&ca, &root).expect("intermediate");
    assert_eq!(
        verify_cert(&ca, &ca),
        Err(SignatureError::Gost(GostError::InvalidSignature))
    );
}

#[track_caller]
fn all_leaves_verify(dir: &str, issuer: &Certificate, expected: usize) {
    let files = common::nca_files(dir);
    assert_eq!(files.len(), expected, "{dir}");
    for f in files {
        let c = Certificate::parse(&std::fs::read(&f).expect("read")).expect("parse");
        verify_cert(&c, issuer).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
    }
}

#[test]
fn every_gost2015_leaf_is_signed_by_the_2022_intermediate() {
    let ca = cert("ca/test/nca_gost2022_test.cer");
    all_leaves_verify("certs/gost2015-2022", &ca, 3);
    all_leaves_verify("certs/gost2015-2026", &ca, 12);
}

#[test]
fn every_gost2004_leaf_is_signed_by_the_2019_intermediate() {
    let ca = cert("ca/test/nca_gost_test_2019.pem");
    assert_eq!(ca.signature_algorithm.oid, gost::oids::GOST2004_SIGNATURE);
    all_leaves_verify("certs/gost2004", &ca, 4);
}

#[test]
fn gost_ocsp_responder_certificates_verify() {
    let ca2015 = cert("ca/test/nca_gost2022_test.cer");
    let ca2004 = cert("ca/test/nca_gost_test_2019.pem");
    verify_cert(
        &cert("certs/ocsp-responders/ocsp_responder_gost2015_test_2022.der"),
        &ca2015,
    )
    .expect("GOST-2015 responder");
    verify_cert(
        &cert("certs/ocsp-responders/ocsp_responder_gost2004_test_2022.der"),
        &ca2004,
    )
    .expect("GOST-2004 responder");
}

/// Verifies a CRL (outer SEQUENCE: TBS, AlgorithmIdentifier, BIT STRING) with `issuer`.
#[track_caller]
fn verify_crl(rel: &str, issuer: &Certificate) -> Result<(), SignatureError> {
    let der = common::nca_bytes(rel);
    let kids = der_util::sequence_children(&der, 3).expect("CRL");
    let [tbs, alg, sig] = kids.as_slice() else {
        panic!("CRL with {} children", kids.len())
    };
    let alg_kids = der_util::sequence_children(alg.whole(&der), 2).expect("alg");
    let oid_tlv = alg_kids.first().expect("oid");
    let oid = ObjectIdentifier::from_bytes(oid_tlv.content(alg.whole(&der))).expect("oid");
    let bits = sig.content(&der);
    assert_eq!(bits.first(), Some(&0), "no unused bits");
    signature::verify(
        &AlgorithmId { oid, params: None },
        &issuer.spki_der,
        tbs.whole(&der),
        &bits[1..],
        &SignaturePolicy::default(),
    )
}

#[test]
fn gost_crls_of_2022_2026_and_2004_verify() {
    let ca2015 = cert("ca/test/nca_gost2022_test.cer");
    let ca2004 = cert("ca/test/nca_gost_test_2019.pem");
    verify_crl("crl/nca_gost2022_test_2022-07-27.crl", &ca2015).expect("2022 CRL");
    verify_crl("crl/nca_gost2022_test_2026-08-11.crl", &ca2015).expect("2026 CRL");
    verify_crl("crl/nca_gost_test_2022-03-29.crl", &ca2004).expect("2004 CRL");
    assert_eq!(
        verify_crl("crl/nca_gost_test_2022-03-29.crl", &ca2015),
        Err(SignatureError::Gost(GostError::KeyAlgorithmMismatch {
            signature: gost::oids::GOST2004_SIGNATURE,
            key: gost::oids::GOST2015_512_KEY,
        }))
    );
}

/// Timing figure, not a pass/fail check: `cargo test --release --test it gost_fixtures:: --
/// --ignored --nocapture`.
#[test]
#[ignore = "timing; run in release"]
fn timing_gost_verify_and_sign() {
    let v = kalkan_vector();
    let (spki, sig, msg) = (hexv(&v, "spki"), hexv(&v, "sig"), v["msg"].clone());
    let alg = gost::oids::GOST2015_512_SIGNATURE;
    let n = 200u32;
    let t = std::time::Instant::now();
    for _ in 0..n {
        gost::verify(&alg, &spki, msg.as_bytes(), &sig).expect("verifies");
    }
    let per = t.elapsed() / n;
    println!("GOST-512 verify (incl. SPKI parse + on-curve check + Streebog): {per:?}");
    let key = PublicKey::from_spki_der(&spki).expect("spki");
    let digest = Algorithm::Gost2015_512.hash(msg.as_bytes());
    let t = std::time::Instant::now();
    for _ in 0..n {
        key.verify_digest(&digest, &sig).expect("verifies");
    }
    println!("GOST-512 verify_digest: {:?}", t.elapsed() / n);
    for alg in [Algorithm::Gost2015_256, Algorithm::Gost2004] {
        let k = PrivateKey::generate(alg).expect("key");
        let p = k.public_key().expect("pub");
        let s = k.sign_digest(&vec![7u8; alg.field_len()]).expect("sign");
        let t = std::time::Instant::now();
        for _ in 0..n {
            p.verify_digest(&vec![7u8; alg.field_len()], &s)
                .expect("verifies");
        }
        println!("{alg:?} verify_digest: {:?}", t.elapsed() / n);
    }
    let d =
        PrivateKey::from_le_bytes(Algorithm::Gost2015_512, &reversed(&hexv(&v, "d"))).expect("d");
    let t = std::time::Instant::now();
    for _ in 0..50 {
        d.sign_digest(&digest).expect("sign");
    }
    println!(
        "GOST-512 sign (constant-time ladder): {:?}",
        t.elapsed() / 50
    );
}

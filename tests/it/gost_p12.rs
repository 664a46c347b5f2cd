//! NCA .p12 key containers: every key in ../shared/fixtures/nca/keys opens with its password,
//! its private key matches its certificate's public key, and signs what the certificate's key
//! verifies (GOST 34.10-2015, GOST 34.310-2004 and RSA); a wrong password is a named error.

use crate::common;

use std::path::Path;

use eds_gateway::pki::cert::Certificate;
use eds_gateway::pki::gost::{self, PublicKey};
use eds_gateway::pki::p12::{self, P12Error, P12Key};
use eds_gateway::pki::signature::{self, SignaturePolicy, oids};
use ring::signature::KeyPair;

/// PROVENANCE.md: `Aa123456` for keys/gost2015-2022, `Qwerty12` for every other container.
fn password(path: &Path) -> &'static str {
    if path.to_string_lossy().contains("gost2015-2022") {
        "Aa123456"
    } else {
        "Qwerty12"
    }
}

/// Checks one container; returns the key kind.
#[track_caller]
fn check_container(path: &Path) -> &'static str {
    let name = path.display().to_string();
    let bytes = std::fs::read(path).expect("read");
    let contents = p12::parse(&bytes, password(path)).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(contents.keys.len(), 1, "{name}");
    let certs: Vec<Certificate> = contents
        .certificates
        .iter()
        .map(|c| Certificate::parse(c).expect("certificate in container"))
        .collect();
    assert!(!certs.is_empty(), "{name}: no certificate");
    let message = b"eds-gateway p12 round trip";
    match &contents.keys[0] {
        P12Key::Gost(key) => {
            let q = key.public_key().expect("Q = d*P");
            let cert = certs
                .iter()
                .find(|c| PublicKey::from_spki_der(&c.spki_der).ok().as_ref() == Some(&q))
                .unwrap_or_else(|| panic!("{name}: no certificate matches the private key"));
            let sig = gost::sign(key, message).expect("sign");
            let alg = eds_gateway::pki::cert::AlgorithmId {
                oid: key.algorithm().signature_oid(),
                params: None,
            };
            signature::verify(
                &alg,
                &cert.spki_der,
                message,
                &sig,
                &SignaturePolicy::default(),
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
            match key.algorithm() {
                gost::Algorithm::Gost2004 => "gost2004",
                _ => "gost2015",
            }
        }
        P12Key::Rsa(pkcs8) => {
            let pair = ring::signature::RsaKeyPair::from_pkcs8(pkcs8)
                .unwrap_or_else(|e| panic!("{name}: {e}"));
            let cert = certs
                .iter()
                .find(|c| c.public_key == pair.public_key().as_ref())
                .unwrap_or_else(|| panic!("{name}: no certificate matches the RSA key"));
            let mut sig = vec![0u8; pair.public().modulus_len()];
            pair.sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                message,
                &mut sig,
            )
            .expect("RSA sign");
            let alg = eds_gateway::pki::cert::AlgorithmId {
                oid: oids::SHA256_WITH_RSA,
                params: None,
            };
            signature::verify(
                &alg,
                &cert.spki_der,
                message,
                &sig,
                &SignaturePolicy::default(),
            )
            .unwrap_or_else(|e| panic!("{name}: {e}"));
            "rsa"
        }
    }
}

#[test]
fn every_nca_key_matches_its_certificate_and_round_trips() {
    let mut counts = std::collections::BTreeMap::new();
    for dir in [
        "gost2004",
        "gost2015-2022",
        "gost2015-2026",
        "rsa-2020",
        "rsa-2021-2022",
    ] {
        for f in common::nca_files(&format!("keys/{dir}")) {
            *counts.entry(check_container(&f)).or_insert(0) += 1;
        }
    }
    let counts: Vec<_> = counts.into_iter().collect();
    assert_eq!(counts, vec![("gost2004", 3), ("gost2015", 14), ("rsa", 9)]);
}

#[test]
fn wrong_password_is_named() {
    let bytes = common::nca_bytes("keys/gost2015-2026/individual_valid.p12");
    let err = p12::parse(&bytes, "Qwerty13").err().expect("refused");
    assert_eq!(err, P12Error::WrongPassword);
    assert_eq!(err.code(), "p12_wrong_password");
}

#[test]
fn truncated_container_is_malformed() {
    let bytes = common::nca_bytes("keys/gost2015-2026/individual_valid.p12");
    for len in [0, 1, 10, bytes.len() / 2, bytes.len() - 1] {
        assert!(
            matches!(
                p12::parse(&bytes[..len], "Qwerty12"),
                Err(P12Error::Malformed { .. })
            ),
            "{len}"
        );
    }
}

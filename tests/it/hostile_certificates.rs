//! Hostile bytes into the certificate parser: every truncation and many bit flips of every NCA
//! fixture certificate, absurd length fields and deep nesting give a named error, never a panic.

use crate::common;

use eds_gateway::pki::cert::{CertError, Certificate};
use eds_gateway::pki::identity::NcaIdentity;

fn fixture_certs() -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for dir in [
        "ca/test",
        "certs/gost2015-2026",
        "certs/rsa-2020",
        "certs/ocsp-responders",
    ] {
        for f in common::nca_files(dir) {
            let bytes = std::fs::read(&f).expect("read");
            let c = Certificate::parse(&bytes).expect("fixture parses");
            out.push(c.der().to_vec());
        }
    }
    out
}

/// A tiny deterministic PRNG so failures reproduce.
fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn every_truncation_of_every_fixture_is_refused_cleanly() {
    for der in fixture_certs() {
        for len in 0..der.len() {
            match Certificate::parse(&der[..len]) {
                Err(e) => assert!(!e.code().is_empty()),
                Ok(_) => panic!(
                    "a truncated certificate ({len} of {} bytes) parsed",
                    der.len()
                ),
            }
        }
    }
}

#[test]
fn bit_flips_never_panic() {
    let mut seed = 0x5eed_1234_u64;
    for der in fixture_certs() {
        for _ in 0..300 {
            let mut m = der.clone();
            let pos = (xorshift(&mut seed) as usize) % m.len();
            m[pos] ^= 1 << (xorshift(&mut seed) % 8);
            if let Ok(c) = Certificate::parse(&m) {
                // Whatever parses must still be safe to read.
                let _ = NcaIdentity::from_certificate(&c);
                let _ = c.tbs_der();
            }
        }
    }
}

#[test]
fn huge_length_fields_are_refused() {
    for input in [
        vec![0x30, 0x84, 0x7f, 0xff, 0xff, 0xff, 0x30, 0x00],
        vec![0x30, 0x88, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        vec![0x30, 0x80, 0x30, 0x80, 0x00, 0x00, 0x00, 0x00],
    ] {
        assert!(matches!(
            Certificate::parse(&input),
            Err(CertError::BadEncoding { .. })
        ));
    }
    let big = vec![0u8; 200 * 1024];
    assert!(matches!(
        Certificate::parse(&big),
        Err(CertError::TooLarge { .. })
    ));
}

#[test]
fn deep_nesting_is_refused() {
    // 5,000 nested SEQUENCE headers with indefinite lengths and as definite lengths.
    let mut nested = Vec::new();
    for _ in 0..5000 {
        nested.extend_from_slice(&[0x30, 0x80]);
    }
    assert!(Certificate::parse(&nested).is_err());
    let mut definite = vec![0x05, 0x00];
    for _ in 0..2000 {
        let len = definite.len();
        let mut h = vec![0x30, 0x83, (len >> 16) as u8, (len >> 8) as u8, len as u8];
        h.extend_from_slice(&definite);
        definite = h;
    }
    assert!(Certificate::parse(&definite).is_err());
}

proptest::proptest! {
    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048)) {
        let _ = Certificate::parse(&bytes);
    }
}

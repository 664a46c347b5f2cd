//! GOST refusals: tampered messages, signatures and keys, out-of-range r and s, points off the
//! curve, the Russian (RFC 4491) byte order, wrong parameter OIDs, and hostile lengths — each
//! with its exact named error, never a panic.

use crate::common;

use std::collections::HashMap;

use const_oid::ObjectIdentifier;
use eds_gateway::pki::cert::{AlgorithmId, Certificate};
use eds_gateway::pki::gost::{self, Algorithm, GostError, PrivateKey, PublicKey, oids};
use eds_gateway::pki::signature::{self, SignatureError, SignaturePolicy};
use proptest::prelude::*;

/// tc26-512-A subgroup order q, little-endian.
fn q512_le() -> Vec<u8> {
    let mut q = hex::decode(concat!(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
        "27E69532F48D89116FF22B8D4E0560609B4B38ABFAD2B85DCACDB1411F10B275"
    ))
    .expect("hex");
    q.reverse();
    q
}

struct Vector {
    msg: Vec<u8>,
    spki: Vec<u8>,
    sig: Vec<u8>,
}

fn vector() -> Vector {
    let text = String::from_utf8(common::nca_bytes("vectors/kalkan_gost512_oracle.vectors"))
        .expect("utf-8");
    let v: HashMap<&str, &str> = text.lines().filter_map(|l| l.split_once('=')).collect();
    Vector {
        msg: v["msg"].as_bytes().to_vec(),
        spki: hex::decode(v["spki"]).expect("hex"),
        sig: hex::decode(v["sig"]).expect("hex"),
    }
}

fn check(spki: &[u8], msg: &[u8], sig: &[u8]) -> Result<(), GostError> {
    gost::verify(&oids::GOST2015_512_SIGNATURE, spki, msg, sig)
}

fn flip(v: &[u8], byte: usize, bit: u8) -> Vec<u8> {
    let mut out = v.to_vec();
    out[byte] ^= 1 << bit;
    out
}

/// Replaces the single occurrence of `from` by `to` (same length).
#[track_caller]
fn patch(v: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    assert_eq!(from.len(), to.len());
    let pos = v
        .windows(from.len())
        .position(|w| w == from)
        .expect("pattern present");
    let mut out = v.to_vec();
    out[pos..pos + to.len()].copy_from_slice(to);
    out
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    match content.len() {
        n @ 0..=0x7f => out.push(n as u8),
        n @ 0x80..=0xff => out.extend([0x81, n as u8]),
        n => out.extend([0x82, (n >> 8) as u8, n as u8]),
    }
    out.extend_from_slice(content);
    out
}

/// An SPKI with the 512-bit algorithm identifier of the vector and `key` as OCTET STRING content.
fn spki_with_key(key: &[u8]) -> Vec<u8> {
    let alg = tlv(
        0x30,
        &[
            tlv(0x06, oids::GOST2015_512_KEY.as_bytes()),
            tlv(
                0x30,
                &[
                    tlv(0x06, oids::GOST2015_512_PARAMSET_A.as_bytes()),
                    tlv(0x06, oids::STREEBOG512_DIGEST.as_bytes()),
                ]
                .concat(),
            ),
        ]
        .concat(),
    );
    let mut bits = vec![0];
    bits.extend(tlv(0x04, key));
    tlv(0x30, &[alg, tlv(0x03, &bits)].concat())
}

#[test]
fn untampered_vector_verifies() {
    let v = vector();
    assert_eq!(check(&v.spki, &v.msg, &v.sig), Ok(()));
}

#[test]
fn one_flipped_message_bit_is_an_invalid_signature() {
    let v = vector();
    for (byte, bit) in [(0, 0), (5, 7), (v.msg.len() - 1, 3)] {
        assert_eq!(
            check(&v.spki, &flip(&v.msg, byte, bit), &v.sig),
            Err(GostError::InvalidSignature)
        );
    }
}

#[test]
fn one_flipped_bit_in_r_or_s_is_an_invalid_signature() {
    let v = vector();
    // r is bytes 0..64 (little-endian), s is 64..128.
    for byte in [0, 31, 62, 64, 100, 126] {
        assert_eq!(
            check(&v.spki, &v.msg, &flip(&v.sig, byte, 1)),
            Err(GostError::InvalidSignature),
            "byte {byte}"
        );
    }
}

#[test]
fn one_flipped_bit_in_the_public_key_is_off_the_curve() {
    let v = vector();
    let key_start = v.spki.len() - 128;
    for byte in [key_start, key_start + 63, key_start + 64, v.spki.len() - 1] {
        assert_eq!(
            check(&flip(&v.spki, byte, 0), &v.msg, &v.sig),
            Err(GostError::PublicKeyNotOnCurve),
            "byte {byte}"
        );
    }
}

#[test]
fn another_valid_key_is_an_invalid_signature() {
    let v = vector();
    let root =
        Certificate::parse(&common::nca_bytes("ca/test/root_test_gost_2022.cer")).expect("root");
    assert_eq!(
        check(&root.spki_der, &v.msg, &v.sig),
        Err(GostError::InvalidSignature)
    );
}

#[test]
fn r_or_s_zero_or_at_least_q_is_out_of_range() {
    let v = vector();
    let (r, s) = v.sig.split_at(64);
    let zero = [0u8; 64];
    let max = [0xffu8; 64];
    let q = q512_le();
    for (rr, ss) in [
        (&zero[..], s),
        (r, &zero[..]),
        (&q[..], s),
        (r, &q[..]),
        (&max[..], s),
        (r, &max[..]),
    ] {
        assert_eq!(
            check(&v.spki, &v.msg, &[rr, ss].concat()),
            Err(GostError::SignatureOutOfRange)
        );
    }
}

#[test]
fn russian_byte_order_is_refused() {
    let v = vector();
    // RFC 4491 / CryptoPro layout: s_BE‖r_BE = the whole NCA value reversed.
    let mut russian = v.sig.clone();
    russian.reverse();
    assert_eq!(
        check(&v.spki, &v.msg, &russian),
        Err(GostError::InvalidSignature)
    );
    // Swapping the halves alone (s‖r) is refused too.
    let swapped = [&v.sig[64..], &v.sig[..64]].concat();
    assert_eq!(
        check(&v.spki, &v.msg, &swapped),
        Err(GostError::InvalidSignature)
    );
}

#[test]
fn point_off_the_curve_and_the_origin_are_refused() {
    let v = vector();
    let key = &v.spki[v.spki.len() - 128..];
    let mut y_plus = key.to_vec();
    y_plus[64] = y_plus[64].wrapping_add(1);
    assert_eq!(
        check(&spki_with_key(&y_plus), &v.msg, &v.sig),
        Err(GostError::PublicKeyNotOnCurve)
    );
    assert_eq!(
        check(&spki_with_key(&[0u8; 128]), &v.msg, &v.sig),
        Err(GostError::PublicKeyNotOnCurve)
    );
    // Coordinates ≥ p.
    assert_eq!(
        check(&spki_with_key(&[0xffu8; 128]), &v.msg, &v.sig),
        Err(GostError::PublicKeyNotOnCurve)
    );
    assert_eq!(
        spki_with_key(key),
        v.spki,
        "the helper rebuilds the vector SPKI"
    );
}

#[test]
fn wrong_parameter_set_oid_is_named() {
    let v = vector();
    let set = oids::GOST2015_512_PARAMSET_A.as_bytes();
    let unknown = ObjectIdentifier::new_unwrap("1.2.398.3.10.1.1.2.2.9");
    let spki = patch(&v.spki, set, unknown.as_bytes());
    assert_eq!(
        check(&spki, &v.msg, &v.sig),
        Err(GostError::UnknownParameterSet { oid: unknown })
    );
    // A known set of another key type (256-bit A) on a 512-bit key.
    let other = ObjectIdentifier::new_unwrap("1.2.398.3.10.1.1.2.1.1");
    let spki = patch(&v.spki, set, other.as_bytes());
    assert_eq!(
        check(&spki, &v.msg, &v.sig),
        Err(GostError::UnknownParameterSet { oid: other })
    );
    // Wrong hash parameters.
    let hash = ObjectIdentifier::new_unwrap("1.2.398.3.10.1.3.1");
    let spki = patch(
        &v.spki,
        oids::STREEBOG512_DIGEST.as_bytes(),
        hash.as_bytes(),
    );
    assert_eq!(
        check(&spki, &v.msg, &v.sig),
        Err(GostError::UnknownDigestParameters { oid: hash })
    );
}

#[test]
fn wrong_or_unknown_algorithm_oids_are_named() {
    let v = vector();
    let unknown = ObjectIdentifier::new_unwrap("1.2.398.3.10.1.1.2.3.9");
    assert_eq!(
        gost::verify(&unknown, &v.spki, &v.msg, &v.sig),
        Err(GostError::UnknownAlgorithm { oid: unknown })
    );
    assert_eq!(
        gost::verify(&oids::GOST2004_SIGNATURE, &v.spki, &v.msg, &v.sig),
        Err(GostError::KeyAlgorithmMismatch {
            signature: oids::GOST2004_SIGNATURE,
            key: oids::GOST2015_512_KEY,
        })
    );
    // Through the registry, with its stable code.
    let err = signature::verify(
        &AlgorithmId {
            oid: unknown,
            params: None,
        },
        &v.spki,
        &v.msg,
        &v.sig,
        &SignaturePolicy::default(),
    )
    .expect_err("unknown algorithm");
    assert_eq!(
        err,
        SignatureError::Gost(GostError::UnknownAlgorithm { oid: unknown })
    );
    assert_eq!(err.code(), "gost_unknown_algorithm");
    // A key algorithm OID that is not GOST.
    let rsa_key = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
    let spki = patch(
        &v.spki,
        oids::GOST2015_512_KEY.as_bytes(),
        rsa_key.as_bytes(),
    );
    assert_eq!(
        check(&spki, &v.msg, &v.sig),
        Err(GostError::UnknownAlgorithm { oid: rsa_key })
    );
}

#[test]
fn hostile_lengths_are_named_errors() {
    let v = vector();
    for len in [0usize, 1, 64, 127, 129, 256] {
        let sig = vec![1u8; len];
        assert_eq!(
            check(&v.spki, &v.msg, &sig),
            Err(GostError::BadSignatureLength {
                expected: 128,
                found: len
            })
        );
    }
    let key = &v.spki[v.spki.len() - 128..];
    for len in [0usize, 64, 127, 129] {
        let k: Vec<u8> = key.iter().copied().cycle().take(len).collect();
        assert_eq!(
            check(&spki_with_key(&k), &v.msg, &v.sig),
            Err(GostError::BadPublicKeyLength {
                expected: 128,
                found: len
            })
        );
    }
    assert_eq!(check(&[], &v.msg, &v.sig), Err(GostError::BadPublicKey));
    assert_eq!(
        check(&v.spki[..40], &v.msg, &v.sig),
        Err(GostError::BadPublicKey)
    );
    // Key without the parameter SEQUENCE.
    let bare = tlv(
        0x30,
        &[
            tlv(0x30, &tlv(0x06, oids::GOST2015_512_KEY.as_bytes())),
            tlv(0x03, &[&[0u8][..], &tlv(0x04, key)].concat()),
        ]
        .concat(),
    );
    assert_eq!(
        check(&bare, &v.msg, &v.sig),
        Err(GostError::MissingKeyParameters)
    );
    // Key bits that are not an OCTET STRING.
    let mut not_octets = v.spki.clone();
    let pos = v.spki.len() - 131;
    assert_eq!(&not_octets[pos..pos + 3], &[0x04, 0x81, 0x80]);
    not_octets[pos] = 0x02;
    assert_eq!(
        check(&not_octets, &v.msg, &v.sig),
        Err(GostError::BadPublicKey)
    );
}

#[test]
fn private_scalars_out_of_range_are_refused() {
    let alg = Algorithm::Gost2015_512;
    assert!(matches!(
        PrivateKey::from_le_bytes(alg, &[0u8; 64]),
        Err(GostError::BadPrivateKey)
    ));
    assert!(matches!(
        PrivateKey::from_le_bytes(alg, &q512_le()),
        Err(GostError::BadPrivateKey)
    ));
    assert!(matches!(
        PrivateKey::from_le_bytes(alg, &[1u8; 63]),
        Err(GostError::BadPrivateKey)
    ));
    assert!(matches!(
        PrivateKey::from_le_bytes(Algorithm::Gost2004, &[1u8; 64]),
        Err(GostError::BadPrivateKey)
    ));
    assert_eq!(
        PublicKey::from_le_bytes(alg, &[0u8; 64]),
        Err(GostError::BadPublicKeyLength {
            expected: 128,
            found: 64
        })
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn arbitrary_signature_bytes_never_verify_nor_panic(sig in proptest::collection::vec(any::<u8>(), 0..200)) {
        let v = vector();
        prop_assert!(check(&v.spki, &v.msg, &sig).is_err());
    }

    #[test]
    fn arbitrary_spki_bytes_never_panic(spki in proptest::collection::vec(any::<u8>(), 0..300)) {
        let v = vector();
        prop_assert!(check(&spki, &v.msg, &v.sig).is_err());
    }
}

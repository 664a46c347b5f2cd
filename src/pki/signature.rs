//! The signature registry: one place that maps an AlgorithmIdentifier and a public key to a
//! verification. RSA (PKCS#1 v1.5 and PSS), ECDSA P-256/P-384 and Ed25519 go through `ring`
//! (vetted, constant-time where it matters); Kazakh GOST goes through our own [`super::gost`].
//!
//! SHA-1 is refused unless the caller's [`SignaturePolicy`] allows it; RSA keys below the policy's
//! minimum are refused; anything unknown is a named error (never a panic).

use std::fmt;

use const_oid::ObjectIdentifier;
use der::{Decode, Sequence};
use ring::signature as rs;
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoRef};

use super::cert::AlgorithmId;
use super::gost;

/// Algorithm OIDs.
pub mod oids {
    use const_oid::ObjectIdentifier;
    macro_rules! oid {
        ($name:ident, $s:expr) => {
            #[doc = $s]
            pub const $name: ObjectIdentifier = ObjectIdentifier::new_unwrap($s);
        };
    }
    oid!(RSA_ENCRYPTION, "1.2.840.113549.1.1.1");
    oid!(SHA1_WITH_RSA, "1.2.840.113549.1.1.5");
    oid!(RSA_PSS, "1.2.840.113549.1.1.10");
    oid!(SHA256_WITH_RSA, "1.2.840.113549.1.1.11");
    oid!(SHA384_WITH_RSA, "1.2.840.113549.1.1.12");
    oid!(SHA512_WITH_RSA, "1.2.840.113549.1.1.13");
    oid!(MGF1, "1.2.840.113549.1.1.8");
    oid!(EC_PUBLIC_KEY, "1.2.840.10045.2.1");
    oid!(ECDSA_SHA1, "1.2.840.10045.4.1");
    oid!(ECDSA_SHA256, "1.2.840.10045.4.3.2");
    oid!(ECDSA_SHA384, "1.2.840.10045.4.3.3");
    oid!(ECDSA_SHA512, "1.2.840.10045.4.3.4");
    oid!(P256, "1.2.840.10045.3.1.7");
    oid!(P384, "1.3.132.0.34");
    oid!(ED25519, "1.3.101.112");
    oid!(SHA1, "1.3.14.3.2.26");
    oid!(SHA256, "2.16.840.1.101.3.4.2.1");
    oid!(SHA384, "2.16.840.1.101.3.4.2.2");
    oid!(SHA512, "2.16.840.1.101.3.4.2.3");
}

/// What the verifier accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SignaturePolicy {
    /// Accept SHA-1 based signatures (`--allow-sha1`; legacy OCSP responders). Default: no.
    pub allow_sha1: bool,
    /// Smallest RSA modulus accepted, in bits. Default 2048 (NCA users have 2048, CAs 4096).
    pub min_rsa_bits: usize,
}

impl Default for SignaturePolicy {
    fn default() -> Self {
        SignaturePolicy {
            allow_sha1: false,
            min_rsa_bits: 2048,
        }
    }
}

/// Why a signature was not accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignatureError {
    /// The signature algorithm is not one we implement.
    UnsupportedAlgorithm {
        /// The algorithm OID.
        oid: ObjectIdentifier,
    },
    /// SHA-1 signature while the policy refuses SHA-1.
    Sha1NotAllowed,
    /// The public key's type does not fit the signature algorithm.
    KeyAlgorithmMismatch {
        /// Signature algorithm.
        signature: ObjectIdentifier,
        /// Key algorithm.
        key: ObjectIdentifier,
    },
    /// The public key does not decode.
    BadPublicKey,
    /// RSA key below the policy minimum.
    RsaKeyTooSmall {
        /// Modulus size.
        bits: usize,
    },
    /// Algorithm parameters that we do not accept (e.g. PSS with a salt ≠ hash length).
    BadAlgorithmParameters,
    /// The signature does not verify.
    Invalid,
    /// A GOST verification error.
    Gost(gost::GostError),
}

impl SignatureError {
    /// True when the algorithm and key were fine and the signature itself is wrong (RSA/ECDSA/
    /// Ed25519 or GOST): a forgery or corruption, as opposed to "could not be checked".
    pub fn is_forged(&self) -> bool {
        matches!(
            self,
            SignatureError::Invalid | SignatureError::Gost(gost::GostError::InvalidSignature)
        )
    }

    /// Stable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            SignatureError::UnsupportedAlgorithm { .. } => "unsupported_signature_algorithm",
            SignatureError::Sha1NotAllowed => "sha1_not_allowed",
            SignatureError::KeyAlgorithmMismatch { .. } => "key_algorithm_mismatch",
            SignatureError::BadPublicKey => "bad_public_key",
            SignatureError::RsaKeyTooSmall { .. } => "rsa_key_too_small",
            SignatureError::BadAlgorithmParameters => "bad_algorithm_parameters",
            SignatureError::Invalid => "bad_signature",
            SignatureError::Gost(g) => g.code(),
        }
    }
}

impl fmt::Display for SignatureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignatureError::UnsupportedAlgorithm { oid } => {
                write!(f, "unsupported signature algorithm {oid}")
            }
            SignatureError::Sha1NotAllowed => f.write_str("SHA-1 signatures are not accepted"),
            SignatureError::KeyAlgorithmMismatch { signature, key } => {
                write!(
                    f,
                    "signature algorithm {signature} does not fit a {key} key"
                )
            }
            SignatureError::BadPublicKey => f.write_str("public key does not decode"),
            SignatureError::RsaKeyTooSmall { bits } => {
                write!(f, "RSA key of {bits} bits is too small")
            }
            SignatureError::BadAlgorithmParameters => {
                f.write_str("unsupported algorithm parameters")
            }
            SignatureError::Invalid => f.write_str("signature does not verify"),
            SignatureError::Gost(g) => write!(f, "GOST: {g}"),
        }
    }
}

impl std::error::Error for SignatureError {}

/// RFC 4055 RSASSA-PSS-params (all fields EXPLICIT, with defaults).
#[derive(Sequence)]
struct PssParams {
    #[asn1(context_specific = "0", optional = "true")]
    hash: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "1", optional = "true")]
    mgf: Option<AlgorithmIdentifierOwned>,
    #[asn1(context_specific = "2", optional = "true")]
    salt: Option<u32>,
    #[asn1(context_specific = "3", optional = "true")]
    trailer: Option<u32>,
}

/// Verifies `signature` over `message` with the key in `spki_der` (a DER SubjectPublicKeyInfo)
/// under the signature algorithm `alg`.
pub fn verify(
    alg: &AlgorithmId,
    spki_der: &[u8],
    message: &[u8],
    signature: &[u8],
    policy: &SignaturePolicy,
) -> Result<(), SignatureError> {
    if gost::is_gost_oid(&alg.oid) {
        return gost::verify(&alg.oid, spki_der, message, signature).map_err(SignatureError::Gost);
    }
    let spki =
        SubjectPublicKeyInfoRef::from_der(spki_der).map_err(|_| SignatureError::BadPublicKey)?;
    let key_oid = spki.algorithm.oid;
    let key = spki
        .subject_public_key
        .as_bytes()
        .ok_or(SignatureError::BadPublicKey)?;
    let mismatch = || SignatureError::KeyAlgorithmMismatch {
        signature: alg.oid,
        key: key_oid,
    };
    let unsupported = || SignatureError::UnsupportedAlgorithm { oid: alg.oid };

    match alg.oid {
        oids::SHA1_WITH_RSA
        | oids::SHA256_WITH_RSA
        | oids::SHA384_WITH_RSA
        | oids::SHA512_WITH_RSA => {
            if key_oid != oids::RSA_ENCRYPTION {
                return Err(mismatch());
            }
            // RFC 4055 §5: parameters MUST be NULL; absent is tolerated (seen in the wild).
            if alg.params.as_deref().is_some_and(|p| p != [0x05, 0x00]) {
                return Err(SignatureError::BadAlgorithmParameters);
            }
            let bits = rsa_modulus_bits(key)?;
            if bits < policy.min_rsa_bits {
                return Err(SignatureError::RsaKeyTooSmall { bits });
            }
            // A modulus that is not a whole number of bytes is not a key any CA generates
            // (rustls-webpki refuses it too).
            if bits % 8 != 0 {
                return Err(SignatureError::BadPublicKey);
            }
            let legacy = bits < 2048;
            let params: &dyn rs::VerificationAlgorithm = match (alg.oid, legacy) {
                (oids::SHA1_WITH_RSA, _) => {
                    if !policy.allow_sha1 {
                        return Err(SignatureError::Sha1NotAllowed);
                    }
                    &rs::RSA_PKCS1_1024_8192_SHA1_FOR_LEGACY_USE_ONLY
                }
                (oids::SHA256_WITH_RSA, false) => &rs::RSA_PKCS1_2048_8192_SHA256,
                (oids::SHA256_WITH_RSA, true) => {
                    &rs::RSA_PKCS1_1024_8192_SHA256_FOR_LEGACY_USE_ONLY
                }
                (oids::SHA384_WITH_RSA, false) => &rs::RSA_PKCS1_2048_8192_SHA384,
                (oids::SHA512_WITH_RSA, false) => &rs::RSA_PKCS1_2048_8192_SHA512,
                (oids::SHA512_WITH_RSA, true) => {
                    &rs::RSA_PKCS1_1024_8192_SHA512_FOR_LEGACY_USE_ONLY
                }
                _ => return Err(SignatureError::RsaKeyTooSmall { bits }),
            };
            ring_verify(params, key, message, signature)
        }
        oids::RSA_PSS => {
            if key_oid != oids::RSA_ENCRYPTION && key_oid != oids::RSA_PSS {
                return Err(mismatch());
            }
            let params = match &alg.params {
                Some(p) => {
                    PssParams::from_der(p).map_err(|_| SignatureError::BadAlgorithmParameters)?
                }
                None => return Err(SignatureError::BadAlgorithmParameters),
            };
            let hash = params.hash.as_ref().map(|h| h.oid).unwrap_or(oids::SHA1);
            let mgf_hash = match &params.mgf {
                None => oids::SHA1,
                Some(m) if m.oid == oids::MGF1 => m
                    .parameters
                    .as_ref()
                    .and_then(|p| p.decode_as::<AlgorithmIdentifierOwned>().ok())
                    .map(|a| a.oid)
                    .ok_or(SignatureError::BadAlgorithmParameters)?,
                Some(_) => return Err(SignatureError::BadAlgorithmParameters),
            };
            let salt = params.salt.unwrap_or(20);
            if params.trailer.is_some_and(|t| t != 1) || mgf_hash != hash {
                return Err(SignatureError::BadAlgorithmParameters);
            }
            let (alg_ring, hlen): (&dyn rs::VerificationAlgorithm, u32) = match hash {
                oids::SHA256 => (&rs::RSA_PSS_2048_8192_SHA256, 32),
                oids::SHA384 => (&rs::RSA_PSS_2048_8192_SHA384, 48),
                oids::SHA512 => (&rs::RSA_PSS_2048_8192_SHA512, 64),
                oids::SHA1 if !policy.allow_sha1 => return Err(SignatureError::Sha1NotAllowed),
                _ => return Err(SignatureError::BadAlgorithmParameters),
            };
            if salt != hlen {
                return Err(SignatureError::BadAlgorithmParameters);
            }
            let bits = rsa_modulus_bits(key)?;
            if bits < policy.min_rsa_bits.max(2048) {
                return Err(SignatureError::RsaKeyTooSmall { bits });
            }
            ring_verify(alg_ring, key, message, signature)
        }
        oids::ECDSA_SHA1 | oids::ECDSA_SHA256 | oids::ECDSA_SHA384 | oids::ECDSA_SHA512 => {
            if key_oid != oids::EC_PUBLIC_KEY {
                return Err(mismatch());
            }
            // RFC 5758 §3.2: the parameters field MUST be absent.
            if alg.params.is_some() {
                return Err(SignatureError::BadAlgorithmParameters);
            }
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p: &der::asn1::AnyRef<'_>| p.decode_as::<ObjectIdentifier>().ok())
                .ok_or(SignatureError::BadPublicKey)?;
            let params: &dyn rs::VerificationAlgorithm = match (curve, alg.oid) {
                (_, oids::ECDSA_SHA1) if !policy.allow_sha1 => {
                    return Err(SignatureError::Sha1NotAllowed);
                }
                (oids::P256, oids::ECDSA_SHA256) => &rs::ECDSA_P256_SHA256_ASN1,
                (oids::P256, oids::ECDSA_SHA384) => &rs::ECDSA_P256_SHA384_ASN1,
                (oids::P384, oids::ECDSA_SHA256) => &rs::ECDSA_P384_SHA256_ASN1,
                (oids::P384, oids::ECDSA_SHA384) => &rs::ECDSA_P384_SHA384_ASN1,
                _ => return Err(unsupported()),
            };
            ring_verify(params, key, message, signature)
        }
        oids::ED25519 => {
            if key_oid != oids::ED25519 {
                return Err(mismatch());
            }
            if alg.params.is_some() {
                return Err(SignatureError::BadAlgorithmParameters);
            }
            ring_verify(&rs::ED25519, key, message, signature)
        }
        _ => Err(unsupported()),
    }
}

/// Checks that a SubjectPublicKeyInfo holds a key this registry would verify with: RSA of at
/// least `policy.min_rsa_bits` whole bytes, EC on P-256/P-384 by name, Ed25519, or a GOST key
/// (checked on the curve by the GOST module when it verifies).
pub fn check_public_key(spki_der: &[u8], policy: &SignaturePolicy) -> Result<(), SignatureError> {
    let spki =
        SubjectPublicKeyInfoRef::from_der(spki_der).map_err(|_| SignatureError::BadPublicKey)?;
    let key = spki
        .subject_public_key
        .as_bytes()
        .ok_or(SignatureError::BadPublicKey)?;
    let oid = spki.algorithm.oid;
    if gost::is_gost_oid(&oid) {
        return Ok(());
    }
    match oid {
        oids::RSA_ENCRYPTION | oids::RSA_PSS => {
            let bits = rsa_modulus_bits(key)?;
            if bits < policy.min_rsa_bits {
                return Err(SignatureError::RsaKeyTooSmall { bits });
            }
            if bits % 8 != 0 {
                return Err(SignatureError::BadPublicKey);
            }
            Ok(())
        }
        oids::EC_PUBLIC_KEY => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p: &der::asn1::AnyRef<'_>| p.decode_as::<ObjectIdentifier>().ok());
            match curve {
                Some(oids::P256) | Some(oids::P384) => Ok(()),
                _ => Err(SignatureError::UnsupportedAlgorithm { oid }),
            }
        }
        oids::ED25519 => Ok(()),
        _ => Err(SignatureError::UnsupportedAlgorithm { oid }),
    }
}

fn ring_verify(
    alg: &dyn rs::VerificationAlgorithm,
    key: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<(), SignatureError> {
    // `UnparsedPublicKey` wants a sized `'static` algorithm; go through the trait object.
    alg.verify(key.into(), message.into(), signature.into())
        .map_err(|_| SignatureError::Invalid)
}

/// Bit length of an RSAPublicKey's modulus.
fn rsa_modulus_bits(key: &[u8]) -> Result<usize, SignatureError> {
    // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER } (RFC 8017 A.1.1)
    let seq = super::der_util::sequence_children(key, 3).ok_or(SignatureError::BadPublicKey)?;
    let n = seq
        .first()
        .filter(|t| t.tag == 0x02)
        .ok_or(SignatureError::BadPublicKey)?;
    let mut bytes = n.content(key);
    while let [0, rest @ ..] = bytes {
        bytes = rest;
    }
    let first = *bytes.first().ok_or(SignatureError::BadPublicKey)?;
    Ok((bytes.len() - 1) * 8 + (8 - first.leading_zeros() as usize))
}

/// Digest by algorithm OID: SHA-1/256/384/512 and the GOST digests.
pub fn digest(oid: &ObjectIdentifier, data: &[u8]) -> Option<Vec<u8>> {
    let alg = match *oid {
        oids::SHA1 => &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        oids::SHA256 => &ring::digest::SHA256,
        oids::SHA384 => &ring::digest::SHA384,
        oids::SHA512 => &ring::digest::SHA512,
        _ => return gost::digest(oid, data),
    };
    Some(ring::digest::digest(alg, data).as_ref().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_algorithm_is_named() {
        let alg = AlgorithmId {
            oid: ObjectIdentifier::new_unwrap("1.2.3.4"),
            params: None,
        };
        let err = verify(&alg, &[0x30, 0x00], b"m", b"s", &SignaturePolicy::default());
        assert!(matches!(
            err,
            Err(SignatureError::BadPublicKey | SignatureError::UnsupportedAlgorithm { .. })
        ));
    }

    #[test]
    fn digests_by_oid() {
        let d = digest(&oids::SHA256, b"abc").expect("sha256");
        assert_eq!(
            hex::encode(d),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(digest(&ObjectIdentifier::new_unwrap("1.2.3"), b"abc").is_none());
    }
}

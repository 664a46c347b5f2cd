//! Signing keys of the test PKI and of `eds-gateway sign`: GOST (our own `pki::gost`), RSA and
//! ECDSA P-256 (`ring`).
//!
//! RSA key generation: `ring` cannot generate RSA keys, so [`SigningKey::generate`] runs
//! `openssl genpkey` (RSA-2048, PKCS#8 DER on stdout) and loads the result into `ring`. We chose
//! the OpenSSL CLI over the RustCrypto `rsa` crate because (a) `rsa` 0.9 sits on the der 0.7 /
//! pkcs8 0.10 stack while this crate uses der 0.8 (DESIGN.md: one stack only), and (b) `rsa` has
//! an open timing advisory (RUSTSEC-2023-0071, "Marvin") with no fixed release. The OpenSSL CLI is
//! needed only to *create* RSA keys (test PKI on a developer or CI machine, where the interop
//! tests need OpenSSL anyway); GOST and P-256 keys are generated in-process.
//!
//! Keys are stored as PKCS#8 (PEM `PRIVATE KEY`); GOST keys in NCA's PKCS#8 form
//! (`privateKey = OCTET STRING { OCTET STRING(n) }`, scalar little-endian, as in NCA's .p12).

use std::fmt;

use const_oid::ObjectIdentifier;
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256, RsaKeyPair,
};
use zeroize::Zeroizing;

use super::der::{self, alg_id, bits, null, octets, oid, seq};
use crate::pki::der_util;
use crate::pki::gost::{self, Algorithm};
use crate::pki::p12::P12Key;
use crate::pki::signature::oids as sig;

/// Why a key operation failed.
#[derive(Debug)]
pub struct KeyError(pub String);

impl fmt::Display for KeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for KeyError {}

fn kerr(s: impl Into<String>) -> KeyError {
    KeyError(s.into())
}

/// Key algorithms the test PKI can create.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    /// GOST 34.10-2015 512-bit (tc26-512-A), NCA's current keys.
    Gost512,
    /// RSA-2048 with SHA-256.
    Rsa2048,
    /// ECDSA P-256 with SHA-256.
    P256,
}

impl KeyKind {
    /// Name on the command line and in `ca.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyKind::Gost512 => "gost512",
            KeyKind::Rsa2048 => "rsa2048",
            KeyKind::P256 => "p256",
        }
    }

    /// From [`KeyKind::as_str`].
    pub fn parse(s: &str) -> Option<KeyKind> {
        match s {
            "gost512" => Some(KeyKind::Gost512),
            "rsa2048" => Some(KeyKind::Rsa2048),
            "p256" => Some(KeyKind::P256),
            _ => None,
        }
    }
}

/// A private key able to sign, with its public half. No `Debug` (secrets).
pub enum SigningKey {
    /// GOST key.
    Gost(gost::PrivateKey),
    /// RSA key (PKCS#8 kept for storage and .p12 output).
    Rsa {
        /// ring key pair.
        pair: RsaKeyPair,
        /// PKCS#8 DER.
        pkcs8: Zeroizing<Vec<u8>>,
    },
    /// ECDSA P-256 key.
    P256 {
        /// ring key pair.
        pair: EcdsaKeyPair,
        /// PKCS#8 DER.
        pkcs8: Zeroizing<Vec<u8>>,
    },
}

impl SigningKey {
    /// A fresh key.
    pub fn generate(kind: KeyKind) -> Result<SigningKey, KeyError> {
        match kind {
            KeyKind::Gost512 => gost::PrivateKey::generate(Algorithm::Gost2015_512)
                .map(SigningKey::Gost)
                .map_err(|e| kerr(e.to_string())),
            KeyKind::Rsa2048 => {
                let out = std::process::Command::new("openssl")
                    .args([
                        "genpkey",
                        "-algorithm",
                        "RSA",
                        "-pkeyopt",
                        "rsa_keygen_bits:2048",
                    ])
                    .stdin(std::process::Stdio::null())
                    .stderr(std::process::Stdio::piped())
                    .output()
                    .map_err(|e| kerr(format!("RSA key generation needs the openssl CLI: {e}")))?;
                if !out.status.success() {
                    return Err(kerr(format!(
                        "openssl genpkey failed: {}",
                        String::from_utf8_lossy(&out.stderr)
                    )));
                }
                // PEM output is PKCS#8 (`-outform DER` would give PKCS#1).
                let (_, der) = der_util::pem_or_der(&out.stdout)
                    .map_err(|e| kerr(format!("openssl genpkey output: {e}")))?;
                Self::from_pkcs8(&der)
            }
            KeyKind::P256 => {
                let rng = SystemRandom::new();
                let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
                    .map_err(|_| kerr("P-256 key generation failed"))?;
                Self::from_pkcs8(doc.as_ref())
            }
        }
    }

    /// The kind of this key (GOST-2004 / 256 keys report `None`).
    pub fn kind(&self) -> Option<KeyKind> {
        match self {
            SigningKey::Gost(k) if k.algorithm() == Algorithm::Gost2015_512 => {
                Some(KeyKind::Gost512)
            }
            SigningKey::Gost(_) => None,
            SigningKey::Rsa { .. } => Some(KeyKind::Rsa2048),
            SigningKey::P256 { .. } => Some(KeyKind::P256),
        }
    }

    /// From a key read out of a .p12.
    pub fn from_p12(key: P12Key) -> Result<SigningKey, KeyError> {
        match key {
            P12Key::Gost(k) => Ok(SigningKey::Gost(k)),
            P12Key::Rsa(pkcs8) => Self::from_pkcs8(&pkcs8),
        }
    }

    /// From PKCS#8 DER (RSA, P-256 or NCA GOST form).
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<SigningKey, KeyError> {
        let bad = || kerr("malformed PKCS#8 private key");
        let kids = der_util::sequence_children(pkcs8, 4).ok_or_else(bad)?;
        let alg = kids.get(1).ok_or_else(bad)?;
        let alg_kids = der_util::sequence_children(alg.whole(pkcs8), 2).ok_or_else(bad)?;
        let alg_bytes = alg.whole(pkcs8);
        let first = alg_kids.first().ok_or_else(bad)?;
        let key_oid = ObjectIdentifier::from_bytes(first.content(alg_bytes)).map_err(|_| bad())?;
        match key_oid {
            sig::RSA_ENCRYPTION => {
                let pair = RsaKeyPair::from_pkcs8(pkcs8)
                    .map_err(|e| kerr(format!("RSA key rejected: {e}")))?;
                Ok(SigningKey::Rsa {
                    pair,
                    pkcs8: Zeroizing::new(pkcs8.to_vec()),
                })
            }
            sig::EC_PUBLIC_KEY => {
                let pair = EcdsaKeyPair::from_pkcs8(
                    &ECDSA_P256_SHA256_ASN1_SIGNING,
                    pkcs8,
                    &SystemRandom::new(),
                )
                .map_err(|e| kerr(format!("EC key rejected (P-256 only): {e}")))?;
                Ok(SigningKey::P256 {
                    pair,
                    pkcs8: Zeroizing::new(pkcs8.to_vec()),
                })
            }
            other => {
                let algorithm = Algorithm::from_key_oid(&other)
                    .ok_or_else(|| kerr(format!("unsupported key algorithm {other}")))?;
                let outer = kids.get(2).ok_or_else(bad)?.content(pkcs8);
                let inner = der_util::read_tlv(outer, 0).ok_or_else(bad)?;
                if inner.tag != 0x04 {
                    return Err(bad());
                }
                gost::PrivateKey::from_le_bytes(algorithm, inner.content(outer))
                    .map(SigningKey::Gost)
                    .map_err(|e| kerr(e.to_string()))
            }
        }
    }

    /// PKCS#8 DER (NCA form for GOST).
    pub fn to_pkcs8(&self) -> Zeroizing<Vec<u8>> {
        match self {
            SigningKey::Gost(k) => {
                let a = k.algorithm();
                let params = seq(&[oid(&a.param_set_oid()), oid(&a.key_digest_params_oid())]);
                let d = k.to_le_bytes();
                let inner = Zeroizing::new(octets(&d));
                Zeroizing::new(seq(&[
                    der::int(0),
                    alg_id(&a.key_oid(), Some(params)),
                    octets(&inner),
                ]))
            }
            SigningKey::Rsa { pkcs8, .. } | SigningKey::P256 { pkcs8, .. } => pkcs8.clone(),
        }
    }

    /// DER SubjectPublicKeyInfo.
    pub fn spki_der(&self) -> Result<Vec<u8>, KeyError> {
        Ok(match self {
            SigningKey::Gost(k) => k
                .public_key()
                .map_err(|e| kerr(e.to_string()))?
                .to_spki_der(),
            SigningKey::Rsa { pair, .. } => seq(&[
                alg_id(&sig::RSA_ENCRYPTION, Some(null())),
                bits(pair.public_key().as_ref()),
            ]),
            SigningKey::P256 { pair, .. } => seq(&[
                alg_id(&sig::EC_PUBLIC_KEY, Some(oid(&sig::P256))),
                bits(pair.public_key().as_ref()),
            ]),
        })
    }

    /// The subjectPublicKey BIT STRING content (for key identifiers and key/cert matching).
    pub fn public_key_bits(&self) -> Result<Vec<u8>, KeyError> {
        Ok(match self {
            SigningKey::Gost(k) => octets(
                k.public_key()
                    .map_err(|e| kerr(e.to_string()))?
                    .as_le_bytes(),
            ),
            SigningKey::Rsa { pair, .. } => pair.public_key().as_ref().to_vec(),
            SigningKey::P256 { pair, .. } => pair.public_key().as_ref().to_vec(),
        })
    }

    /// The signature AlgorithmIdentifier (DER) this key writes, with NCA's parameter choices:
    /// GOST and RSA with NULL parameters (as Kalkan writes them), ECDSA without.
    pub fn signature_alg_id(&self) -> Vec<u8> {
        match self {
            SigningKey::Gost(k) => alg_id(&k.algorithm().signature_oid(), Some(null())),
            SigningKey::Rsa { .. } => alg_id(&sig::SHA256_WITH_RSA, Some(null())),
            SigningKey::P256 { .. } => alg_id(&sig::ECDSA_SHA256, None),
        }
    }

    /// The digest AlgorithmIdentifier for CMS (NULL parameters as Kalkan writes them).
    pub fn digest_alg_id(&self) -> Vec<u8> {
        match self {
            SigningKey::Gost(k) => alg_id(&k.algorithm().digest_oid(), Some(null())),
            SigningKey::Rsa { .. } => alg_id(&sig::SHA256, Some(null())),
            SigningKey::P256 { .. } => alg_id(&sig::SHA256, None),
        }
    }

    /// The digest the CMS messageDigest attribute holds.
    pub fn digest(&self, data: &[u8]) -> Vec<u8> {
        match self {
            SigningKey::Gost(k) => k.algorithm().hash(data),
            _ => ring::digest::digest(&ring::digest::SHA256, data)
                .as_ref()
                .to_vec(),
        }
    }

    /// Signs `message` (hashing included): NCA r‖s LE for GOST, PKCS#1 v1.5 for RSA, DER
    /// ECDSA-Sig-Value for P-256.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let rng = SystemRandom::new();
        match self {
            SigningKey::Gost(k) => k.sign(message).map_err(|e| kerr(e.to_string())),
            SigningKey::Rsa { pair, .. } => {
                let mut out = vec![0u8; pair.public().modulus_len()];
                pair.sign(&RSA_PKCS1_SHA256, &rng, message, &mut out)
                    .map_err(|_| kerr("RSA signing failed"))?;
                Ok(out)
            }
            SigningKey::P256 { pair, .. } => pair
                .sign(&rng, message)
                .map(|s| s.as_ref().to_vec())
                .map_err(|_| kerr("ECDSA signing failed")),
        }
    }

    /// Signs a TBS structure and wraps it: SEQUENCE { tbs, AlgorithmIdentifier, BIT STRING }
    /// (certificates, CRLs).
    pub fn sign_tbs(&self, tbs: &[u8]) -> Result<Vec<u8>, KeyError> {
        let sig = self.sign(tbs)?;
        Ok(seq(&[tbs.to_vec(), self.signature_alg_id(), bits(&sig)]))
    }
}

/// SHA-1 of the subjectPublicKey bits (RFC 5280 §4.2.1.2 method 1), used for SKI/AKI.
pub fn key_id(public_key_bits: &[u8]) -> Vec<u8> {
    use sha1::Digest;
    sha1::Sha1::digest(public_key_bits).to_vec()
}

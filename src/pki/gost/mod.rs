//! Kazakh GOST signatures: GOST 34.10-2015 (512- and 256-bit, hash GOST 34.11-2015 = Streebog)
//! and the legacy GOST 34.310-2004 (hash GOST 34.311-95 = GOST R 34.11-94 with the *Test* S-box),
//! with NCA's exact encodings.
//!
//! Why our own code: no maintained Rust crate verifies GOST 34.10-2015 with NCA's encodings (the
//! only open peers call the closed Kalkan SDK, and Russian-GOST libraries use the opposite
//! signature byte order). We build on well-kept blocks — RustCrypto `streebog` and `gost94` for
//! the hashes, `crypto-bigint` for constant-time Montgomery arithmetic — and keep the curve
//! arithmetic in [`curve`] (one file per concern); this file holds the OIDs, the encodings and the
//! public verify / sign API.
//!
//! NCA encodings (../shared/NCA.md §4, checked on every GOST fixture):
//! * SubjectPublicKey BIT STRING = OCTET STRING(2n) = x‖y, each little-endian (n = 64 or 32);
//! * e = the digest bytes read as a little-endian integer, mod q, 0 → 1;
//! * signature value = r‖s, **each little-endian** — the byte-reverse of the RFC 4491 layout
//!   (s_BE‖r_BE). The Russian layout is therefore refused (it does not verify).

mod curve;
mod field;

use std::fmt;
use std::sync::OnceLock;

use const_oid::ObjectIdentifier;
use crypto_bigint::Uint;
use der::{Decode, Tagged};
use digest::Digest;
use spki::SubjectPublicKeyInfoRef;
use zeroize::{Zeroize, Zeroizing};

use crypto_bigint::modular::ConstMontyParams;

use self::curve::{
    CRYPTOPRO_A, Curve, Curve256A, Curve512A, CurveCryptoProA, TC26_256_A, TC26_512_A,
};
use super::der_util;

/// GOST algorithm, parameter-set and digest OIDs of the Kazakh arc 1.2.398.3.10.1.
pub mod oids {
    use const_oid::ObjectIdentifier;
    macro_rules! oid {
        ($name:ident, $s:expr, $doc:expr) => {
            #[doc = $doc]
            #[doc = ""]
            #[doc = $s]
            pub const $name: ObjectIdentifier = ObjectIdentifier::new_unwrap($s);
        };
    }
    oid!(
        GOST2004_KEY,
        "1.2.398.3.10.1.1.1.1",
        "GOST 34.310-2004 public key."
    );
    oid!(
        GOST2004_SIGNATURE,
        "1.2.398.3.10.1.1.1.2",
        "GOST 34.311-95 with GOST 34.310-2004."
    );
    oid!(
        GOST2004_PARAMSET_A,
        "1.2.398.3.10.1.1.1.1.1",
        "GOST 34.310-2004 curve A (= CryptoPro-A)."
    );
    oid!(
        GOST2015_256_KEY,
        "1.2.398.3.10.1.1.2.1",
        "GOST 34.10-2015 256-bit public key."
    );
    oid!(
        GOST2015_512_KEY,
        "1.2.398.3.10.1.1.2.2",
        "GOST 34.10-2015 512-bit public key."
    );
    oid!(
        GOST2015_256_PARAMSET_A,
        "1.2.398.3.10.1.1.2.1.1",
        "256-bit set A (= tc26-256-A)."
    );
    oid!(
        GOST2015_512_PARAMSET_A,
        "1.2.398.3.10.1.1.2.2.1",
        "512-bit set A (= tc26-512-A)."
    );
    oid!(
        GOST2015_256_SIGNATURE,
        "1.2.398.3.10.1.1.2.3.1",
        "GOST 34.10-2015 256 with Streebog-256."
    );
    oid!(
        GOST2015_512_SIGNATURE,
        "1.2.398.3.10.1.1.2.3.2",
        "GOST 34.10-2015 512 with Streebog-512."
    );
    oid!(
        GOST34311_DIGEST,
        "1.2.398.3.10.1.3.1",
        "GOST 34.311-95 digest (Test S-box)."
    );
    oid!(
        GOST34311_DIGEST_PARAMS,
        "1.2.398.3.10.1.3.1.1.0",
        "GOST 34.311-95 hash parameters in keys."
    );
    oid!(
        STREEBOG256_DIGEST,
        "1.2.398.3.10.1.3.2",
        "GOST 34.11-2015 256 (presumed; unseen in fixtures)."
    );
    oid!(
        STREEBOG512_DIGEST,
        "1.2.398.3.10.1.3.3",
        "GOST 34.11-2015 512 (Streebog-512)."
    );
}

/// Why a GOST operation failed. Each variant has a stable [`GostError::code`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum GostError {
    /// The SubjectPublicKeyInfo (or its key OCTET STRING) does not decode.
    BadPublicKey,
    /// The public key is not 2n bytes (x‖y).
    BadPublicKeyLength {
        /// Bytes required by the parameter set.
        expected: usize,
        /// Bytes found.
        found: usize,
    },
    /// A private scalar that is not n bytes or not in 1..q−1.
    BadPrivateKey,
    /// The signature value is not 2n bytes (r‖s).
    BadSignatureLength {
        /// Bytes required by the algorithm.
        expected: usize,
        /// Bytes found.
        found: usize,
    },
    /// The signature does not verify (GOST 34.10-2015 §6.2 step 7: R ≠ r).
    InvalidSignature,
    /// The key's algorithm is not the one the signature algorithm needs.
    KeyAlgorithmMismatch {
        /// Signature algorithm.
        signature: ObjectIdentifier,
        /// Key algorithm.
        key: ObjectIdentifier,
    },
    /// A GOST key without its parameter-set SEQUENCE.
    MissingKeyParameters,
    /// The public key is not a point of the curve (or is the identity).
    PublicKeyNotOnCurve,
    /// The operating system's random generator failed.
    RandomUnavailable,
    /// r or s is 0 or ≥ q (GOST 34.10-2015 §6.2 step 1).
    SignatureOutOfRange,
    /// A signature or key algorithm OID that is not a GOST one we implement.
    UnknownAlgorithm {
        /// The OID.
        oid: ObjectIdentifier,
    },
    /// The key names a hash parameter OID that does not belong to its algorithm.
    UnknownDigestParameters {
        /// The OID.
        oid: ObjectIdentifier,
    },
    /// The key names a curve parameter set we do not know (or one of another key algorithm).
    UnknownParameterSet {
        /// The OID.
        oid: ObjectIdentifier,
    },
}

impl GostError {
    /// Stable reason code (audit logs, JSON).
    pub fn code(&self) -> &'static str {
        match self {
            GostError::BadPublicKey => "gost_bad_public_key",
            GostError::BadPublicKeyLength { .. } => "gost_bad_public_key_length",
            GostError::BadPrivateKey => "gost_bad_private_key",
            GostError::BadSignatureLength { .. } => "gost_bad_signature_length",
            GostError::InvalidSignature => "gost_bad_signature",
            GostError::KeyAlgorithmMismatch { .. } => "gost_key_algorithm_mismatch",
            GostError::MissingKeyParameters => "gost_missing_key_parameters",
            GostError::PublicKeyNotOnCurve => "gost_public_key_not_on_curve",
            GostError::RandomUnavailable => "gost_random_unavailable",
            GostError::SignatureOutOfRange => "gost_signature_out_of_range",
            GostError::UnknownAlgorithm { .. } => "gost_unknown_algorithm",
            GostError::UnknownDigestParameters { .. } => "gost_unknown_digest_parameters",
            GostError::UnknownParameterSet { .. } => "gost_unknown_parameter_set",
        }
    }
}

impl fmt::Display for GostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GostError::BadPublicKey => f.write_str("GOST public key does not decode"),
            GostError::BadPublicKeyLength { expected, found } => {
                write!(f, "GOST public key of {found} bytes, expected {expected}")
            }
            GostError::BadPrivateKey => {
                f.write_str("GOST private key is malformed or out of range")
            }
            GostError::BadSignatureLength { expected, found } => {
                write!(f, "GOST signature of {found} bytes, expected {expected}")
            }
            GostError::InvalidSignature => f.write_str("GOST signature does not verify"),
            GostError::KeyAlgorithmMismatch { signature, key } => {
                write!(
                    f,
                    "GOST signature algorithm {signature} does not fit a {key} key"
                )
            }
            GostError::MissingKeyParameters => f.write_str("GOST key without parameter set"),
            GostError::PublicKeyNotOnCurve => f.write_str("GOST public key is not on the curve"),
            GostError::RandomUnavailable => f.write_str("the system random generator failed"),
            GostError::SignatureOutOfRange => f.write_str("GOST signature r or s is out of range"),
            GostError::UnknownAlgorithm { oid } => write!(f, "unknown GOST algorithm {oid}"),
            GostError::UnknownDigestParameters { oid } => {
                write!(f, "unknown GOST hash parameters {oid}")
            }
            GostError::UnknownParameterSet { oid } => {
                write!(f, "unknown GOST parameter set {oid}")
            }
        }
    }
}

impl std::error::Error for GostError {}

/// The three GOST signature schemes NCA uses (each with its one parameter set).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// GOST 34.10-2015 512-bit, tc26-512-A, Streebog-512 (every NCA key since 2024).
    Gost2015_512,
    /// GOST 34.10-2015 256-bit, tc26-256-A, Streebog-256 (defined; no NCA certificate seen).
    Gost2015_256,
    /// GOST 34.310-2004, CryptoPro-A, GOST 34.311-95 with the Test S-box (legacy keys).
    Gost2004,
}

impl Algorithm {
    /// From a signature algorithm OID.
    pub fn from_signature_oid(oid: &ObjectIdentifier) -> Option<Self> {
        match *oid {
            oids::GOST2015_512_SIGNATURE => Some(Algorithm::Gost2015_512),
            oids::GOST2015_256_SIGNATURE => Some(Algorithm::Gost2015_256),
            oids::GOST2004_SIGNATURE => Some(Algorithm::Gost2004),
            _ => None,
        }
    }

    /// From a public key algorithm OID (SubjectPublicKeyInfo, PKCS#8).
    pub fn from_key_oid(oid: &ObjectIdentifier) -> Option<Self> {
        match *oid {
            oids::GOST2015_512_KEY => Some(Algorithm::Gost2015_512),
            oids::GOST2015_256_KEY => Some(Algorithm::Gost2015_256),
            oids::GOST2004_KEY => Some(Algorithm::Gost2004),
            _ => None,
        }
    }

    /// Signature algorithm OID.
    pub fn signature_oid(self) -> ObjectIdentifier {
        match self {
            Algorithm::Gost2015_512 => oids::GOST2015_512_SIGNATURE,
            Algorithm::Gost2015_256 => oids::GOST2015_256_SIGNATURE,
            Algorithm::Gost2004 => oids::GOST2004_SIGNATURE,
        }
    }

    /// Public key algorithm OID.
    pub fn key_oid(self) -> ObjectIdentifier {
        match self {
            Algorithm::Gost2015_512 => oids::GOST2015_512_KEY,
            Algorithm::Gost2015_256 => oids::GOST2015_256_KEY,
            Algorithm::Gost2004 => oids::GOST2004_KEY,
        }
    }

    /// Curve parameter-set OID carried in the key parameters.
    pub fn param_set_oid(self) -> ObjectIdentifier {
        match self {
            Algorithm::Gost2015_512 => oids::GOST2015_512_PARAMSET_A,
            Algorithm::Gost2015_256 => oids::GOST2015_256_PARAMSET_A,
            Algorithm::Gost2004 => oids::GOST2004_PARAMSET_A,
        }
    }

    /// Hash parameter OID carried in the key parameters (second element).
    pub fn key_digest_params_oid(self) -> ObjectIdentifier {
        match self {
            Algorithm::Gost2015_512 => oids::STREEBOG512_DIGEST,
            Algorithm::Gost2015_256 => oids::STREEBOG256_DIGEST,
            Algorithm::Gost2004 => oids::GOST34311_DIGEST_PARAMS,
        }
    }

    /// Digest algorithm OID (CMS digestAlgorithm).
    pub fn digest_oid(self) -> ObjectIdentifier {
        match self {
            Algorithm::Gost2015_512 => oids::STREEBOG512_DIGEST,
            Algorithm::Gost2015_256 => oids::STREEBOG256_DIGEST,
            Algorithm::Gost2004 => oids::GOST34311_DIGEST,
        }
    }

    /// Byte length n of a coordinate, of a scalar, of the digest and of r or s.
    pub fn field_len(self) -> usize {
        match self {
            Algorithm::Gost2015_512 => 64,
            Algorithm::Gost2015_256 | Algorithm::Gost2004 => 32,
        }
    }

    /// The message digest this algorithm signs.
    pub fn hash(self, message: &[u8]) -> Vec<u8> {
        match self {
            Algorithm::Gost2015_512 => streebog::Streebog512::digest(message).to_vec(),
            Algorithm::Gost2015_256 => streebog::Streebog256::digest(message).to_vec(),
            Algorithm::Gost2004 => gost94::Gost94Test::digest(message).to_vec(),
        }
    }

    /// Name of the curve parameter set.
    pub fn curve_name(self) -> &'static str {
        match self {
            Algorithm::Gost2015_512 => TC26_512_A.name,
            Algorithm::Gost2015_256 => TC26_256_A.name,
            Algorithm::Gost2004 => CRYPTOPRO_A.name,
        }
    }
}

fn curve_512a() -> &'static Curve512A {
    static C: OnceLock<Curve512A> = OnceLock::new();
    C.get_or_init(|| Curve512A::new(&TC26_512_A))
}

fn curve_256a() -> &'static Curve256A {
    static C: OnceLock<Curve256A> = OnceLock::new();
    C.get_or_init(|| Curve256A::new(&TC26_256_A))
}

fn curve_cryptopro_a() -> &'static CurveCryptoProA {
    static C: OnceLock<CurveCryptoProA> = OnceLock::new();
    C.get_or_init(|| CurveCryptoProA::new(&CRYPTOPRO_A))
}

/// Runs `$body` with `$c` bound to the algorithm's curve (the curves differ in size, so this is
/// a macro rather than a function returning one type).
macro_rules! with_curve {
    ($alg:expr, |$c:ident| $body:expr) => {
        match $alg {
            Algorithm::Gost2015_512 => {
                let $c = curve_512a();
                $body
            }
            Algorithm::Gost2015_256 => {
                let $c = curve_256a();
                $body
            }
            Algorithm::Gost2004 => {
                let $c = curve_cryptopro_a();
                $body
            }
        }
    };
}

/// Little-endian bytes of exactly `Uint::<L>::BYTES` to an integer (`None` on another length).
fn uint_le<const L: usize>(bytes: &[u8]) -> Option<Uint<L>> {
    (bytes.len() == Uint::<L>::BYTES).then(|| Uint::from_le_slice(bytes))
}

/// An integer to little-endian bytes.
fn uint_to_le<const L: usize>(v: &Uint<L>) -> Vec<u8> {
    v.as_words().iter().flat_map(|w| w.to_le_bytes()).collect()
}

/// A GOST public key (the point, in NCA's x‖y little-endian form).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublicKey {
    algorithm: Algorithm,
    xy_le: Vec<u8>,
}

impl PublicKey {
    /// Parses a DER SubjectPublicKeyInfo: algorithm OID, parameters
    /// `SEQUENCE { paramSet OID, hashParams OID OPTIONAL }`, BIT STRING holding
    /// `OCTET STRING(x‖y)` (little-endian). Checks the point is on the curve.
    pub fn from_spki_der(spki_der: &[u8]) -> Result<Self, GostError> {
        let spki =
            SubjectPublicKeyInfoRef::from_der(spki_der).map_err(|_| GostError::BadPublicKey)?;
        let key_oid = spki.algorithm.oid;
        let algorithm = Algorithm::from_key_oid(&key_oid)
            .ok_or(GostError::UnknownAlgorithm { oid: key_oid })?;
        let params = spki
            .algorithm
            .parameters
            .as_ref()
            .ok_or(GostError::MissingKeyParameters)?;
        if params.tag() != der::Tag::Sequence {
            return Err(GostError::MissingKeyParameters);
        }
        let mut oids_found = Vec::new();
        let content = params.value();
        let mut pos = 0;
        while pos < content.len() {
            let t = der_util::read_tlv(content, pos).ok_or(GostError::BadPublicKey)?;
            if t.tag != 0x06 || oids_found.len() >= 3 {
                return Err(GostError::BadPublicKey);
            }
            let oid = ObjectIdentifier::from_bytes(t.content(content))
                .map_err(|_| GostError::BadPublicKey)?;
            oids_found.push(oid);
            pos = t.end;
        }
        let param_set = *oids_found.first().ok_or(GostError::MissingKeyParameters)?;
        if param_set != algorithm.param_set_oid() {
            return Err(GostError::UnknownParameterSet { oid: param_set });
        }
        if let Some(hash) = oids_found.get(1)
            && *hash != algorithm.key_digest_params_oid()
        {
            return Err(GostError::UnknownDigestParameters { oid: *hash });
        }
        let bits = spki
            .subject_public_key
            .as_bytes()
            .ok_or(GostError::BadPublicKey)?;
        let octets = der_util::read_tlv(bits, 0).ok_or(GostError::BadPublicKey)?;
        if octets.tag != 0x04 || octets.end != bits.len() {
            return Err(GostError::BadPublicKey);
        }
        Self::from_le_bytes(algorithm, octets.content(bits))
    }

    /// From NCA's raw x‖y (each little-endian), checking the point is on the curve and not the
    /// identity.
    pub fn from_le_bytes(algorithm: Algorithm, xy_le: &[u8]) -> Result<Self, GostError> {
        let n = algorithm.field_len();
        if xy_le.len() != 2 * n {
            return Err(GostError::BadPublicKeyLength {
                expected: 2 * n,
                found: xy_le.len(),
            });
        }
        let (x, y) = xy_le.split_at(n);
        let on_curve = with_curve!(algorithm, |c| {
            match (uint_le(x), uint_le(y)) {
                (Some(x), Some(y)) => c.point(&x, &y).is_some(),
                _ => false,
            }
        });
        if !on_curve {
            return Err(GostError::PublicKeyNotOnCurve);
        }
        Ok(PublicKey {
            algorithm,
            xy_le: xy_le.to_vec(),
        })
    }

    /// The algorithm (and thereby the curve) of this key.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// x‖y, each little-endian (the content of the SPKI's OCTET STRING).
    pub fn as_le_bytes(&self) -> &[u8] {
        &self.xy_le
    }

    /// DER SubjectPublicKeyInfo in NCA's form (for the test PKI).
    pub fn to_spki_der(&self) -> Vec<u8> {
        let alg = self.algorithm;
        let params = der_tlv(
            0x30,
            &[
                der_tlv(0x06, alg.param_set_oid().as_bytes()),
                der_tlv(0x06, alg.key_digest_params_oid().as_bytes()),
            ]
            .concat(),
        );
        let alg_id = der_tlv(
            0x30,
            &[der_tlv(0x06, alg.key_oid().as_bytes()), params].concat(),
        );
        let mut bits = vec![0u8];
        bits.extend(der_tlv(0x04, &self.xy_le));
        der_tlv(0x30, &[alg_id, der_tlv(0x03, &bits)].concat())
    }

    /// Verifies an NCA signature value (r‖s little-endian) over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<(), GostError> {
        self.verify_digest(&self.algorithm.hash(message), signature)
    }

    /// Verifies an NCA signature value over a precomputed digest (GOST 34.10-2015 §6.2).
    pub fn verify_digest(&self, digest: &[u8], signature: &[u8]) -> Result<(), GostError> {
        let n = self.algorithm.field_len();
        if signature.len() != 2 * n {
            return Err(GostError::BadSignatureLength {
                expected: 2 * n,
                found: signature.len(),
            });
        }
        let (r, s) = signature.split_at(n);
        let (x, y) = self.xy_le.split_at(n);
        with_curve!(self.algorithm, |c| {
            let (Some(r), Some(s), Some(h)) = (uint_le(r), uint_le(s), uint_le(digest)) else {
                return Err(GostError::BadSignatureLength {
                    expected: 2 * n,
                    found: signature.len(),
                });
            };
            // §6.2 step 1: 0 < r < q and 0 < s < q.
            if !c.is_scalar(&r) || !c.is_scalar(&s) {
                return Err(GostError::SignatureOutOfRange);
            }
            let point = match (uint_le(x), uint_le(y)) {
                (Some(x), Some(y)) => c.point(&x, &y),
                _ => None,
            }
            .ok_or(GostError::PublicKeyNotOnCurve)?;
            // §6.2 steps 2–3: e = α mod q (α = digest read little-endian), 0 → 1.
            let e = c.reduce_e(&h);
            if c.verify(&point, &e, &r, &s) {
                Ok(())
            } else {
                Err(GostError::InvalidSignature)
            }
        })
    }
}

/// A GOST private key (the scalar d). No `Debug`, zeroized on drop.
pub struct PrivateKey {
    algorithm: Algorithm,
    d_le: Zeroizing<Vec<u8>>,
}

impl PrivateKey {
    /// From the scalar as little-endian bytes (NCA PKCS#8 form), exactly n bytes, 0 < d < q.
    pub fn from_le_bytes(algorithm: Algorithm, d_le: &[u8]) -> Result<Self, GostError> {
        let ok = with_curve!(algorithm, |c| {
            match uint_le(d_le) {
                Some(mut d) => {
                    let ok = c.is_scalar(&d);
                    d.as_words_mut().zeroize();
                    ok
                }
                None => false,
            }
        });
        if !ok {
            return Err(GostError::BadPrivateKey);
        }
        Ok(PrivateKey {
            algorithm,
            d_le: Zeroizing::new(d_le.to_vec()),
        })
    }

    /// A fresh key from the OS random generator.
    pub fn generate(algorithm: Algorithm) -> Result<Self, GostError> {
        let d = with_curve!(algorithm, |c| random_scalar(c)?);
        Ok(PrivateKey { algorithm, d_le: d })
    }

    /// The algorithm of this key.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The scalar, little-endian (for writing key containers; handle with care).
    pub fn to_le_bytes(&self) -> Zeroizing<Vec<u8>> {
        self.d_le.clone()
    }

    /// Q = d·P (constant time in d).
    pub fn public_key(&self) -> Result<PublicKey, GostError> {
        let xy = with_curve!(self.algorithm, |c| {
            let mut d = uint_le(&self.d_le).ok_or(GostError::BadPrivateKey)?;
            let q = c.public_key(&d);
            d.as_words_mut().zeroize();
            let (x, y) = q.ok_or(GostError::BadPrivateKey)?;
            [uint_to_le(&x), uint_to_le(&y)].concat()
        });
        Ok(PublicKey {
            algorithm: self.algorithm,
            xy_le: xy,
        })
    }

    /// Signs `message`: NCA signature value r‖s, each little-endian.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, GostError> {
        self.sign_digest(&self.algorithm.hash(message))
    }

    /// Signs a precomputed digest (GOST 34.10-2015 §6.1) with k from the OS random generator.
    pub fn sign_digest(&self, digest: &[u8]) -> Result<Vec<u8>, GostError> {
        with_curve!(self.algorithm, |c| {
            let h = uint_le(digest).ok_or(GostError::BadSignatureLength {
                expected: self.algorithm.field_len(),
                found: digest.len(),
            })?;
            let e = c.reduce_e(&h);
            let mut d = uint_le(&self.d_le).ok_or(GostError::BadPrivateKey)?;
            // §6.1 steps 3–6: retry with a fresh k while r = 0 or s = 0 (probability ≈ 2/q).
            let result = loop {
                let k_le = random_scalar(c)?;
                let Some(mut k) = uint_le(&k_le) else {
                    break Err(GostError::RandomUnavailable);
                };
                let rs = c.sign_with_k(&d, &e, &k);
                k.as_words_mut().zeroize();
                if let Some((r, s)) = rs {
                    break Ok([uint_to_le(&r), uint_to_le(&s)].concat());
                }
            };
            d.as_words_mut().zeroize();
            result
        })
    }
}

/// A uniformly random scalar in 1..q−1 (little-endian), by rejection sampling on
/// `bits(q)`-bit candidates from the OS generator.
fn random_scalar<P: ConstMontyParams<L>, Q: ConstMontyParams<L>, const L: usize>(
    c: &Curve<P, Q, L>,
) -> Result<Zeroizing<Vec<u8>>, GostError> {
    let q_bits = c.order().bits_vartime();
    let shift = Uint::<L>::BITS - q_bits;
    let mut buf = Zeroizing::new(vec![0u8; Uint::<L>::BYTES]);
    // Each round succeeds with probability > 1/2; 128 failures in a row means a broken RNG.
    for _ in 0..128 {
        getrandom::fill(&mut buf).map_err(|_| GostError::RandomUnavailable)?;
        let mut k = Uint::<L>::from_le_slice(&buf).shr_vartime(shift);
        let ok = c.is_scalar(&k);
        let out = Zeroizing::new(uint_to_le(&k));
        k.as_words_mut().zeroize();
        if ok {
            return Ok(out);
        }
    }
    Err(GostError::RandomUnavailable)
}

/// One DER TLV with a definite length.
fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    let len_bytes: Vec<u8> = len
        .to_be_bytes()
        .into_iter()
        .skip_while(|b| *b == 0)
        .collect();
    match u8::try_from(len) {
        Ok(l) if l < 0x80 => out.push(l),
        _ => {
            // At most size_of::<usize>() (≤ 16) length octets: fits in the 7-bit count.
            out.push(0x80 | u8::try_from(len_bytes.len()).unwrap_or(0x7f));
            out.extend_from_slice(&len_bytes);
        }
    }
    out.extend_from_slice(content);
    out
}

/// True for GOST signature and key OIDs (arc 1.2.398.3.10.1.1).
pub fn is_gost_oid(oid: &ObjectIdentifier) -> bool {
    // DER of 1.2.398.3.10.1.1; the last octet ends a sub-identifier, so a byte-prefix match is an
    // arc match.
    const ARC: &[u8] = &[0x2a, 0x83, 0x0e, 0x03, 0x0a, 0x01, 0x01];
    oid.as_bytes().len() > ARC.len() && oid.as_bytes().starts_with(ARC)
}

/// Verifies a GOST signature: `alg_oid` is the signature algorithm, `spki_der` the signer's DER
/// SubjectPublicKeyInfo, `signature` NCA's r‖s little-endian value.
pub fn verify(
    alg_oid: &ObjectIdentifier,
    spki_der: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<(), GostError> {
    let alg = Algorithm::from_signature_oid(alg_oid)
        .ok_or(GostError::UnknownAlgorithm { oid: *alg_oid })?;
    let key = PublicKey::from_spki_der(spki_der)?;
    if key.algorithm() != alg {
        return Err(GostError::KeyAlgorithmMismatch {
            signature: *alg_oid,
            key: key.algorithm().key_oid(),
        });
    }
    key.verify(message, signature)
}

/// Signs `message` with `key`: NCA signature value r‖s, each little-endian; the signature
/// algorithm OID is `key.algorithm().signature_oid()`.
pub fn sign(key: &PrivateKey, message: &[u8]) -> Result<Vec<u8>, GostError> {
    key.sign(message)
}

/// GOST digest by OID: 1.2.398.3.10.1.3.1 (GOST 34.311-95, Test S-box), .3.2 (Streebog-256),
/// .3.3 (Streebog-512).
pub fn digest(oid: &ObjectIdentifier, data: &[u8]) -> Option<Vec<u8>> {
    match *oid {
        oids::GOST34311_DIGEST => Some(Algorithm::Gost2004.hash(data)),
        oids::STREEBOG256_DIGEST => Some(Algorithm::Gost2015_256.hash(data)),
        oids::STREEBOG512_DIGEST => Some(Algorithm::Gost2015_512.hash(data)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6986 §10.1 M1 ("012345678901234567890123456789012345678901234567890123456789012").
    const M1: &[u8] = b"012345678901234567890123456789012345678901234567890123456789012";

    /// RFC 6986 §10.2 M2 (a CP1251 line of the Igor Tale), in byte order.
    const M2_HEX: &str = concat!(
        "d1e520e2e5f2f0e82c20d1f2f0e8e1eee6e820e2edf3f6e82c20e2e5fef2fa20f120eceef0ff20f1f2f0e5ebe0",
        "ece820ede020f5f0e0e1f0fbff20efebfaeafb20c8e3eef0e5e2fb"
    );

    #[track_caller]
    fn hex_of(oid: &ObjectIdentifier, data: &[u8]) -> String {
        hex::encode(digest(oid, data).expect("known digest OID"))
    }

    #[test]
    fn streebog_matches_rfc6986_m1_and_m2() {
        let m2 = hex::decode(M2_HEX).expect("hex");
        assert_eq!(
            hex_of(&oids::STREEBOG512_DIGEST, M1),
            "1b54d01a4af5b9d5cc3d86d68d285462b19abc2475222f35c085122be4ba1ffa\
             00ad30f8767b3a82384c6574f024c311e2a481332b08ef7f41797891c1646f48"
        );
        assert_eq!(
            hex_of(&oids::STREEBOG256_DIGEST, M1),
            "9d151eefd8590b89daa6ba6cb74af9275dd051026bb149a452fd84e5e57b5500"
        );
        assert_eq!(
            hex_of(&oids::STREEBOG512_DIGEST, &m2),
            "1e88e62226bfca6f9994f1f2d51569e0daf8475a3b0fe61a5300eee46d961376\
             035fe83549ada2b8620fcd7c496ce5b33f0cb9dddc2b6460143b03dabac9fb28"
        );
        assert_eq!(
            hex_of(&oids::STREEBOG256_DIGEST, &m2),
            "9dd2fe4e90409e5da87f53976d7405b0c0cac628fc669a741d50063c557e8f50"
        );
    }

    #[test]
    fn gost34311_uses_the_test_sbox_known_answers() {
        let d = oids::GOST34311_DIGEST;
        assert_eq!(
            hex_of(&d, b""),
            "ce85b99cc46752fffee35cab9a7b0278abb4c2d2055cff685af4912c49490f8d"
        );
        assert_eq!(
            hex_of(&d, b"abc"),
            "f3134348c44fb1b2a277729e2285ebb5cb5e0f29c975bc753b70497c06a4d51d"
        );
        assert_eq!(
            hex_of(&d, b"message digest"),
            "ad4434ecb18f2c99b60cbe59ec3d2469582b65273f48de72db2fde16a4889a4d"
        );
    }

    #[test]
    fn unknown_digest_oid_is_none() {
        assert_eq!(
            digest(&ObjectIdentifier::new_unwrap("1.2.398.3.10.1.3.9"), b"x"),
            None
        );
    }

    #[test]
    fn gost_arc_is_recognised_exactly() {
        for o in [
            "1.2.398.3.10.1.1.2.3.2",
            "1.2.398.3.10.1.1.1.2",
            "1.2.398.3.10.1.1.99",
        ] {
            assert!(is_gost_oid(&ObjectIdentifier::new_unwrap(o)), "{o}");
        }
        for o in [
            "1.2.398.3.10.1.1",
            "1.2.398.3.10.1.10.1",
            "1.2.398.3.10.1.3.3",
            "1.2.3",
        ] {
            assert!(!is_gost_oid(&ObjectIdentifier::new_unwrap(o)), "{o}");
        }
    }

    #[test]
    fn error_codes_are_distinct() {
        let oid = oids::GOST2004_KEY;
        let all = [
            GostError::BadPublicKey,
            GostError::BadPublicKeyLength {
                expected: 1,
                found: 2,
            },
            GostError::BadPrivateKey,
            GostError::BadSignatureLength {
                expected: 1,
                found: 2,
            },
            GostError::InvalidSignature,
            GostError::KeyAlgorithmMismatch {
                signature: oid,
                key: oid,
            },
            GostError::MissingKeyParameters,
            GostError::PublicKeyNotOnCurve,
            GostError::RandomUnavailable,
            GostError::SignatureOutOfRange,
            GostError::UnknownAlgorithm { oid },
            GostError::UnknownDigestParameters { oid },
            GostError::UnknownParameterSet { oid },
        ];
        let codes: std::collections::BTreeSet<_> = all.iter().map(GostError::code).collect();
        assert_eq!(codes.len(), all.len());
        assert!(codes.iter().all(|c| c.starts_with("gost_")));
    }

    #[test]
    fn der_tlv_uses_long_form_lengths() {
        assert_eq!(der_tlv(0x04, &[1, 2]), vec![0x04, 2, 1, 2]);
        let long = der_tlv(0x04, &[0u8; 200]);
        assert_eq!(&long[..3], &[0x04, 0x81, 200]);
        let longer = der_tlv(0x04, &[0u8; 300]);
        assert_eq!(&longer[..4], &[0x04, 0x82, 0x01, 0x2c]);
    }

    #[test]
    fn generated_keys_round_trip_for_all_three_algorithms() {
        for alg in [
            Algorithm::Gost2015_512,
            Algorithm::Gost2015_256,
            Algorithm::Gost2004,
        ] {
            let key = PrivateKey::generate(alg).expect("generate");
            let public = key.public_key().expect("public");
            let spki = public.to_spki_der();
            assert_eq!(
                PublicKey::from_spki_der(&spki).as_ref(),
                Ok(&public),
                "{alg:?}"
            );
            let sig = key.sign(b"round trip").expect("sign");
            assert_eq!(sig.len(), 2 * alg.field_len());
            assert_eq!(
                verify(&alg.signature_oid(), &spki, b"round trip", &sig),
                Ok(())
            );
            assert_eq!(
                verify(&alg.signature_oid(), &spki, b"round trip!", &sig),
                Err(GostError::InvalidSignature),
                "{alg:?}"
            );
        }
    }
}

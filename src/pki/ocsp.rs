//! OCSP responses (RFC 6960): parsing a DER `OCSPResponse` into an owned view, and checking one
//! against a certificate, its issuer, a time and the caller's options.
//!
//! Why we write this ourselves: the `ocsp` crate is dormant, and no Rust crate we looked at
//! validates responder authorisation the way RFC 6960 §4.2.2.2 requires (issuer itself, or a
//! certificate the issuer signed with id-kp-OCSPSigning, nothing else), nor accepts NCA's GOST
//! responses (the signature goes through [`super::signature::verify`], where GOST plugs in).
//!
//! Decoding uses private `der` derive types (strict DER, canonical lengths and times for free)
//! rather than hand-walking TLVs with [`super::der_util`]; `der_util` is used only to slice the
//! exact `tbsResponseData` bytes the signature covers (never a re-encoding). `x509-ocsp` is not a
//! dependency: a dozen small structs are cheaper than a crate that lags the `der` versions.
//!
//! What this module does not do: it does not build or validate the issuer's path (the caller
//! passes an issuer it already trusts), does not check the revocation status of a delegated
//! responder (NCA's responders carry id-pkix-ocsp-nocheck, RFC 6960 §4.2.2.2.1), and does not
//! fetch anything. When a response has no nextUpdate (NCA's responder never sends one,
//! ../shared/NCA.md §5) and no `max_age_secs` is set, the response is accepted as is: bounding its
//! age is the revocation policy's job (it sets `max_age_secs`).

use std::fmt;

use const_oid::ObjectIdentifier;
use der::asn1::{Any, BitString, GeneralizedTime, Null, OctetString};
use der::{Choice, Decode, Encode, Sequence, Tag, Tagged};
use spki::AlgorithmIdentifierOwned;
use x509_cert::ext::Extension;
use x509_cert::name::Name;

use super::cert::{AlgorithmId, CertError, Certificate, RawExtension, oids as cert_oids};
use super::der_util;
use super::name::DistinguishedName;
use super::signature::{self, SignatureError, SignaturePolicy};
use super::time::UnixTime;

/// Largest OCSP response we accept (bytes, DER). NCA's responses are 2–3 KB with the responder
/// certificate included; Web PKI responses are under 4 KB. 1 MiB leaves room for any honest
/// responder; PEM input may be up to twice that (base64 overhead).
pub const MAX_RESPONSE_SIZE: usize = 1024 * 1024;

/// Most SingleResponses we look at. RFC 6960 sets no bound; NCA and every browser-facing
/// responder answer one certificate per request. 64 covers batch requests.
pub const MAX_SINGLE_RESPONSES: usize = 64;

/// Most certificates embedded in `certs`. RFC 6960 §4.2.1 expects the responder certificate and
/// perhaps its chain: NCA sends one; 8 is generous and bounds the signature checks we do.
pub const MAX_CERTS: usize = 8;

/// Most extensions per extension list (responseExtensions or singleExtensions). RFC 6960 §4.4
/// defines 8 kinds; NCA sends 2.
pub const MAX_EXTENSIONS: usize = 32;

/// Default clock skew allowance (seconds) for thisUpdate/nextUpdate checks.
pub const DEFAULT_CLOCK_SKEW_SECS: u64 = 300;

/// OIDs of RFC 6960 (and friends).
pub mod oids {
    use const_oid::ObjectIdentifier;
    macro_rules! oid {
        ($name:ident, $s:expr, $doc:expr) => {
            #[doc = $doc]
            pub const $name: ObjectIdentifier = ObjectIdentifier::new_unwrap($s);
        };
    }
    oid!(OCSP_BASIC, "1.3.6.1.5.5.7.48.1.1", "id-pkix-ocsp-basic");
    oid!(OCSP_NONCE, "1.3.6.1.5.5.7.48.1.2", "id-pkix-ocsp-nonce");
    oid!(OCSP_CRL, "1.3.6.1.5.5.7.48.1.3", "id-pkix-ocsp-crl");
    oid!(
        OCSP_ARCHIVE_CUTOFF,
        "1.3.6.1.5.5.7.48.1.6",
        "id-pkix-ocsp-archive-cutoff"
    );
    oid!(
        OCSP_EXTENDED_REVOKE,
        "1.3.6.1.5.5.7.48.1.9",
        "id-pkix-ocsp-extended-revoke (NCA sends it, NULL)"
    );
    oid!(CRL_REASON, "2.5.29.21", "id-ce-cRLReasons");
    oid!(INVALIDITY_DATE, "2.5.29.24", "id-ce-invalidityDate");
    oid!(CT_SCT_LIST, "1.3.6.1.4.1.11129.2.4.5", "CT OCSP SCT list");
}

pub use super::reason::RevocationReason;

/// Why a delegated (or absent) responder was not accepted (RFC 6960 §4.2.2.2).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResponderProblem {
    /// The ResponderID names neither the issuer nor any certificate in `certs`.
    NotFound,
    /// The responder certificate's issuer name is not the certificate's issuer.
    NotIssuedByIssuer {
        /// The responder certificate's issuer.
        responder_issuer: String,
    },
    /// The responder certificate names the issuer, but the issuer's signature on it fails.
    IssuerSignatureInvalid {
        /// What the verifier said.
        error: SignatureError,
    },
    /// The responder certificate is not valid at the validation time.
    NotValidAt {
        /// notBefore of the responder certificate.
        not_before: UnixTime,
        /// notAfter of the responder certificate.
        not_after: UnixTime,
    },
    /// The responder certificate's extKeyUsage lacks id-kp-OCSPSigning.
    MissingOcspSigningEku,
}

impl fmt::Display for ResponderProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotFound => f.write_str(
                "the ResponderID names neither the issuing CA nor a certificate in the response",
            ),
            Self::NotIssuedByIssuer { responder_issuer } => write!(
                f,
                "the responder certificate is issued by {responder_issuer}, not by the issuing CA"
            ),
            Self::IssuerSignatureInvalid { error } => {
                write!(
                    f,
                    "the issuing CA's signature on the responder certificate fails: {error}"
                )
            }
            Self::NotValidAt {
                not_before,
                not_after,
            } => write!(
                f,
                "the responder certificate is valid only from {not_before} to {not_after}"
            ),
            Self::MissingOcspSigningEku => {
                f.write_str("the responder certificate lacks extKeyUsage id-kp-OCSPSigning")
            }
        }
    }
}

/// Why an OCSP response was refused, or what it said instead of a status.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum OcspError {
    /// A certificate in `certs` does not parse.
    BadCertificate {
        /// Its position in `certs`.
        index: usize,
        /// What the certificate parser said.
        error: CertError,
    },
    /// The response signature does not verify with the responder's key (or its algorithm is
    /// refused by policy, e.g. SHA-1).
    BadSignature {
        /// What the verifier said.
        error: SignatureError,
    },
    /// A SingleResponse names the certificate's serial, but its issuerNameHash/issuerKeyHash
    /// are not those of the given issuer (RFC 6960 §4.1.1, §3.2 (1)).
    CertIdMismatch {
        /// Serial (hex) of the certificate being checked.
        serial: String,
    },
    /// nextUpdate (plus the clock skew) is before the validation time (RFC 6960 §3.2 (5)).
    Expired {
        /// nextUpdate of the SingleResponse.
        next_update: UnixTime,
        /// Validation time.
        at: UnixTime,
    },
    /// responseStatus internalError (2): the responder failed.
    InternalError,
    /// The given issuer's subject is not the certificate's issuer name.
    IssuerMismatch {
        /// The certificate's issuer name.
        cert_issuer: String,
        /// The given issuer certificate's subject.
        issuer_subject: String,
    },
    /// Not a DER (or PEM) OCSPResponse, or a field breaks RFC 6960 §4.2.1 syntax.
    Malformed {
        /// What was wrong.
        detail: String,
    },
    /// responseStatus malformedRequest (1): the responder could not parse our request.
    MalformedRequest,
    /// No SingleResponse is about this certificate (RFC 6960 §3.2 (1)).
    NoMatchingResponse {
        /// Serial (hex) of the certificate being checked.
        serial: String,
    },
    /// The response nonce differs from the request's (RFC 8954, RFC 6960 §4.4.1).
    NonceMismatch,
    /// A nonce was expected but the response carries none.
    NonceMissing,
    /// thisUpdate is after the validation time plus the clock skew (RFC 6960 §3.2 (4)).
    NotYetValid {
        /// thisUpdate of the SingleResponse.
        this_update: UnixTime,
        /// Validation time.
        at: UnixTime,
    },
    /// responseStatus sigRequired (5): the responder wants a signed request.
    SigRequired,
    /// The input is larger than [`MAX_RESPONSE_SIZE`].
    TooLarge {
        /// Size received.
        size: usize,
    },
    /// More elements than our budget allows.
    TooMany {
        /// What was counted: "responses", "certs" or "extensions".
        what: &'static str,
        /// How many were received.
        count: usize,
        /// The budget.
        max: usize,
    },
    /// thisUpdate is older than the policy's maximum age.
    TooOld {
        /// thisUpdate of the SingleResponse.
        this_update: UnixTime,
        /// Validation time.
        at: UnixTime,
        /// The policy's maximum age.
        max_age_secs: u64,
    },
    /// responseStatus tryLater (3): retry later (the revocation layer retries on this one).
    TryLater,
    /// responseStatus unauthorized (6): the responder will not answer for this certificate.
    Unauthorized,
    /// The signer is not authorised for this issuer (RFC 6960 §4.2.2.2).
    UnauthorizedResponder {
        /// The responder as named by its ResponderID.
        responder: String,
        /// Why it was refused.
        problem: ResponderProblem,
    },
    /// A critical extension we do not understand (RFC 6960 §4.4, RFC 5280 §4.2).
    UnknownCriticalExtension {
        /// The extension.
        oid: ObjectIdentifier,
    },
    /// responseStatus outside RFC 6960 §4.2.1's list.
    UnknownResponseStatus {
        /// The value received.
        value: u8,
    },
    /// The CertID hash algorithm is not one we compute.
    UnsupportedCertIdHash {
        /// Its OID.
        oid: ObjectIdentifier,
    },
    /// responseType is not id-pkix-ocsp-basic (RFC 6960 §4.2.1).
    UnsupportedResponseType {
        /// Its OID.
        oid: ObjectIdentifier,
    },
    /// ResponseData version other than v1 (RFC 6960 §4.2.1).
    UnsupportedVersion {
        /// The version number as encoded (0 = v1).
        version: u8,
    },
}

impl OcspError {
    /// Stable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadCertificate { .. } => "ocsp_bad_embedded_certificate",
            Self::BadSignature { .. } => "ocsp_bad_signature",
            Self::CertIdMismatch { .. } => "ocsp_certid_mismatch",
            Self::Expired { .. } => "ocsp_expired",
            Self::InternalError => "ocsp_internal_error",
            Self::IssuerMismatch { .. } => "ocsp_issuer_mismatch",
            Self::Malformed { .. } => "ocsp_malformed",
            Self::MalformedRequest => "ocsp_malformed_request",
            Self::NoMatchingResponse { .. } => "ocsp_no_matching_response",
            Self::NonceMismatch => "ocsp_nonce_mismatch",
            Self::NonceMissing => "ocsp_nonce_missing",
            Self::NotYetValid { .. } => "ocsp_not_yet_valid",
            Self::SigRequired => "ocsp_sig_required",
            Self::TooLarge { .. } => "ocsp_too_large",
            Self::TooMany { .. } => "ocsp_over_budget",
            Self::TooOld { .. } => "ocsp_too_old",
            Self::TryLater => "ocsp_try_later",
            Self::Unauthorized => "ocsp_unauthorized",
            Self::UnauthorizedResponder { .. } => "ocsp_unauthorized_responder",
            Self::UnknownCriticalExtension { .. } => "ocsp_unknown_critical_extension",
            Self::UnknownResponseStatus { .. } => "ocsp_unknown_response_status",
            Self::UnsupportedCertIdHash { .. } => "ocsp_unsupported_certid_hash",
            Self::UnsupportedResponseType { .. } => "ocsp_unsupported_response_type",
            Self::UnsupportedVersion { .. } => "ocsp_unsupported_version",
        }
    }
}

impl fmt::Display for OcspError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadCertificate { index, error } => {
                write!(f, "certificate #{index} in the OCSP response: {error}")
            }
            Self::BadSignature { error } => write!(f, "OCSP response signature: {error}"),
            Self::CertIdMismatch { serial } => write!(
                f,
                "the OCSP response for serial {serial} is about another issuer (CertID hashes differ)"
            ),
            Self::Expired { next_update, at } => {
                write!(
                    f,
                    "OCSP response expired: nextUpdate {next_update} is before {at}"
                )
            }
            Self::InternalError => f.write_str("the OCSP responder reported an internal error"),
            Self::IssuerMismatch {
                cert_issuer,
                issuer_subject,
            } => write!(
                f,
                "the certificate is issued by {cert_issuer}, but the issuer given is {issuer_subject}"
            ),
            Self::Malformed { detail } => write!(f, "malformed OCSP response: {detail}"),
            Self::MalformedRequest => f.write_str("the OCSP responder could not parse the request"),
            Self::NoMatchingResponse { serial } => {
                write!(f, "the OCSP response says nothing about serial {serial}")
            }
            Self::NonceMismatch => {
                f.write_str("the OCSP response nonce differs from the request's")
            }
            Self::NonceMissing => f.write_str("the OCSP response carries no nonce"),
            Self::NotYetValid { this_update, at } => {
                write!(
                    f,
                    "OCSP response not yet valid: thisUpdate {this_update} is after {at}"
                )
            }
            Self::SigRequired => f.write_str("the OCSP responder requires a signed request"),
            Self::TooLarge { size } => write!(f, "OCSP response of {size} bytes is too large"),
            Self::TooMany { what, count, max } => {
                write!(
                    f,
                    "OCSP response holds {count} {what}, more than the {max} we accept"
                )
            }
            Self::TooOld {
                this_update,
                at,
                max_age_secs,
            } => write!(
                f,
                "OCSP response too old: thisUpdate {this_update} is more than {max_age_secs} s before {at}"
            ),
            Self::TryLater => f.write_str("the OCSP responder asks to try later"),
            Self::Unauthorized => {
                f.write_str("the OCSP responder refuses to answer (unauthorized)")
            }
            Self::UnauthorizedResponder { responder, problem } => {
                write!(f, "OCSP responder {responder} is not authorised: {problem}")
            }
            Self::UnknownCriticalExtension { oid } => {
                write!(f, "OCSP response has an unknown critical extension {oid}")
            }
            Self::UnknownResponseStatus { value } => {
                write!(f, "unknown OCSP responseStatus {value}")
            }
            Self::UnsupportedCertIdHash { oid } => {
                write!(f, "unsupported CertID hash algorithm {oid}")
            }
            Self::UnsupportedResponseType { oid } => {
                write!(f, "unsupported OCSP responseType {oid}")
            }
            Self::UnsupportedVersion { version } => {
                write!(f, "unsupported OCSP ResponseData version {version}")
            }
        }
    }
}

impl std::error::Error for OcspError {}

fn malformed(detail: impl Into<String>) -> OcspError {
    OcspError::Malformed {
        detail: detail.into(),
    }
}

fn der_err(what: &'static str) -> impl Fn(der::Error) -> OcspError {
    move |e| malformed(format!("{what}: {e}"))
}

// ---------------------------------------------------------------------------------------------
// ASN.1 (RFC 6960 §4.2.1, Appendix B.1), private derive types.

/// OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED, responseBytes [0] EXPLICIT OPTIONAL }
#[derive(Sequence)]
struct RawOcspResponse {
    status: Any,
    #[asn1(context_specific = "0", optional = "true")]
    response_bytes: Option<RawResponseBytes>,
}

/// ResponseBytes ::= SEQUENCE { responseType OBJECT IDENTIFIER, response OCTET STRING }
#[derive(Sequence)]
struct RawResponseBytes {
    response_type: ObjectIdentifier,
    response: OctetString,
}

/// BasicOCSPResponse; tbsResponseData is decoded separately from its exact bytes.
#[derive(Sequence)]
struct RawBasic {
    tbs_response_data: Any,
    signature_algorithm: AlgorithmIdentifierOwned,
    signature: BitString,
    #[asn1(context_specific = "0", optional = "true")]
    certs: Option<Vec<Any>>,
}

/// ResponseData (version is `[0] EXPLICIT Version DEFAULT v1`; an explicit v1 is tolerated).
#[derive(Sequence)]
struct RawResponseData {
    #[asn1(context_specific = "0", optional = "true")]
    version: Option<u8>,
    responder_id: RawResponderId,
    produced_at: GeneralizedTime,
    responses: Vec<RawSingleResponse>,
    #[asn1(context_specific = "1", optional = "true")]
    extensions: Option<Vec<Extension>>,
}

/// ResponderID ::= CHOICE { byName [1] Name, byKey [2] KeyHash } (explicit: Name is a CHOICE).
#[derive(Choice)]
enum RawResponderId {
    #[asn1(context_specific = "1", tag_mode = "EXPLICIT", constructed = "true")]
    ByName(Name),
    #[asn1(context_specific = "2", tag_mode = "EXPLICIT", constructed = "true")]
    ByKey(OctetString),
}

#[derive(Sequence)]
struct RawCertId {
    hash_algorithm: AlgorithmIdentifierOwned,
    issuer_name_hash: OctetString,
    issuer_key_hash: OctetString,
    serial_number: Any,
}

#[derive(Sequence)]
struct RawSingleResponse {
    cert_id: RawCertId,
    cert_status: RawCertStatus,
    this_update: GeneralizedTime,
    #[asn1(context_specific = "0", optional = "true")]
    next_update: Option<GeneralizedTime>,
    #[asn1(context_specific = "1", optional = "true")]
    single_extensions: Option<Vec<Extension>>,
}

#[derive(Choice)]
enum RawCertStatus {
    #[asn1(context_specific = "0", tag_mode = "IMPLICIT")]
    Good(Null),
    #[asn1(context_specific = "1", tag_mode = "IMPLICIT", constructed = "true")]
    Revoked(RawRevokedInfo),
    #[asn1(context_specific = "2", tag_mode = "IMPLICIT")]
    Unknown(Null),
}

#[derive(Sequence)]
struct RawRevokedInfo {
    revocation_time: GeneralizedTime,
    #[asn1(context_specific = "0", optional = "true")]
    revocation_reason: Option<Any>,
}

// ---------------------------------------------------------------------------------------------
// The owned view.

/// ResponderID (RFC 6960 §4.2.2.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ResponderId {
    /// byName: the responder's subject name.
    ByName(DistinguishedName),
    /// byKey: SHA-1 of the responder's subjectPublicKey bits.
    ByKey(Vec<u8>),
}

impl ResponderId {
    /// True if `cert` is the certificate this ResponderID names.
    pub fn names(&self, cert: &Certificate) -> bool {
        match self {
            ResponderId::ByName(n) => n.matches(&cert.subject),
            ResponderId::ByKey(k) => {
                signature::digest(&signature::oids::SHA1, &cert.public_key).as_deref()
                    == Some(k.as_slice())
            }
        }
    }

    /// For logs: the name, or `key:<hex>`.
    pub fn to_display_string(&self) -> String {
        match self {
            ResponderId::ByName(n) => n.to_display_string(),
            ResponderId::ByKey(k) => format!("key:{}", hex::encode(k)),
        }
    }
}

/// CertID (RFC 6960 §4.1.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertId {
    /// hashAlgorithm.
    pub hash_algorithm: AlgorithmId,
    /// Hash of the issuer's DER name.
    pub issuer_name_hash: Vec<u8>,
    /// Hash of the issuer's subjectPublicKey bits.
    pub issuer_key_hash: Vec<u8>,
    /// serialNumber content octets as encoded.
    pub serial: Vec<u8>,
}

impl CertId {
    /// Serial in upper-case hex, leading zero octets stripped (as `Certificate::serial_hex`
    /// prints it for positive serials).
    pub fn serial_hex(&self) -> String {
        hex::encode_upper(strip_zeros(&self.serial))
    }
}

/// certStatus (RFC 6960 §4.2.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertStatus {
    /// good
    Good,
    /// revoked
    Revoked {
        /// revocationTime.
        time: UnixTime,
        /// revocationReason, when given.
        reason: Option<RevocationReason>,
    },
    /// unknown
    Unknown,
}

/// One SingleResponse.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SingleResponse {
    /// certID.
    pub cert_id: CertId,
    /// certStatus.
    pub status: CertStatus,
    /// thisUpdate.
    pub this_update: UnixTime,
    /// nextUpdate (NCA never sends it).
    pub next_update: Option<UnixTime>,
    /// singleExtensions as received.
    pub extensions: Vec<RawExtension>,
}

/// A parsed, successful, basic OCSP response. Nothing in it is trusted until [`check`] says so.
#[derive(Clone, PartialEq, Eq)]
pub struct OcspResponse {
    tbs: Vec<u8>,
    nonce: Option<Vec<u8>>,
    /// ResponseData.version (0 = v1).
    pub version: u8,
    /// responderID.
    pub responder_id: ResponderId,
    /// producedAt.
    pub produced_at: UnixTime,
    /// responses.
    pub responses: Vec<SingleResponse>,
    /// responseExtensions as received (the nonce among them).
    pub extensions: Vec<RawExtension>,
    /// signatureAlgorithm.
    pub signature_algorithm: AlgorithmId,
    /// signature bits.
    pub signature: Vec<u8>,
    /// certs (the responder certificate and perhaps its chain).
    pub certs: Vec<Certificate>,
}

impl fmt::Debug for OcspResponse {
    // No nonce, no raw bytes in logs (STYLE.md §8).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OcspResponse")
            .field("responder_id", &self.responder_id.to_display_string())
            .field("produced_at", &self.produced_at)
            .field("responses", &self.responses)
            .field("certs", &self.certs)
            .finish_non_exhaustive()
    }
}

impl OcspResponse {
    /// Parses an `OCSPResponse` (DER, or PEM of any label). A non-successful responseStatus is
    /// returned as its named error ([`OcspError::TryLater`] and friends).
    pub fn parse(input: &[u8]) -> Result<OcspResponse, OcspError> {
        if input.len() > MAX_RESPONSE_SIZE * 2 {
            return Err(OcspError::TooLarge { size: input.len() });
        }
        let (_, der) = der_util::pem_or_der(input).map_err(der_err("PEM"))?;
        Self::from_der(&der)
    }

    /// Parses DER bytes.
    pub fn from_der(der: &[u8]) -> Result<OcspResponse, OcspError> {
        if der.len() > MAX_RESPONSE_SIZE {
            return Err(OcspError::TooLarge { size: der.len() });
        }
        let outer = RawOcspResponse::from_der(der).map_err(der_err("OCSPResponse"))?;

        // RFC 6960 §4.2.1: OCSPResponseStatus ::= ENUMERATED.
        if outer.status.tag() != Tag::Enumerated {
            return Err(malformed("responseStatus is not ENUMERATED"));
        }
        let status = match outer.status.value() {
            [v] => *v,
            _ => return Err(malformed("responseStatus out of range")),
        };
        let unsuccessful = match status {
            0 => None,
            1 => Some(OcspError::MalformedRequest),
            2 => Some(OcspError::InternalError),
            3 => Some(OcspError::TryLater),
            5 => Some(OcspError::SigRequired),
            6 => Some(OcspError::Unauthorized),
            value => return Err(OcspError::UnknownResponseStatus { value }),
        };
        let bytes = match (unsuccessful, outer.response_bytes) {
            // §4.2.1: "If the value of responseStatus is one of the error conditions,
            // the responseBytes field is not set." A body on an error is not to be trusted
            // (Botan's tryLater-with-body case): refuse it rather than retry on it.
            (Some(_), Some(_)) => {
                return Err(malformed(
                    "responseBytes present with an error responseStatus",
                ));
            }
            (Some(e), None) => return Err(e),
            (None, None) => return Err(malformed("successful response without responseBytes")),
            (None, Some(b)) => b,
        };
        if bytes.response_type != oids::OCSP_BASIC {
            return Err(OcspError::UnsupportedResponseType {
                oid: bytes.response_type,
            });
        }
        Self::from_basic_der(bytes.response.as_bytes())
    }

    fn from_basic_der(basic_der: &[u8]) -> Result<OcspResponse, OcspError> {
        let basic = RawBasic::from_der(basic_der).map_err(der_err("BasicOCSPResponse"))?;
        // The signature covers tbsResponseData exactly as received (RFC 6960 §4.2.1).
        let tbs = der_util::first_child(basic_der)
            .ok_or_else(|| malformed("tbsResponseData"))?
            .to_vec();
        let data = RawResponseData::from_der(&tbs).map_err(der_err("ResponseData"))?;
        let version = data.version.unwrap_or(0);
        if version != 0 {
            return Err(OcspError::UnsupportedVersion { version });
        }
        let responder_id = match &data.responder_id {
            RawResponderId::ByName(n) => ResponderId::ByName(
                DistinguishedName::from_name(n).map_err(der_err("responderID"))?,
            ),
            RawResponderId::ByKey(k) => ResponderId::ByKey(k.as_bytes().to_vec()),
        };
        if data.responses.len() > MAX_SINGLE_RESPONSES {
            return Err(OcspError::TooMany {
                what: "responses",
                count: data.responses.len(),
                max: MAX_SINGLE_RESPONSES,
            });
        }
        let mut responses = Vec::with_capacity(data.responses.len());
        for r in &data.responses {
            responses.push(convert_single(r)?);
        }
        let extensions = convert_extensions(data.extensions.as_deref(), &RESPONSE_EXTENSIONS)?;
        let nonce = extensions
            .iter()
            .find(|e| e.oid == oids::OCSP_NONCE)
            .map(|e| e.value.clone());

        let raw_certs = basic.certs.unwrap_or_default();
        if raw_certs.len() > MAX_CERTS {
            return Err(OcspError::TooMany {
                what: "certs",
                count: raw_certs.len(),
                max: MAX_CERTS,
            });
        }
        let mut certs = Vec::with_capacity(raw_certs.len());
        for (index, c) in raw_certs.iter().enumerate() {
            // `Any` re-encodes its own header and value: for DER input these are the bytes
            // received (the decoder refused any non-canonical length).
            let der = c.to_der().map_err(der_err("certs"))?;
            certs.push(
                Certificate::from_der(der)
                    .map_err(|error| OcspError::BadCertificate { index, error })?,
            );
        }
        Ok(OcspResponse {
            tbs,
            nonce,
            version,
            responder_id,
            produced_at: time(&data.produced_at),
            responses,
            extensions,
            signature_algorithm: AlgorithmId::from_spki(&basic.signature_algorithm)
                .map_err(der_err("signatureAlgorithm"))?,
            signature: basic
                .signature
                .as_bytes()
                .ok_or_else(|| malformed("signature has unused bits"))?
                .to_vec(),
            certs,
        })
    }

    /// The exact tbsResponseData bytes the signature covers.
    pub fn tbs_der(&self) -> &[u8] {
        &self.tbs
    }

    /// The nonce extension's extnValue as received (NCA: an OCTET STRING holding the 8-byte
    /// nonce; some responders put the bare nonce there).
    pub fn nonce(&self) -> Option<&[u8]> {
        self.nonce.as_deref()
    }

    /// True if the response's nonce equals `expected`, comparing the raw and the
    /// OCTET-STRING-wrapped forms on both sides (RFC 8954 §2.1 says the value is an OCTET STRING;
    /// NCA follows that, older responders put the bare bytes).
    pub fn nonce_matches(&self, expected: &[u8]) -> bool {
        let Some(got) = self.nonce.as_deref() else {
            return false;
        };
        let got_forms = [Some(got), unwrap_octet_string(got)];
        let want_forms = [Some(expected), unwrap_octet_string(expected)];
        got_forms
            .iter()
            .flatten()
            .any(|g| want_forms.iter().flatten().any(|w| g == w))
    }

    /// The SingleResponse about `cert` issued by `issuer` (RFC 6960 §3.2 (1), §4.1.1).
    pub fn find(
        &self,
        cert: &Certificate,
        issuer: &Certificate,
    ) -> Result<&SingleResponse, OcspError> {
        let serial = strip_zeros(&cert.serial);
        let mut failure: Option<OcspError> = None;
        for r in &self.responses {
            if strip_zeros(&r.cert_id.serial) != serial {
                continue;
            }
            let oid = r.cert_id.hash_algorithm.oid;
            // issuerNameHash: over the DER of the issuer name as it appears in the certificate
            // being checked; issuerKeyHash: over the issuer's subjectPublicKey bits (§4.1.1).
            let name_hash = signature::digest(&oid, cert.issuer.der());
            let key_hash = signature::digest(&oid, &issuer.public_key);
            match (name_hash, key_hash) {
                (Some(n), Some(k)) => {
                    if n == r.cert_id.issuer_name_hash && k == r.cert_id.issuer_key_hash {
                        return Ok(r);
                    }
                    failure.get_or_insert(OcspError::CertIdMismatch {
                        serial: cert.serial_hex(),
                    });
                }
                _ => {
                    failure.get_or_insert(OcspError::UnsupportedCertIdHash { oid });
                }
            }
        }
        Err(failure.unwrap_or(OcspError::NoMatchingResponse {
            serial: cert.serial_hex(),
        }))
    }
}

/// Response extensions we understand (RFC 6960 §4.4); any other critical one is refused.
const RESPONSE_EXTENSIONS: [ObjectIdentifier; 4] = [
    oids::OCSP_NONCE,
    oids::OCSP_CRL,
    oids::OCSP_ARCHIVE_CUTOFF,
    oids::OCSP_EXTENDED_REVOKE,
];

/// singleExtensions we understand (RFC 6960 §4.4, RFC 6962 §3.3); others critical are refused.
const SINGLE_EXTENSIONS: [ObjectIdentifier; 5] = [
    oids::OCSP_CRL,
    oids::OCSP_ARCHIVE_CUTOFF,
    oids::CRL_REASON,
    oids::INVALIDITY_DATE,
    oids::CT_SCT_LIST,
];

fn convert_extensions(
    exts: Option<&[Extension]>,
    known: &[ObjectIdentifier],
) -> Result<Vec<RawExtension>, OcspError> {
    let exts = exts.unwrap_or_default();
    if exts.len() > MAX_EXTENSIONS {
        return Err(OcspError::TooMany {
            what: "extensions",
            count: exts.len(),
            max: MAX_EXTENSIONS,
        });
    }
    let mut out: Vec<RawExtension> = Vec::with_capacity(exts.len());
    for e in exts {
        if out.iter().any(|x| x.oid == e.extn_id) {
            // RFC 5280 §4.2 (whose Extensions syntax RFC 6960 §4.4 reuses).
            return Err(malformed(format!("extension {} appears twice", e.extn_id)));
        }
        if e.critical && !known.contains(&e.extn_id) {
            return Err(OcspError::UnknownCriticalExtension { oid: e.extn_id });
        }
        out.push(RawExtension {
            oid: e.extn_id,
            critical: e.critical,
            value: e.extn_value.as_bytes().to_vec(),
        });
    }
    Ok(out)
}

fn convert_single(r: &RawSingleResponse) -> Result<SingleResponse, OcspError> {
    if r.cert_id.serial_number.tag() != Tag::Integer {
        return Err(malformed("CertID serialNumber is not an INTEGER"));
    }
    let status = match &r.cert_status {
        RawCertStatus::Good(_) => CertStatus::Good,
        RawCertStatus::Unknown(_) => CertStatus::Unknown,
        RawCertStatus::Revoked(info) => {
            let reason = match &info.revocation_reason {
                None => None,
                Some(any) => {
                    if any.tag() != Tag::Enumerated {
                        return Err(malformed("revocationReason is not ENUMERATED"));
                    }
                    let code = match any.value() {
                        [v] => *v,
                        _ => return Err(malformed("revocationReason out of range")),
                    };
                    Some(
                        RevocationReason::from_code(code)
                            .ok_or_else(|| malformed(format!("revocationReason {code}")))?,
                    )
                }
            };
            CertStatus::Revoked {
                time: time(&info.revocation_time),
                reason,
            }
        }
    };
    Ok(SingleResponse {
        cert_id: CertId {
            hash_algorithm: AlgorithmId::from_spki(&r.cert_id.hash_algorithm)
                .map_err(der_err("CertID hashAlgorithm"))?,
            issuer_name_hash: r.cert_id.issuer_name_hash.as_bytes().to_vec(),
            issuer_key_hash: r.cert_id.issuer_key_hash.as_bytes().to_vec(),
            serial: r.cert_id.serial_number.value().to_vec(),
        },
        status,
        this_update: time(&r.this_update),
        next_update: r.next_update.as_ref().map(time),
        extensions: convert_extensions(r.single_extensions.as_deref(), &SINGLE_EXTENSIONS)?,
    })
}

fn time(t: &GeneralizedTime) -> UnixTime {
    UnixTime::from_der_datetime(&t.to_date_time())
}

fn strip_zeros(mut b: &[u8]) -> &[u8] {
    while let [0, rest @ ..] = b {
        b = rest;
    }
    b
}

fn unwrap_octet_string(b: &[u8]) -> Option<&[u8]> {
    let t = der_util::read_tlv(b, 0)?;
    (t.tag == 0x04 && t.end == b.len()).then(|| t.content(b))
}

// ---------------------------------------------------------------------------------------------
// Checking.

/// What [`check`] needs besides the response, the certificate and its issuer.
#[derive(Clone, PartialEq, Eq)]
pub struct OcspCheckOptions {
    /// Signature policy for the response and the delegated responder certificate.
    pub policy: SignaturePolicy,
    /// Maximum age of thisUpdate, in seconds, at the validation time. Bounds responses without
    /// nextUpdate (NCA's) and, when set, every response. `None`: no bound beyond nextUpdate.
    pub max_age_secs: Option<u64>,
    /// Allowed clock difference with the responder, applied to thisUpdate and nextUpdate.
    pub clock_skew_secs: u64,
    /// The nonce sent in the request, if any: the response must echo it.
    pub expected_nonce: Option<Vec<u8>>,
}

impl Default for OcspCheckOptions {
    fn default() -> Self {
        OcspCheckOptions {
            policy: SignaturePolicy::default(),
            max_age_secs: None,
            clock_skew_secs: DEFAULT_CLOCK_SKEW_SECS,
            expected_nonce: None,
        }
    }
}

impl fmt::Debug for OcspCheckOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OcspCheckOptions")
            .field("policy", &self.policy)
            .field("max_age_secs", &self.max_age_secs)
            .field("clock_skew_secs", &self.clock_skew_secs)
            .field(
                "expected_nonce",
                &self.expected_nonce.as_ref().map(|_| "<set>"),
            )
            .finish()
    }
}

/// The status an authentic, fresh response gives for the certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OcspStatus {
    /// good (RFC 6960 §2.2: not revoked; nothing more).
    Good {
        /// thisUpdate.
        this_update: UnixTime,
        /// nextUpdate, if the responder gave one.
        next_update: Option<UnixTime>,
        /// producedAt.
        produced_at: UnixTime,
    },
    /// revoked (or, with certificateHold at 1970-01-01, never issued: RFC 6960 §2.2).
    Revoked {
        /// revocationTime.
        time: UnixTime,
        /// revocationReason, when given.
        reason: Option<RevocationReason>,
    },
    /// unknown: the responder does not know the certificate.
    Unknown,
}

/// Checks `resp` for `cert`, issued by `issuer` (which the caller already trusts), at `at`:
/// finds the SingleResponse (RFC 6960 §3.2 (1)), authenticates the signer (§4.2.2.2) and the
/// signature (§3.2 (2)), checks the time window (§3.2 (4)-(5), §4.2.2.1) and the nonce (§4.4.1),
/// and returns the status.
pub fn check(
    resp: &OcspResponse,
    cert: &Certificate,
    issuer: &Certificate,
    at: UnixTime,
    opts: &OcspCheckOptions,
) -> Result<OcspStatus, OcspError> {
    if !cert.issuer.matches(&issuer.subject) {
        return Err(OcspError::IssuerMismatch {
            cert_issuer: cert.issuer.to_display_string(),
            issuer_subject: issuer.subject.to_display_string(),
        });
    }
    let single = resp.find(cert, issuer)?;
    let responder = authorised_responder(resp, issuer, at, &opts.policy)?;
    // RFC 6960 §3.2 (2): the signature is valid, over tbsResponseData as received.
    signature::verify(
        &resp.signature_algorithm,
        &responder.spki_der,
        resp.tbs_der(),
        &resp.signature,
        &opts.policy,
    )
    .map_err(|error| OcspError::BadSignature { error })?;

    check_freshness(single, at, opts)?;
    check_nonce(resp, opts)?;
    Ok(match &single.status {
        CertStatus::Good => OcspStatus::Good {
            this_update: single.this_update,
            next_update: single.next_update,
            produced_at: resp.produced_at,
        },
        CertStatus::Revoked { time, reason } => OcspStatus::Revoked {
            time: *time,
            reason: *reason,
        },
        CertStatus::Unknown => OcspStatus::Unknown,
    })
}

/// RFC 6960 §3.2 (4)-(5) and §4.2.2.1: thisUpdate not in the future, nextUpdate not past, and
/// thisUpdate no older than the policy's maximum age.
fn check_freshness(
    single: &SingleResponse,
    at: UnixTime,
    opts: &OcspCheckOptions,
) -> Result<(), OcspError> {
    let skew = i64::try_from(opts.clock_skew_secs).unwrap_or(i64::MAX);
    // §3.2 (4): thisUpdate sufficiently recent (not in the future beyond the skew).
    if single.this_update > at.plus_seconds(skew) {
        return Err(OcspError::NotYetValid {
            this_update: single.this_update,
            at,
        });
    }
    // §3.2 (5): when available, nextUpdate is greater than the current time.
    if let Some(next) = single.next_update
        && at > next.plus_seconds(skew)
    {
        return Err(OcspError::Expired {
            next_update: next,
            at,
        });
    }
    // §4.2.2.1: without nextUpdate, the client decides how old is too old; when set, the bound
    // applies to every response. No skew here: the bound is the policy's own number.
    if let Some(max_age_secs) = opts.max_age_secs {
        let age = i128::from(at.0) - i128::from(single.this_update.0);
        if age > i128::from(max_age_secs) {
            return Err(OcspError::TooOld {
                this_update: single.this_update,
                at,
                max_age_secs,
            });
        }
    }
    Ok(())
}

/// §4.4.1 / RFC 8954: the nonce binds the response to our request (replay protection).
fn check_nonce(resp: &OcspResponse, opts: &OcspCheckOptions) -> Result<(), OcspError> {
    if let Some(expected) = &opts.expected_nonce {
        if resp.nonce().is_none() {
            return Err(OcspError::NonceMissing);
        }
        if !resp.nonce_matches(expected) {
            return Err(OcspError::NonceMismatch);
        }
    }
    Ok(())
}

/// RFC 6960 §4.2.2.2: the signer must be (1) the CA that issued the certificate, or (3) a
/// responder certificate that CA issued with id-kp-OCSPSigning. Case (2), a locally configured
/// responder, is not supported: nothing else is trusted.
fn authorised_responder<'a>(
    resp: &'a OcspResponse,
    issuer: &'a Certificate,
    at: UnixTime,
    policy: &SignaturePolicy,
) -> Result<&'a Certificate, OcspError> {
    if resp.responder_id.names(issuer) {
        return Ok(issuer);
    }
    let mut problem = ResponderProblem::NotFound;
    for cand in resp.certs.iter().filter(|c| resp.responder_id.names(c)) {
        match delegate_problem(cand, issuer, at, policy) {
            None => return Ok(cand),
            Some(p) => {
                if problem == ResponderProblem::NotFound {
                    problem = p;
                }
            }
        }
    }
    Err(OcspError::UnauthorizedResponder {
        responder: resp.responder_id.to_display_string(),
        problem,
    })
}

fn delegate_problem(
    cand: &Certificate,
    issuer: &Certificate,
    at: UnixTime,
    policy: &SignaturePolicy,
) -> Option<ResponderProblem> {
    // §4.2.2.2: "issued directly by the CA that is identified in the request".
    if !cand.issuer.matches(&issuer.subject) {
        return Some(ResponderProblem::NotIssuedByIssuer {
            responder_issuer: cand.issuer.to_display_string(),
        });
    }
    if let Err(error) = signature::verify(
        &cand.signature_algorithm,
        &issuer.spki_der,
        cand.tbs_der(),
        &cand.signature,
        policy,
    ) {
        return Some(ResponderProblem::IssuerSignatureInvalid { error });
    }
    if !cand.is_valid_at(at) {
        return Some(ResponderProblem::NotValidAt {
            not_before: cand.not_before,
            not_after: cand.not_after,
        });
    }
    // §4.2.2.2: "includes a value of id-kp-OCSPSigning in an extended key usage extension".
    let has_eku = cand
        .extensions
        .extended_key_usage
        .as_ref()
        .is_some_and(|ekus| ekus.contains(&cert_oids::KP_OCSP_SIGNING));
    if !has_eku {
        return Some(ResponderProblem::MissingOcspSigningEku);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> UnixTime {
        UnixTime::parse_rfc3339(s).expect("time")
    }

    fn single(this_update: &str, next_update: Option<&str>) -> SingleResponse {
        SingleResponse {
            cert_id: CertId {
                hash_algorithm: AlgorithmId {
                    oid: signature::oids::SHA1,
                    params: None,
                },
                issuer_name_hash: vec![],
                issuer_key_hash: vec![],
                serial: vec![1],
            },
            status: CertStatus::Good,
            this_update: t(this_update),
            next_update: next_update.map(t),
            extensions: vec![],
        }
    }

    fn response_with_nonce(nonce: Option<&[u8]>) -> OcspResponse {
        OcspResponse {
            tbs: vec![],
            nonce: nonce.map(<[u8]>::to_vec),
            version: 0,
            responder_id: ResponderId::ByKey(vec![0; 20]),
            produced_at: UnixTime(0),
            responses: vec![],
            extensions: vec![],
            signature_algorithm: AlgorithmId {
                oid: signature::oids::SHA256_WITH_RSA,
                params: None,
            },
            signature: vec![],
            certs: vec![],
        }
    }

    /// `OCSPResponse { responseStatus ENUMERATED status }` and optional raw responseBytes.
    fn outer(status: u8, response_bytes: &[u8]) -> Vec<u8> {
        let mut body = vec![0x0a, 0x01, status];
        if !response_bytes.is_empty() {
            body.push(0xa0);
            body.push(u8::try_from(response_bytes.len()).expect("short"));
            body.extend_from_slice(response_bytes);
        }
        let mut v = vec![0x30, u8::try_from(body.len()).expect("short")];
        v.extend(body);
        v
    }

    #[test]
    fn garbage_is_malformed() {
        assert!(matches!(
            OcspResponse::parse(b"hello"),
            Err(OcspError::Malformed { .. })
        ));
        assert!(matches!(
            OcspResponse::parse(&[]),
            Err(OcspError::Malformed { .. })
        ));
    }

    #[test]
    fn unsuccessful_statuses_are_named_and_try_later_is_distinct() {
        assert_eq!(
            OcspResponse::parse(&outer(1, &[])),
            Err(OcspError::MalformedRequest)
        );
        assert_eq!(
            OcspResponse::parse(&outer(2, &[])),
            Err(OcspError::InternalError)
        );
        assert_eq!(
            OcspResponse::parse(&outer(3, &[])),
            Err(OcspError::TryLater)
        );
        assert_eq!(
            OcspResponse::parse(&outer(5, &[])),
            Err(OcspError::SigRequired)
        );
        assert_eq!(
            OcspResponse::parse(&outer(6, &[])),
            Err(OcspError::Unauthorized)
        );
        assert_eq!(
            OcspResponse::parse(&outer(4, &[])),
            Err(OcspError::UnknownResponseStatus { value: 4 })
        );
    }

    #[test]
    fn successful_without_body_and_try_later_with_body_are_malformed() {
        assert!(matches!(
            OcspResponse::parse(&outer(0, &[])),
            Err(OcspError::Malformed { .. })
        ));
        // ResponseBytes { id-pkix-ocsp-basic, OCTET STRING {} }
        let basic_oid = [
            0x06, 0x09, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x01,
        ];
        let mut rb = vec![0x30, 0x0d];
        rb.extend_from_slice(&basic_oid);
        rb.extend_from_slice(&[0x04, 0x00]);
        assert!(matches!(
            OcspResponse::parse(&outer(3, &rb)),
            Err(OcspError::Malformed { .. })
        ));
        // id-pkix-ocsp-nonce as responseType: not basic.
        let mut other = rb.clone();
        other[12] = 0x02;
        assert_eq!(
            OcspResponse::parse(&outer(0, &other)),
            Err(OcspError::UnsupportedResponseType {
                oid: oids::OCSP_NONCE
            })
        );
    }

    #[test]
    fn nonce_is_compared_raw_or_wrapped_in_an_octet_string() {
        let raw = [0xb5, 0xe5, 0xc9, 0xb5, 0x52, 0xcb, 0xca, 0xc4];
        let mut wrapped = vec![0x04, 0x08];
        wrapped.extend_from_slice(&raw);
        for (got, want) in [(&raw[..], &raw[..]), (&wrapped, &raw), (&raw, &wrapped)] {
            let opts = OcspCheckOptions {
                expected_nonce: Some(want.to_vec()),
                ..OcspCheckOptions::default()
            };
            assert_eq!(check_nonce(&response_with_nonce(Some(got)), &opts), Ok(()));
        }
        let opts = OcspCheckOptions {
            expected_nonce: Some(vec![1, 2, 3]),
            ..OcspCheckOptions::default()
        };
        assert_eq!(
            check_nonce(&response_with_nonce(Some(&wrapped)), &opts),
            Err(OcspError::NonceMismatch)
        );
        assert_eq!(
            check_nonce(&response_with_nonce(None), &opts),
            Err(OcspError::NonceMissing)
        );
        assert_eq!(
            check_nonce(&response_with_nonce(None), &OcspCheckOptions::default()),
            Ok(())
        );
    }

    #[test]
    fn this_update_in_the_future_beyond_the_skew_is_not_yet_valid() {
        let opts = OcspCheckOptions::default();
        let s = single("2026-11-25T06:00:00Z", None);
        assert_eq!(
            check_freshness(&s, t("2026-11-25T04:00:00Z"), &opts),
            Err(OcspError::NotYetValid {
                this_update: t("2026-11-25T06:00:00Z"),
                at: t("2026-11-25T04:00:00Z"),
            })
        );
        // 4 minutes ahead is within the default 5-minute skew.
        assert_eq!(
            check_freshness(&s, t("2026-11-25T05:56:00Z"), &opts),
            Ok(())
        );
    }

    #[test]
    fn next_update_in_the_past_is_expired() {
        let opts = OcspCheckOptions::default();
        let s = single("2026-11-20T00:00:00Z", Some("2026-11-24T00:00:00Z"));
        assert!(matches!(
            check_freshness(&s, t("2026-11-25T00:00:00Z"), &opts),
            Err(OcspError::Expired { .. })
        ));
        assert_eq!(
            check_freshness(&s, t("2026-11-23T00:00:00Z"), &opts),
            Ok(())
        );
    }

    #[test]
    fn nca_style_response_without_next_update_is_bounded_only_by_max_age() {
        let s = single("2022-09-02T16:53:59Z", None);
        let at = t("2023-09-02T00:00:00Z");
        assert_eq!(
            check_freshness(&s, at, &OcspCheckOptions::default()),
            Ok(())
        );
        let opts = OcspCheckOptions {
            max_age_secs: Some(3600),
            ..OcspCheckOptions::default()
        };
        assert_eq!(
            check_freshness(&s, at, &opts),
            Err(OcspError::TooOld {
                this_update: t("2022-09-02T16:53:59Z"),
                at,
                max_age_secs: 3600,
            })
        );
    }

    #[test]
    fn revocation_reason_codes_follow_rfc_5280() {
        assert_eq!(
            RevocationReason::from_code(6),
            Some(RevocationReason::CertificateHold)
        );
        assert_eq!(RevocationReason::from_code(7), None);
        assert_eq!(RevocationReason::from_code(11), None);
        assert_eq!(RevocationReason::Superseded.name(), "superseded");
    }

    #[test]
    fn reason_codes_are_stable_and_prefixed() {
        let errors = [
            OcspError::TryLater,
            OcspError::NonceMismatch,
            OcspError::UnauthorizedResponder {
                responder: "x".into(),
                problem: ResponderProblem::MissingOcspSigningEku,
            },
        ];
        for e in &errors {
            assert!(e.code().starts_with("ocsp_"), "{e}");
            assert!(!e.to_string().is_empty());
        }
        assert_eq!(OcspError::TryLater.code(), "ocsp_try_later");
    }
}

//! CMS SignedData (RFC 5652 §5): parsing the login signature NCALayer returns, and verifying each
//! signer's signature over the content.
//!
//! What this module checks (per signer, RFC 5652 §5.4, §5.6, §11): the signer certificate is found
//! by `sid`; with signed attributes, exactly one content-type equal to eContentType and exactly one
//! message-digest equal to the digest of the content; the signature over the DER of the signed
//! attributes re-tagged as SET OF (or, without signed attributes, over the content itself, allowed
//! for id-data only). It does NOT check the signer certificate's path, validity or revocation:
//! `path.rs` does that, and the caller combines both using [`SignerVerdict::certificate`] and
//! [`SignerVerdict::signing_time`].
//!
//! Why slicing (`der_util::read_tlv`) and not `der` derive types: the signature covers the signed
//! attributes *as received* (only the `[0]` tag is replaced by `0x31`), so we need their exact bytes;
//! a decode/re-encode round trip through derived types could silently normalise them (and `der`'s
//! `SetOf` rejects non-canonical order, which would turn a signer's encoding slip into a parse
//! failure of the whole message instead of a per-signer verdict). Slicing also lets us tolerate and
//! count the CertificateChoices and RevocationInfoChoices we do not use. Leaf values (names,
//! certificates, times, OIDs) are still decoded by the strict RustCrypto types.
//!
//! Input forms (what NCALayer and NCANode hand over): DER, BER (normalised by [`super::ber`]),
//! base64 with or without line breaks, and PEM (`CMS`, `PKCS7`, `PKCS #7 SIGNED DATA` labels;
//! NCALayer's `basicsSignCMS` returns `-----BEGIN CMS-----`, ../shared/NCA.md §4).

use std::fmt;

use base64::Engine;
use const_oid::ObjectIdentifier;
use der::Decode;

use super::ber::{self, BerError};
use super::cert::{AlgorithmId, CertError, Certificate};
use super::der_util::{self, Tlv};
use super::gost;
use super::name::DistinguishedName;
use super::signature::{self, SignatureError, SignaturePolicy, oids as sig};
use super::time::UnixTime;

/// Largest DER/BER CMS accepted. A login CMS is the signature of a short challenge plus the signer
/// certificate (and sometimes its chain and an RFC 3161 token): the NCA fixtures are 1.4–3.6 KB.
/// 1 MiB leaves room for chains and timestamps while bounding work per request.
pub const MAX_CMS_SIZE: usize = 1024 * 1024;

/// Largest textual (base64/PEM) input: 4/3 of [`MAX_CMS_SIZE`] plus line breaks.
pub const MAX_TEXT_SIZE: usize = 2 * MAX_CMS_SIZE;

/// Most SignerInfos. A login carries one signer; NCANode's multi-signer fixtures have two.
pub const MAX_SIGNERS: usize = 8;

/// Most embedded certificates (CertificateChoices of any kind). NCA chains are 2–3 deep.
pub const MAX_CERTIFICATES: usize = 32;

/// Most CRLs / other revocation info entries (ignored, but bounded).
pub const MAX_CRLS: usize = 32;

/// Most signed (and, separately, unsigned) attributes per signer. Kalkan writes 3 signed
/// attributes, CAdES-BES about 5; 32 is generous.
pub const MAX_ATTRIBUTES: usize = 32;

/// Most values in one attribute's SET OF values.
pub const MAX_ATTRIBUTE_VALUES: usize = 16;

/// Most entries in digestAlgorithms.
pub const MAX_DIGEST_ALGORITHMS: usize = 8;

/// CMS OIDs (RFC 5652 §14, RFC 3161, NCA).
pub mod oids {
    use const_oid::ObjectIdentifier;
    macro_rules! oid {
        ($name:ident, $s:expr, $doc:expr) => {
            #[doc = $doc]
            pub const $name: ObjectIdentifier = ObjectIdentifier::new_unwrap($s);
        };
    }
    oid!(ID_DATA, "1.2.840.113549.1.7.1", "id-data");
    oid!(ID_SIGNED_DATA, "1.2.840.113549.1.7.2", "id-signedData");
    oid!(CONTENT_TYPE, "1.2.840.113549.1.9.3", "id-contentType");
    oid!(MESSAGE_DIGEST, "1.2.840.113549.1.9.4", "id-messageDigest");
    oid!(SIGNING_TIME, "1.2.840.113549.1.9.5", "id-signingTime");
    oid!(
        TIME_STAMP_TOKEN,
        "1.2.840.113549.1.9.16.2.14",
        "id-aa-timeStampToken (RFC 3161)"
    );
    oid!(ID_CT_TST_INFO, "1.2.840.113549.1.9.16.1.4", "id-ct-TSTInfo");
    oid!(GOST_34311_95, "1.2.398.3.10.1.3.1", "GOST 34.311-95 digest");
    oid!(
        STREEBOG_512,
        "1.2.398.3.10.1.3.3",
        "GOST 34.11-2015 512-bit digest"
    );
    oid!(
        GOST_2004_KEY,
        "1.2.398.3.10.1.1.1.1",
        "GOST 34.310-2004 key"
    );
    oid!(
        GOST_2004_SIG,
        "1.2.398.3.10.1.1.1.2",
        "GOST 34.311-95 with GOST 34.310-2004 signature"
    );
    oid!(
        GOST_2015_512_KEY,
        "1.2.398.3.10.1.1.2.2",
        "GOST 34.10-2015 512-bit key"
    );
    oid!(
        GOST_2015_512_SIG,
        "1.2.398.3.10.1.1.2.3.2",
        "GOST 34.10-2015 512-bit with GOST 34.11-2015 signature"
    );
}

/// Why a CMS message as a whole was refused (per-signer problems are [`SignerError`]s).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CmsError {
    /// Bad base64 or PEM armour around the CMS.
    BadEncoding {
        /// What the decoder said.
        detail: String,
    },
    /// The CMS content is not a SignedData (RFC 5652 §3).
    NotSignedData {
        /// The ContentInfo contentType received.
        content_type: ObjectIdentifier,
    },
    /// Content attached in the CMS and supplied separately, and the two differ.
    ContentMismatch,
    /// A structural ASN.1 problem.
    Malformed {
        /// Which element could not be read.
        at: &'static str,
    },
    /// An embedded certificate does not parse.
    BadCertificate {
        /// Position in the `certificates` set.
        index: usize,
        /// The certificate parser's reason.
        error: CertError,
    },
    /// Detached CMS (no eContent) and no content supplied.
    NoContent,
    /// The SignedData has no SignerInfo (a certificates-only message, RFC 5652 §5.2).
    NoSigners,
    /// BER nesting deeper than [`ber::MAX_DEPTH`].
    TooDeep {
        /// The limit.
        max: usize,
    },
    /// Input larger than the budget.
    TooLarge {
        /// Size received (bytes).
        size: usize,
        /// The limit.
        max: usize,
    },
    /// A count budget exceeded (signers, certificates, attributes, …).
    TooMany {
        /// What was counted.
        what: &'static str,
        /// The limit.
        max: usize,
    },
    /// PEM armour with a label that is not a CMS.
    UnexpectedPemLabel {
        /// The label received.
        label: String,
    },
    /// SignedData or SignerInfo version outside RFC 5652 §5.1/§5.3.
    UnsupportedVersion {
        /// Version received.
        version: u32,
    },
}

impl CmsError {
    /// Stable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            CmsError::BadEncoding { .. } => "cms_bad_encoding",
            CmsError::NotSignedData { .. } => "cms_not_signed_data",
            CmsError::ContentMismatch => "cms_content_mismatch",
            CmsError::Malformed { .. } => "cms_malformed",
            CmsError::BadCertificate { .. } => "cms_bad_certificate",
            CmsError::NoContent => "cms_no_content",
            CmsError::NoSigners => "cms_no_signers",
            CmsError::TooDeep { .. } => "cms_too_deep",
            CmsError::TooLarge { .. } => "cms_too_large",
            CmsError::TooMany { .. } => "cms_too_many",
            CmsError::UnexpectedPemLabel { .. } => "cms_unexpected_pem_label",
            CmsError::UnsupportedVersion { .. } => "cms_unsupported_version",
        }
    }
}

impl fmt::Display for CmsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CmsError::BadEncoding { detail } => write!(f, "CMS is not valid base64/PEM: {detail}"),
            CmsError::NotSignedData { content_type } => {
                write!(f, "CMS content type {content_type} is not signedData")
            }
            CmsError::ContentMismatch => {
                f.write_str("the signed content in the CMS differs from the content supplied")
            }
            CmsError::Malformed { at } => write!(f, "malformed CMS: {at}"),
            CmsError::BadCertificate { index, error } => {
                write!(f, "embedded certificate #{index} is malformed: {error}")
            }
            CmsError::NoContent => {
                f.write_str("detached CMS signature, but the signed content was not supplied")
            }
            CmsError::NoSigners => f.write_str("the CMS has no signer"),
            CmsError::TooDeep { max } => write!(f, "CMS nesting deeper than {max} levels"),
            CmsError::TooLarge { size, max } => {
                write!(f, "CMS of {size} bytes exceeds the {max}-byte limit")
            }
            CmsError::TooMany { what, max } => write!(f, "CMS has more than {max} {what}"),
            CmsError::UnexpectedPemLabel { label } => {
                write!(f, "PEM block \"{label}\" is not a CMS signature")
            }
            CmsError::UnsupportedVersion { version } => {
                write!(f, "unsupported CMS version {version}")
            }
        }
    }
}

impl std::error::Error for CmsError {}

/// Why one signer's signature was not accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SignerError {
    /// digestAlgorithm and signatureAlgorithm do not belong together (e.g. sha256 digest with
    /// sha384WithRSAEncryption, or Streebog with a GOST-2004 signature).
    AlgorithmMismatch {
        /// The signer's digestAlgorithm.
        digest: ObjectIdentifier,
        /// The signer's signatureAlgorithm.
        signature: ObjectIdentifier,
    },
    /// A signed attribute's value is not what RFC 5652 §11 prescribes (not exactly one value, or a
    /// value of the wrong type).
    BadAttribute {
        /// The attribute type.
        oid: ObjectIdentifier,
    },
    /// The signer certificate is neither embedded nor among the extra certificates.
    CertificateNotFound {
        /// The SignerIdentifier, rendered (issuer + serial hex, or SKI hex).
        sid: String,
    },
    /// The content-type attribute differs from eContentType (RFC 5652 §11.1).
    ContentTypeMismatch {
        /// Value of the signed content-type attribute.
        signed: ObjectIdentifier,
        /// eContentType.
        encapsulated: ObjectIdentifier,
    },
    /// The digest algorithm is not one we implement (SHA-1/2 and the GOST digests are).
    DigestUnavailable {
        /// The digest algorithm.
        oid: ObjectIdentifier,
    },
    /// An attribute that RFC 5652 §11 allows once appears more than once.
    DuplicateAttribute {
        /// The attribute type.
        oid: ObjectIdentifier,
    },
    /// The message-digest attribute does not match the content (content altered, or wrong
    /// detached data).
    MessageDigestMismatch {
        /// The digest algorithm used.
        algorithm: ObjectIdentifier,
    },
    /// A required signed attribute (content-type, message-digest) is absent (RFC 5652 §5.3).
    MissingAttribute {
        /// The attribute type.
        oid: ObjectIdentifier,
    },
    /// The signature itself was refused (bad signature, unsupported algorithm, key too small,
    /// SHA-1 by policy…).
    Signature(SignatureError),
    /// No signed attributes, but the content is not id-data (RFC 5652 §5.3).
    SignedAttributesRequired {
        /// eContentType.
        content_type: ObjectIdentifier,
    },
}

impl SignerError {
    /// Stable reason code (the inner code for [`SignerError::Signature`]).
    pub fn code(&self) -> &'static str {
        match self {
            SignerError::AlgorithmMismatch { .. } => "cms_algorithm_mismatch",
            SignerError::BadAttribute { .. } => "cms_bad_signed_attribute",
            SignerError::CertificateNotFound { .. } => "cms_signer_certificate_not_found",
            SignerError::ContentTypeMismatch { .. } => "cms_content_type_mismatch",
            SignerError::DigestUnavailable { .. } => "cms_digest_unavailable",
            SignerError::DuplicateAttribute { .. } => "cms_duplicate_signed_attribute",
            SignerError::MessageDigestMismatch { .. } => "cms_message_digest_mismatch",
            SignerError::MissingAttribute { .. } => "cms_missing_signed_attribute",
            SignerError::Signature(e) => e.code(),
            SignerError::SignedAttributesRequired { .. } => "cms_signed_attributes_required",
        }
    }
}

impl fmt::Display for SignerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignerError::AlgorithmMismatch { digest, signature } => write!(
                f,
                "digest algorithm {digest} does not fit signature algorithm {signature}"
            ),
            SignerError::BadAttribute { oid } => write!(f, "signed attribute {oid} is malformed"),
            SignerError::CertificateNotFound { sid } => {
                write!(f, "signer certificate not found ({sid})")
            }
            SignerError::ContentTypeMismatch {
                signed,
                encapsulated,
            } => write!(
                f,
                "signed content type {signed} differs from the content's type {encapsulated}"
            ),
            SignerError::DigestUnavailable { oid } => {
                write!(f, "digest algorithm {oid} is not supported")
            }
            SignerError::DuplicateAttribute { oid } => {
                write!(f, "signed attribute {oid} appears more than once")
            }
            SignerError::MessageDigestMismatch { algorithm } => write!(
                f,
                "the signed message digest ({algorithm}) does not match the content"
            ),
            SignerError::MissingAttribute { oid } => {
                write!(f, "required signed attribute {oid} is missing")
            }
            SignerError::Signature(e) => write!(f, "signature refused: {e}"),
            SignerError::SignedAttributesRequired { content_type } => write!(
                f,
                "content of type {content_type} must be signed with signed attributes"
            ),
        }
    }
}

impl std::error::Error for SignerError {}

/// SignerIdentifier (RFC 5652 §5.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignerId {
    /// issuerAndSerialNumber.
    IssuerAndSerial {
        /// Certificate issuer.
        issuer: DistinguishedName,
        /// Serial number content octets, as encoded.
        serial: Vec<u8>,
    },
    /// subjectKeyIdentifier.
    SubjectKeyId(Vec<u8>),
}

impl SignerId {
    /// True if `cert` is the certificate this identifier names.
    pub fn matches(&self, cert: &Certificate) -> bool {
        match self {
            SignerId::IssuerAndSerial { issuer, serial } => {
                cert.serial == *serial && cert.issuer.matches(issuer)
            }
            SignerId::SubjectKeyId(ski) => cert.extensions.subject_key_id.as_ref() == Some(ski),
        }
    }
}

impl fmt::Display for SignerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SignerId::IssuerAndSerial { issuer, serial } => write!(
                f,
                "issuer {}, serial {}",
                issuer.to_display_string(),
                hex::encode_upper(serial)
            ),
            SignerId::SubjectKeyId(ski) => write!(f, "subject key id {}", hex::encode_upper(ski)),
        }
    }
}

/// One attribute (RFC 5652 §5.3 `Attribute`): type and the DER of each value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attribute {
    /// attrType.
    pub oid: ObjectIdentifier,
    /// attrValues, each the whole DER element.
    pub values: Vec<Vec<u8>>,
}

/// One SignerInfo (RFC 5652 §5.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignerInfo {
    /// version (1 with issuerAndSerialNumber, 3 with subjectKeyIdentifier).
    pub version: u32,
    /// sid.
    pub sid: SignerId,
    /// digestAlgorithm.
    pub digest_algorithm: AlgorithmId,
    /// signedAttrs, decoded; `None` when absent.
    pub signed_attributes: Option<Vec<Attribute>>,
    /// The exact received signedAttrs with the `[0]` IMPLICIT tag replaced by SET OF (0x31).
    signed_attributes_der: Option<Vec<u8>>,
    /// signatureAlgorithm, as received.
    pub signature_algorithm: AlgorithmId,
    /// signature.
    pub signature: Vec<u8>,
    /// unsignedAttrs (e.g. an RFC 3161 timestamp token), not interpreted.
    pub unsigned_attributes: Vec<Attribute>,
}

impl SignerInfo {
    /// The bytes the signature covers when signed attributes are present (RFC 5652 §5.4).
    pub fn signed_attributes_der(&self) -> Option<&[u8]> {
        self.signed_attributes_der.as_deref()
    }

    /// The signing-time attribute (RFC 5652 §11.3), `None` when absent.
    pub fn signing_time(&self) -> Result<Option<UnixTime>, SignerError> {
        let Some(value) = single_value(self, oids::SIGNING_TIME)? else {
            return Ok(None);
        };
        let bad = SignerError::BadAttribute {
            oid: oids::SIGNING_TIME,
        };
        let dt = match value.first() {
            Some(0x17) => der::asn1::UtcTime::from_der(value)
                .map_err(|_| bad.clone())?
                .to_date_time(),
            Some(0x18) => der::asn1::GeneralizedTime::from_der(value)
                .map_err(|_| bad.clone())?
                .to_date_time(),
            _ => return Err(bad),
        };
        Ok(Some(UnixTime::from_der_datetime(&dt)))
    }
}

/// A parsed SignedData (RFC 5652 §5.1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedData {
    /// version.
    pub version: u32,
    /// digestAlgorithms.
    pub digest_algorithms: Vec<AlgorithmId>,
    /// encapContentInfo.eContentType.
    pub content_type: ObjectIdentifier,
    /// encapContentInfo.eContent; `None` for a detached signature.
    pub content: Option<Vec<u8>>,
    /// The X.509 certificates embedded (`certificates`, CertificateChoices `certificate`).
    pub certificates: Vec<Certificate>,
    /// Other CertificateChoices (attribute certificates, other formats), ignored.
    pub other_certificates: usize,
    /// RevocationInfoChoices entries, ignored (revocation is checked elsewhere).
    pub crls: usize,
    /// signerInfos.
    pub signers: Vec<SignerInfo>,
    /// True if the input was BER and was normalised.
    pub was_ber: bool,
}

/// The outcome for one signer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignerVerdict {
    /// Position in signerInfos.
    pub index: usize,
    /// The signer identifier.
    pub sid: SignerId,
    /// The signer certificate, when found (path/validity/revocation still to be checked).
    pub certificate: Option<Certificate>,
    /// The signing-time attribute, when present and well formed.
    pub signing_time: Option<UnixTime>,
    /// digestAlgorithm OID.
    pub digest_algorithm: ObjectIdentifier,
    /// signatureAlgorithm OID as received.
    pub signature_algorithm: ObjectIdentifier,
    /// OIDs of the unsigned attributes (e.g. [`oids::TIME_STAMP_TOKEN`]).
    pub unsigned_attributes: Vec<ObjectIdentifier>,
    /// `Ok(())` if this signer's signature over the content verifies.
    pub result: Result<(), SignerError>,
}

impl SignedData {
    /// Parses a CMS ContentInfo holding SignedData, given as DER, BER, base64 or PEM.
    pub fn parse(input: &[u8]) -> Result<SignedData, CmsError> {
        if input.len() > MAX_TEXT_SIZE {
            return Err(CmsError::TooLarge {
                size: input.len(),
                max: MAX_TEXT_SIZE,
            });
        }
        let raw = decode_text(input)?;
        if raw.len() > MAX_CMS_SIZE {
            return Err(CmsError::TooLarge {
                size: raw.len(),
                max: MAX_CMS_SIZE,
            });
        }
        let was_ber = ber::needs_normalising(&raw).map_err(ber_err)?;
        let buf = if was_ber {
            ber::to_der(&raw).map_err(ber_err)?
        } else {
            raw
        };
        let mut sd = parse_content_info(&buf)?;
        sd.was_ber = was_ber;
        Ok(sd)
    }
}

fn ber_err(e: BerError) -> CmsError {
    match e {
        BerError::TooDeep { max } => CmsError::TooDeep { max },
        BerError::TooManyElements { max } => CmsError::TooMany {
            what: "ASN.1 elements",
            max,
        },
        _ => CmsError::Malformed { at: "TLV encoding" },
    }
}

/// Strips PEM armour or base64 text; binary input (starting with a SEQUENCE tag) is used as is.
fn decode_text(input: &[u8]) -> Result<Vec<u8>, CmsError> {
    if input.first() == Some(&0x30) {
        return Ok(input.to_vec());
    }
    let text = input.trim_ascii();
    if text.is_empty() {
        return Err(CmsError::BadEncoding {
            detail: "empty input".into(),
        });
    }
    let body = if let Some(rest) = text.strip_prefix(b"-----BEGIN ") {
        let label_end = find(rest, b"-----").ok_or(CmsError::BadEncoding {
            detail: "unterminated PEM header".into(),
        })?;
        let label = rest.get(..label_end).unwrap_or_default();
        let label = String::from_utf8_lossy(label).into_owned();
        if !matches!(label.as_str(), "CMS" | "PKCS7" | "PKCS #7 SIGNED DATA") {
            return Err(CmsError::UnexpectedPemLabel { label });
        }
        let after = rest.get(label_end + 5..).unwrap_or_default();
        let end = find(after, b"-----END ").ok_or(CmsError::BadEncoding {
            detail: "no PEM footer".into(),
        })?;
        after.get(..end).unwrap_or_default()
    } else {
        text
    };
    let compact: Vec<u8> = body
        .iter()
        .copied()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    engine.decode(&compact).map_err(|e| CmsError::BadEncoding {
        detail: e.to_string(),
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

const fn malformed(at: &'static str) -> CmsError {
    CmsError::Malformed { at }
}

/// The elements inside constructed element `t` (at most `max`, else [`CmsError::TooMany`]).
fn children(buf: &[u8], t: &Tlv, max: usize, what: &'static str) -> Result<Vec<Tlv>, CmsError> {
    if t.tag & 0x20 == 0 {
        return Err(malformed(what));
    }
    let mut out = Vec::new();
    let mut pos = t.content_start;
    while pos < t.end {
        if out.len() == max {
            return Err(CmsError::TooMany { what, max });
        }
        let c = der_util::read_tlv(buf, pos).ok_or(malformed(what))?;
        if c.end > t.end {
            return Err(malformed(what));
        }
        pos = c.end;
        out.push(c);
    }
    Ok(out)
}

fn expect(t: Option<&Tlv>, tag: u8, at: &'static str) -> Result<Tlv, CmsError> {
    match t {
        Some(t) if t.tag == tag => Ok(*t),
        _ => Err(malformed(at)),
    }
}

fn oid_of(buf: &[u8], t: &Tlv, at: &'static str) -> Result<ObjectIdentifier, CmsError> {
    if t.tag != 0x06 {
        return Err(malformed(at));
    }
    ObjectIdentifier::from_bytes(t.content(buf)).map_err(|_| malformed(at))
}

/// A small non-negative INTEGER (versions).
fn small_uint(buf: &[u8], t: &Tlv, at: &'static str) -> Result<u32, CmsError> {
    let c = t.content(buf);
    if t.tag != 0x02 || c.is_empty() || c.len() > 4 || c.first().is_some_and(|b| b & 0x80 != 0) {
        return Err(malformed(at));
    }
    Ok(c.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b)))
}

fn algorithm(buf: &[u8], t: &Tlv, at: &'static str) -> Result<AlgorithmId, CmsError> {
    if t.tag != 0x30 {
        return Err(malformed(at));
    }
    let kids = children(buf, t, 2, at)?;
    let oid = oid_of(buf, kids.first().ok_or(malformed(at))?, at)?;
    let params = kids.get(1).map(|p| p.whole(buf).to_vec());
    Ok(AlgorithmId { oid, params })
}

fn parse_content_info(buf: &[u8]) -> Result<SignedData, CmsError> {
    // RFC 5652 §3: ContentInfo ::= SEQUENCE { contentType, content [0] EXPLICIT ANY }
    let ci = der_util::read_tlv(buf, 0).ok_or(malformed("ContentInfo"))?;
    if ci.tag != 0x30 || ci.end != buf.len() {
        return Err(malformed("ContentInfo"));
    }
    let kids = children(buf, &ci, 2, "ContentInfo")?;
    let ct = oid_of(
        buf,
        kids.first().ok_or(malformed("ContentInfo"))?,
        "contentType",
    )?;
    if ct != oids::ID_SIGNED_DATA {
        return Err(CmsError::NotSignedData { content_type: ct });
    }
    let wrapper = expect(kids.get(1), 0xa0, "ContentInfo.content")?;
    let inner = children(buf, &wrapper, 1, "ContentInfo.content")?;
    let sd = expect(inner.first(), 0x30, "SignedData")?;
    parse_signed_data(buf, &sd)
}

fn parse_signed_data(buf: &[u8], sd: &Tlv) -> Result<SignedData, CmsError> {
    // RFC 5652 §5.1
    let kids = children(buf, sd, 6, "SignedData")?;
    let mut it = kids.iter().peekable();
    let version = small_uint(buf, it.next().ok_or(malformed("SignedData"))?, "version")?;
    if !matches!(version, 1 | 3 | 4 | 5) {
        return Err(CmsError::UnsupportedVersion { version });
    }
    let set = expect(it.next(), 0x31, "digestAlgorithms")?;
    let digest_algorithms = children(buf, &set, MAX_DIGEST_ALGORITHMS, "digest algorithms")?
        .iter()
        .map(|t| algorithm(buf, t, "digestAlgorithms"))
        .collect::<Result<Vec<_>, _>>()?;

    // §5.2 EncapsulatedContentInfo ::= SEQUENCE { eContentType, eContent [0] EXPLICIT OCTET STRING OPTIONAL }
    let eci = expect(it.next(), 0x30, "encapContentInfo")?;
    let eci_kids = children(buf, &eci, 2, "encapContentInfo")?;
    let content_type = oid_of(
        buf,
        eci_kids.first().ok_or(malformed("eContentType"))?,
        "eContentType",
    )?;
    let content = match eci_kids.get(1) {
        None => None,
        Some(w) => {
            let w = expect(Some(w), 0xa0, "eContent")?;
            let os = children(buf, &w, 1, "eContent")?;
            let os = expect(os.first(), 0x04, "eContent")?;
            Some(os.content(buf).to_vec())
        }
    };

    let mut certificates = Vec::new();
    let mut other_certificates = 0;
    if let Some(t) = it.next_if(|t| t.tag == 0xa0) {
        // §10.2.2 CertificateChoices: certificate, or [0]..[3] alternatives we do not use.
        for (index, c) in children(buf, t, MAX_CERTIFICATES, "certificates")?
            .iter()
            .enumerate()
        {
            match c.tag {
                0x30 => certificates.push(
                    Certificate::from_der(c.whole(buf).to_vec())
                        .map_err(|error| CmsError::BadCertificate { index, error })?,
                ),
                0xa0..=0xa3 | 0x80..=0x83 => other_certificates += 1,
                _ => return Err(malformed("certificates")),
            }
        }
    }
    let mut crls = 0;
    if let Some(t) = it.next_if(|t| t.tag == 0xa1) {
        crls = children(buf, t, MAX_CRLS, "CRLs")?.len();
    }
    let set = expect(it.next(), 0x31, "signerInfos")?;
    if it.next().is_some() {
        return Err(malformed("SignedData"));
    }
    let signers = children(buf, &set, MAX_SIGNERS, "signers")?
        .iter()
        .map(|t| parse_signer_info(buf, t))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(SignedData {
        version,
        digest_algorithms,
        content_type,
        content,
        certificates,
        other_certificates,
        crls,
        signers,
        was_ber: false,
    })
}

fn parse_attributes(buf: &[u8], t: &Tlv, what: &'static str) -> Result<Vec<Attribute>, CmsError> {
    // §5.3 Attribute ::= SEQUENCE { attrType OBJECT IDENTIFIER, attrValues SET OF AttributeValue }
    children(buf, t, MAX_ATTRIBUTES, what)?
        .iter()
        .map(|a| {
            let a = expect(Some(a), 0x30, what)?;
            let kids = children(buf, &a, 2, what)?;
            let oid = oid_of(buf, kids.first().ok_or(malformed(what))?, what)?;
            let set = expect(kids.get(1), 0x31, what)?;
            let values = children(buf, &set, MAX_ATTRIBUTE_VALUES, "attribute values")?
                .iter()
                .map(|v| v.whole(buf).to_vec())
                .collect();
            Ok(Attribute { oid, values })
        })
        .collect()
}

fn parse_signer_info(buf: &[u8], t: &Tlv) -> Result<SignerInfo, CmsError> {
    // §5.3 SignerInfo
    let t = expect(Some(t), 0x30, "SignerInfo")?;
    let kids = children(buf, &t, 7, "SignerInfo")?;
    let mut it = kids.iter().peekable();
    let version = small_uint(buf, it.next().ok_or(malformed("SignerInfo"))?, "version")?;
    if !matches!(version, 1 | 3) {
        return Err(CmsError::UnsupportedVersion { version });
    }
    let sid_t = it.next().ok_or(malformed("sid"))?;
    let sid = match sid_t.tag {
        0x30 => {
            // IssuerAndSerialNumber ::= SEQUENCE { issuer Name, serialNumber CertificateSerialNumber }
            let k = children(buf, sid_t, 2, "issuerAndSerialNumber")?;
            let issuer_t = expect(k.first(), 0x30, "issuerAndSerialNumber")?;
            let serial_t = expect(k.get(1), 0x02, "issuerAndSerialNumber")?;
            let issuer = DistinguishedName::from_der(issuer_t.whole(buf))
                .map_err(|_| malformed("issuerAndSerialNumber.issuer"))?;
            SignerId::IssuerAndSerial {
                issuer,
                serial: serial_t.content(buf).to_vec(),
            }
        }
        0x80 => SignerId::SubjectKeyId(sid_t.content(buf).to_vec()),
        _ => return Err(malformed("sid")),
    };
    let digest_algorithm = algorithm(
        buf,
        it.next().ok_or(malformed("digestAlgorithm"))?,
        "digestAlgorithm",
    )?;
    let (signed_attributes, signed_attributes_der) = match it.next_if(|t| t.tag == 0xa0) {
        Some(sa) => {
            let attrs = parse_attributes(buf, sa, "signed attributes")?;
            // §5.4: the signature covers the DER of SignedAttributes with the EXPLICIT SET OF
            // tag, not the [0] IMPLICIT tag that appears in the SignerInfo.
            let mut der = sa.whole(buf).to_vec();
            if let Some(first) = der.first_mut() {
                *first = 0x31;
            }
            (Some(attrs), Some(der))
        }
        None => (None, None),
    };
    let signature_algorithm = algorithm(
        buf,
        it.next().ok_or(malformed("signatureAlgorithm"))?,
        "signatureAlgorithm",
    )?;
    let signature = expect(it.next(), 0x04, "signature")?.content(buf).to_vec();
    let unsigned_attributes = match it.next_if(|t| t.tag == 0xa1) {
        Some(ua) => parse_attributes(buf, ua, "unsigned attributes")?,
        None => Vec::new(),
    };
    if it.next().is_some() {
        return Err(malformed("SignerInfo"));
    }
    Ok(SignerInfo {
        version,
        sid,
        digest_algorithm,
        signed_attributes,
        signed_attributes_der,
        signature_algorithm,
        signature,
        unsigned_attributes,
    })
}

/// The single value of a signed attribute that RFC 5652 §11 allows once with one value:
/// `Ok(None)` if absent, [`SignerError::DuplicateAttribute`] if repeated,
/// [`SignerError::BadAttribute`] if its SET does not hold exactly one value.
fn single_value(s: &SignerInfo, oid: ObjectIdentifier) -> Result<Option<&[u8]>, SignerError> {
    let Some(attrs) = &s.signed_attributes else {
        return Ok(None);
    };
    let mut found = attrs.iter().filter(|a| a.oid == oid);
    let Some(first) = found.next() else {
        return Ok(None);
    };
    if found.next().is_some() {
        return Err(SignerError::DuplicateAttribute { oid });
    }
    match first.values.as_slice() {
        [one] => Ok(Some(one.as_slice())),
        _ => Err(SignerError::BadAttribute { oid }),
    }
}

/// The signature algorithm to hand to [`signature::verify`] for a signer's (digestAlgorithm,
/// signatureAlgorithm) pair, refusing pairs that contradict each other.
///
/// RFC 5652 §5.3 and RFC 3370 §3.2: signers may write the bare key algorithm (rsaEncryption) and
/// let digestAlgorithm name the hash; an explicit sha*WithRSAEncryption / ecdsa-with-SHA* must
/// name the same hash (RFC 5754 §3, RFC 5753 §2.1.1). Kalkan writes the full signature OIDs
/// (sha256WithRSAEncryption; 1.2.398.3.10.1.1.2.3.2 with Streebog-512; 1.2.398.3.10.1.1.1.2 with
/// GOST 34.311-95: fixtures ncanode_2signers_*, dk_*_GOSTKNCA_*); the GOST key OIDs are mapped
/// too, in case a signer writes those.
pub fn effective_signature_algorithm(
    digest: &AlgorithmId,
    signature_alg: &AlgorithmId,
) -> Result<AlgorithmId, SignerError> {
    let d = digest.oid;
    let s = signature_alg.oid;
    let mismatch = SignerError::AlgorithmMismatch {
        digest: d,
        signature: s,
    };
    let with = |oid: ObjectIdentifier, params: Option<Vec<u8>>| AlgorithmId { oid, params };
    let rsa_for = |d| match d {
        sig::SHA1 => Some(sig::SHA1_WITH_RSA),
        sig::SHA256 => Some(sig::SHA256_WITH_RSA),
        sig::SHA384 => Some(sig::SHA384_WITH_RSA),
        sig::SHA512 => Some(sig::SHA512_WITH_RSA),
        _ => None,
    };
    let ecdsa_for = |d| match d {
        sig::SHA1 => Some(sig::ECDSA_SHA1),
        sig::SHA256 => Some(sig::ECDSA_SHA256),
        sig::SHA384 => Some(sig::ECDSA_SHA384),
        sig::SHA512 => Some(sig::ECDSA_SHA512),
        _ => None,
    };
    match s {
        sig::RSA_ENCRYPTION => rsa_for(d)
            .map(|oid| with(oid, Some(vec![0x05, 0x00])))
            .ok_or(mismatch),
        sig::SHA1_WITH_RSA | sig::SHA256_WITH_RSA | sig::SHA384_WITH_RSA | sig::SHA512_WITH_RSA => {
            if rsa_for(d) == Some(s) {
                Ok(signature_alg.clone())
            } else {
                Err(mismatch)
            }
        }
        sig::EC_PUBLIC_KEY => ecdsa_for(d).map(|oid| with(oid, None)).ok_or(mismatch),
        sig::ECDSA_SHA1 | sig::ECDSA_SHA256 | sig::ECDSA_SHA384 | sig::ECDSA_SHA512 => {
            if ecdsa_for(d) == Some(s) {
                Ok(signature_alg.clone())
            } else {
                Err(mismatch)
            }
        }
        oids::GOST_2015_512_SIG | oids::GOST_2015_512_KEY => {
            if d == oids::STREEBOG_512 {
                Ok(with(oids::GOST_2015_512_SIG, signature_alg.params.clone()))
            } else {
                Err(mismatch)
            }
        }
        oids::GOST_2004_SIG | oids::GOST_2004_KEY => {
            if d == oids::GOST_34311_95 {
                Ok(with(oids::GOST_2004_SIG, signature_alg.params.clone()))
            } else {
                Err(mismatch)
            }
        }
        // A GOST digest with a non-GOST signature (or the reverse) is never right.
        _ if gost::is_gost_oid(&s) || d == oids::STREEBOG_512 || d == oids::GOST_34311_95 => {
            Err(mismatch)
        }
        // RSA-PSS, Ed25519, …: the signature registry checks the parameters and the key.
        _ => Ok(signature_alg.clone()),
    }
}

/// Verifies every signer of `sd` over its content (attached, or `detached_content`).
///
/// `Err` only for whole-message problems: no signer, no content at all, or attached content that
/// differs from the supplied content. Each signer then gets its own [`SignerVerdict`]. The caller
/// must still validate each signer certificate (path, validity at `signing_time` or now,
/// revocation) and decide how many valid signers it needs.
pub fn verify_signers(
    sd: &SignedData,
    detached_content: Option<&[u8]>,
    extra_certs: &[Certificate],
    policy: &SignaturePolicy,
) -> Result<Vec<SignerVerdict>, CmsError> {
    if sd.signers.is_empty() {
        return Err(CmsError::NoSigners);
    }
    let content = match (sd.content.as_deref(), detached_content) {
        (Some(a), Some(d)) if a != d => return Err(CmsError::ContentMismatch),
        (Some(a), _) => a,
        (None, Some(d)) => d,
        (None, None) => return Err(CmsError::NoContent),
    };
    Ok(sd
        .signers
        .iter()
        .enumerate()
        .map(|(index, s)| {
            let certificate = sd
                .certificates
                .iter()
                .chain(extra_certs)
                .find(|c| s.sid.matches(c))
                .cloned();
            let result = verify_one(sd, s, certificate.as_ref(), content, policy);
            SignerVerdict {
                index,
                sid: s.sid.clone(),
                certificate,
                signing_time: s.signing_time().ok().flatten(),
                digest_algorithm: s.digest_algorithm.oid,
                signature_algorithm: s.signature_algorithm.oid,
                unsigned_attributes: s.unsigned_attributes.iter().map(|a| a.oid).collect(),
                result,
            }
        })
        .collect())
}

fn verify_one(
    sd: &SignedData,
    s: &SignerInfo,
    cert: Option<&Certificate>,
    content: &[u8],
    policy: &SignaturePolicy,
) -> Result<(), SignerError> {
    let alg = effective_signature_algorithm(&s.digest_algorithm, &s.signature_algorithm)?;
    if s.digest_algorithm.oid == sig::SHA1 && !policy.allow_sha1 {
        return Err(SignerError::Signature(SignatureError::Sha1NotAllowed));
    }
    let cert = cert.ok_or_else(|| SignerError::CertificateNotFound {
        sid: s.sid.to_string(),
    })?;
    let message: &[u8] = match &s.signed_attributes_der {
        Some(der) => {
            // §11.1 content-type: exactly one, single value, equal to eContentType.
            let ct = single_value(s, oids::CONTENT_TYPE)?.ok_or(SignerError::MissingAttribute {
                oid: oids::CONTENT_TYPE,
            })?;
            let signed = ObjectIdentifier::from_der(ct).map_err(|_| SignerError::BadAttribute {
                oid: oids::CONTENT_TYPE,
            })?;
            if signed != sd.content_type {
                return Err(SignerError::ContentTypeMismatch {
                    signed,
                    encapsulated: sd.content_type,
                });
            }
            // §11.2 message-digest: exactly one OCTET STRING equal to digest(content).
            let md =
                single_value(s, oids::MESSAGE_DIGEST)?.ok_or(SignerError::MissingAttribute {
                    oid: oids::MESSAGE_DIGEST,
                })?;
            let md =
                der::asn1::OctetString::from_der(md).map_err(|_| SignerError::BadAttribute {
                    oid: oids::MESSAGE_DIGEST,
                })?;
            // §11.3 signing-time: at most one, well formed.
            s.signing_time()?;
            let algorithm = s.digest_algorithm.oid;
            let digest = signature::digest(&algorithm, content)
                .ok_or(SignerError::DigestUnavailable { oid: algorithm })?;
            if digest.as_slice() != md.as_bytes() {
                return Err(SignerError::MessageDigestMismatch { algorithm });
            }
            der
        }
        None => {
            // §5.3: signedAttrs MUST be present unless the content type is id-data; then the
            // signature is over the content itself (§5.4).
            if sd.content_type != oids::ID_DATA {
                return Err(SignerError::SignedAttributesRequired {
                    content_type: sd.content_type,
                });
            }
            content
        }
    };
    signature::verify(&alg, &cert.spki_der, message, &s.signature, policy)
        .map_err(SignerError::Signature)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let len = content.len();
        if len < 0x80 {
            out.push(u8::try_from(len).expect("short"));
        } else if len < 0x100 {
            out.extend_from_slice(&[0x81, u8::try_from(len).expect("byte")]);
        } else {
            out.extend_from_slice(&[0x82]);
            out.extend_from_slice(&u16::try_from(len).expect("u16").to_be_bytes());
        }
        out.extend_from_slice(content);
        out
    }

    fn oid(o: ObjectIdentifier) -> Vec<u8> {
        tlv(0x06, o.as_bytes())
    }

    fn alg(o: ObjectIdentifier) -> AlgorithmId {
        AlgorithmId {
            oid: o,
            params: None,
        }
    }

    /// A SignedData with one SKI signer, no certificates, the given signed attributes.
    fn signed_data(content: Option<&[u8]>, attrs: Option<Vec<Vec<u8>>>, signers: usize) -> Vec<u8> {
        let sha256 = tlv(0x30, &oid(sig::SHA256));
        let mut eci = oid(oids::ID_DATA);
        if let Some(c) = content {
            eci.extend(tlv(0xa0, &tlv(0x04, c)));
        }
        let mut si = tlv(0x02, &[3]);
        si.extend(tlv(0x80, &[1, 2, 3, 4]));
        si.extend(sha256.clone());
        if let Some(a) = attrs {
            si.extend(tlv(0xa0, &a.concat()));
        }
        si.extend(tlv(0x30, &[oid(sig::SHA256_WITH_RSA), vec![5, 0]].concat()));
        si.extend(tlv(0x04, &[0u8; 16]));
        let si = tlv(0x30, &si);
        let mut sd = tlv(0x02, &[3]);
        sd.extend(tlv(0x31, &sha256));
        sd.extend(tlv(0x30, &eci));
        sd.extend(tlv(0x31, &vec![si; signers].concat()));
        tlv(
            0x30,
            &[oid(oids::ID_SIGNED_DATA), tlv(0xa0, &tlv(0x30, &sd))].concat(),
        )
    }

    fn attr(o: ObjectIdentifier, values: &[Vec<u8>]) -> Vec<u8> {
        tlv(0x30, &[oid(o), tlv(0x31, &values.concat())].concat())
    }

    #[test]
    fn synthetic_signed_data_parses_in_every_text_form() {
        let der = signed_data(Some(b"hi"), None, 1);
        let sd = SignedData::parse(&der).expect("DER");
        assert_eq!(sd.content.as_deref(), Some(&b"hi"[..]));
        assert_eq!(sd.signers.len(), 1);
        assert_eq!(sd.signers[0].sid, SignerId::SubjectKeyId(vec![1, 2, 3, 4]));
        assert!(!sd.was_ber);
        let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
        assert_eq!(SignedData::parse(b64.as_bytes()), Ok(sd.clone()));
        let wrapped: String = b64
            .as_bytes()
            .chunks(10)
            .map(|c| format!("{}\r\n", String::from_utf8_lossy(c)))
            .collect();
        assert_eq!(SignedData::parse(wrapped.as_bytes()), Ok(sd.clone()));
        let pem = format!("-----BEGIN CMS-----\n{wrapped}-----END CMS-----\n");
        assert_eq!(SignedData::parse(pem.as_bytes()), Ok(sd.clone()));
        let pem = format!("  -----BEGIN PKCS7-----\n{b64}\n-----END PKCS7-----");
        assert_eq!(SignedData::parse(pem.as_bytes()), Ok(sd));
    }

    #[test]
    fn pem_with_a_certificate_label_is_refused() {
        let pem = "-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n";
        assert_eq!(
            SignedData::parse(pem.as_bytes()),
            Err(CmsError::UnexpectedPemLabel {
                label: "CERTIFICATE".into()
            })
        );
    }

    #[test]
    fn garbage_text_is_bad_encoding() {
        assert!(matches!(
            SignedData::parse(b"not base64 at all!"),
            Err(CmsError::BadEncoding { .. })
        ));
        assert!(matches!(
            SignedData::parse(b"   "),
            Err(CmsError::BadEncoding { .. })
        ));
    }

    #[test]
    fn enveloped_data_is_not_signed_data() {
        let enveloped = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.3");
        let der = tlv(0x30, &[oid(enveloped), tlv(0xa0, &tlv(0x30, &[]))].concat());
        assert_eq!(
            SignedData::parse(&der),
            Err(CmsError::NotSignedData {
                content_type: enveloped
            })
        );
    }

    #[test]
    fn oversized_input_is_refused_before_decoding() {
        let big = vec![b'A'; MAX_TEXT_SIZE + 1];
        assert_eq!(
            SignedData::parse(&big),
            Err(CmsError::TooLarge {
                size: MAX_TEXT_SIZE + 1,
                max: MAX_TEXT_SIZE
            })
        );
    }

    #[test]
    fn nine_signers_exceed_the_budget() {
        let der = signed_data(Some(b"x"), None, MAX_SIGNERS + 1);
        assert_eq!(
            SignedData::parse(&der),
            Err(CmsError::TooMany {
                what: "signers",
                max: MAX_SIGNERS
            })
        );
    }

    #[test]
    fn trailing_bytes_after_content_info_are_malformed() {
        let mut der = signed_data(Some(b"x"), None, 1);
        der.push(0);
        assert_eq!(SignedData::parse(&der), Err(malformed("TLV encoding")));
    }

    #[test]
    fn detached_without_content_is_no_content() {
        let sd = SignedData::parse(&signed_data(None, None, 1)).expect("parses");
        let v = verify_signers(&sd, None, &[], &SignaturePolicy::default());
        assert_eq!(v, Err(CmsError::NoContent));
    }

    #[test]
    fn attached_and_different_supplied_content_conflict() {
        let sd = SignedData::parse(&signed_data(Some(b"a"), None, 1)).expect("parses");
        let p = SignaturePolicy::default();
        assert_eq!(
            verify_signers(&sd, Some(b"b"), &[], &p),
            Err(CmsError::ContentMismatch)
        );
        // The same content supplied twice is fine (the signer then fails for lack of a cert).
        let v = verify_signers(&sd, Some(b"a"), &[], &p).expect("verdicts");
        assert_eq!(
            v[0].result,
            Err(SignerError::CertificateNotFound {
                sid: "subject key id 01020304".into()
            })
        );
    }

    #[test]
    fn zero_signers_is_no_signers() {
        let sd = SignedData::parse(&signed_data(Some(b"a"), None, 0)).expect("parses");
        assert_eq!(
            verify_signers(&sd, None, &[], &SignaturePolicy::default()),
            Err(CmsError::NoSigners)
        );
    }

    #[test]
    fn duplicate_message_digest_is_reported_by_single_value() {
        let md = attr(oids::MESSAGE_DIGEST, &[tlv(0x04, &[0; 32])]);
        let ct = attr(oids::CONTENT_TYPE, &[oid(oids::ID_DATA)]);
        let der = signed_data(Some(b"a"), Some(vec![ct, md.clone(), md]), 1);
        let sd = SignedData::parse(&der).expect("parses");
        assert_eq!(
            single_value(&sd.signers[0], oids::MESSAGE_DIGEST),
            Err(SignerError::DuplicateAttribute {
                oid: oids::MESSAGE_DIGEST
            })
        );
        assert_eq!(single_value(&sd.signers[0], oids::SIGNING_TIME), Ok(None));
        // The exact bytes, re-tagged as SET OF.
        let sa = sd.signers[0].signed_attributes_der().expect("present");
        assert_eq!(sa.first(), Some(&0x31));
    }

    #[test]
    fn signing_time_decodes_utc_and_generalized_time() {
        let ct = attr(oids::CONTENT_TYPE, &[oid(oids::ID_DATA)]);
        for (value, expected) in [
            (tlv(0x17, b"220927211759Z"), 1_664_313_479),
            (tlv(0x18, b"20220927211759Z"), 1_664_313_479),
        ] {
            let st = attr(oids::SIGNING_TIME, &[value]);
            let der = signed_data(Some(b"a"), Some(vec![ct.clone(), st]), 1);
            let sd = SignedData::parse(&der).expect("parses");
            assert_eq!(sd.signers[0].signing_time(), Ok(Some(UnixTime(expected))));
        }
        let st = attr(oids::SIGNING_TIME, &[tlv(0x04, b"x")]);
        let sd = SignedData::parse(&signed_data(Some(b"a"), Some(vec![st]), 1)).expect("parses");
        assert_eq!(
            sd.signers[0].signing_time(),
            Err(SignerError::BadAttribute {
                oid: oids::SIGNING_TIME
            })
        );
    }

    #[test]
    fn rsa_encryption_takes_its_hash_from_the_digest_algorithm() {
        let got = effective_signature_algorithm(&alg(sig::SHA256), &alg(sig::RSA_ENCRYPTION));
        assert_eq!(got.map(|a| a.oid), Ok(sig::SHA256_WITH_RSA));
        let got = effective_signature_algorithm(&alg(sig::SHA512), &alg(sig::RSA_ENCRYPTION));
        assert_eq!(got.map(|a| a.oid), Ok(sig::SHA512_WITH_RSA));
    }

    #[test]
    fn explicit_rsa_hash_that_contradicts_the_digest_is_a_mismatch() {
        assert_eq!(
            effective_signature_algorithm(&alg(sig::SHA256), &alg(sig::SHA384_WITH_RSA)),
            Err(SignerError::AlgorithmMismatch {
                digest: sig::SHA256,
                signature: sig::SHA384_WITH_RSA
            })
        );
        assert_eq!(
            effective_signature_algorithm(&alg(sig::SHA384), &alg(sig::ECDSA_SHA256)),
            Err(SignerError::AlgorithmMismatch {
                digest: sig::SHA384,
                signature: sig::ECDSA_SHA256
            })
        );
    }

    #[test]
    fn gost_key_oids_map_to_the_signature_oids_kalkan_uses() {
        let got =
            effective_signature_algorithm(&alg(oids::STREEBOG_512), &alg(oids::GOST_2015_512_KEY));
        assert_eq!(got.map(|a| a.oid), Ok(oids::GOST_2015_512_SIG));
        let got =
            effective_signature_algorithm(&alg(oids::GOST_34311_95), &alg(oids::GOST_2004_KEY));
        assert_eq!(got.map(|a| a.oid), Ok(oids::GOST_2004_SIG));
        assert_eq!(
            effective_signature_algorithm(&alg(oids::GOST_34311_95), &alg(oids::GOST_2015_512_SIG)),
            Err(SignerError::AlgorithmMismatch {
                digest: oids::GOST_34311_95,
                signature: oids::GOST_2015_512_SIG
            })
        );
        assert_eq!(
            effective_signature_algorithm(&alg(sig::SHA256), &alg(oids::GOST_2004_SIG)),
            Err(SignerError::AlgorithmMismatch {
                digest: sig::SHA256,
                signature: oids::GOST_2004_SIG
            })
        );
    }

    #[test]
    fn deep_indefinite_nesting_is_too_deep() {
        let mut ber = Vec::new();
        for _ in 0..10_000 {
            ber.extend_from_slice(&[0x30, 0x80]);
        }
        ber.extend(std::iter::repeat_n(0u8, 20_000));
        assert_eq!(
            SignedData::parse(&ber),
            Err(CmsError::TooDeep {
                max: ber::MAX_DEPTH
            })
        );
    }

    #[test]
    fn every_error_has_a_distinct_code() {
        let errs = [
            CmsError::ContentMismatch.code(),
            CmsError::NoContent.code(),
            CmsError::NoSigners.code(),
            malformed("x").code(),
            SignerError::MessageDigestMismatch {
                algorithm: sig::SHA256,
            }
            .code(),
            SignerError::MissingAttribute {
                oid: oids::MESSAGE_DIGEST,
            }
            .code(),
            SignerError::Signature(SignatureError::Invalid).code(),
        ];
        let mut sorted = errs.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), errs.len());
    }
}

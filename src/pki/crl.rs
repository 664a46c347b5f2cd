//! Certificate revocation lists: parsing (RFC 5280 §5) and the per-certificate revocation check
//! (RFC 5280 §6.3.3), including delta CRLs.
//!
//! Why we write this ourselves: no Rust crate validates CRLs the way RFC 5280 §6.3 asks.
//! `x509-cert` only decodes; rustls-webpki refuses delta CRLs and cannot verify NCA's GOST-signed
//! CRLs (its signature set is fixed). NCA publishes complete and delta CRLs, signed with RSA and
//! with GOST 34.310-2004 / 34.10-2015, so the check has to go through our own signature registry
//! ([`super::signature::verify`]).
//!
//! Design:
//! - [`Crl::parse`] decodes once into an owned view. The TBSCertList is walked with
//!   [`der_util::read_tlv`] so the signature is checked over the exact bytes received and budgets
//!   are enforced before anything is allocated per entry. Entries are kept sorted by serial
//!   (binary search: NCA's production CRL has 422,065 entries).
//! - Problems that make a CRL *unusable* but not *undecodable* (unknown critical extensions,
//!   a critical CRLNumber, a missing CRLNumber...) are recorded at parse time and refused by
//!   [`check`] only when the CRL is applicable, so a bad CRL of another CA never blocks a login.
//! - [`check`] never skips an applicable CRL silently: any applicable CRL that fails a check makes
//!   the whole check fail with a named error.
//!
//! Not supported (documented choices, each refusing rather than guessing):
//! - indirect CRLs (IDP `indirectCRL`, entry `certificateIssuer`, CDP `cRLIssuer`): such a CRL is
//!   treated as *not applicable*; a critical `certificateIssuer` entry extension makes the CRL
//!   unusable (RFC 5280 §5.3: unprocessed critical entry extension).
//! - IDP `nameRelativeToCRLIssuer`: such a CRL is not applicable.
//! - CRLs for attribute certificates (`onlyContainsAttributeCerts`): never applicable.
//! - reason partitioning (IDP `onlySomeReasons`): such a CRL can revoke, but only a CRL covering
//!   all reasons can establish `Good`; the certificate's own CDP `reasons` field is not used.

use std::cmp::Ordering;
use std::fmt;

use const_oid::ObjectIdentifier;
use der::Decode;
use der::asn1::{BitString, GeneralizedTime};
use x509_cert::ext::pkix;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName as XGeneralName};

use super::cert::{self, AlgorithmId, Certificate, GeneralName, KeyUsage};
use super::der_util::{self, Tlv};
use super::name::DistinguishedName;
use super::signature::{self, SignatureError, SignaturePolicy};
use super::time::UnixTime;

/// Largest CRL we accept, in DER bytes. NCA's production RSA CRL is about 21 MB with 422,065
/// entries (2025); 64 MiB leaves room for three times that growth.
pub const MAX_CRL_SIZE: usize = 64 * 1024 * 1024;

/// Most entries we accept in one CRL: NCA's production CRL has 422,065; 2,000,000 is ~5x that.
/// At ~100 bytes of memory per entry this caps one CRL at ~200 MB of RAM.
pub const MAX_CRL_ENTRIES: usize = 2_000_000;

/// Most extensions in `crlExtensions`. RFC 5280 §5.2 defines seven; NCA uses two.
pub const MAX_CRL_EXTENSIONS: usize = 32;

/// Most extensions on one entry. RFC 5280 §5.3 defines four; NCA uses one (reasonCode).
pub const MAX_ENTRY_EXTENSIONS: usize = 16;

/// Longest serial number we store (content octets). RFC 5280 §4.1.2.2 allows 20 octets (21 with
/// the sign byte); 64 tolerates non-conforming CAs without letting an entry grow unbounded.
pub const MAX_SERIAL_LEN: usize = 64;

/// Longest CRLNumber / BaseCRLNumber, RFC 5280 §5.2.3: "MUST NOT use CRLNumber values longer
/// than 20 octets" (validators MUST handle up to 20).
pub const MAX_CRL_NUMBER_LEN: usize = 20;

/// OIDs of CRL and CRL entry extensions (RFC 5280 §5.2, §5.3).
pub mod oids {
    use const_oid::ObjectIdentifier;
    macro_rules! oid {
        ($name:ident, $s:expr, $doc:expr) => {
            #[doc = $doc]
            pub const $name: ObjectIdentifier = ObjectIdentifier::new_unwrap($s);
        };
    }
    oid!(CRL_NUMBER, "2.5.29.20", "cRLNumber (§5.2.3)");
    oid!(
        REASON_CODE,
        "2.5.29.21",
        "reasonCode entry extension (§5.3.1)"
    );
    oid!(
        HOLD_INSTRUCTION_CODE,
        "2.5.29.23",
        "holdInstructionCode entry extension (RFC 3280 §5.3.2)"
    );
    oid!(
        INVALIDITY_DATE,
        "2.5.29.24",
        "invalidityDate entry extension (§5.3.2)"
    );
    oid!(
        DELTA_CRL_INDICATOR,
        "2.5.29.27",
        "deltaCRLIndicator (§5.2.4)"
    );
    oid!(
        ISSUING_DISTRIBUTION_POINT,
        "2.5.29.28",
        "issuingDistributionPoint (§5.2.5)"
    );
    oid!(
        CERTIFICATE_ISSUER,
        "2.5.29.29",
        "certificateIssuer entry extension (§5.3.3)"
    );
}

/// Why a CRL could not be parsed, or could not be used for a certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CrlError {
    /// Not a DER CertificateList (or PEM `X509 CRL` around one); RFC 5280 §5.1.
    BadEncoding {
        /// What was wrong.
        detail: String,
    },
    /// A CRL entry is malformed or one of its known extensions does not decode (RFC 5280 §5.3).
    BadEntry {
        /// Serial of the entry in upper-case hex (empty when the serial itself is unreadable).
        serial: String,
        /// What was wrong.
        detail: String,
    },
    /// A known CRL extension does not decode or breaks its RFC 5280 §5.2 constraints.
    BadExtension {
        /// The extension.
        oid: ObjectIdentifier,
        /// What was wrong.
        detail: String,
    },
    /// The CRL's signature does not verify with the issuer's key (RFC 5280 §6.3.3 (g)).
    BadSignature {
        /// The CRL's number, if it has one.
        crl_number: Option<CrlNumber>,
    },
    /// Version other than v1/v2, or v2 features (extensions) in a v1 CRL (RFC 5280 §5.1.2.1).
    BadVersion,
    /// A delta CRL (deltaCRLIndicator) for which no usable complete CRL of the same issuer and
    /// scope with CRLNumber >= its BaseCRLNumber was given (RFC 5280 §5.2.4, §6.3.3 (c)).
    DeltaWithoutBase {
        /// The delta's CRLNumber.
        delta_crl_number: Option<CrlNumber>,
        /// The delta's BaseCRLNumber.
        base_crl_number: CrlNumber,
    },
    /// The same extension appears twice in the CRL or in one entry (RFC 5280 §4.2).
    DuplicateExtension {
        /// The repeated extension.
        oid: ObjectIdentifier,
    },
    /// An extension that RFC 5280 requires to be non-critical is marked critical (e.g. a critical
    /// cRLNumber, §5.2.3; x509-limbo `crl::crlnumber-critical`).
    ExtensionMustNotBeCritical {
        /// The extension.
        oid: ObjectIdentifier,
    },
    /// The CRL issuer's certificate has a keyUsage extension without cRLSign (RFC 5280 §6.3.3 (f),
    /// §4.2.1.3).
    MissingCrlSign {
        /// Subject of the issuer certificate.
        issuer: String,
    },
    /// A CRL without cRLNumber: "conforming CRL issuers MUST include this extension in all CRLs"
    /// (RFC 5280 §5.2.3); we refuse it (x509-limbo `crl::crlnumber-missing`).
    MissingCrlNumber,
    /// A CRL without nextUpdate: RFC 5280 §5.1.2.5 says conforming issuers MUST include it; without
    /// it we cannot tell a current CRL from a years-old one.
    MissingNextUpdate {
        /// The CRL's number.
        crl_number: Option<CrlNumber>,
    },
    /// The CRL's thisUpdate is after the validation time (RFC 5280 §5.1.2.4).
    NotYetValid {
        /// The CRL's number.
        crl_number: Option<CrlNumber>,
        /// thisUpdate.
        this_update: UnixTime,
        /// Validation time.
        at: UnixTime,
    },
    /// A complete (non-delta) CRL lists an entry with reason removeFromCRL, which RFC 5280 §5.3.1
    /// only allows in delta CRLs.
    RemoveFromCrlInCompleteCrl {
        /// The CRL's number.
        crl_number: Option<CrlNumber>,
    },
    /// The outer signatureAlgorithm and tbsCertList.signature differ (RFC 5280 §5.1.1.2; absent
    /// and NULL parameters are treated as equal, see [`AlgorithmId::equivalent`]).
    SignatureAlgorithmMismatch,
    /// The signature could not be checked: unsupported or refused algorithm (SHA-1 by policy),
    /// a key of the wrong type or that does not decode...
    SignatureNotVerified {
        /// The CRL's number.
        crl_number: Option<CrlNumber>,
        /// Why the signature registry refused.
        source: SignatureError,
    },
    /// The CRL's nextUpdate is before the validation time: a newer CRL must be fetched
    /// (RFC 5280 §5.1.2.5, §6.3.3 (a)).
    Stale {
        /// The CRL's number.
        crl_number: Option<CrlNumber>,
        /// nextUpdate.
        next_update: UnixTime,
        /// Validation time.
        at: UnixTime,
    },
    /// The input is larger than [`MAX_CRL_SIZE`].
    TooLarge {
        /// Size received.
        size: usize,
    },
    /// More entries than [`MAX_CRL_ENTRIES`], or more extensions than the budgets allow.
    TooManyElements {
        /// What overflowed ("entries", "CRL extensions", "entry extensions").
        what: &'static str,
        /// The budget.
        limit: usize,
    },
    /// A critical CRL entry extension we do not process: RFC 5280 §5.3 says the CRL MUST NOT be
    /// used at all then (BSI `CRL_11`).
    UnhandledCriticalEntryExtension {
        /// The extension.
        oid: ObjectIdentifier,
    },
    /// A critical CRL extension we do not process: the CRL MUST NOT be used (RFC 5280 §5.2,
    /// §6.3.3 (j); BSI `CRL_06`).
    UnhandledCriticalExtension {
        /// The extension.
        oid: ObjectIdentifier,
    },
}

impl CrlError {
    /// Stable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            CrlError::BadEncoding { .. } => "crl_malformed",
            CrlError::BadEntry { .. } => "crl_bad_entry",
            CrlError::BadExtension { .. } => "crl_bad_extension",
            CrlError::BadSignature { .. } => "crl_bad_signature",
            CrlError::BadVersion => "crl_bad_version",
            CrlError::DeltaWithoutBase { .. } => "crl_delta_without_base",
            CrlError::DuplicateExtension { .. } => "crl_duplicate_extension",
            CrlError::ExtensionMustNotBeCritical { .. } => "crl_extension_wrongly_critical",
            CrlError::MissingCrlSign { .. } => "crl_issuer_missing_crl_sign",
            CrlError::MissingCrlNumber => "crl_number_missing",
            CrlError::MissingNextUpdate { .. } => "crl_next_update_missing",
            CrlError::NotYetValid { .. } => "crl_not_yet_valid",
            CrlError::RemoveFromCrlInCompleteCrl { .. } => "crl_remove_from_crl_in_complete_crl",
            CrlError::SignatureAlgorithmMismatch => "crl_signature_algorithm_mismatch",
            CrlError::SignatureNotVerified { .. } => "crl_signature_not_verified",
            CrlError::Stale { .. } => "crl_stale",
            CrlError::TooLarge { .. } => "crl_too_large",
            CrlError::TooManyElements { .. } => "crl_too_many_elements",
            CrlError::UnhandledCriticalEntryExtension { .. } => {
                "crl_unhandled_critical_entry_extension"
            }
            CrlError::UnhandledCriticalExtension { .. } => "crl_unhandled_critical_extension",
        }
    }
}

/// Renders "CRL #n" or "CRL without number" for messages.
struct Numbered<'a>(&'a Option<CrlNumber>);

impl fmt::Display for Numbered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(n) => write!(f, "CRL #{n}"),
            None => f.write_str("CRL without number"),
        }
    }
}

impl fmt::Display for CrlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CrlError::BadEncoding { detail } => write!(f, "malformed CRL: {detail}"),
            CrlError::BadEntry { serial, detail } => {
                write!(f, "CRL entry for serial {serial} is malformed: {detail}")
            }
            CrlError::BadExtension { oid, detail } => {
                write!(f, "CRL extension {oid} is malformed: {detail}")
            }
            CrlError::BadSignature { crl_number } => {
                write!(
                    f,
                    "{} is not signed by the certificate's issuer (signature does not verify)",
                    Numbered(crl_number)
                )
            }
            CrlError::BadVersion => f.write_str("CRL version does not allow its fields"),
            CrlError::DeltaWithoutBase {
                delta_crl_number,
                base_crl_number,
            } => write!(
                f,
                "delta {} needs a complete CRL numbered {base_crl_number} or later, none was given",
                Numbered(delta_crl_number)
            ),
            CrlError::DuplicateExtension { oid } => {
                write!(f, "extension {oid} appears twice in the CRL")
            }
            CrlError::ExtensionMustNotBeCritical { oid } => {
                write!(
                    f,
                    "CRL extension {oid} is marked critical, RFC 5280 forbids it"
                )
            }
            CrlError::MissingCrlSign { issuer } => write!(
                f,
                "the CRL issuer \"{issuer}\" is not allowed to sign CRLs (keyUsage lacks cRLSign)"
            ),
            CrlError::MissingCrlNumber => f.write_str("the CRL has no CRL number"),
            CrlError::MissingNextUpdate { crl_number } => {
                write!(f, "{} has no nextUpdate", Numbered(crl_number))
            }
            CrlError::NotYetValid {
                crl_number,
                this_update,
                at,
            } => write!(
                f,
                "{} is not valid before {this_update} (checked at {at})",
                Numbered(crl_number)
            ),
            CrlError::RemoveFromCrlInCompleteCrl { crl_number } => write!(
                f,
                "{} is a complete CRL but has removeFromCRL entries",
                Numbered(crl_number)
            ),
            CrlError::SignatureAlgorithmMismatch => {
                f.write_str("CRL signatureAlgorithm differs from tbsCertList.signature")
            }
            CrlError::SignatureNotVerified { crl_number, source } => write!(
                f,
                "the signature of {} could not be checked: {source}",
                Numbered(crl_number)
            ),
            CrlError::Stale {
                crl_number,
                next_update,
                at,
            } => write!(
                f,
                "{} expired at its nextUpdate {next_update} (checked at {at}); fetch a newer CRL",
                Numbered(crl_number)
            ),
            CrlError::TooLarge { size } => write!(f, "CRL of {size} bytes is too large"),
            CrlError::TooManyElements { what, limit } => {
                write!(f, "CRL has more than {limit} {what}")
            }
            CrlError::UnhandledCriticalEntryExtension { oid } => write!(
                f,
                "CRL has an entry with critical extension {oid} that we do not process"
            ),
            CrlError::UnhandledCriticalExtension { oid } => {
                write!(f, "CRL has critical extension {oid} that we do not process")
            }
        }
    }
}

impl std::error::Error for CrlError {}

/// A CRL number (RFC 5280 §5.2.3): a non-negative integer of up to 20 octets, compared as an
/// unsigned big integer.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct CrlNumber(Vec<u8>);

impl CrlNumber {
    /// From big-endian unsigned bytes (leading zeros are ignored).
    pub fn from_be_bytes(bytes: &[u8]) -> CrlNumber {
        let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
        CrlNumber(bytes.get(start..).unwrap_or_default().to_vec())
    }

    /// Big-endian bytes without leading zeros (empty for zero).
    pub fn as_be_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl Ord for CrlNumber {
    fn cmp(&self, other: &Self) -> Ordering {
        // No leading zeros on either side, so the longer one is the larger.
        self.0
            .len()
            .cmp(&other.0.len())
            .then_with(|| self.0.cmp(&other.0))
    }
}

impl PartialOrd for CrlNumber {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for CrlNumber {
    /// Decimal when it fits in 128 bits, else `0x` + hex.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.len() <= 16 {
            let v = self
                .0
                .iter()
                .fold(0u128, |acc, b| (acc << 8) | u128::from(*b));
            write!(f, "{v}")
        } else {
            write!(f, "0x{}", hex::encode_upper(&self.0))
        }
    }
}

pub use super::reason::RevocationReason;

fn reason_from_x(r: pkix::crl::CrlReason) -> RevocationReason {
    use pkix::crl::CrlReason as X;
    match r {
        X::Unspecified => RevocationReason::Unspecified,
        X::KeyCompromise => RevocationReason::KeyCompromise,
        X::CaCompromise => RevocationReason::CaCompromise,
        X::AffiliationChanged => RevocationReason::AffiliationChanged,
        X::Superseded => RevocationReason::Superseded,
        X::CessationOfOperation => RevocationReason::CessationOfOperation,
        X::CertificateHold => RevocationReason::CertificateHold,
        X::RemoveFromCRL => RevocationReason::RemoveFromCrl,
        X::PrivilegeWithdrawn => RevocationReason::PrivilegeWithdrawn,
        X::AaCompromise => RevocationReason::AaCompromise,
    }
}

/// One revokedCertificates entry (RFC 5280 §5.1.2.6, §5.3).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrlEntry {
    /// userCertificate: the serial's content octets, leading 0x00 octets removed (so it compares
    /// equal to a certificate's serial however either was padded).
    pub serial: Vec<u8>,
    /// revocationDate.
    pub revocation_date: UnixTime,
    /// reasonCode entry extension (absent = unspecified, RFC 5280 §5.3.1).
    pub reason: Option<RevocationReason>,
    /// invalidityDate entry extension.
    pub invalidity_date: Option<UnixTime>,
    /// certificateIssuer entry extension present (indirect CRLs; not supported, see module doc).
    pub has_certificate_issuer: bool,
}

impl CrlEntry {
    /// Serial in upper-case hex (as NCA and OpenSSL print it).
    pub fn serial_hex(&self) -> String {
        hex::encode_upper(&self.serial)
    }
}

/// issuingDistributionPoint (RFC 5280 §5.2.5), flattened.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct IssuingDistributionPoint {
    /// distributionPoint fullName general names (empty when absent).
    pub full_name: Vec<GeneralName>,
    /// http(s)/ldap URLs found in fullName.
    pub urls: Vec<String>,
    /// distributionPoint is a nameRelativeToCRLIssuer (not supported: CRL not applicable).
    pub relative_name: bool,
    /// onlyContainsUserCerts.
    pub only_contains_user_certs: bool,
    /// onlyContainsCACerts.
    pub only_contains_ca_certs: bool,
    /// onlySomeReasons bit mask (bit 1 = keyCompromise ... as in RFC 5280 ReasonFlags).
    pub only_some_reasons: Option<u16>,
    /// indirectCRL (not supported: CRL not applicable).
    pub indirect_crl: bool,
    /// onlyContainsAttributeCerts (never applicable to a public-key certificate).
    pub only_contains_attribute_certs: bool,
    /// The extension value's DER, to compare the scope of a delta with its base (§5.2.4).
    pub der: Vec<u8>,
}

/// A parsed CRL.
#[derive(Clone)]
pub struct Crl {
    der: Vec<u8>,
    tbs: (usize, usize),
    /// 0 = v1 (version absent), 1 = v2.
    pub version: u8,
    /// Issuer name.
    pub issuer: DistinguishedName,
    /// thisUpdate.
    pub this_update: UnixTime,
    /// nextUpdate.
    pub next_update: Option<UnixTime>,
    /// cRLNumber extension.
    pub crl_number: Option<CrlNumber>,
    /// deltaCRLIndicator's BaseCRLNumber: `Some` makes this a delta CRL.
    pub base_crl_number: Option<CrlNumber>,
    /// authorityKeyIdentifier.keyIdentifier.
    pub authority_key_id: Option<Vec<u8>>,
    /// issuingDistributionPoint.
    pub issuing_distribution_point: Option<IssuingDistributionPoint>,
    /// freshestCRL present (delta CRL locations, §5.2.6); not followed by the core.
    pub has_freshest_crl: bool,
    /// CertificateList.signatureAlgorithm.
    pub signature_algorithm: AlgorithmId,
    /// tbsCertList.signature.
    pub tbs_signature_algorithm: AlgorithmId,
    /// signatureValue bits.
    pub signature: Vec<u8>,
    /// Critical CRL extensions we do not process (the CRL is unusable, RFC 5280 §5.2).
    pub unhandled_critical: Vec<ObjectIdentifier>,
    /// Extensions marked critical that RFC 5280 requires to be non-critical.
    pub wrongly_critical: Vec<ObjectIdentifier>,
    /// Critical entry extensions we do not process, deduplicated (unusable, RFC 5280 §5.3).
    pub unhandled_critical_entry_extensions: Vec<ObjectIdentifier>,
    /// Entries with a repeated serial that were dropped (the first one is kept).
    pub duplicate_entries: usize,
    has_remove_from_crl: bool,
    entries: Vec<CrlEntry>,
    /// The (signer SPKI, policy) pair whose signature check succeeded: a CRL is verified once,
    /// then every lookup is an index search (a 50,000-entry CRL costs 1.7 ms to verify and
    /// 0.3 µs to search; BENCHMARKS.md). Only a success is remembered, and only for exactly
    /// that key and policy.
    verified: std::sync::OnceLock<(Vec<u8>, SignaturePolicy)>,
}

impl fmt::Debug for Crl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Crl")
            .field("issuer", &self.issuer.to_display_string())
            .field("crl_number", &self.crl_number)
            .field("base_crl_number", &self.base_crl_number)
            .field("this_update", &self.this_update)
            .field("next_update", &self.next_update)
            .field("entries", &self.entries.len())
            .finish()
    }
}

/// The revocation status [`check`] established.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CrlStatus {
    /// Listed as revoked (or on hold) by an applicable, valid CRL.
    Revoked {
        /// revocationDate of the entry.
        date: UnixTime,
        /// reasonCode (absent = unspecified).
        reason: Option<RevocationReason>,
        /// Number of the CRL (complete or delta) that lists it.
        crl_number: CrlNumber,
    },
    /// Not revoked according to the newest applicable complete CRL (and delta, if one applied).
    Good {
        /// Number of the newest CRL used (the delta's when a delta applied).
        crl_number: CrlNumber,
        /// thisUpdate of that CRL.
        this_update: UnixTime,
        /// Earliest nextUpdate of the CRLs used: the status is current until then.
        next_update: UnixTime,
    },
    /// None of the given CRLs covers this certificate; the caller decides whether that is fatal.
    NoApplicableCrl,
}

/// Strips leading 0x00 octets of a non-negative INTEGER's content (keeps at least one octet).
fn normalize_serial(s: &[u8]) -> &[u8] {
    let mut s = s;
    while let [0, rest @ ..] = s {
        if rest.is_empty() {
            break;
        }
        s = rest;
    }
    s
}

fn bad(detail: impl Into<String>) -> CrlError {
    CrlError::BadEncoding {
        detail: detail.into(),
    }
}

fn slice(buf: &[u8], t: Tlv) -> Result<&[u8], CrlError> {
    buf.get(t.start..t.end)
        .ok_or_else(|| bad("element out of bounds"))
}

fn content(buf: &[u8], t: Tlv) -> Result<&[u8], CrlError> {
    buf.get(t.content_start..t.end)
        .ok_or_else(|| bad("element out of bounds"))
}

/// Iterates the elements of a constructed element's content.
struct Children<'a> {
    buf: &'a [u8],
    pos: usize,
    end: usize,
}

impl<'a> Children<'a> {
    fn of(buf: &'a [u8], t: Tlv) -> Self {
        Children {
            buf,
            pos: t.content_start,
            end: t.end,
        }
    }

    fn peek_tag(&self) -> Option<u8> {
        if self.pos < self.end {
            self.buf.get(self.pos).copied()
        } else {
            None
        }
    }

    fn next(&mut self, what: &str) -> Result<Option<Tlv>, CrlError> {
        if self.pos >= self.end {
            return Ok(None);
        }
        let t = der_util::read_tlv(self.buf, self.pos)
            .filter(|t| t.end <= self.end)
            .ok_or_else(|| bad(format!("{what}: bad length")))?;
        self.pos = t.end;
        Ok(Some(t))
    }

    fn expect(&mut self, tag: u8, what: &str) -> Result<Tlv, CrlError> {
        match self.next(what)? {
            Some(t) if t.tag == tag => Ok(t),
            Some(t) => Err(bad(format!("{what}: unexpected tag 0x{:02x}", t.tag))),
            None => Err(bad(format!("{what} missing"))),
        }
    }
}

fn decode_time(buf: &[u8], t: Tlv, what: &str) -> Result<UnixTime, CrlError> {
    let time =
        x509_cert::time::Time::from_der(slice(buf, t)?).map_err(|e| bad(format!("{what}: {e}")))?;
    Ok(UnixTime::from_der_datetime(&time.to_date_time()))
}

/// Decodes a DER UTCTime `YYMMDDHHMMSSZ` (RFC 5280 §4.1.2.5.1) by hand. Returns `None` for
/// anything it does not fully validate (GeneralizedTime, other lengths, out-of-range fields):
/// the caller then uses the generic decoder, which gives the same value or the named error.
fn fast_utc_time(buf: &[u8], t: Tlv) -> Option<UnixTime> {
    if t.tag != TAG_UTC_TIME || t.end.checked_sub(t.content_start)? != 13 {
        return None;
    }
    let c = buf.get(t.content_start..t.end)?;
    if c.get(12) != Some(&b'Z') {
        return None;
    }
    let d = |i: usize| -> Option<u32> {
        let hi = c.get(i)?.wrapping_sub(b'0');
        let lo = c.get(i + 1)?.wrapping_sub(b'0');
        (hi < 10 && lo < 10).then(|| u32::from(hi) * 10 + u32::from(lo))
    };
    let yy = d(0)?;
    let year = if yy >= 50 { 1900 + yy } else { 2000 + yy };
    let (month, day, hour, min, sec) = (d(2)?, d(4)?, d(6)?, d(8)?, d(10)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let mdays = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    if day == 0 || day > mdays || hour > 23 || min > 59 || sec > 59 || year < 1970 {
        return None;
    }
    // Days from civil (Howard Hinnant's algorithm), proleptic Gregorian.
    let (y, m) = if month <= 2 {
        (i64::from(year) - 1, i64::from(month) + 9)
    } else {
        (i64::from(year), i64::from(month) - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(UnixTime(
        days * 86_400 + i64::from(hour) * 3600 + i64::from(min) * 60 + i64::from(sec),
    ))
}

/// `crlEntryExtensions` made of exactly one non-critical reasonCode with a known reason
/// (`30 0c 30 0a 06 03 55 1d 15 04 03 0a 01 XX`): the reason. `None` for any other shape.
fn fast_reason_only(exts: &[u8]) -> Option<RevocationReason> {
    const PREFIX: [u8; 13] = [
        0x30, 0x0c, 0x30, 0x0a, 0x06, 0x03, 0x55, 0x1d, 0x15, 0x04, 0x03, 0x0a, 0x01,
    ];
    let (&code, head) = exts.split_last()?;
    if head != PREFIX {
        return None;
    }
    use RevocationReason as R;
    Some(match code {
        0 => R::Unspecified,
        1 => R::KeyCompromise,
        2 => R::CaCompromise,
        3 => R::AffiliationChanged,
        4 => R::Superseded,
        5 => R::CessationOfOperation,
        6 => R::CertificateHold,
        8 => R::RemoveFromCrl,
        9 => R::PrivilegeWithdrawn,
        10 => R::AaCompromise,
        _ => return None,
    })
}

const TAG_INTEGER: u8 = 0x02;
const TAG_SEQUENCE: u8 = 0x30;
const TAG_UTC_TIME: u8 = 0x17;
const TAG_GENERALIZED_TIME: u8 = 0x18;
const TAG_EXPLICIT_0: u8 = 0xa0;

impl Crl {
    /// Parses DER, or PEM (`-----BEGIN X509 CRL-----`), RFC 5280 §5.1.
    pub fn parse(input: &[u8]) -> Result<Crl, CrlError> {
        // PEM is 4/3 of DER plus line breaks: twice the DER budget is a safe upper bound.
        if input.len() > MAX_CRL_SIZE.saturating_mul(2) {
            return Err(CrlError::TooLarge { size: input.len() });
        }
        let (label, der) = der_util::pem_or_der(input).map_err(|e| bad(e.to_string()))?;
        if let Some(l) = label
            && l != "X509 CRL"
        {
            return Err(bad(format!("PEM label {l}, expected X509 CRL")));
        }
        Self::from_der(der)
    }

    /// Parses DER bytes.
    pub fn from_der(der: Vec<u8>) -> Result<Crl, CrlError> {
        if der.len() > MAX_CRL_SIZE {
            return Err(CrlError::TooLarge { size: der.len() });
        }
        let outer = der_util::read_tlv(&der, 0).ok_or_else(|| bad("outer SEQUENCE"))?;
        if outer.tag != TAG_SEQUENCE || outer.end != der.len() {
            return Err(bad("not a single SEQUENCE"));
        }
        // CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue }
        let mut top = Children::of(&der, outer);
        let tbs = top.expect(TAG_SEQUENCE, "tbsCertList")?;
        let alg = top.expect(TAG_SEQUENCE, "signatureAlgorithm")?;
        let sig = top.expect(0x03, "signatureValue")?;
        if top.next("trailing")?.is_some() {
            return Err(bad("extra element after signatureValue"));
        }
        let signature_algorithm = decode_alg(slice(&der, alg)?)?;
        let signature = BitString::from_der(slice(&der, sig)?)
            .map_err(|e| bad(format!("signatureValue: {e}")))?
            .raw_bytes()
            .to_vec();

        let mut crl = Self::parse_tbs(&der, tbs)?;
        // RFC 5280 §5.1.1.2: the two AlgorithmIdentifiers MUST be identical; NCA's 2026 test CRL
        // has NULL outside and nothing inside, which `equivalent` accepts.
        if !signature_algorithm.equivalent(&crl.tbs_signature_algorithm) {
            return Err(CrlError::SignatureAlgorithmMismatch);
        }
        crl.signature_algorithm = signature_algorithm;
        crl.signature = signature;
        crl.tbs = (tbs.start, tbs.end);
        crl.der = der;
        Ok(crl)
    }

    fn parse_tbs(der: &[u8], tbs: Tlv) -> Result<Crl, CrlError> {
        let mut f = Children::of(der, tbs);
        // version Version OPTIONAL -- if present, MUST be v2 (§5.1.2.1)
        let mut version = 0u8;
        if f.peek_tag() == Some(TAG_INTEGER) {
            let v = f.expect(TAG_INTEGER, "version")?;
            if content(der, v)? != [1] {
                return Err(CrlError::BadVersion);
            }
            version = 1;
        }
        let alg = f.expect(TAG_SEQUENCE, "signature")?;
        let tbs_signature_algorithm = decode_alg(slice(der, alg)?)?;
        let issuer_tlv = f.expect(TAG_SEQUENCE, "issuer")?;
        let issuer = DistinguishedName::from_der(slice(der, issuer_tlv)?)
            .map_err(|e| bad(format!("issuer: {e}")))?;
        let this_tlv = f
            .next("thisUpdate")?
            .ok_or_else(|| bad("thisUpdate missing"))?;
        let this_update = decode_time(der, this_tlv, "thisUpdate")?;
        let mut next_update = None;
        if matches!(f.peek_tag(), Some(TAG_UTC_TIME | TAG_GENERALIZED_TIME)) {
            let t = f.next("nextUpdate")?.ok_or_else(|| bad("nextUpdate"))?;
            next_update = Some(decode_time(der, t, "nextUpdate")?);
        }
        let mut crl = Crl {
            der: Vec::new(),
            tbs: (0, 0),
            version,
            issuer,
            this_update,
            next_update,
            crl_number: None,
            base_crl_number: None,
            authority_key_id: None,
            issuing_distribution_point: None,
            has_freshest_crl: false,
            signature_algorithm: tbs_signature_algorithm.clone(),
            tbs_signature_algorithm,
            signature: Vec::new(),
            unhandled_critical: Vec::new(),
            wrongly_critical: Vec::new(),
            unhandled_critical_entry_extensions: Vec::new(),
            duplicate_entries: 0,
            has_remove_from_crl: false,
            entries: Vec::new(),
            verified: std::sync::OnceLock::new(),
        };
        let mut any_entry_extension = false;
        if f.peek_tag() == Some(TAG_SEQUENCE) {
            let list = f.expect(TAG_SEQUENCE, "revokedCertificates")?;
            any_entry_extension = crl.parse_entries(der, list)?;
        }
        let mut has_extensions = false;
        if f.peek_tag() == Some(TAG_EXPLICIT_0) {
            let wrapper = f.expect(TAG_EXPLICIT_0, "crlExtensions")?;
            let mut inner = Children::of(der, wrapper);
            let exts = inner.expect(TAG_SEQUENCE, "crlExtensions")?;
            if inner.next("crlExtensions")?.is_some() {
                return Err(bad("crlExtensions: extra element"));
            }
            crl.parse_extensions(slice(der, exts)?)?;
            has_extensions = true;
        }
        if f.next("tbsCertList")?.is_some() {
            return Err(bad("tbsCertList: unexpected trailing element"));
        }
        // §5.1.2.1: extensions require v2.
        if version == 0 && (has_extensions || any_entry_extension) {
            return Err(CrlError::BadVersion);
        }
        Ok(crl)
    }

    /// Returns whether any entry had extensions.
    fn parse_entries(&mut self, der: &[u8], list: Tlv) -> Result<bool, CrlError> {
        let mut it = Children::of(der, list);
        let mut any_ext = false;
        let mut entries = Vec::new();
        while let Some(t) = it.next("revokedCertificates")? {
            if entries.len() >= MAX_CRL_ENTRIES {
                return Err(CrlError::TooManyElements {
                    what: "entries",
                    limit: MAX_CRL_ENTRIES,
                });
            }
            if t.tag != TAG_SEQUENCE {
                return Err(bad("revokedCertificates: entry is not a SEQUENCE"));
            }
            let (entry, had_ext) = self.parse_entry(der, t)?;
            any_ext |= had_ext;
            entries.push(entry);
        }
        // Sorted for binary search; the sort is stable, so `dedup_by` keeps the first of a
        // repeated serial (in CRL order).
        if !entries.is_sorted_by(|a, b| cmp_serial(&a.serial, &b.serial).is_le()) {
            entries.sort_by(|a, b| cmp_serial(&a.serial, &b.serial));
        }
        let before = entries.len();
        entries.dedup_by(|later, first| later.serial == first.serial);
        self.duplicate_entries = before.saturating_sub(entries.len());
        self.entries = entries;
        Ok(any_ext)
    }

    fn parse_entry(&mut self, der: &[u8], t: Tlv) -> Result<(CrlEntry, bool), CrlError> {
        let mut f = Children::of(der, t);
        let serial_tlv = f.expect(TAG_INTEGER, "userCertificate")?;
        let raw = content(der, serial_tlv)?;
        if raw.is_empty() || raw.len() > MAX_SERIAL_LEN {
            return Err(CrlError::BadEntry {
                serial: hex::encode_upper(raw.get(..MAX_SERIAL_LEN).unwrap_or(raw)),
                detail: format!("serial of {} octets", raw.len()),
            });
        }
        let serial_slice = normalize_serial(raw);
        let entry_err = |detail: String| CrlError::BadEntry {
            serial: hex::encode_upper(serial_slice),
            detail,
        };
        let date_tlv = f
            .next("revocationDate")?
            .ok_or_else(|| entry_err("revocationDate missing".into()))?;
        let revocation_date = match fast_utc_time(der, date_tlv) {
            Some(t) => t,
            None => decode_time(der, date_tlv, "revocationDate")
                .map_err(|e| entry_err(e.to_string()))?,
        };
        let mut entry = CrlEntry {
            serial: serial_slice.to_vec(),
            revocation_date,
            reason: None,
            invalidity_date: None,
            has_certificate_issuer: false,
        };
        let mut had_ext = false;
        if let Some(ext_tlv) = f.next("crlEntryExtensions")? {
            if ext_tlv.tag != TAG_SEQUENCE {
                return Err(entry_err("unexpected element after revocationDate".into()));
            }
            had_ext = true;
            // Fast path for the one shape NCA uses on every entry: a single non-critical
            // reasonCode. Anything else goes through the generic decoder below.
            if let Some(r) = fast_reason_only(slice(der, ext_tlv)?) {
                if r == RevocationReason::RemoveFromCrl {
                    self.has_remove_from_crl = true;
                }
                entry.reason = Some(r);
                if f.next("revokedCertificate")?.is_some() {
                    return Err(entry_err("trailing element".into()));
                }
                return Ok((entry, had_ext));
            }
            let exts = decode_extensions(slice(der, ext_tlv)?, MAX_ENTRY_EXTENSIONS, "entry")
                .map_err(|e| match e {
                    CrlError::BadEncoding { detail } => entry_err(detail),
                    other => other,
                })?;
            for e in &exts {
                let v = e.extn_value.as_bytes();
                match e.extn_id {
                    oids::REASON_CODE => {
                        let r = pkix::crl::CrlReason::from_der(v)
                            .map_err(|err| entry_err(format!("reasonCode: {err}")))?;
                        let r = reason_from_x(r);
                        if r == RevocationReason::RemoveFromCrl {
                            self.has_remove_from_crl = true;
                        }
                        entry.reason = Some(r);
                    }
                    oids::INVALIDITY_DATE => {
                        let g = GeneralizedTime::from_der(v)
                            .map_err(|err| entry_err(format!("invalidityDate: {err}")))?;
                        entry.invalidity_date =
                            Some(UnixTime::from_der_datetime(&g.to_date_time()));
                    }
                    oid => {
                        if oid == oids::CERTIFICATE_ISSUER {
                            entry.has_certificate_issuer = true;
                        }
                        // certificateIssuer is processed only as "present": we do not support
                        // indirect CRLs, so a critical one (RFC 5280 §5.3.3 says it always is)
                        // makes the CRL unusable, like any other unknown critical extension.
                        if e.critical && !self.unhandled_critical_entry_extensions.contains(&oid) {
                            self.unhandled_critical_entry_extensions.push(oid);
                        }
                    }
                }
            }
        }
        if f.next("revokedCertificate")?.is_some() {
            return Err(entry_err("trailing element".into()));
        }
        Ok((entry, had_ext))
    }

    fn parse_extensions(&mut self, seq: &[u8]) -> Result<(), CrlError> {
        let exts = decode_extensions(seq, MAX_CRL_EXTENSIONS, "CRL")?;
        for e in &exts {
            let oid = e.extn_id;
            let v = e.extn_value.as_bytes();
            let ext_err = |err: der::Error| CrlError::BadExtension {
                oid,
                detail: err.to_string(),
            };
            // Extensions RFC 5280 requires to be non-critical.
            let must_be_noncritical = matches!(
                oid,
                oids::CRL_NUMBER                      // §5.2.3
                    | cert::oids::AUTHORITY_KEY_ID    // §5.2.1 -> §4.2.1.1
                    | cert::oids::FRESHEST_CRL        // §5.2.6
                    | cert::oids::AUTHORITY_INFO_ACCESS // §5.2.7
            );
            if must_be_noncritical && e.critical {
                self.wrongly_critical.push(oid);
            }
            match oid {
                oids::CRL_NUMBER => {
                    let n = pkix::crl::CrlNumber::from_der(v).map_err(ext_err)?;
                    self.crl_number = Some(crl_number(oid, n.0.as_bytes())?);
                }
                oids::DELTA_CRL_INDICATOR => {
                    // §5.2.4 says critical; a non-critical one is still understood (and a delta
                    // is never mistaken for a complete CRL).
                    let n = pkix::crl::BaseCrlNumber::from_der(v).map_err(ext_err)?;
                    self.base_crl_number = Some(crl_number(oid, n.0.as_bytes())?);
                }
                cert::oids::AUTHORITY_KEY_ID => {
                    let aki = pkix::AuthorityKeyIdentifier::from_der(v).map_err(ext_err)?;
                    self.authority_key_id = aki.key_identifier.map(|k| k.as_bytes().to_vec());
                }
                oids::ISSUING_DISTRIBUTION_POINT => {
                    self.issuing_distribution_point = Some(parse_idp(oid, v)?);
                }
                cert::oids::FRESHEST_CRL => self.has_freshest_crl = true,
                cert::oids::AUTHORITY_INFO_ACCESS => {}
                _ => {
                    // issuerAltName (§5.2.2) and anything unknown: fine unless critical.
                    if e.critical {
                        self.unhandled_critical.push(oid);
                    }
                }
            }
        }
        Ok(())
    }

    /// The exact tbsCertList bytes the signature covers.
    pub fn tbs_der(&self) -> &[u8] {
        self.der.get(self.tbs.0..self.tbs.1).unwrap_or_default()
    }

    /// The CRL's DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// Entries, sorted by serial (duplicates removed, the first kept).
    pub fn entries(&self) -> &[CrlEntry] {
        &self.entries
    }

    /// True for a delta CRL (deltaCRLIndicator present, RFC 5280 §5.2.4).
    pub fn is_delta(&self) -> bool {
        self.base_crl_number.is_some()
    }

    /// The entry for a serial (content octets, leading zeros ignored), in O(log n).
    pub fn find(&self, serial: &[u8]) -> Option<&CrlEntry> {
        let s = normalize_serial(serial);
        self.entries
            .binary_search_by(|e| cmp_serial(&e.serial, s))
            .ok()
            .and_then(|i| self.entries.get(i))
    }

    /// Verifies the CRL's signature with `signer`'s key, over the exact tbsCertList bytes, after
    /// checking that `signer` may sign CRLs: a keyUsage extension, if present, must assert
    /// cRLSign (RFC 5280 §6.3.3 (f), §4.2.1.3; no keyUsage = allowed, x509-limbo
    /// `crl::issuer-no-keyusage-extension`).
    pub fn verify_signature(
        &self,
        signer: &Certificate,
        policy: &SignaturePolicy,
    ) -> Result<(), CrlError> {
        if let Some(ku) = signer.extensions.key_usage
            && !ku.has(KeyUsage::CRL_SIGN)
        {
            return Err(CrlError::MissingCrlSign {
                issuer: signer.subject.to_display_string(),
            });
        }
        if let Some((spki, p)) = self.verified.get()
            && *spki == signer.spki_der
            && p == policy
        {
            return Ok(());
        }
        signature::verify(
            &self.signature_algorithm,
            &signer.spki_der,
            self.tbs_der(),
            &self.signature,
            policy,
        )
        .map(|()| {
            let _ = self.verified.set((signer.spki_der.clone(), *policy));
        })
        .map_err(|source| match source {
            s if s.is_forged() => CrlError::BadSignature {
                crl_number: self.crl_number.clone(),
            },
            source => CrlError::SignatureNotVerified {
                crl_number: self.crl_number.clone(),
                source,
            },
        })
    }

    /// RFC 5280 §6.3.3 (b): is this CRL authoritative for `cert` (issued by `issuer`)?
    /// Only direct CRLs are considered (module doc).
    pub fn applies_to(&self, cert: &Certificate, issuer: &Certificate) -> bool {
        if !self.issuer.matches(&cert.issuer) {
            return false;
        }
        // A CA that re-keyed under the same name: the CRL must be from the issuer's key.
        if let (Some(aki), Some(ski)) = (&self.authority_key_id, &issuer.extensions.subject_key_id)
            && aki != ski
        {
            return false;
        }
        let Some(idp) = &self.issuing_distribution_point else {
            return true;
        };
        if idp.indirect_crl || idp.only_contains_attribute_certs || idp.relative_name {
            return false;
        }
        // §6.3.3 (b)(2)(ii)/(iii): user-only vs CA-only CRLs, by the cert's basicConstraints.
        if idp.only_contains_user_certs && cert.is_ca() {
            return false;
        }
        if idp.only_contains_ca_certs && !cert.is_ca() {
            return false;
        }
        // §6.3.3 (b)(2)(i): if the IDP names a distribution point, one of the certificate's
        // CDP fullNames must match it. cRLIssuer-only DPs mean indirect CRLs: not supported.
        if !idp.full_name.is_empty() {
            let matched = cert.extensions.crl_distribution_points.iter().any(|dp| {
                dp.full_name.iter().any(|n| idp.full_name.contains(n))
                    || dp.urls.iter().any(|u| idp.urls.contains(u))
            });
            if !matched {
                return false;
            }
        }
        true
    }

    /// Checks an applicable CRL can be used at `at` (RFC 5280 §6.3.3 (a), (f), (g), (j), §5.2).
    pub fn validate_for_use(
        &self,
        issuer: &Certificate,
        at: UnixTime,
        policy: &SignaturePolicy,
    ) -> Result<(), CrlError> {
        self.verify_signature(issuer, policy)?;
        if let Some(oid) = self.unhandled_critical.first() {
            return Err(CrlError::UnhandledCriticalExtension { oid: *oid });
        }
        if let Some(oid) = self.unhandled_critical_entry_extensions.first() {
            return Err(CrlError::UnhandledCriticalEntryExtension { oid: *oid });
        }
        if let Some(oid) = self.wrongly_critical.first() {
            return Err(CrlError::ExtensionMustNotBeCritical { oid: *oid });
        }
        if self.crl_number.is_none() {
            return Err(CrlError::MissingCrlNumber);
        }
        if self.has_remove_from_crl && !self.is_delta() {
            return Err(CrlError::RemoveFromCrlInCompleteCrl {
                crl_number: self.crl_number.clone(),
            });
        }
        if self.this_update > at {
            return Err(CrlError::NotYetValid {
                crl_number: self.crl_number.clone(),
                this_update: self.this_update,
                at,
            });
        }
        match self.next_update {
            None => Err(CrlError::MissingNextUpdate {
                crl_number: self.crl_number.clone(),
            }),
            Some(next_update) if next_update < at => Err(CrlError::Stale {
                crl_number: self.crl_number.clone(),
                next_update,
                at,
            }),
            Some(_) => Ok(()),
        }
    }

    fn number(&self) -> CrlNumber {
        // Only called on CRLs that passed `validate_for_use`, which requires a number.
        self.crl_number
            .clone()
            .unwrap_or_else(|| CrlNumber::from_be_bytes(&[]))
    }

    fn same_scope(&self, other: &Crl) -> bool {
        self.issuing_distribution_point.as_ref().map(|i| &i.der)
            == other.issuing_distribution_point.as_ref().map(|i| &i.der)
    }

    fn covers_all_reasons(&self) -> bool {
        self.issuing_distribution_point
            .as_ref()
            .is_none_or(|i| i.only_some_reasons.is_none())
    }
}

fn revoked(e: &CrlEntry, crl: &Crl) -> CrlStatus {
    CrlStatus::Revoked {
        date: e.revocation_date,
        reason: e.reason,
        crl_number: crl.number(),
    }
}

/// The revocation status of `cert`, issued by `issuer` (already path-validated), from `crls`
/// at time `at` (RFC 5280 §6.3.3).
///
/// Every CRL that [`Crl::applies_to`] the certificate must be usable (signature by `issuer`,
/// cRLSign, no unprocessed critical extension, CRLNumber present, thisUpdate <= at <= nextUpdate)
/// or the check fails with that CRL's error. Then:
/// 1. an entry in any applicable complete CRL with a reason other than certificateHold revokes
///    (revocation is permanent, RFC 5280 §3.3);
/// 2. otherwise the newest complete CRL covering all reasons decides (a hold that disappeared
///    from a newer CRL is lifted), overlaid by the newest delta CRL built on it (a removeFromCRL
///    entry un-revokes, any other entry revokes); a delta with no usable base is an error, a
///    delta whose own CRLNumber is not above the base's is older than the base and is ignored;
/// 3. a hold in a reason-partitioned CRL (onlySomeReasons) still revokes.
pub fn check(
    cert: &Certificate,
    issuer: &Certificate,
    crls: &[Crl],
    at: UnixTime,
    policy: &SignaturePolicy,
) -> Result<CrlStatus, CrlError> {
    let applicable: Vec<&Crl> = crls.iter().filter(|c| c.applies_to(cert, issuer)).collect();
    if applicable.is_empty() {
        return Ok(CrlStatus::NoApplicableCrl);
    }
    for c in &applicable {
        c.validate_for_use(issuer, at, policy)?;
    }
    let (deltas, completes): (Vec<&Crl>, Vec<&Crl>) =
        applicable.iter().copied().partition(|c| c.is_delta());

    // §5.2.4: a delta is only meaningful with a complete CRL of the same scope whose number is
    // at least the delta's BaseCRLNumber.
    for d in &deltas {
        let base_no = d
            .base_crl_number
            .clone()
            .unwrap_or_else(|| CrlNumber(Vec::new()));
        let has_base = completes
            .iter()
            .any(|b| b.same_scope(d) && b.number() >= base_no);
        if !has_base {
            return Err(CrlError::DeltaWithoutBase {
                delta_crl_number: d.crl_number.clone(),
                base_crl_number: base_no,
            });
        }
    }

    let serial = &cert.serial;
    // Rule 1 (permanent revocations) and rule 3 (holds in partitioned CRLs).
    for c in &completes {
        if let Some(e) = c.find(serial)
            && (e.reason != Some(RevocationReason::CertificateHold) || !c.covers_all_reasons())
        {
            return Ok(revoked(e, c));
        }
    }
    // Rule 2: newest full-scope complete CRL (first one wins a tie).
    let mut base: Option<&Crl> = None;
    for c in completes.iter().filter(|c| c.covers_all_reasons()) {
        if base.is_none_or(|b| c.number() > b.number()) {
            base = Some(c);
        }
    }
    let Some(base) = base else {
        return Ok(CrlStatus::NoApplicableCrl);
    };
    let base_no = base.number();
    let mut delta: Option<&Crl> = None;
    for d in &deltas {
        let usable = d.same_scope(base)
            && d.base_crl_number.as_ref().is_some_and(|n| *n <= base_no)
            && d.number() > base_no;
        if usable && delta.is_none_or(|x| d.number() > x.number()) {
            delta = Some(d);
        }
    }
    if let Some(d) = delta
        && let Some(e) = d.find(serial)
    {
        if e.reason == Some(RevocationReason::RemoveFromCrl) {
            return Ok(good(base, Some(d)));
        }
        return Ok(revoked(e, d));
    }
    if let Some(e) = base.find(serial) {
        return Ok(revoked(e, base));
    }
    Ok(good(base, delta))
}

fn good(base: &Crl, delta: Option<&Crl>) -> CrlStatus {
    let newest = delta.unwrap_or(base);
    // Both passed validate_for_use, so both have a nextUpdate.
    let next = |c: &Crl| c.next_update.unwrap_or(c.this_update);
    let next_update = match delta {
        Some(d) => next(d).min(next(base)),
        None => next(base),
    };
    CrlStatus::Good {
        crl_number: newest.number(),
        this_update: newest.this_update,
        next_update,
    }
}

fn cmp_serial(a: &[u8], b: &[u8]) -> Ordering {
    a.len().cmp(&b.len()).then_with(|| cmp_bytes(a, b))
}

/// Lexicographic byte comparison, 8 bytes at a time as big-endian `u64`s (serials are up to 20
/// bytes: an inlined word compare beats a `memcmp` call).
#[inline]
pub(crate) fn cmp_bytes(a: &[u8], b: &[u8]) -> Ordering {
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    loop {
        match (ca.next(), cb.next()) {
            (Some(x), Some(y)) => {
                let (Ok(x), Ok(y)) = (<[u8; 8]>::try_from(x), <[u8; 8]>::try_from(y)) else {
                    break;
                };
                let (x, y) = (u64::from_be_bytes(x), u64::from_be_bytes(y));
                if x != y {
                    return x.cmp(&y);
                }
            }
            (None, None) => return ca.remainder().cmp(cb.remainder()),
            _ => break,
        }
    }
    a.cmp(b)
}

fn crl_number(oid: ObjectIdentifier, bytes: &[u8]) -> Result<CrlNumber, CrlError> {
    let n = CrlNumber::from_be_bytes(bytes);
    if n.0.len() > MAX_CRL_NUMBER_LEN {
        return Err(CrlError::BadExtension {
            oid,
            detail: format!("{} octets, RFC 5280 allows 20", n.0.len()),
        });
    }
    Ok(n)
}

fn decode_alg(der: &[u8]) -> Result<AlgorithmId, CrlError> {
    let a = spki::AlgorithmIdentifierOwned::from_der(der)
        .map_err(|e| bad(format!("AlgorithmIdentifier: {e}")))?;
    AlgorithmId::from_spki(&a).map_err(|e| bad(format!("AlgorithmIdentifier: {e}")))
}

/// Decodes `Extensions`, refusing duplicates (RFC 5280 §4.2) and more than `limit` of them.
fn decode_extensions(
    seq: &[u8],
    limit: usize,
    what: &'static str,
) -> Result<Vec<x509_cert::ext::Extension>, CrlError> {
    // Count first so a hostile list of a million tiny extensions is refused before decoding.
    let outer = der_util::read_tlv(seq, 0).ok_or_else(|| bad("extensions: bad length"))?;
    let mut it = Children::of(seq, outer);
    let mut n = 0usize;
    while it.next("extensions")?.is_some() {
        n = n.saturating_add(1);
        if n > limit {
            return Err(CrlError::TooManyElements {
                what: if what == "CRL" {
                    "CRL extensions"
                } else {
                    "entry extensions"
                },
                limit,
            });
        }
    }
    let exts = Vec::<x509_cert::ext::Extension>::from_der(seq)
        .map_err(|e| bad(format!("{what} extensions: {e}")))?;
    for (i, e) in exts.iter().enumerate() {
        if exts.iter().take(i).any(|p| p.extn_id == e.extn_id) {
            return Err(CrlError::DuplicateExtension { oid: e.extn_id });
        }
    }
    Ok(exts)
}

fn parse_idp(oid: ObjectIdentifier, v: &[u8]) -> Result<IssuingDistributionPoint, CrlError> {
    let ext_err = |detail: String| CrlError::BadExtension { oid, detail };
    let idp =
        pkix::crl::IssuingDistributionPoint::from_der(v).map_err(|e| ext_err(e.to_string()))?;
    // §5.2.5: at most one of the only* booleans may be true; an empty IDP MUST NOT be issued.
    let onlys = [
        idp.only_contains_user_certs,
        idp.only_contains_ca_certs,
        idp.only_contains_attribute_certs,
    ];
    if onlys.iter().filter(|b| **b).count() > 1 {
        return Err(ext_err("more than one onlyContains* flag".into()));
    }
    let mut out = IssuingDistributionPoint {
        only_contains_user_certs: idp.only_contains_user_certs,
        only_contains_ca_certs: idp.only_contains_ca_certs,
        only_some_reasons: idp.only_some_reasons.map(|r| r.bits()),
        indirect_crl: idp.indirect_crl,
        only_contains_attribute_certs: idp.only_contains_attribute_certs,
        der: v.to_vec(),
        ..IssuingDistributionPoint::default()
    };
    match &idp.distribution_point {
        Some(DistributionPointName::FullName(names)) => {
            for n in names {
                if let XGeneralName::UniformResourceIdentifier(u) = n {
                    let s = u.to_string();
                    if !out.urls.contains(&s) {
                        out.urls.push(s);
                    }
                }
                out.full_name
                    .push(convert_general_name(n).map_err(|e| ext_err(e.to_string()))?);
            }
        }
        Some(DistributionPointName::NameRelativeToCRLIssuer(_)) => out.relative_name = true,
        None => {}
    }
    if idp.distribution_point.is_none()
        && !idp.indirect_crl
        && out.only_some_reasons.is_none()
        && !onlys.iter().any(|b| *b)
    {
        return Err(ext_err("empty issuingDistributionPoint".into()));
    }
    Ok(out)
}

/// Same mapping as the certificate parser's (kept local: that one is private to cert.rs).
fn convert_general_name(g: &XGeneralName) -> Result<GeneralName, der::Error> {
    Ok(match g {
        XGeneralName::Rfc822Name(s) => GeneralName::Email(s.to_string()),
        XGeneralName::DnsName(s) => GeneralName::Dns(s.to_string()),
        XGeneralName::UniformResourceIdentifier(s) => GeneralName::Uri(s.to_string()),
        XGeneralName::DirectoryName(n) => GeneralName::Directory(DistinguishedName::from_name(n)?),
        XGeneralName::IpAddress(o) => GeneralName::Ip(o.as_bytes().to_vec()),
        XGeneralName::RegisteredId(o) => GeneralName::RegisteredId(*o),
        XGeneralName::OtherName(o) => GeneralName::Other(o.type_id),
        XGeneralName::EdiPartyName(_) => GeneralName::EdiParty,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crl_numbers_compare_as_unsigned_big_integers() {
        let small = CrlNumber::from_be_bytes(&[0x00, 0xff]);
        let big = CrlNumber::from_be_bytes(&[0x01, 0x00]);
        let twenty = CrlNumber::from_be_bytes(&[0x80; 20]);
        assert!(small < big);
        assert!(big < twenty);
        assert_eq!(small, CrlNumber::from_be_bytes(&[0xff]));
        assert_eq!(small.to_string(), "255");
        assert_eq!(CrlNumber::from_be_bytes(&[]).to_string(), "0");
        assert!(twenty.to_string().starts_with("0x8080"));
    }

    #[test]
    fn serials_compare_equal_whatever_the_zero_padding() {
        assert_eq!(normalize_serial(&[0x00, 0x80, 0x01]), &[0x80, 0x01]);
        assert_eq!(normalize_serial(&[0x00]), &[0x00]);
        assert_eq!(normalize_serial(&[0x7f]), &[0x7f]);
    }

    #[test]
    fn fast_utc_time_agrees_with_the_generic_decoder() {
        let mut x = 0x1234_5678_9abc_def0u64;
        let mut cases: Vec<String> = vec![
            "000229000000Z".into(),
            "010229000000Z".into(),
            "491231235959Z".into(),
            "500101000000Z".into(),
            "691231235959Z".into(),
            "700101000000Z".into(),
            "991231235959Z".into(),
            "240230120000Z".into(),
            "241301000000Z".into(),
            "240101240000Z".into(),
            "240101006000Z".into(),
            "240101000060Z".into(),
            "24010100000aZ".into(),
            "240101000000z".into(),
        ];
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let f = |k: u32, m: u64| (x >> k) % m;
            cases.push(format!(
                "{:02}{:02}{:02}{:02}{:02}{:02}Z",
                f(0, 100),
                f(8, 14),
                f(16, 33),
                f(24, 25),
                f(32, 61),
                f(40, 61)
            ));
        }
        for c in cases {
            let mut der = vec![TAG_UTC_TIME, 13];
            der.extend_from_slice(c.as_bytes());
            let t = der_util::read_tlv(&der, 0).expect("tlv");
            let slow = decode_time(&der, t, "t").ok();
            match fast_utc_time(&der, t) {
                Some(v) => assert_eq!(Some(v), slow, "{c}"),
                None => assert!(slow.is_none(), "{c}: fast path refused a valid time"),
            }
        }
    }

    #[test]
    fn cmp_bytes_is_lexicographic() {
        let v: Vec<Vec<u8>> = vec![
            vec![],
            vec![1],
            vec![1; 8],
            vec![1; 9],
            vec![1, 2, 3, 4, 5, 6, 7, 8, 0],
            vec![2; 20],
            vec![0xff; 20],
            (0..20).collect(),
            (0..21).collect(),
        ];
        for a in &v {
            for b in &v {
                assert_eq!(cmp_bytes(a, b), a.cmp(b), "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn fast_reason_matches_only_the_plain_shape() {
        let plain = [
            0x30, 0x0c, 0x30, 0x0a, 0x06, 0x03, 0x55, 0x1d, 0x15, 0x04, 0x03, 0x0a, 0x01, 0x01,
        ];
        assert_eq!(
            fast_reason_only(&plain),
            Some(RevocationReason::KeyCompromise)
        );
        let mut unknown = plain;
        unknown[13] = 7;
        assert_eq!(fast_reason_only(&unknown), None);
        assert_eq!(fast_reason_only(&plain[..13]), None);
    }

    #[test]
    fn garbage_is_a_named_error_not_a_panic() {
        for input in [
            &b""[..],
            b"hello",
            &[0x30, 0x80],
            &[0x30, 0x00],
            &[0x30, 0x03, 0x30, 0x01, 0x00],
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff],
        ] {
            let e = Crl::parse(input).expect_err("garbage");
            assert!(matches!(e, CrlError::BadEncoding { .. }), "{e:?}");
            assert_eq!(e.code(), "crl_malformed");
        }
    }

    #[test]
    fn a_certificate_pem_is_not_taken_for_a_crl() {
        let pem = b"-----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            Crl::parse(pem),
            Err(CrlError::BadEncoding { detail }) if detail.contains("PEM label")
        ));
    }

    #[test]
    fn oversized_input_is_refused_before_decoding() {
        let big = vec![0u8; MAX_CRL_SIZE + 1];
        assert!(matches!(
            Crl::from_der(big),
            Err(CrlError::TooLarge { size }) if size == MAX_CRL_SIZE + 1
        ));
    }

    #[test]
    fn every_error_has_a_distinct_code_and_a_message() {
        let oid = oids::CRL_NUMBER;
        let errors = vec![
            CrlError::BadEncoding { detail: "x".into() },
            CrlError::BadEntry {
                serial: "01".into(),
                detail: "x".into(),
            },
            CrlError::BadExtension {
                oid,
                detail: "x".into(),
            },
            CrlError::BadSignature { crl_number: None },
            CrlError::BadVersion,
            CrlError::DeltaWithoutBase {
                delta_crl_number: None,
                base_crl_number: CrlNumber::from_be_bytes(&[1]),
            },
            CrlError::DuplicateExtension { oid },
            CrlError::ExtensionMustNotBeCritical { oid },
            CrlError::MissingCrlSign {
                issuer: "CN=x".into(),
            },
            CrlError::MissingCrlNumber,
            CrlError::MissingNextUpdate { crl_number: None },
            CrlError::NotYetValid {
                crl_number: None,
                this_update: UnixTime(1),
                at: UnixTime(0),
            },
            CrlError::RemoveFromCrlInCompleteCrl { crl_number: None },
            CrlError::SignatureAlgorithmMismatch,
            CrlError::SignatureNotVerified {
                crl_number: None,
                source: SignatureError::Invalid,
            },
            CrlError::Stale {
                crl_number: None,
                next_update: UnixTime(0),
                at: UnixTime(1),
            },
            CrlError::TooLarge { size: 1 },
            CrlError::TooManyElements {
                what: "entries",
                limit: 1,
            },
            CrlError::UnhandledCriticalEntryExtension { oid },
            CrlError::UnhandledCriticalExtension { oid },
        ];
        let mut codes: Vec<&str> = errors.iter().map(CrlError::code).collect();
        for e in &errors {
            assert!(!e.to_string().is_empty());
        }
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), errors.len());
    }
}

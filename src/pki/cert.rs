//! Certificates: one parsed, owned view of an X.509 v3 certificate (RFC 5280 §4) with every field
//! the verifier, the NCA identity mapping and the revocation layer read.
//!
//! Decoding is done by RustCrypto `x509-cert` (strict DER); this module copies what we need into
//! plain owned types so the rest of the core never touches ASN.1 types. Where NCA is quirky we are
//! lenient and say why (../shared/NCA.md §3.1): a CRL distribution point URI that holds two URLs
//! separated by a newline and `URL=` (production `nca_rsa_2018`), 4-byte key identifiers, and
//! CNs longer than the X.520 upper bound of 64 characters (Kazakh Cyrillic names in UTF-8).

use std::fmt;

use const_oid::ObjectIdentifier;
use der::asn1::{BitString, Ia5String, OctetString};
use der::{Decode, Encode};
use x509_cert::ext::pkix;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName as XGeneralName};

use super::der_util;
use super::name::DistinguishedName;
use super::time::UnixTime;

/// Largest certificate we accept (bytes). NCA certificates are 1.2–2 KB; web PKI rarely
/// exceeds 10 KB. Anything bigger is hostile.
pub const MAX_CERT_SIZE: usize = 64 * 1024;

/// Extension and other OIDs used across the core.
pub mod oids {
    use const_oid::ObjectIdentifier;
    macro_rules! oid {
        ($name:ident, $s:expr, $doc:expr) => {
            #[doc = $doc]
            pub const $name: ObjectIdentifier = ObjectIdentifier::new_unwrap($s);
        };
    }
    oid!(SUBJECT_KEY_ID, "2.5.29.14", "subjectKeyIdentifier");
    oid!(KEY_USAGE, "2.5.29.15", "keyUsage");
    oid!(SUBJECT_ALT_NAME, "2.5.29.17", "subjectAltName");
    oid!(ISSUER_ALT_NAME, "2.5.29.18", "issuerAltName");
    oid!(BASIC_CONSTRAINTS, "2.5.29.19", "basicConstraints");
    oid!(NAME_CONSTRAINTS, "2.5.29.30", "nameConstraints");
    oid!(
        CRL_DISTRIBUTION_POINTS,
        "2.5.29.31",
        "cRLDistributionPoints"
    );
    oid!(CERTIFICATE_POLICIES, "2.5.29.32", "certificatePolicies");
    oid!(POLICY_MAPPINGS, "2.5.29.33", "policyMappings");
    oid!(AUTHORITY_KEY_ID, "2.5.29.35", "authorityKeyIdentifier");
    oid!(POLICY_CONSTRAINTS, "2.5.29.36", "policyConstraints");
    oid!(EXT_KEY_USAGE, "2.5.29.37", "extKeyUsage");
    oid!(FRESHEST_CRL, "2.5.29.46", "freshestCRL");
    oid!(INHIBIT_ANY_POLICY, "2.5.29.54", "inhibitAnyPolicy");
    oid!(
        AUTHORITY_INFO_ACCESS,
        "1.3.6.1.5.5.7.1.1",
        "authorityInfoAccess"
    );
    oid!(
        SUBJECT_INFO_ACCESS,
        "1.3.6.1.5.5.7.1.11",
        "subjectInfoAccess"
    );
    oid!(AD_OCSP, "1.3.6.1.5.5.7.48.1", "id-ad-ocsp");
    oid!(AD_CA_ISSUERS, "1.3.6.1.5.5.7.48.2", "id-ad-caIssuers");
    oid!(OCSP_NOCHECK, "1.3.6.1.5.5.7.48.1.5", "id-pkix-ocsp-nocheck");
    oid!(ANY_POLICY, "2.5.29.32.0", "anyPolicy");
    oid!(ANY_EKU, "2.5.29.37.0", "anyExtendedKeyUsage");
    oid!(KP_SERVER_AUTH, "1.3.6.1.5.5.7.3.1", "id-kp-serverAuth");
    oid!(KP_CLIENT_AUTH, "1.3.6.1.5.5.7.3.2", "id-kp-clientAuth");
    oid!(KP_CODE_SIGNING, "1.3.6.1.5.5.7.3.3", "id-kp-codeSigning");
    oid!(
        KP_EMAIL_PROTECTION,
        "1.3.6.1.5.5.7.3.4",
        "id-kp-emailProtection"
    );
    oid!(KP_TIME_STAMPING, "1.3.6.1.5.5.7.3.8", "id-kp-timeStamping");
    oid!(KP_OCSP_SIGNING, "1.3.6.1.5.5.7.3.9", "id-kp-OCSPSigning");
    oid!(
        NCA_KEY_STORE_TYPE,
        "1.2.398.3.3.5",
        "NCA private extension: key store type"
    );
    oid!(CT_PRECERT_SCTS, "1.3.6.1.4.1.11129.2.4.2", "CT SCT list");
}

/// Why a certificate could not be parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertError {
    /// The input is larger than [`MAX_CERT_SIZE`].
    TooLarge {
        /// Size received.
        size: usize,
    },
    /// Not a DER certificate (or PEM around one).
    BadEncoding {
        /// What the decoder said.
        detail: String,
    },
    /// A known extension appears twice (RFC 5280 §4.2).
    DuplicateExtension {
        /// The repeated extension.
        oid: ObjectIdentifier,
    },
    /// A known extension's value does not decode.
    BadExtension {
        /// The extension.
        oid: ObjectIdentifier,
        /// What the decoder said.
        detail: String,
    },
    /// The outer and inner signature algorithms differ (RFC 5280 §4.1.1.2).
    SignatureAlgorithmMismatch,
    /// Extensions present in a v1/v2 certificate, or an unknown version.
    BadVersion,
}

impl CertError {
    /// Stable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            CertError::TooLarge { .. } => "cert_too_large",
            CertError::BadEncoding { .. } => "cert_malformed",
            CertError::DuplicateExtension { .. } => "cert_duplicate_extension",
            CertError::BadExtension { .. } => "cert_bad_extension",
            CertError::SignatureAlgorithmMismatch => "cert_signature_algorithm_mismatch",
            CertError::BadVersion => "cert_bad_version",
        }
    }
}

impl fmt::Display for CertError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertError::TooLarge { size } => write!(f, "certificate of {size} bytes is too large"),
            CertError::BadEncoding { detail } => write!(f, "malformed certificate: {detail}"),
            CertError::DuplicateExtension { oid } => write!(f, "extension {oid} appears twice"),
            CertError::BadExtension { oid, detail } => {
                write!(f, "extension {oid} is malformed: {detail}")
            }
            CertError::SignatureAlgorithmMismatch => {
                f.write_str("signatureAlgorithm differs from tbsCertificate.signature")
            }
            CertError::BadVersion => f.write_str("certificate version does not allow its fields"),
        }
    }
}

impl std::error::Error for CertError {}

/// An AlgorithmIdentifier: OID and the DER of its parameters (if any).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AlgorithmId {
    /// Algorithm OID.
    pub oid: ObjectIdentifier,
    /// DER of the parameters, `None` when absent.
    pub params: Option<Vec<u8>>,
}

impl AlgorithmId {
    /// From the `spki` type.
    pub fn from_spki(a: &spki::AlgorithmIdentifierOwned) -> Result<Self, der::Error> {
        let params = match &a.parameters {
            Some(p) => Some(p.to_der()?),
            None => None,
        };
        Ok(AlgorithmId { oid: a.oid, params })
    }

    /// Same algorithm, treating absent parameters and an explicit NULL as equal. NCA's 2026 test
    /// CRL has NULL in the outer AlgorithmIdentifier and nothing in the inner one
    /// (../shared/NCA.md §5); RFC 5280 §5.1.1.2 wants them identical, but they mean the same.
    pub fn equivalent(&self, other: &AlgorithmId) -> bool {
        const NULL: &[u8] = &[0x05, 0x00];
        if self.oid != other.oid {
            return false;
        }
        let a = self.params.as_deref().filter(|p| *p != NULL);
        let b = other.params.as_deref().filter(|p| *p != NULL);
        a == b
    }
}

/// Key usage bits, RFC 5280 §4.2.1.3 (bit 0 = digitalSignature).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct KeyUsage(pub u16);

impl KeyUsage {
    /// digitalSignature (0)
    pub const DIGITAL_SIGNATURE: u16 = 1 << 0;
    /// nonRepudiation / contentCommitment (1)
    pub const NON_REPUDIATION: u16 = 1 << 1;
    /// keyEncipherment (2)
    pub const KEY_ENCIPHERMENT: u16 = 1 << 2;
    /// dataEncipherment (3)
    pub const DATA_ENCIPHERMENT: u16 = 1 << 3;
    /// keyAgreement (4)
    pub const KEY_AGREEMENT: u16 = 1 << 4;
    /// keyCertSign (5)
    pub const KEY_CERT_SIGN: u16 = 1 << 5;
    /// cRLSign (6)
    pub const CRL_SIGN: u16 = 1 << 6;
    /// encipherOnly (7)
    pub const ENCIPHER_ONLY: u16 = 1 << 7;
    /// decipherOnly (8)
    pub const DECIPHER_ONLY: u16 = 1 << 8;

    /// True if every bit of `mask` is set.
    pub fn has(self, mask: u16) -> bool {
        self.0 & mask == mask
    }

    /// Bit for a name as the conformance cases and `--key-usage` spell it.
    pub fn bit_for_name(name: &str) -> Option<u16> {
        Some(match name {
            "digitalSignature" | "digital_signature" => Self::DIGITAL_SIGNATURE,
            "nonRepudiation" | "contentCommitment" | "content_commitment" | "non_repudiation" => {
                Self::NON_REPUDIATION
            }
            "keyEncipherment" | "key_encipherment" => Self::KEY_ENCIPHERMENT,
            "dataEncipherment" | "data_encipherment" => Self::DATA_ENCIPHERMENT,
            "keyAgreement" | "key_agreement" => Self::KEY_AGREEMENT,
            "keyCertSign" | "key_cert_sign" => Self::KEY_CERT_SIGN,
            "cRLSign" | "crl_sign" => Self::CRL_SIGN,
            "encipherOnly" | "encipher_only" => Self::ENCIPHER_ONLY,
            "decipherOnly" | "decipher_only" => Self::DECIPHER_ONLY,
            _ => return None,
        })
    }

    /// Names of the set bits.
    pub fn names(self) -> Vec<&'static str> {
        const NAMES: [&str; 9] = [
            "digitalSignature",
            "nonRepudiation",
            "keyEncipherment",
            "dataEncipherment",
            "keyAgreement",
            "keyCertSign",
            "cRLSign",
            "encipherOnly",
            "decipherOnly",
        ];
        NAMES
            .iter()
            .enumerate()
            .filter(|(i, _)| self.0 & (1 << i) != 0)
            .map(|(_, n)| *n)
            .collect()
    }
}

/// A GeneralName (RFC 5280 §4.2.1.6), reduced to what we compare.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GeneralName {
    /// rfc822Name
    Email(String),
    /// dNSName
    Dns(String),
    /// uniformResourceIdentifier
    Uri(String),
    /// directoryName
    Directory(DistinguishedName),
    /// iPAddress (4 or 16 bytes; 8 or 32 in name constraints: address + mask)
    Ip(Vec<u8>),
    /// registeredID
    RegisteredId(ObjectIdentifier),
    /// otherName, with its type-id
    Other(ObjectIdentifier),
    /// ediPartyName
    EdiParty,
}

impl GeneralName {
    fn from_x(g: &XGeneralName) -> Result<Self, der::Error> {
        Ok(match g {
            XGeneralName::Rfc822Name(s) => GeneralName::Email(s.to_string()),
            XGeneralName::DnsName(s) => GeneralName::Dns(s.to_string()),
            XGeneralName::UniformResourceIdentifier(s) => GeneralName::Uri(s.to_string()),
            XGeneralName::DirectoryName(n) => {
                GeneralName::Directory(DistinguishedName::from_name(n)?)
            }
            XGeneralName::IpAddress(o) => GeneralName::Ip(o.as_bytes().to_vec()),
            XGeneralName::RegisteredId(o) => GeneralName::RegisteredId(*o),
            XGeneralName::OtherName(o) => GeneralName::Other(o.type_id),
            XGeneralName::EdiPartyName(_) => GeneralName::EdiParty,
        })
    }
}

/// A subtree of name constraints (RFC 5280 §4.2.1.10).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GeneralSubtree {
    /// The base name.
    pub base: GeneralName,
    /// `minimum`, which must be 0 (RFC 5280).
    pub minimum: u32,
    /// `maximum`, which must be absent (RFC 5280).
    pub maximum: Option<u32>,
}

/// Name constraints of a CA certificate.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct NameConstraints {
    /// permittedSubtrees (`None` = absent, which differs from empty).
    pub permitted: Option<Vec<GeneralSubtree>>,
    /// excludedSubtrees.
    pub excluded: Option<Vec<GeneralSubtree>>,
}

/// A CRL distribution point (RFC 5280 §4.2.1.13), flattened.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct DistributionPoint {
    /// fullName general names (URIs, directory names...).
    pub full_name: Vec<GeneralName>,
    /// nameRelativeToCRLIssuer present (we only record that).
    pub relative_name: bool,
    /// reasons bit mask (`None` = all reasons), bit 0 = unused as in RFC 5280.
    pub reasons: Option<u16>,
    /// cRLIssuer names.
    pub crl_issuer: Vec<GeneralName>,
    /// http(s)/ldap URLs found in fullName, cleaned (NCA's two-URLs-in-one quirk split).
    pub urls: Vec<String>,
}

/// One certificate policy (RFC 5280 §4.2.1.4); qualifiers are not interpreted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyInfo {
    /// Policy OID.
    pub oid: ObjectIdentifier,
    /// Whether qualifiers were present.
    pub has_qualifiers: bool,
}

/// One extension as it appeared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawExtension {
    /// Extension OID.
    pub oid: ObjectIdentifier,
    /// Critical flag.
    pub critical: bool,
    /// extnValue content (DER of the extension's value).
    pub value: Vec<u8>,
}

/// The decoded extensions of a certificate.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Extensions {
    /// basicConstraints: (cA, pathLenConstraint), `None` when absent.
    pub basic_constraints: Option<(bool, Option<u32>)>,
    /// Whether basicConstraints was critical.
    pub basic_constraints_critical: bool,
    /// keyUsage bits.
    pub key_usage: Option<KeyUsage>,
    /// extKeyUsage purposes.
    pub extended_key_usage: Option<Vec<ObjectIdentifier>>,
    /// subjectKeyIdentifier.
    pub subject_key_id: Option<Vec<u8>>,
    /// authorityKeyIdentifier.keyIdentifier.
    pub authority_key_id: Option<Vec<u8>>,
    /// certificatePolicies.
    pub policies: Option<Vec<PolicyInfo>>,
    /// policyMappings (issuerDomainPolicy, subjectDomainPolicy).
    pub policy_mappings: Option<Vec<(ObjectIdentifier, ObjectIdentifier)>>,
    /// policyConstraints (requireExplicitPolicy, inhibitPolicyMapping).
    pub policy_constraints: Option<(Option<u32>, Option<u32>)>,
    /// inhibitAnyPolicy skip certs.
    pub inhibit_any_policy: Option<u32>,
    /// nameConstraints.
    pub name_constraints: Option<NameConstraints>,
    /// subjectAltName entries.
    pub subject_alt_names: Option<Vec<GeneralName>>,
    /// Whether subjectAltName was critical.
    pub subject_alt_names_critical: bool,
    /// OCSP responder URLs from authorityInfoAccess, deduplicated, in order.
    pub ocsp_urls: Vec<String>,
    /// caIssuers URLs from authorityInfoAccess.
    pub ca_issuers_urls: Vec<String>,
    /// cRLDistributionPoints.
    pub crl_distribution_points: Vec<DistributionPoint>,
    /// freshestCRL (delta CRL locations).
    pub freshest_crl: Vec<DistributionPoint>,
    /// id-pkix-ocsp-nocheck present (delegated OCSP responders).
    pub ocsp_no_check: bool,
    /// Critical extensions this module does not process.
    pub unhandled_critical: Vec<ObjectIdentifier>,
    /// Every extension as received.
    pub all: Vec<RawExtension>,
}

/// A parsed certificate.
#[derive(Clone, PartialEq, Eq)]
pub struct Certificate {
    der: Vec<u8>,
    tbs: (usize, usize),
    /// Version number as in the certificate (0 = v1, 2 = v3).
    pub version: u8,
    /// Serial number content octets (two's complement, as encoded).
    pub serial: Vec<u8>,
    /// tbsCertificate.signature.
    pub tbs_signature_algorithm: AlgorithmId,
    /// Certificate.signatureAlgorithm.
    pub signature_algorithm: AlgorithmId,
    /// Signature bits.
    pub signature: Vec<u8>,
    /// Issuer name.
    pub issuer: DistinguishedName,
    /// Subject name.
    pub subject: DistinguishedName,
    /// notBefore.
    pub not_before: UnixTime,
    /// notAfter.
    pub not_after: UnixTime,
    /// DER of SubjectPublicKeyInfo.
    pub spki_der: Vec<u8>,
    /// SubjectPublicKeyInfo.algorithm.
    pub public_key_algorithm: AlgorithmId,
    /// subjectPublicKey bits (raw key bytes).
    pub public_key: Vec<u8>,
    /// Extensions.
    pub extensions: Extensions,
}

impl fmt::Debug for Certificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Certificate")
            .field("subject", &self.subject.to_display_string())
            .field("issuer", &self.issuer.to_display_string())
            .field("serial", &self.serial_hex())
            .finish()
    }
}

impl Certificate {
    /// Parses DER, or PEM (`-----BEGIN CERTIFICATE-----`), strictly except for the NCA quirks
    /// named in the module doc.
    pub fn parse(input: &[u8]) -> Result<Certificate, CertError> {
        if input.len() > MAX_CERT_SIZE * 2 {
            return Err(CertError::TooLarge { size: input.len() });
        }
        let (_, der) = der_util::pem_or_der(input).map_err(|e| CertError::BadEncoding {
            detail: e.to_string(),
        })?;
        Self::from_der(der)
    }

    /// Parses DER bytes.
    pub fn from_der(der: Vec<u8>) -> Result<Certificate, CertError> {
        if der.len() > MAX_CERT_SIZE {
            return Err(CertError::TooLarge { size: der.len() });
        }
        let bad = |e: der::Error| CertError::BadEncoding {
            detail: e.to_string(),
        };
        let cert = x509_cert::Certificate::from_der(&der).map_err(bad)?;
        let kids = der_util::sequence_children(&der, 3).ok_or(CertError::BadEncoding {
            detail: "outer SEQUENCE".into(),
        })?;
        let tbs_tlv = kids.first().ok_or(CertError::BadEncoding {
            detail: "no TBS".into(),
        })?;
        let tbs = cert.tbs_certificate();
        let version = match tbs.version() {
            x509_cert::certificate::Version::V1 => 0,
            x509_cert::certificate::Version::V2 => 1,
            x509_cert::certificate::Version::V3 => 2,
        };
        let sig_alg = AlgorithmId::from_spki(cert.signature_algorithm()).map_err(bad)?;
        let tbs_sig_alg = AlgorithmId::from_spki(tbs.signature()).map_err(bad)?;
        let spki = tbs.subject_public_key_info();
        let extensions = match tbs.extensions() {
            Some(exts) => {
                if version != 2 {
                    return Err(CertError::BadVersion);
                }
                parse_extensions(exts)?
            }
            None => Extensions::default(),
        };
        Ok(Certificate {
            tbs: (tbs_tlv.start, tbs_tlv.end),
            version,
            serial: tbs.serial_number().as_bytes().to_vec(),
            signature_algorithm: sig_alg,
            tbs_signature_algorithm: tbs_sig_alg,
            signature: cert.signature().raw_bytes().to_vec(),
            issuer: DistinguishedName::from_name(tbs.issuer()).map_err(bad)?,
            subject: DistinguishedName::from_name(tbs.subject()).map_err(bad)?,
            not_before: UnixTime::from_der_datetime(&tbs.validity().not_before.to_date_time()),
            not_after: UnixTime::from_der_datetime(&tbs.validity().not_after.to_date_time()),
            spki_der: spki.to_der().map_err(bad)?,
            public_key_algorithm: AlgorithmId::from_spki(&spki.algorithm).map_err(bad)?,
            public_key: spki.subject_public_key.raw_bytes().to_vec(),
            extensions,
            der,
        })
    }

    /// The certificate's DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The exact tbsCertificate bytes the signature covers.
    pub fn tbs_der(&self) -> &[u8] {
        &self.der[self.tbs.0..self.tbs.1]
    }

    /// Serial number in upper-case hex (as NCA and OpenSSL print it).
    pub fn serial_hex(&self) -> String {
        hex::encode_upper(&self.serial)
    }

    /// Subject equals issuer (a self-issued certificate, RFC 5280 §6.1).
    pub fn is_self_issued(&self) -> bool {
        self.subject.matches(&self.issuer)
    }

    /// True if basicConstraints says cA.
    pub fn is_ca(&self) -> bool {
        matches!(self.extensions.basic_constraints, Some((true, _)))
    }

    /// Valid at `t` (inclusive bounds, RFC 5280 §4.1.2.5).
    pub fn is_valid_at(&self, t: UnixTime) -> bool {
        self.not_before <= t && t <= self.not_after
    }

    /// SHA-256 fingerprint, hex.
    pub fn sha256_fingerprint(&self) -> String {
        hex::encode(ring::digest::digest(&ring::digest::SHA256, &self.der))
    }
}

fn ext_err(oid: ObjectIdentifier) -> impl Fn(der::Error) -> CertError {
    move |e| CertError::BadExtension {
        oid,
        detail: e.to_string(),
    }
}

fn parse_extensions(exts: &[x509_cert::ext::Extension]) -> Result<Extensions, CertError> {
    let mut out = Extensions::default();
    let mut seen: Vec<ObjectIdentifier> = Vec::new();
    for e in exts {
        let oid = e.extn_id;
        if seen.contains(&oid) {
            return Err(CertError::DuplicateExtension { oid });
        }
        seen.push(oid);
        let v = e.extn_value.as_bytes();
        out.all.push(RawExtension {
            oid,
            critical: e.critical,
            value: v.to_vec(),
        });
        let err = ext_err(oid);
        match oid {
            oids::BASIC_CONSTRAINTS => {
                let bc = pkix::BasicConstraints::from_der(v).map_err(&err)?;
                out.basic_constraints = Some((bc.ca, bc.path_len_constraint.map(u32::from)));
                out.basic_constraints_critical = e.critical;
            }
            oids::KEY_USAGE => {
                let bits = BitString::from_der(v).map_err(&err)?;
                let mut ku = 0u16;
                for (i, bit) in bits.bits().enumerate().take(16) {
                    if bit {
                        ku |= 1 << i;
                    }
                }
                out.key_usage = Some(KeyUsage(ku));
            }
            oids::EXT_KEY_USAGE => {
                let eku = pkix::ExtendedKeyUsage::from_der(v).map_err(&err)?;
                out.extended_key_usage = Some(eku.0);
            }
            oids::SUBJECT_KEY_ID => {
                // NCA's old RSA intermediate has a 4-byte SKI: any length is accepted.
                let ski = OctetString::from_der(v).map_err(&err)?;
                out.subject_key_id = Some(ski.as_bytes().to_vec());
            }
            oids::AUTHORITY_KEY_ID => {
                let aki = pkix::AuthorityKeyIdentifier::from_der(v).map_err(&err)?;
                out.authority_key_id = aki.key_identifier.map(|k| k.as_bytes().to_vec());
            }
            oids::CERTIFICATE_POLICIES => {
                let cp = pkix::CertificatePolicies::from_der(v).map_err(&err)?;
                let mut list = Vec::with_capacity(cp.0.len());
                for p in &cp.0 {
                    if list
                        .iter()
                        .any(|x: &PolicyInfo| x.oid == p.policy_identifier)
                    {
                        // RFC 5280 §4.2.1.4: a policy OID MUST NOT appear more than once.
                        return Err(CertError::BadExtension {
                            oid,
                            detail: format!("policy {} listed twice", p.policy_identifier),
                        });
                    }
                    list.push(PolicyInfo {
                        oid: p.policy_identifier,
                        has_qualifiers: p.policy_qualifiers.is_some(),
                    });
                }
                out.policies = Some(list);
            }
            oids::POLICY_MAPPINGS => {
                let pm = pkix::PolicyMappings::from_der(v).map_err(&err)?;
                out.policy_mappings = Some(
                    pm.0.iter()
                        .map(|m| (m.issuer_domain_policy, m.subject_domain_policy))
                        .collect(),
                );
            }
            oids::POLICY_CONSTRAINTS => {
                let pc = pkix::constraints::PolicyConstraints::from_der(v).map_err(&err)?;
                if pc.require_explicit_policy.is_none() && pc.inhibit_policy_mapping.is_none() {
                    // RFC 5280 §4.2.1.11: conforming CAs MUST NOT issue an empty sequence.
                    return Err(CertError::BadExtension {
                        oid,
                        detail: "empty".into(),
                    });
                }
                out.policy_constraints =
                    Some((pc.require_explicit_policy, pc.inhibit_policy_mapping));
            }
            oids::INHIBIT_ANY_POLICY => {
                let iap = pkix::InhibitAnyPolicy::from_der(v).map_err(&err)?;
                out.inhibit_any_policy = Some(iap.0);
            }
            oids::NAME_CONSTRAINTS => {
                let nc = pkix::constraints::NameConstraints::from_der(v).map_err(&err)?;
                let conv = |s: &Option<Vec<pkix::constraints::name::GeneralSubtree>>| {
                    s.as_ref()
                        .map(|list| {
                            list.iter()
                                .map(|st| {
                                    Ok(GeneralSubtree {
                                        base: GeneralName::from_x(&st.base)?,
                                        minimum: st.minimum,
                                        maximum: st.maximum,
                                    })
                                })
                                .collect::<Result<Vec<_>, der::Error>>()
                        })
                        .transpose()
                };
                out.name_constraints = Some(NameConstraints {
                    permitted: conv(&nc.permitted_subtrees).map_err(&err)?,
                    excluded: conv(&nc.excluded_subtrees).map_err(&err)?,
                });
            }
            oids::SUBJECT_ALT_NAME => {
                let san = pkix::SubjectAltName::from_der(v).map_err(&err)?;
                let names = san
                    .0
                    .iter()
                    .map(GeneralName::from_x)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(&err)?;
                out.subject_alt_names = Some(names);
                out.subject_alt_names_critical = e.critical;
            }
            oids::AUTHORITY_INFO_ACCESS => {
                let aia = pkix::AuthorityInfoAccessSyntax::from_der(v).map_err(&err)?;
                for ad in &aia.0 {
                    if let XGeneralName::UniformResourceIdentifier(u) = &ad.access_location {
                        let target = if ad.access_method == oids::AD_OCSP {
                            &mut out.ocsp_urls
                        } else if ad.access_method == oids::AD_CA_ISSUERS {
                            &mut out.ca_issuers_urls
                        } else {
                            continue;
                        };
                        for url in split_urls(u) {
                            // NCA's 2026 test certificates list the OCSP URI twice.
                            if !target.contains(&url) {
                                target.push(url);
                            }
                        }
                    }
                }
            }
            oids::CRL_DISTRIBUTION_POINTS => {
                let cdp = pkix::CrlDistributionPoints::from_der(v).map_err(&err)?;
                out.crl_distribution_points = convert_dps(&cdp.0).map_err(&err)?;
            }
            oids::FRESHEST_CRL => {
                let f = pkix::FreshestCrl::from_der(v).map_err(&err)?;
                out.freshest_crl = convert_dps(&f.0).map_err(&err)?;
            }
            oids::OCSP_NOCHECK => out.ocsp_no_check = true,
            _ => {
                if e.critical {
                    out.unhandled_critical.push(oid);
                }
            }
        }
    }
    Ok(out)
}

fn convert_dps(
    dps: &[pkix::crl::dp::DistributionPoint],
) -> Result<Vec<DistributionPoint>, der::Error> {
    let mut out = Vec::with_capacity(dps.len());
    for dp in dps {
        let mut d = DistributionPoint::default();
        match &dp.distribution_point {
            Some(DistributionPointName::FullName(names)) => {
                for n in names {
                    let g = GeneralName::from_x(n)?;
                    if let XGeneralName::UniformResourceIdentifier(u) = n {
                        for url in split_urls(u) {
                            if !d.urls.contains(&url) {
                                d.urls.push(url);
                            }
                        }
                    }
                    d.full_name.push(g);
                }
            }
            Some(DistributionPointName::NameRelativeToCRLIssuer(_)) => d.relative_name = true,
            None => {}
        }
        d.reasons = dp.reasons.map(|r| r.bits());
        if let Some(issuers) = &dp.crl_issuer {
            for n in issuers {
                d.crl_issuer.push(GeneralName::from_x(n)?);
            }
        }
        out.push(d);
    }
    Ok(out)
}

/// Splits a URI field into URLs. NCA's production RSA intermediate (2018) carries
/// `http://crl.root.gov.kz/rsa.crl\n   URL=http://crl1.root.gov.kz/rsa.crl` in ONE URI.
fn split_urls(u: &Ia5String) -> Vec<String> {
    u.to_string()
        .split_whitespace()
        .map(|p| p.strip_prefix("URL=").unwrap_or(p))
        .filter(|p| !p.is_empty())
        .map(str::to_string)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_and_null_parameters_are_the_same_algorithm() {
        let oid = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
        let a = AlgorithmId { oid, params: None };
        let b = AlgorithmId {
            oid,
            params: Some(vec![5, 0]),
        };
        let c = AlgorithmId {
            oid,
            params: Some(vec![6, 1, 0]),
        };
        assert!(a.equivalent(&b));
        assert!(!a.equivalent(&c));
    }

    #[test]
    fn garbage_is_a_named_error() {
        assert!(matches!(
            Certificate::parse(b"hello"),
            Err(CertError::BadEncoding { .. })
        ));
        assert!(matches!(
            Certificate::parse(&[0x30, 0x80]),
            Err(CertError::BadEncoding { .. })
        ));
    }

    #[test]
    fn nca_two_urls_in_one_uri_are_split() {
        let u = Ia5String::new(
            "http://crl.root.gov.kz/rsa.crl\n   URL=http://crl1.root.gov.kz/rsa.crl",
        )
        .expect("ia5");
        assert_eq!(
            split_urls(&u),
            vec![
                "http://crl.root.gov.kz/rsa.crl",
                "http://crl1.root.gov.kz/rsa.crl"
            ]
        );
    }
}

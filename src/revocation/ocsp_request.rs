//! OCSP request encoder (RFC 6960 §4.1), pure: no I/O, no clock, no randomness (the caller
//! passes the nonce).
//!
//! ```text
//! OCSPRequest ::= SEQUENCE { tbsRequest TBSRequest, optionalSignature [0] EXPLICIT Signature OPTIONAL }
//! TBSRequest  ::= SEQUENCE { version [0] EXPLICIT Version DEFAULT v1, requestorName [1] OPTIONAL,
//!                            requestList SEQUENCE OF Request, requestExtensions [2] EXPLICIT Extensions OPTIONAL }
//! Request     ::= SEQUENCE { reqCert CertID, singleRequestExtensions [0] EXPLICIT Extensions OPTIONAL }
//! CertID      ::= SEQUENCE { hashAlgorithm AlgorithmIdentifier, issuerNameHash OCTET STRING,
//!                            issuerKeyHash OCTET STRING, serialNumber CertificateSerialNumber }
//! ```
//! We never sign requests (NCA does not ask for it), never send `version` (DER omits DEFAULT
//! values) and send one Request per OCSPRequest. The nonce (id-pkix-ocsp-nonce) is encoded the
//! RFC 8954 way: extnValue = OCTET STRING { OCTET STRING nonce }, which is also what NCA echoes
//! (../shared/NCA.md §5). Hand-encoded DER: six nested SEQUENCEs do not justify a derive stack.

use std::fmt;

use const_oid::ObjectIdentifier;

use crate::pki::cert::Certificate;
use crate::pki::ocsp::oids as ocsp_oids;
use crate::pki::signature::{self, oids as sig_oids};

/// CertID hash algorithm. SHA-1 is RFC 6960's default and what most responders index by; NCA's
/// responder wants SHA-256 (NCANode sends SHA-256).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum CertIdHash {
    /// SHA-1 (the RFC 5019 / RFC 6960 default).
    #[default]
    Sha1,
    /// SHA-256 (NCA).
    Sha256,
}

impl CertIdHash {
    /// The digest OID.
    pub fn oid(self) -> ObjectIdentifier {
        match self {
            CertIdHash::Sha1 => sig_oids::SHA1,
            CertIdHash::Sha256 => sig_oids::SHA256,
        }
    }

    /// Name for configuration and logs.
    pub fn name(self) -> &'static str {
        match self {
            CertIdHash::Sha1 => "sha1",
            CertIdHash::Sha256 => "sha256",
        }
    }

    /// From a configuration name (`sha1`, `sha256`, case-insensitive).
    pub fn from_name(s: &str) -> Option<CertIdHash> {
        match s.to_ascii_lowercase().as_str() {
            "sha1" | "sha-1" => Some(CertIdHash::Sha1),
            "sha256" | "sha-256" => Some(CertIdHash::Sha256),
            _ => None,
        }
    }
}

/// Why no request could be built.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RequestError {
    /// The certificate's issuer name is not the issuer certificate's subject.
    IssuerMismatch,
    /// The certificate has an empty serial.
    EmptySerial,
}

impl RequestError {
    /// Stable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            RequestError::IssuerMismatch => "ocsp_request_issuer_mismatch",
            RequestError::EmptySerial => "ocsp_request_empty_serial",
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::IssuerMismatch => {
                f.write_str("the issuer given is not the certificate's issuer")
            }
            RequestError::EmptySerial => f.write_str("the certificate has an empty serial"),
        }
    }
}

impl std::error::Error for RequestError {}

/// The DER CertID of `cert` issued by `issuer`: hashes over the DER issuer name as it appears in
/// `cert` and over the issuer's subjectPublicKey bits (RFC 6960 §4.1.1). Also the single-flight
/// and cache key of the online layer.
pub fn cert_id_der(
    cert: &Certificate,
    issuer: &Certificate,
    hash: CertIdHash,
) -> Result<Vec<u8>, RequestError> {
    if !cert.issuer.matches(&issuer.subject) {
        return Err(RequestError::IssuerMismatch);
    }
    if cert.serial.is_empty() {
        return Err(RequestError::EmptySerial);
    }
    let oid = hash.oid();
    // SHA-1 and SHA-256 are always available (ring); an empty hash would only come from a bug.
    let name_hash = signature::digest(&oid, cert.issuer.der()).unwrap_or_default();
    let key_hash = signature::digest(&oid, &issuer.public_key).unwrap_or_default();
    let alg = seq(&[tlv(0x06, oid.as_bytes()), vec![0x05, 0x00]].concat());
    Ok(seq(&[
        alg,
        tlv(0x04, &name_hash),
        tlv(0x04, &key_hash),
        tlv(0x02, &cert.serial),
    ]
    .concat()))
}

/// A DER OCSPRequest for one certificate, with the nonce extension when `nonce` is given.
pub fn build(
    cert: &Certificate,
    issuer: &Certificate,
    hash: CertIdHash,
    nonce: Option<&[u8]>,
) -> Result<Vec<u8>, RequestError> {
    let cert_id = cert_id_der(cert, issuer, hash)?;
    let request = seq(&cert_id);
    let mut tbs = seq(&request); // requestList
    if let Some(n) = nonce {
        let ext = seq(&[
            tlv(0x06, ocsp_oids::OCSP_NONCE.as_bytes()),
            tlv(0x04, &tlv(0x04, n)),
        ]
        .concat());
        tbs.extend(tlv(0xa2, &seq(&ext)));
    }
    Ok(seq(&seq(&tbs)))
}

fn seq(content: &[u8]) -> Vec<u8> {
    tlv(0x30, content)
}

/// One DER TLV with a definite, minimal length.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = Vec::with_capacity(len + 6);
    out.push(tag);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let used = bytes.get(skip..).unwrap_or_default();
        out.push(0x80 | used.len() as u8);
        out.extend_from_slice(used);
    }
    out.extend_from_slice(content);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlv_lengths_are_minimal() {
        assert_eq!(tlv(0x04, &[1, 2]), vec![0x04, 2, 1, 2]);
        let long = tlv(0x04, &[0u8; 200]);
        assert_eq!(&long[..3], &[0x04, 0x81, 200]);
        let longer = tlv(0x04, &[0u8; 300]);
        assert_eq!(&longer[..4], &[0x04, 0x82, 0x01, 0x2c]);
    }

    /// Our SHA-256 CertID equals the one in a real NCA response for the same certificate
    /// (../shared/fixtures/nca: individual_sign_rsa_2021 ↔ ocsp_response_individual_sign_2004).
    #[test]
    fn cert_id_matches_a_real_nca_response() {
        let dir =
            std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/fixtures/nca");
        let read = |p: &str| {
            std::fs::read(dir.join(p)).unwrap_or_else(|e| panic!("fixture {p} (../shared): {e}"))
        };
        let cert = Certificate::parse(&read("certs/rsa-2021-2022/individual_sign_rsa_2021.pem"))
            .expect("cert");
        let issuer = Certificate::parse(&read("ca/test/nca_rsa_test_2019.pem")).expect("issuer");
        let resp = crate::pki::ocsp::OcspResponse::parse(&read(
            "ocsp/ocsp_response_individual_sign_2004.bin",
        ))
        .expect("response");
        let single = resp.find(&cert, &issuer).expect("CertID matches (core)");
        let ours = cert_id_der(&cert, &issuer, CertIdHash::Sha256).expect("cert id");
        let name_hash = tlv(0x04, &single.cert_id.issuer_name_hash);
        let key_hash = tlv(0x04, &single.cert_id.issuer_key_hash);
        let find = |needle: &[u8]| ours.windows(needle.len()).any(|w| w == needle);
        assert!(find(&name_hash) && find(&key_hash));
        let req = build(&cert, &issuer, CertIdHash::Sha256, Some(&[1; 8])).expect("request");
        assert!(req.windows(ours.len()).any(|w| w == ours.as_slice()));
    }

    #[test]
    fn hash_names_round_trip() {
        for h in [CertIdHash::Sha1, CertIdHash::Sha256] {
            assert_eq!(CertIdHash::from_name(h.name()), Some(h));
        }
        assert_eq!(CertIdHash::from_name("SHA-256"), Some(CertIdHash::Sha256));
        assert_eq!(CertIdHash::from_name("md5"), None);
    }
}

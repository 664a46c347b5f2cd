//! DER builders for the test PKI: X.509 certificates, CRLs (full and delta) and OCSP responses,
//! plus the small OCSP request reader the responder needs. Everything is written with
//! [`super::der`] and signed by a [`SigningKey`]; the tests re-parse every output with the core's
//! parsers (`pki::cert`, `pki::crl`, `pki::ocsp`) and OpenSSL.

use const_oid::ObjectIdentifier;

use super::der::{
    self, alg_id, enumerated, explicit, extension, generalized_time, int, named_bits, null, octets,
    oid, oid_str, printable, seq, set, tlv, uint, utf8,
};
use super::keys::{KeyError, SigningKey};
use crate::pki::cert::oids as ext;
use crate::pki::crl::oids as crl_oids;
use crate::pki::der_util;
use crate::pki::name::oids as attr;
use crate::pki::ocsp::oids as ocsp_oids;
use crate::pki::signature::oids as sig;
use crate::pki::time::UnixTime;

// ---------------------------------------------------------------------------------------------
// Names.

/// A Name with one attribute per RDN, in the given order. C and SERIALNUMBER are
/// PrintableString (as NCA writes them), everything else UTF8String.
pub fn name(attrs: &[(ObjectIdentifier, &str)]) -> Vec<u8> {
    let rdns: Vec<Vec<u8>> = attrs
        .iter()
        .map(|(o, v)| {
            let value = if *o == attr::C || *o == attr::SERIAL_NUMBER {
                printable(v)
            } else {
                utf8(v)
            };
            set(&[seq(&[oid(o), value])])
        })
        .collect();
    seq(&rdns)
}

// ---------------------------------------------------------------------------------------------
// Extensions (each returns a whole Extension).

/// basicConstraints (critical).
pub fn basic_constraints(ca: bool, path_len: Option<u32>) -> Vec<u8> {
    let mut v = Vec::new();
    if ca {
        v.push(der::true_());
        if let Some(n) = path_len {
            v.push(int(u64::from(n)));
        }
    }
    extension(&ext::BASIC_CONSTRAINTS, true, &seq(&v))
}

/// keyUsage from a [`crate::pki::cert::KeyUsage`] mask.
pub fn key_usage(mask: u16, critical: bool) -> Vec<u8> {
    extension(&ext::KEY_USAGE, critical, &named_bits(mask))
}

/// extKeyUsage.
pub fn ext_key_usage(purposes: &[ObjectIdentifier], critical: bool) -> Vec<u8> {
    let v: Vec<Vec<u8>> = purposes.iter().map(oid).collect();
    extension(&ext::EXT_KEY_USAGE, critical, &seq(&v))
}

/// subjectKeyIdentifier.
pub fn subject_key_id(id: &[u8]) -> Vec<u8> {
    extension(&ext::SUBJECT_KEY_ID, false, &octets(id))
}

/// authorityKeyIdentifier with keyIdentifier only.
pub fn authority_key_id(id: &[u8]) -> Vec<u8> {
    extension(&ext::AUTHORITY_KEY_ID, false, &seq(&[tlv(0x80, id)]))
}

/// certificatePolicies without qualifiers.
pub fn policies(oids: &[ObjectIdentifier]) -> Vec<u8> {
    let v: Vec<Vec<u8>> = oids.iter().map(|o| seq(&[oid(o)])).collect();
    extension(&ext::CERTIFICATE_POLICIES, false, &seq(&v))
}

fn dist_points(urls: &[String]) -> Vec<u8> {
    let v: Vec<Vec<u8>> = urls
        .iter()
        .map(|u| seq(&[tlv(0xa0, &tlv(0xa0, &tlv(0x86, u.as_bytes())))]))
        .collect();
    seq(&v)
}

/// cRLDistributionPoints, one fullName URI per point.
pub fn crl_distribution_points(urls: &[String]) -> Vec<u8> {
    extension(&ext::CRL_DISTRIBUTION_POINTS, false, &dist_points(urls))
}

/// freshestCRL (where the delta CRL is).
pub fn freshest_crl(urls: &[String]) -> Vec<u8> {
    extension(&ext::FRESHEST_CRL, false, &dist_points(urls))
}

/// authorityInfoAccess: OCSP URIs then caIssuers URIs.
pub fn authority_info_access(ocsp: &[String], ca_issuers: &[String]) -> Vec<u8> {
    let mut v = Vec::new();
    for u in ocsp {
        v.push(seq(&[oid(&ext::AD_OCSP), tlv(0x86, u.as_bytes())]));
    }
    for u in ca_issuers {
        v.push(seq(&[oid(&ext::AD_CA_ISSUERS), tlv(0x86, u.as_bytes())]));
    }
    extension(&ext::AUTHORITY_INFO_ACCESS, false, &seq(&v))
}

/// id-pkix-ocsp-nocheck (NULL).
pub fn ocsp_nocheck() -> Vec<u8> {
    extension(&ext::OCSP_NOCHECK, false, &null())
}

/// NCA's private "key store type: PKCS#12 file" extension (1.2.398.3.3.5 = SEQ{1.2.398.3.3.5.1.1}).
pub fn nca_key_store_pkcs12() -> Vec<u8> {
    extension(
        &ext::NCA_KEY_STORE_TYPE,
        false,
        &seq(&[oid_str("1.2.398.3.3.5.1.1")]),
    )
}

// ---------------------------------------------------------------------------------------------
// Certificates.

/// What goes into a certificate.
pub struct CertSpec<'a> {
    /// Serial number, unsigned big-endian.
    pub serial: &'a [u8],
    /// Issuer Name (DER).
    pub issuer: &'a [u8],
    /// Subject Name (DER).
    pub subject: &'a [u8],
    /// notBefore.
    pub not_before: UnixTime,
    /// notAfter.
    pub not_after: UnixTime,
    /// SubjectPublicKeyInfo (DER).
    pub spki: &'a [u8],
    /// Encoded extensions, in order.
    pub extensions: Vec<Vec<u8>>,
}

/// Builds and signs a v3 certificate.
pub fn certificate(spec: &CertSpec<'_>, issuer_key: &SigningKey) -> Result<Vec<u8>, KeyError> {
    let tbs = seq(&[
        explicit(0, &int(2)),
        uint(spec.serial),
        issuer_key.signature_alg_id(),
        spec.issuer.to_vec(),
        seq(&[der::time(spec.not_before), der::time(spec.not_after)]),
        spec.subject.to_vec(),
        spec.spki.to_vec(),
        explicit(3, &seq(&spec.extensions)),
    ]);
    issuer_key.sign_tbs(&tbs)
}

// ---------------------------------------------------------------------------------------------
// CRLs.

/// One CRL entry.
#[derive(Clone, Debug)]
pub struct CrlEntrySpec {
    /// Serial, unsigned big-endian.
    pub serial: Vec<u8>,
    /// revocationDate.
    pub time: UnixTime,
    /// reasonCode (RFC 5280 §5.3.1), `None` = unspecified and no extension.
    pub reason: Option<u8>,
}

/// What goes into a CRL.
pub struct CrlSpec<'a> {
    /// Issuer Name (DER).
    pub issuer: &'a [u8],
    /// Issuer key identifier (for AKI).
    pub issuer_key_id: &'a [u8],
    /// thisUpdate.
    pub this_update: UnixTime,
    /// nextUpdate.
    pub next_update: UnixTime,
    /// cRLNumber.
    pub number: u64,
    /// For a delta CRL: the base CRL number (deltaCRLIndicator).
    pub delta_base: Option<u64>,
    /// Entries.
    pub entries: &'a [CrlEntrySpec],
}

/// Builds and signs a v2 CRL.
pub fn crl(spec: &CrlSpec<'_>, issuer_key: &SigningKey) -> Result<Vec<u8>, KeyError> {
    let mut tbs = vec![
        int(1),
        issuer_key.signature_alg_id(),
        spec.issuer.to_vec(),
        der::time(spec.this_update),
        der::time(spec.next_update),
    ];
    if !spec.entries.is_empty() {
        let entries: Vec<Vec<u8>> = spec
            .entries
            .iter()
            .map(|e| {
                let mut v = vec![uint(&e.serial), der::time(e.time)];
                if let Some(r) = e.reason {
                    v.push(seq(&[extension(
                        &crl_oids::REASON_CODE,
                        false,
                        &enumerated(r),
                    )]));
                }
                seq(&v)
            })
            .collect();
        tbs.push(seq(&entries));
    }
    let mut exts = vec![
        authority_key_id(spec.issuer_key_id),
        extension(&crl_oids::CRL_NUMBER, false, &int(spec.number)),
    ];
    if let Some(base) = spec.delta_base {
        exts.push(extension(&crl_oids::DELTA_CRL_INDICATOR, true, &int(base)));
    }
    tbs.push(explicit(0, &seq(&exts)));
    issuer_key.sign_tbs(&seq(&tbs))
}

// ---------------------------------------------------------------------------------------------
// OCSP.

/// One CertID of a request, kept as received so the response echoes it byte for byte.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestedCert {
    /// The whole CertID DER.
    pub cert_id_der: Vec<u8>,
    /// hashAlgorithm OID.
    pub hash_alg: ObjectIdentifier,
    /// issuerNameHash.
    pub issuer_name_hash: Vec<u8>,
    /// issuerKeyHash.
    pub issuer_key_hash: Vec<u8>,
    /// serialNumber content octets.
    pub serial: Vec<u8>,
}

/// A parsed OCSP request (only what a responder needs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OcspRequest {
    /// The requested certificates.
    pub certs: Vec<RequestedCert>,
    /// The nonce extension's extnValue (as received), if any.
    pub nonce: Option<Vec<u8>>,
}

/// Why an OCSP request was refused (→ malformedRequest).
#[derive(Debug, PartialEq, Eq)]
pub struct BadRequest(pub &'static str);

/// Reads an OCSPRequest (RFC 6960 §4.1.1). Signatures on requests are ignored.
pub fn parse_ocsp_request(buf: &[u8]) -> Result<OcspRequest, BadRequest> {
    let top = der_util::read_tlv(buf, 0).ok_or(BadRequest("OCSPRequest"))?;
    if top.tag != 0x30 || top.end != buf.len() {
        return Err(BadRequest("OCSPRequest"));
    }
    let kids = der_util::sequence_children(buf, 2).ok_or(BadRequest("OCSPRequest"))?;
    let tbs = kids.first().ok_or(BadRequest("tbsRequest"))?.whole(buf);
    let tk = der_util::sequence_children(tbs, 4).ok_or(BadRequest("tbsRequest"))?;
    let mut certs = Vec::new();
    let mut nonce = None;
    for t in &tk {
        match t.tag {
            0x30 => {
                let list = t.whole(tbs);
                for r in der_util::sequence_children(list, 64).ok_or(BadRequest("requestList"))? {
                    let req = r.whole(list);
                    let rk = der_util::sequence_children(req, 2).ok_or(BadRequest("Request"))?;
                    let cid = rk.first().ok_or(BadRequest("CertID"))?.whole(req);
                    certs.push(cert_id(cid)?);
                }
            }
            0xa2 => {
                let exts = t.content(tbs);
                for e in der_util::sequence_children(exts, 32).ok_or(BadRequest("extensions"))? {
                    let eb = e.whole(exts);
                    let ek = der_util::sequence_children(eb, 3).ok_or(BadRequest("extension"))?;
                    let id = ek.first().ok_or(BadRequest("extnID"))?;
                    if id.content(eb) == ocsp_oids::OCSP_NONCE.as_bytes() {
                        let v = ek.last().ok_or(BadRequest("nonce"))?;
                        if v.tag != 0x04 {
                            return Err(BadRequest("nonce"));
                        }
                        nonce = Some(v.content(eb).to_vec());
                    }
                }
            }
            _ => {} // version [0], requestorName [1]
        }
    }
    if certs.is_empty() {
        return Err(BadRequest("empty requestList"));
    }
    Ok(OcspRequest { certs, nonce })
}

fn cert_id(cid: &[u8]) -> Result<RequestedCert, BadRequest> {
    let k = der_util::sequence_children(cid, 4).ok_or(BadRequest("CertID"))?;
    if k.len() != 4 {
        return Err(BadRequest("CertID"));
    }
    let alg = k[0].whole(cid);
    let ak = der_util::sequence_children(alg, 2).ok_or(BadRequest("hashAlgorithm"))?;
    let hash_alg =
        ObjectIdentifier::from_bytes(ak.first().ok_or(BadRequest("hashAlgorithm"))?.content(alg))
            .map_err(|_| BadRequest("hashAlgorithm"))?;
    Ok(RequestedCert {
        cert_id_der: cid.to_vec(),
        hash_alg,
        issuer_name_hash: k[1].content(cid).to_vec(),
        issuer_key_hash: k[2].content(cid).to_vec(),
        serial: k[3].content(cid).to_vec(),
    })
}

/// Hashes for CertID matching: SHA-1, SHA-256, and the GOST digests.
pub fn cert_id_hash(alg: &ObjectIdentifier, data: &[u8]) -> Option<Vec<u8>> {
    match *alg {
        sig::SHA1 => Some(
            ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, data)
                .as_ref()
                .to_vec(),
        ),
        sig::SHA256 => Some(
            ring::digest::digest(&ring::digest::SHA256, data)
                .as_ref()
                .to_vec(),
        ),
        _ => crate::pki::gost::digest(alg, data),
    }
}

/// A CertID for building requests (tests, drills): SHA-256 over the issuer's name and key.
pub fn make_cert_id(issuer_name_der: &[u8], issuer_key_bits: &[u8], serial: &[u8]) -> Vec<u8> {
    let h = |d: &[u8]| {
        ring::digest::digest(&ring::digest::SHA256, d)
            .as_ref()
            .to_vec()
    };
    seq(&[
        alg_id(&sig::SHA256, Some(null())),
        octets(&h(issuer_name_der)),
        octets(&h(issuer_key_bits)),
        tlv(0x02, serial),
    ])
}

/// An OCSPRequest for one CertID, with an optional nonce (wrapped in an OCTET STRING as
/// NCANode / OpenSSL send it).
pub fn make_ocsp_request(cert_id_der: &[u8], nonce: Option<&[u8]>) -> Vec<u8> {
    let mut tbs = vec![seq(&[seq(&[cert_id_der.to_vec()])])];
    if let Some(n) = nonce {
        tbs.push(explicit(
            2,
            &seq(&[extension(&ocsp_oids::OCSP_NONCE, false, &octets(n))]),
        ));
    }
    seq(&[seq(&tbs)])
}

/// The status of one certificate in a response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SingleStatus {
    /// good.
    Good,
    /// revoked at a time, with a reason code.
    Revoked {
        /// revocationTime.
        time: UnixTime,
        /// revocationReason.
        reason: Option<u8>,
    },
    /// unknown.
    Unknown,
}

/// What goes into a BasicOCSPResponse.
pub struct OcspResponseSpec<'a> {
    /// The responder's Name (DER) for responderID byName.
    pub responder_name: &'a [u8],
    /// producedAt (also thisUpdate).
    pub produced_at: UnixTime,
    /// nextUpdate; `None` = NCA-like (no nextUpdate).
    pub next_update: Option<UnixTime>,
    /// (CertID DER, status) per requested certificate.
    pub responses: Vec<(Vec<u8>, SingleStatus)>,
    /// The request's nonce extnValue to echo.
    pub nonce: Option<Vec<u8>>,
    /// Certificates to include (the delegated responder's).
    pub certs: Vec<Vec<u8>>,
    /// Add the id-pkix-ocsp-extended-revoke extension (NULL) as NCA's responder does.
    pub extended_revoke: bool,
}

/// OCSPResponseStatus values (RFC 6960 §4.2.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResponseStatus {
    /// malformedRequest (1).
    MalformedRequest = 1,
    /// internalError (2).
    InternalError = 2,
    /// tryLater (3).
    TryLater = 3,
    /// unauthorized (6).
    Unauthorized = 6,
}

/// An OCSPResponse without responseBytes (an error status).
pub fn ocsp_error(status: ResponseStatus) -> Vec<u8> {
    seq(&[enumerated(status as u8)])
}

/// Builds and signs a successful OCSPResponse (id-pkix-ocsp-basic).
pub fn ocsp_response(spec: &OcspResponseSpec<'_>, key: &SigningKey) -> Result<Vec<u8>, KeyError> {
    let singles: Vec<Vec<u8>> = spec
        .responses
        .iter()
        .map(|(cid, st)| {
            let status = match st {
                SingleStatus::Good => vec![0x80, 0x00],
                SingleStatus::Unknown => vec![0x82, 0x00],
                SingleStatus::Revoked { time, reason } => {
                    let mut v = generalized_time(*time);
                    if let Some(r) = reason {
                        v.extend(explicit(0, &enumerated(*r)));
                    }
                    tlv(0xa1, &v)
                }
            };
            let mut v = vec![cid.clone(), status, generalized_time(spec.produced_at)];
            if let Some(n) = spec.next_update {
                v.push(explicit(0, &generalized_time(n)));
            }
            seq(&v)
        })
        .collect();
    let mut tbs = vec![
        explicit(1, spec.responder_name),
        generalized_time(spec.produced_at),
        seq(&singles),
    ];
    let mut exts = Vec::new();
    if let Some(n) = &spec.nonce {
        exts.push(extension(&ocsp_oids::OCSP_NONCE, false, n));
    }
    if spec.extended_revoke {
        exts.push(extension(&ocsp_oids::OCSP_EXTENDED_REVOKE, false, &null()));
    }
    if !exts.is_empty() {
        tbs.push(explicit(1, &seq(&exts)));
    }
    let tbs = seq(&tbs);
    let signature = key.sign(&tbs)?;
    let mut basic = vec![tbs, key.signature_alg_id(), der::bits(&signature)];
    if !spec.certs.is_empty() {
        basic.push(explicit(0, &seq(&spec.certs)));
    }
    let basic = seq(&basic);
    Ok(seq(&[
        enumerated(0),
        explicit(0, &seq(&[oid(&ocsp_oids::OCSP_BASIC), octets(&basic)])),
    ]))
}

//! CMS SignedData creation like NCALayer's (Kalkan's) output, for `eds-gateway sign`, the
//! NCALayer simulator and the drills.
//!
//! Byte choices copied from the Kalkan-made fixtures in ../shared/fixtures/nca/cms:
//! SignedData version 1; one digestAlgorithm with NULL parameters; eContentType id-data with the
//! content attached (or absent when detached); `certificates` = the signer certificate only;
//! SignerInfo version 1 with issuerAndSerialNumber; signed attributes in Kalkan's order
//! **contentType, signingTime (UTCTime), messageDigest** (not DER-sorted — the signature covers
//! exactly these bytes with the SET OF tag, RFC 5652 §5.4, and OpenSSL accepts it); signature
//! algorithm with NULL parameters: GOST-2015-512 1.2.398.3.10.1.1.2.3.2 over digest
//! 1.2.398.3.10.1.3.3, GOST-2004 1.2.398.3.10.1.1.1.2 over 1.2.398.3.10.1.3.1, RSA
//! sha256WithRSAEncryption over sha256.

use super::der::{self, explicit, octets, oid, seq, set, tlv};
use super::keys::{KeyError, SigningKey};
use crate::pki::cert::Certificate;
use crate::pki::cms::oids as cms_oids;
use crate::pki::p12;
use crate::pki::time::UnixTime;

/// How to sign.
#[derive(Clone, Copy, Debug)]
pub struct SignOptions {
    /// Leave the content out (detached signature).
    pub detached: bool,
    /// The signingTime attribute.
    pub signing_time: UnixTime,
}

/// A key with its certificate, as read from a .p12.
pub struct Signer {
    /// The private key.
    pub key: SigningKey,
    /// Its certificate.
    pub certificate: Certificate,
}

/// Reads a .p12 and pairs its (first usable) key with the certificate of the same public key.
pub fn load_p12(bytes: &[u8], password: &str) -> Result<Signer, KeyError> {
    let contents = p12::parse(bytes, password).map_err(|e| KeyError(e.to_string()))?;
    let certs: Vec<Certificate> = contents
        .certificates
        .iter()
        .filter_map(|c| Certificate::parse(c).ok())
        .collect();
    for k in contents.keys {
        let key = SigningKey::from_p12(k)?;
        let bits = key.public_key_bits()?;
        if let Some(c) = certs.iter().find(|c| c.public_key == bits) {
            return Ok(Signer {
                key,
                certificate: c.clone(),
            });
        }
    }
    Err(KeyError(
        "no certificate in the container matches its private key".into(),
    ))
}

/// Builds a CMS ContentInfo(SignedData) over `data` (DER).
pub fn sign_cms(
    key: &SigningKey,
    cert: &Certificate,
    data: &[u8],
    opts: SignOptions,
) -> Result<Vec<u8>, KeyError> {
    let content = if opts.detached { None } else { Some(data) };
    build(key, cert, content, &key.digest(data), opts)
}

/// Builds a detached CMS over content the caller has already hashed (NCALayer's
/// `signingParams.digested: true`): `digest` must be the key's digest (Streebog-512 for
/// GOST-2015-512, SHA-256 for RSA) of the content, and becomes the messageDigest attribute
/// (RFC 5652 §11.2); the content itself never reaches the signer. Like NCALayer (captured pairs
/// 39 and 40: a 3-byte and a 32-byte "hash" signed with a GOST-512 key), any length is
/// accepted; a digest of the wrong length simply never verifies.
pub fn sign_cms_digest(
    key: &SigningKey,
    cert: &Certificate,
    digest: &[u8],
    signing_time: UnixTime,
) -> Result<Vec<u8>, KeyError> {
    let opts = SignOptions {
        detached: true,
        signing_time,
    };
    build(key, cert, None, digest, opts)
}

fn build(
    key: &SigningKey,
    cert: &Certificate,
    content: Option<&[u8]>,
    message_digest: &[u8],
    opts: SignOptions,
) -> Result<Vec<u8>, KeyError> {
    let digest_alg = key.digest_alg_id();
    let attr = |o, value: Vec<u8>| seq(&[oid(&o), set(&[value])]);
    let attrs = [
        attr(cms_oids::CONTENT_TYPE, oid(&cms_oids::ID_DATA)),
        attr(cms_oids::SIGNING_TIME, der::utc_time(opts.signing_time)),
        attr(cms_oids::MESSAGE_DIGEST, octets(message_digest)),
    ]
    .concat();
    let signature = key.sign(&tlv(0x31, &attrs))?;
    let signer_info = seq(&[
        der::int(1),
        seq(&[cert.issuer.der().to_vec(), tlv(0x02, &cert.serial)]),
        digest_alg.clone(),
        tlv(0xa0, &attrs),
        key.signature_alg_id(),
        octets(&signature),
    ]);
    let encap = match content {
        None => seq(&[oid(&cms_oids::ID_DATA)]),
        Some(data) => seq(&[oid(&cms_oids::ID_DATA), explicit(0, &octets(data))]),
    };
    let signed_data = seq(&[
        der::int(1),
        set(&[digest_alg]),
        encap,
        tlv(0xa0, cert.der()),
        set(&[signer_info]),
    ]);
    Ok(seq(&[
        oid(&cms_oids::ID_SIGNED_DATA),
        explicit(0, &signed_data),
    ]))
}

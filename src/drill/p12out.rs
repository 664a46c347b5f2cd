//! Writing .p12 files the way NCA does (../shared/NCA.md §4 "PKCS#12 of NCA keys"): the key in a
//! pkcs8ShroudedKeyBag under pbeWithSHAAnd3-KeyTripleDES-CBC, the certificates in an
//! EncryptedData under pbeWithSHAAnd40BitRC2-CBC, an HMAC-SHA1 MAC; 2048 iterations. OpenSSL 3
//! opens these with `-legacy` (RSA fully; GOST with `-nokeys`), NCALayer and our `p12::parse` too.

use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeEncrypt, InnerIvInit, KeyInit};
use hmac::{Hmac, Mac};
use sha1::Sha1;

use super::der::{alg_id, explicit, int, null, octets, oid_str, seq, set, tlv};
use super::keys::KeyError;
// The PKCS#12 password encoding and key derivation are the reader's (`pki::p12`): one
// implementation for both directions.
use crate::pki::p12::{bmp_password as bmp, kdf};

/// PBE and MAC iteration count.
pub const ITERATIONS: u32 = 2048;

fn salt() -> Result<[u8; 8], KeyError> {
    let mut s = [0u8; 8];
    getrandom::fill(&mut s).map_err(|e| KeyError(format!("random: {e}")))?;
    Ok(s)
}

const PBE_3DES: &str = "1.2.840.113549.1.12.1.3";
const PBE_RC2_40: &str = "1.2.840.113549.1.12.1.6";

/// Encrypts and returns (AlgorithmIdentifier DER, ciphertext).
fn pbe_encrypt(pass: &[u8], triple_des: bool, data: &[u8]) -> Result<(Vec<u8>, Vec<u8>), KeyError> {
    let salt = salt()?;
    let iv = kdf(pass, &salt, 2, ITERATIONS, 8);
    let bad = |_| KeyError("PBE cipher setup".into());
    let ct = if triple_des {
        let key = kdf(pass, &salt, 1, ITERATIONS, 24);
        let c = des::TdesEde3::new_from_slice(&key).map_err(bad)?;
        cbc::Encryptor::inner_iv_slice_init(c, &iv)
            .map_err(|_| KeyError("IV".into()))?
            .encrypt_padded_vec::<Pkcs7>(data)
    } else {
        let key = kdf(pass, &salt, 1, ITERATIONS, 5);
        let c = rc2::Rc2::new_with_eff_key_len(&key, 40);
        cbc::Encryptor::inner_iv_slice_init(c, &iv)
            .map_err(|_| KeyError("IV".into()))?
            .encrypt_padded_vec::<Pkcs7>(data)
    };
    let alg = if triple_des { PBE_3DES } else { PBE_RC2_40 };
    let params = seq(&[octets(&salt), int(u64::from(ITERATIONS))]);
    Ok((
        alg_id(&const_oid::ObjectIdentifier::new_unwrap(alg), Some(params)),
        ct,
    ))
}

/// Writes a .p12 holding `pkcs8` (the key, NCA form for GOST) and `certs` (the first one is the
/// key's certificate, marked with the same localKeyId and `alias` as friendlyName).
pub fn write(
    pkcs8: &[u8],
    certs: &[Vec<u8>],
    alias: &str,
    local_key_id: &[u8],
    password: &str,
) -> Result<Vec<u8>, KeyError> {
    let pass = bmp(password);
    let attrs = set(&[
        seq(&[
            oid_str("1.2.840.113549.1.9.20"),
            set(&[tlv(0x1e, &bmp_plain(alias))]),
        ]),
        seq(&[
            oid_str("1.2.840.113549.1.9.21"),
            set(&[octets(local_key_id)]),
        ]),
    ]);
    // Certificates: EncryptedData under RC2-40.
    let cert_bags: Vec<Vec<u8>> = certs
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let bag = seq(&[
                oid_str("1.2.840.113549.1.12.10.1.3"),
                explicit(
                    0,
                    &seq(&[oid_str("1.2.840.113549.1.9.22.1"), explicit(0, &octets(c))]),
                ),
            ]);
            if i == 0 {
                // SafeBag { bagId, bagValue, bagAttributes }
                reseq_with(&bag, &attrs)
            } else {
                bag
            }
        })
        .collect();
    let cert_contents = seq(&cert_bags);
    let (calg, cct) = pbe_encrypt(&pass, false, &cert_contents)?;
    let cert_ci = seq(&[
        oid_str("1.2.840.113549.1.7.6"),
        explicit(
            0,
            &seq(&[
                int(0),
                seq(&[oid_str("1.2.840.113549.1.7.1"), calg, tlv(0x80, &cct)]),
            ]),
        ),
    ]);
    // Key: pkcs8ShroudedKeyBag under 3DES, in a plain Data.
    let (kalg, kct) = pbe_encrypt(&pass, true, pkcs8)?;
    let key_bag = seq(&[
        oid_str("1.2.840.113549.1.12.10.1.2"),
        explicit(0, &seq(&[kalg, octets(&kct)])),
        attrs.clone(),
    ]);
    let key_ci = seq(&[
        oid_str("1.2.840.113549.1.7.1"),
        explicit(0, &octets(&seq(&[key_bag]))),
    ]);
    let auth_safe = seq(&[cert_ci, key_ci]);
    let mac_salt = salt()?;
    let mac_key = kdf(&pass, &mac_salt, 3, ITERATIONS, 20);
    let mut h = <Hmac<Sha1> as hmac::KeyInit>::new_from_slice(&mac_key)
        .map_err(|_| KeyError("MAC key".into()))?;
    h.update(&auth_safe);
    let mac = h.finalize().into_bytes();
    let mac_data = seq(&[
        seq(&[
            alg_id(&crate::pki::signature::oids::SHA1, Some(null())),
            octets(&mac),
        ]),
        octets(&mac_salt),
        int(u64::from(ITERATIONS)),
    ]);
    Ok(seq(&[
        int(3),
        seq(&[
            oid_str("1.2.840.113549.1.7.1"),
            explicit(0, &octets(&auth_safe)),
        ]),
        mac_data,
    ]))
}

/// Appends `extra` inside an encoded SEQUENCE.
fn reseq_with(seq_der: &[u8], extra: &[u8]) -> Vec<u8> {
    let t = crate::pki::der_util::read_tlv(seq_der, 0);
    match t {
        Some(t) => tlv(0x30, &[t.content(seq_der), extra].concat()),
        None => seq_der.to_vec(),
    }
}

fn bmp_plain(s: &str) -> Vec<u8> {
    s.encode_utf16().flat_map(|u| u.to_be_bytes()).collect()
}

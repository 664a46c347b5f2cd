//! NCA key containers: PKCS#12 (RFC 7292) as written by Kalkan / NCALayer — BER with indefinite
//! lengths, an HMAC-SHA1 MAC (RFC 7292 §4, Appendix B.2 key derivation), certificate bags under
//! pbeWithSHAAnd40BitRC2-CBC and pkcs8ShroudedKeyBags under pbeWithSHAAnd3-KeyTripleDES-CBC
//! (RFC 7292 Appendix C). Keys are GOST (PKCS#8 privateKey = OCTET STRING{OCTET STRING(n)}, the
//! scalar little-endian; ../shared/NCA.md §4) or RSA (kept as PKCS#8 DER for `ring`).
//!
//! We parse by hand because the RustCrypto DER stack refuses BER indefinite lengths, which every
//! Kalkan container uses. Sizes and nesting are capped; a wrong password is
//! [`P12Error::WrongPassword`] (MAC mismatch, or bad padding when there is no MAC).

use std::fmt;

use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeDecrypt, InnerIvInit, KeyInit};
use const_oid::ObjectIdentifier;
use digest::Digest;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use zeroize::Zeroizing;

use super::gost::{self, GostError};

/// Largest container we read (NCA .p12 files are 3–10 KB).
pub const MAX_P12_SIZE: usize = 1024 * 1024;
/// Deepest BER nesting we follow (a PFX needs about 12 levels).
const MAX_DEPTH: u32 = 32;
/// Most PBE / MAC iterations we run (NCA uses 1024–2048; this bounds the CPU a file can cost).
const MAX_ITERATIONS: u32 = 1_000_000;

mod oids {
    use const_oid::ObjectIdentifier;
    pub const DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
    pub const ENCRYPTED_DATA: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.6");
    pub const KEY_BAG: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.1");
    pub const SHROUDED_KEY_BAG: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.2");
    pub const CERT_BAG: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.3");
    pub const X509_CERT: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.22.1");
    pub const PBE_SHA1_3DES: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.3");
    pub const PBE_SHA1_RC2_40: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.6");
    pub const SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
    pub const RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
}

/// Why a .p12 could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum P12Error {
    /// The GOST private key inside is not acceptable.
    Gost(GostError),
    /// Not a PKCS#12 structure we understand (the field that failed).
    Malformed {
        /// What was being read.
        what: &'static str,
    },
    /// The container holds no private key.
    NoPrivateKey,
    /// Larger than [`MAX_P12_SIZE`] or more iterations than we run.
    TooLarge,
    /// An encryption, MAC or key algorithm we do not implement.
    UnsupportedAlgorithm {
        /// Its OID.
        oid: ObjectIdentifier,
    },
    /// The password does not open the container.
    WrongPassword,
}

impl P12Error {
    /// Stable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            P12Error::Gost(g) => g.code(),
            P12Error::Malformed { .. } => "p12_malformed",
            P12Error::NoPrivateKey => "p12_no_private_key",
            P12Error::TooLarge => "p12_too_large",
            P12Error::UnsupportedAlgorithm { .. } => "p12_unsupported_algorithm",
            P12Error::WrongPassword => "p12_wrong_password",
        }
    }
}

impl fmt::Display for P12Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            P12Error::Gost(g) => write!(f, "key container: {g}"),
            P12Error::Malformed { what } => write!(f, "key container is malformed ({what})"),
            P12Error::NoPrivateKey => f.write_str("key container holds no private key"),
            P12Error::TooLarge => f.write_str("key container is too large"),
            P12Error::UnsupportedAlgorithm { oid } => {
                write!(f, "key container uses unsupported algorithm {oid}")
            }
            P12Error::WrongPassword => f.write_str("wrong key container password"),
        }
    }
}

impl std::error::Error for P12Error {}

fn bad(what: &'static str) -> P12Error {
    P12Error::Malformed { what }
}

/// A private key from a container. No `Debug`: it holds secrets.
pub enum P12Key {
    /// A GOST key (algorithm and scalar).
    Gost(gost::PrivateKey),
    /// An RSA key as PKCS#8 PrivateKeyInfo DER (feed to `ring::signature::RsaKeyPair`).
    Rsa(Zeroizing<Vec<u8>>),
}

/// What a container holds.
pub struct P12Contents {
    /// Private keys, in file order.
    pub keys: Vec<P12Key>,
    /// DER certificates, in file order.
    pub certificates: Vec<Vec<u8>>,
}

/// One BER element located in a buffer.
#[derive(Clone, Copy)]
struct Elem {
    tag: u8,
    start: usize,
    content_start: usize,
    content_end: usize,
    end: usize,
}

/// Reads one BER element (definite or indefinite length) at `pos`.
fn read(buf: &[u8], pos: usize, depth: u32) -> Result<Elem, P12Error> {
    if depth > MAX_DEPTH {
        return Err(bad("nesting too deep"));
    }
    let tag = *buf.get(pos).ok_or(bad("truncated tag"))?;
    if tag & 0x1f == 0x1f {
        return Err(bad("high tag number"));
    }
    let first = *buf.get(pos + 1).ok_or(bad("truncated length"))?;
    if first == 0x80 {
        // X.690 §8.1.3.6: indefinite form, constructed only, ends with two zero octets.
        if tag & 0x20 == 0 {
            return Err(bad("indefinite primitive"));
        }
        let start = pos + 2;
        let mut p = start;
        loop {
            if buf.get(p..p + 2) == Some(&[0, 0][..]) {
                return Ok(Elem {
                    tag,
                    start: pos,
                    content_start: start,
                    content_end: p,
                    end: p + 2,
                });
            }
            p = read(buf, p, depth + 1)?.end;
        }
    }
    let (len, hdr) = if first < 0x80 {
        (usize::from(first), 2usize)
    } else {
        let n = usize::from(first & 0x7f);
        if n > 4 {
            return Err(bad("length too long"));
        }
        let mut len = 0usize;
        for i in 0..n {
            len = (len << 8) | usize::from(*buf.get(pos + 2 + i).ok_or(bad("truncated length"))?);
        }
        (len, 2 + n)
    };
    let content_start = pos + hdr;
    let content_end = content_start
        .checked_add(len)
        .ok_or(bad("length overflow"))?;
    if content_end > buf.len() {
        return Err(bad("length past end"));
    }
    Ok(Elem {
        tag,
        start: pos,
        content_start,
        content_end,
        end: content_end,
    })
}

/// The children of a constructed element.
fn children(buf: &[u8], e: &Elem, depth: u32) -> Result<Vec<Elem>, P12Error> {
    if e.tag & 0x20 == 0 {
        return Err(bad("expected a constructed element"));
    }
    let mut out = Vec::new();
    let mut p = e.content_start;
    while p < e.content_end {
        let c = read(buf, p, depth + 1)?;
        if c.end > e.content_end {
            return Err(bad("child past parent"));
        }
        p = c.end;
        out.push(c);
    }
    Ok(out)
}

/// Children of a SEQUENCE at `e`, checking the tag.
fn seq(buf: &[u8], e: &Elem, depth: u32, what: &'static str) -> Result<Vec<Elem>, P12Error> {
    if e.tag != 0x30 {
        return Err(bad(what));
    }
    children(buf, e, depth)
}

/// The octets of an OCTET STRING (or of an IMPLICIT one with another tag), primitive or
/// constructed (BER §8.7: the concatenation of its segments).
fn octets(buf: &[u8], e: &Elem, depth: u32) -> Result<Vec<u8>, P12Error> {
    if e.tag & 0x20 == 0 {
        return Ok(buf[e.content_start..e.content_end].to_vec());
    }
    let mut out = Vec::new();
    for c in children(buf, e, depth)? {
        if c.tag & 0x1f != 0x04 {
            return Err(bad("octet string segment"));
        }
        out.extend(octets(buf, &c, depth + 1)?);
    }
    Ok(out)
}

fn oid(buf: &[u8], e: Option<&Elem>) -> Result<ObjectIdentifier, P12Error> {
    let e = e.ok_or(bad("missing OID"))?;
    if e.tag != 0x06 {
        return Err(bad("expected OID"));
    }
    ObjectIdentifier::from_bytes(&buf[e.content_start..e.content_end]).map_err(|_| bad("bad OID"))
}

fn small_uint(buf: &[u8], e: Option<&Elem>) -> Result<u32, P12Error> {
    let e = e.ok_or(bad("missing INTEGER"))?;
    let bytes = &buf[e.content_start..e.content_end];
    if e.tag != 0x02 || bytes.is_empty() || bytes.len() > 5 || bytes[0] & 0x80 != 0 {
        return Err(bad("INTEGER"));
    }
    let v = bytes.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    u32::try_from(v).map_err(|_| P12Error::TooLarge)
}

fn explicit0<'e>(kids: &'e [Elem], at: usize, what: &'static str) -> Result<&'e Elem, P12Error> {
    kids.get(at).filter(|e| e.tag == 0xa0).ok_or(bad(what))
}

/// The password as RFC 7292 Appendix B.1 wants it: BMPString (UTF-16BE) with a 2-octet NUL.
pub fn bmp_password(password: &str) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(password.len() * 2 + 2));
    for unit in password.encode_utf16() {
        out.extend_from_slice(&unit.to_be_bytes());
    }
    out.extend_from_slice(&[0, 0]);
    out
}

/// RFC 7292 Appendix B.2 key derivation with SHA-1 (u = 20, v = 64). `id` 1 = key, 2 = IV,
/// 3 = MAC key.
pub fn kdf(pass: &[u8], salt: &[u8], id: u8, iterations: u32, n: usize) -> Zeroizing<Vec<u8>> {
    const V: usize = 64;
    let fill = |src: &[u8]| -> Vec<u8> {
        if src.is_empty() {
            Vec::new()
        } else {
            src.iter()
                .cycle()
                .take(V * src.len().div_ceil(V))
                .copied()
                .collect()
        }
    };
    let mut i_buf = Zeroizing::new([fill(salt), fill(pass)].concat());
    let mut out = Zeroizing::new(Vec::with_capacity(n));
    loop {
        let mut a = Sha1::new()
            .chain_update([id; V])
            .chain_update(&*i_buf)
            .finalize();
        for _ in 1..iterations {
            a = Sha1::digest(a);
        }
        let take = (n - out.len()).min(a.len());
        out.extend_from_slice(&a[..take]);
        if out.len() >= n {
            return out;
        }
        // I_j = (I_j + B + 1) mod 2^(8v), B = A repeated to v octets.
        let b: Vec<u8> = a.iter().cycle().take(V).copied().collect();
        for block in i_buf.chunks_mut(V) {
            let mut carry = 1u16;
            for k in (0..block.len()).rev() {
                let sum = u16::from(block[k]) + u16::from(b[k]) + carry;
                block[k] = sum.to_le_bytes()[0];
                carry = sum >> 8;
            }
        }
    }
}

/// Decrypts with a PKCS#12 PBE AlgorithmIdentifier (RFC 7292 Appendix C).
fn pbe_decrypt(
    buf: &[u8],
    alg: &Elem,
    data: &[u8],
    pass: &[u8],
    depth: u32,
) -> Result<Zeroizing<Vec<u8>>, P12Error> {
    let kids = seq(buf, alg, depth, "PBE AlgorithmIdentifier")?;
    let alg_oid = oid(buf, kids.first())?;
    let params = kids.get(1).ok_or(bad("PBE parameters"))?;
    let p = seq(buf, params, depth + 1, "PBE parameters")?;
    let salt = octets(buf, p.first().ok_or(bad("PBE salt"))?, depth + 2)?;
    let iterations = small_uint(buf, p.get(1))?;
    if iterations == 0 || iterations > MAX_ITERATIONS {
        return Err(P12Error::TooLarge);
    }
    let iv = kdf(pass, &salt, 2, iterations, 8);
    let out = match alg_oid {
        oids::PBE_SHA1_3DES => {
            let key = kdf(pass, &salt, 1, iterations, 24);
            let cipher = des::TdesEde3::new_from_slice(&key).map_err(|_| bad("3DES key"))?;
            cbc::Decryptor::inner_iv_slice_init(cipher, &iv)
                .map_err(|_| bad("3DES IV"))?
                .decrypt_padded_vec::<Pkcs7>(data)
        }
        oids::PBE_SHA1_RC2_40 => {
            let key = kdf(pass, &salt, 1, iterations, 5);
            let cipher = rc2::Rc2::new_with_eff_key_len(&key, 40);
            cbc::Decryptor::inner_iv_slice_init(cipher, &iv)
                .map_err(|_| bad("RC2 IV"))?
                .decrypt_padded_vec::<Pkcs7>(data)
        }
        other => return Err(P12Error::UnsupportedAlgorithm { oid: other }),
    };
    out.map(Zeroizing::new).map_err(|_| P12Error::WrongPassword)
}

/// Reads a .p12 with `password`.
pub fn parse(input: &[u8], password: &str) -> Result<P12Contents, P12Error> {
    if input.len() > MAX_P12_SIZE {
        return Err(P12Error::TooLarge);
    }
    let pass = bmp_password(password);
    let pfx = read(input, 0, 0)?;
    // RFC 7292 §4: PFX ::= SEQUENCE { version, authSafe ContentInfo, macData MacData OPTIONAL }
    let kids = seq(input, &pfx, 0, "PFX")?;
    if small_uint(input, kids.first())? != 3 {
        return Err(bad("PFX version"));
    }
    let auth = seq(input, kids.get(1).ok_or(bad("authSafe"))?, 1, "authSafe")?;
    if oid(input, auth.first())? != oids::DATA {
        return Err(bad(
            "authSafe is not data (public-key integrity mode unsupported)",
        ));
    }
    let wrapped = children(input, explicit0(&auth, 1, "authSafe content")?, 2)?;
    let auth_bytes = octets(input, wrapped.first().ok_or(bad("authSafe octets"))?, 3)?;
    if let Some(mac) = kids.get(2) {
        check_mac(input, mac, &auth_bytes, &pass)?;
    }

    let mut out = P12Contents {
        keys: Vec::new(),
        certificates: Vec::new(),
    };
    // AuthenticatedSafe ::= SEQUENCE OF ContentInfo
    let safe = read(&auth_bytes, 0, 0)?;
    for ci in seq(&auth_bytes, &safe, 0, "AuthenticatedSafe")? {
        let ck = seq(&auth_bytes, &ci, 1, "ContentInfo")?;
        let content = children(&auth_bytes, explicit0(&ck, 1, "ContentInfo content")?, 2)?;
        let content = content.first().ok_or(bad("ContentInfo content"))?;
        let safe_contents = match oid(&auth_bytes, ck.first())? {
            oids::DATA => Zeroizing::new(octets(&auth_bytes, content, 3)?),
            oids::ENCRYPTED_DATA => {
                // EncryptedData ::= SEQUENCE { version, EncryptedContentInfo }
                let ed = seq(&auth_bytes, content, 3, "EncryptedData")?;
                let eci = seq(
                    &auth_bytes,
                    ed.get(1).ok_or(bad("EncryptedContentInfo"))?,
                    4,
                    "EncryptedContentInfo",
                )?;
                let alg = eci.get(1).ok_or(bad("content encryption algorithm"))?;
                let enc = eci
                    .get(2)
                    .filter(|e| e.tag & 0x1f == 0 && e.tag & 0xc0 == 0x80)
                    .ok_or(bad("encryptedContent"))?;
                let ct = octets(&auth_bytes, enc, 5)?;
                pbe_decrypt(&auth_bytes, alg, &ct, &pass, 5)?
            }
            other => return Err(P12Error::UnsupportedAlgorithm { oid: other }),
        };
        read_bags(&safe_contents, &pass, &mut out)?;
    }
    if out.keys.is_empty() {
        return Err(P12Error::NoPrivateKey);
    }
    Ok(out)
}

/// RFC 7292 §4: MacData ::= SEQUENCE { mac DigestInfo, macSalt OCTET STRING, iterations INTEGER
/// DEFAULT 1 }; HMAC-SHA1 keyed by the Appendix B.2 derivation with ID 3.
fn check_mac(buf: &[u8], mac: &Elem, auth: &[u8], pass: &[u8]) -> Result<(), P12Error> {
    let m = seq(buf, mac, 1, "MacData")?;
    let di = seq(buf, m.first().ok_or(bad("DigestInfo"))?, 2, "DigestInfo")?;
    let alg = seq(
        buf,
        di.first().ok_or(bad("MAC algorithm"))?,
        3,
        "MAC algorithm",
    )?;
    let alg_oid = oid(buf, alg.first())?;
    if alg_oid != oids::SHA1 {
        return Err(P12Error::UnsupportedAlgorithm { oid: alg_oid });
    }
    let expected = octets(buf, di.get(1).ok_or(bad("MAC value"))?, 3)?;
    let salt = octets(buf, m.get(1).ok_or(bad("MAC salt"))?, 2)?;
    let iterations = match m.get(2) {
        Some(e) => small_uint(buf, Some(e))?,
        None => 1,
    };
    if iterations == 0 || iterations > MAX_ITERATIONS {
        return Err(P12Error::TooLarge);
    }
    let key = kdf(pass, &salt, 3, iterations, 20);
    let mut h = <Hmac<Sha1> as KeyInit>::new_from_slice(&key).map_err(|_| bad("MAC key"))?;
    h.update(auth);
    h.verify_slice(&expected)
        .map_err(|_| P12Error::WrongPassword)
}

/// SafeContents ::= SEQUENCE OF SafeBag { bagId, [0] EXPLICIT bagValue, bagAttributes }.
fn read_bags(buf: &[u8], pass: &[u8], out: &mut P12Contents) -> Result<(), P12Error> {
    let sc = read(buf, 0, 0)?;
    for bag in seq(buf, &sc, 0, "SafeContents")? {
        let b = seq(buf, &bag, 1, "SafeBag")?;
        let value = children(buf, explicit0(&b, 1, "bagValue")?, 2)?;
        let value = value.first().ok_or(bad("bagValue"))?;
        match oid(buf, b.first())? {
            oids::SHROUDED_KEY_BAG => {
                // EncryptedPrivateKeyInfo ::= SEQUENCE { AlgorithmIdentifier, OCTET STRING }
                let epki = seq(buf, value, 3, "EncryptedPrivateKeyInfo")?;
                let ct = octets(buf, epki.get(1).ok_or(bad("encryptedData"))?, 4)?;
                let alg = epki.first().ok_or(bad("key encryption algorithm"))?;
                let pkcs8 = pbe_decrypt(buf, alg, &ct, pass, 4)?;
                out.keys.push(private_key(&pkcs8)?);
            }
            oids::KEY_BAG => {
                let pkcs8 = Zeroizing::new(buf[value.start..value.end].to_vec());
                out.keys.push(private_key(&pkcs8)?);
            }
            oids::CERT_BAG => {
                let cb = seq(buf, value, 3, "CertBag")?;
                if oid(buf, cb.first())? == oids::X509_CERT {
                    let inner = children(buf, explicit0(&cb, 1, "certValue")?, 4)?;
                    out.certificates
                        .push(octets(buf, inner.first().ok_or(bad("certValue"))?, 5)?);
                }
            }
            _ => {} // CRL bags, secret bags, nested SafeContents: not used by NCA.
        }
    }
    Ok(())
}

/// PKCS#8 PrivateKeyInfo ::= SEQUENCE { version, privateKeyAlgorithm, privateKey OCTET STRING,
/// attributes [0] OPTIONAL } (RFC 5208 §5).
fn private_key(pkcs8: &[u8]) -> Result<P12Key, P12Error> {
    let top = read(pkcs8, 0, 0)?;
    let k = seq(pkcs8, &top, 0, "PrivateKeyInfo")?;
    let alg = seq(
        pkcs8,
        k.get(1).ok_or(bad("privateKeyAlgorithm"))?,
        1,
        "privateKeyAlgorithm",
    )?;
    let alg_oid = oid(pkcs8, alg.first())?;
    if alg_oid == oids::RSA {
        return Ok(P12Key::Rsa(Zeroizing::new(pkcs8[..top.end].to_vec())));
    }
    let algorithm = gost::Algorithm::from_key_oid(&alg_oid)
        .ok_or(P12Error::UnsupportedAlgorithm { oid: alg_oid })?;
    // Parameters: SEQUENCE { paramSet OID, hash OID OPTIONAL } as in the SubjectPublicKeyInfo.
    let params = seq(
        pkcs8,
        alg.get(1).ok_or(bad("GOST key parameters"))?,
        2,
        "GOST key parameters",
    )?;
    let set = oid(pkcs8, params.first())?;
    if set != algorithm.param_set_oid() {
        return Err(P12Error::Gost(GostError::UnknownParameterSet { oid: set }));
    }
    let outer = Zeroizing::new(octets(pkcs8, k.get(2).ok_or(bad("privateKey"))?, 1)?);
    // NCA GOST 34.10-2015: privateKey = OCTET STRING { OCTET STRING(n) }, scalar little-endian.
    // NCA GOST 34.310-2004 (fixtures keys/gost2004): OCTET STRING { INTEGER }, big-endian as any
    // DER INTEGER; it is converted to the little-endian form here.
    let inner = read(&outer, 0, 0)?;
    if inner.end != outer.len() {
        return Err(bad("GOST private key"));
    }
    let body = &outer[inner.content_start..inner.content_end];
    let n = algorithm.field_len();
    let d: Zeroizing<Vec<u8>> = match inner.tag {
        0x04 => Zeroizing::new(body.to_vec()),
        0x02 => {
            // A positive INTEGER (no sign bit), at most n magnitude octets after a leading 0x00.
            if body.first().is_none_or(|b| b & 0x80 != 0) {
                return Err(P12Error::Gost(GostError::BadPrivateKey));
            }
            let digits = body.strip_prefix(&[0u8]).unwrap_or(body);
            if digits.len() > n {
                return Err(P12Error::Gost(GostError::BadPrivateKey));
            }
            let mut le = Zeroizing::new(vec![0u8; n]);
            for (dst, src) in le.iter_mut().zip(digits.iter().rev()) {
                *dst = *src;
            }
            le
        }
        _ => return Err(bad("GOST private key")),
    };
    gost::PrivateKey::from_le_bytes(algorithm, &d)
        .map(P12Key::Gost)
        .map_err(P12Error::Gost)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indefinite_lengths_and_constructed_octet_strings_are_read() {
        // SEQUENCE(indef) { OCTET STRING(constructed, indef) { 04 01 aa, 04 02 bb cc } }
        let ber = [
            0x30, 0x80, 0x24, 0x80, 0x04, 0x01, 0xaa, 0x04, 0x02, 0xbb, 0xcc, 0, 0, 0, 0,
        ];
        let top = read(&ber, 0, 0).expect("top");
        assert_eq!(top.end, ber.len());
        let kids = children(&ber, &top, 0).expect("kids");
        assert_eq!(
            octets(&ber, &kids[0], 1).expect("octets"),
            vec![0xaa, 0xbb, 0xcc]
        );
    }

    #[test]
    fn truncated_and_deep_inputs_are_malformed_not_panics() {
        for ber in [
            &[0x30, 0x80][..],
            &[0x30, 0x05, 0x04],
            &[0x04, 0x80, 0, 0],
            &[0x30],
        ] {
            assert!(matches!(read(ber, 0, 0), Err(P12Error::Malformed { .. })));
        }
        let deep: Vec<u8> = std::iter::repeat_n([0x30u8, 0x80], 64).flatten().collect();
        assert!(matches!(read(&deep, 0, 0), Err(P12Error::Malformed { .. })));
    }

    #[test]
    fn kdf_matches_rfc7292_style_known_answer() {
        // OpenSSL / BouncyCastle PKCS12 KDF test: password "smeg", salt 0A58CF64530D823F,
        // ID 1, 1 iteration, 24 bytes.
        let key = kdf(
            &bmp_password("smeg"),
            &[0x0a, 0x58, 0xcf, 0x64, 0x53, 0x0d, 0x82, 0x3f],
            1,
            1,
            24,
        );
        assert_eq!(
            hex::encode(&*key),
            "8aaae6297b6cb04642ab5b077851284eb7128f1a2a7fbca3"
        );
    }
}

//! A tiny DER writer for the test PKI builders.
//!
//! Why not `der::Encode` with `x509_cert` types for everything: the drill toolkit must reproduce
//! NCA's exact byte choices (attribute order in CMS signed attributes that is *not* DER-sorted,
//! NULL parameters on GOST AlgorithmIdentifiers, UTF8String names longer than the X.520 upper
//! bound of 64) which the typed encoders refuse or normalise. A handful of TLV helpers keeps every
//! byte explicit; the `der` crate still supplies the OID and time encodings, and every output is
//! re-parsed by our own parsers (and OpenSSL) in the tests.

use const_oid::ObjectIdentifier;
use der::Encode;

use crate::pki::time::UnixTime;

/// One TLV with a one-byte tag.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(content.len() + 6);
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// SEQUENCE of already-encoded parts.
pub fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// SET of already-encoded parts, in the given order (callers sort when DER requires it).
pub fn set(parts: &[Vec<u8>]) -> Vec<u8> {
    tlv(0x31, &parts.concat())
}

/// SET OF sorted by encoding (DER X.690 §11.6).
pub fn set_of_sorted(mut parts: Vec<Vec<u8>>) -> Vec<u8> {
    parts.sort();
    tlv(0x31, &parts.concat())
}

/// `[n]` EXPLICIT (constructed context tag).
pub fn explicit(n: u8, inner: &[u8]) -> Vec<u8> {
    tlv(0xa0 | n, inner)
}

/// `[n]` IMPLICIT primitive.
pub fn implicit_prim(n: u8, content: &[u8]) -> Vec<u8> {
    tlv(0x80 | n, content)
}

/// OBJECT IDENTIFIER.
pub fn oid(o: &ObjectIdentifier) -> Vec<u8> {
    tlv(0x06, o.as_bytes())
}

/// OBJECT IDENTIFIER from dotted text (constants only; panics on a bad literal).
pub fn oid_str(s: &str) -> Vec<u8> {
    oid(&ObjectIdentifier::new_unwrap(s))
}

/// NULL.
pub fn null() -> Vec<u8> {
    vec![0x05, 0x00]
}

/// BOOLEAN TRUE.
pub fn true_() -> Vec<u8> {
    vec![0x01, 0x01, 0xff]
}

/// INTEGER from unsigned big-endian magnitude bytes (adds the sign octet, strips zeros).
pub fn uint(be: &[u8]) -> Vec<u8> {
    let skip = be.iter().take_while(|b| **b == 0).count();
    let mut v: Vec<u8> = be[skip..].to_vec();
    if v.is_empty() || v[0] & 0x80 != 0 {
        v.insert(0, 0);
    }
    tlv(0x02, &v)
}

/// INTEGER from a u64.
pub fn int(n: u64) -> Vec<u8> {
    uint(&n.to_be_bytes())
}

/// ENUMERATED.
pub fn enumerated(n: u8) -> Vec<u8> {
    tlv(0x0a, &[n])
}

/// OCTET STRING.
pub fn octets(b: &[u8]) -> Vec<u8> {
    tlv(0x04, b)
}

/// BIT STRING with no unused bits.
pub fn bits(b: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(b.len() + 1);
    v.push(0);
    v.extend_from_slice(b);
    tlv(0x03, &v)
}

/// Named-bit BIT STRING (KeyUsage, ReasonFlags) from a mask where bit 0 is the first named bit,
/// DER-minimal (trailing zero bits dropped).
pub fn named_bits(mask: u16) -> Vec<u8> {
    if mask == 0 {
        return tlv(0x03, &[0]);
    }
    // bit i of the mask = bit i of the BIT STRING (MSB first); `highest` = last set bit.
    let highest = 15 - mask.leading_zeros() as usize;
    let nbytes = highest / 8 + 1;
    let mut bytes = vec![0u8; nbytes];
    for i in 0..=highest {
        if mask & (1 << i) != 0 {
            bytes[i / 8] |= 0x80 >> (i % 8);
        }
    }
    let unused = (nbytes * 8 - 1 - highest) as u8;
    let mut v = vec![unused];
    v.extend(bytes);
    tlv(0x03, &v)
}

/// UTF8String.
pub fn utf8(s: &str) -> Vec<u8> {
    tlv(0x0c, s.as_bytes())
}

/// PrintableString (caller guarantees the character set).
pub fn printable(s: &str) -> Vec<u8> {
    tlv(0x13, s.as_bytes())
}

/// IA5String.
pub fn ia5(s: &str) -> Vec<u8> {
    tlv(0x16, s.as_bytes())
}

/// UTCTime for 1950..2049, GeneralizedTime otherwise (RFC 5280 §4.1.2.5).
pub fn time(t: UnixTime) -> Vec<u8> {
    let year = year_of(t);
    if (1950..2050).contains(&year) {
        utc_time(t)
    } else {
        generalized_time(t)
    }
}

fn year_of(t: UnixTime) -> i32 {
    time::OffsetDateTime::from_unix_timestamp(t.0)
        .map(|d| d.year())
        .unwrap_or(9999)
}

fn datetime(t: UnixTime) -> der::DateTime {
    let secs = t.0.clamp(0, 253_402_300_799);
    der::DateTime::from_unix_duration(std::time::Duration::from_secs(secs as u64))
        .unwrap_or(der::DateTime::INFINITY)
}

/// UTCTime (1950..2049 only; others clamp through GeneralizedTime in [`time`]).
pub fn utc_time(t: UnixTime) -> Vec<u8> {
    match der::asn1::UtcTime::from_date_time(datetime(t)).and_then(|u| u.to_der()) {
        Ok(v) => v,
        Err(_) => generalized_time(t),
    }
}

/// GeneralizedTime (whole seconds, Z).
pub fn generalized_time(t: UnixTime) -> Vec<u8> {
    der::asn1::GeneralizedTime::from_date_time(datetime(t))
        .to_der()
        .unwrap_or_default()
}

/// AlgorithmIdentifier with the given parameters (already encoded), or none.
pub fn alg_id(o: &ObjectIdentifier, params: Option<Vec<u8>>) -> Vec<u8> {
    match params {
        Some(p) => seq(&[oid(o), p]),
        None => seq(&[oid(o)]),
    }
}

/// Extension { extnID, critical DEFAULT FALSE, extnValue }.
pub fn extension(o: &ObjectIdentifier, critical: bool, value: &[u8]) -> Vec<u8> {
    if critical {
        seq(&[oid(o), true_(), octets(value)])
    } else {
        seq(&[oid(o), octets(value)])
    }
}

/// PEM armour.
pub fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_integers() {
        assert_eq!(tlv(0x04, &[1, 2]), vec![4, 2, 1, 2]);
        assert_eq!(&tlv(0x04, &[0; 200])[..3], &[4, 0x81, 200]);
        assert_eq!(&tlv(0x04, &[0; 300])[..4], &[4, 0x82, 1, 44]);
        assert_eq!(int(0), vec![2, 1, 0]);
        assert_eq!(int(128), vec![2, 2, 0, 128]);
        assert_eq!(uint(&[0, 0, 5]), vec![2, 1, 5]);
    }

    #[test]
    fn key_usage_bits() {
        // digitalSignature + nonRepudiation = 03 02 06 c0
        assert_eq!(named_bits(0b11), vec![3, 2, 6, 0xc0]);
        // keyCertSign + cRLSign (bits 5, 6) = 03 02 01 06
        assert_eq!(named_bits(0b110_0000), vec![3, 2, 1, 0x06]);
        // decipherOnly (bit 8)
        assert_eq!(named_bits(1 << 8), vec![3, 3, 7, 0, 0x80]);
    }
}

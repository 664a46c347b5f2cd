//! Distinguished names: an owned view with the exact DER (for byte comparison and CRL/OCSP
//! issuer hashing) and decoded attribute strings, plus RFC 5280 §7.1 name comparison.

use const_oid::ObjectIdentifier;
use der::{Decode, Encode, Tag, Tagged};
use x509_cert::name::Name;

/// Attribute type OIDs we name (X.520, PKCS#9, RFC 4519).
pub mod oids {
    use const_oid::ObjectIdentifier;
    /// commonName
    pub const CN: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
    /// surname
    pub const SURNAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.4");
    /// serialNumber (NCA: `IIN` + 12 digits)
    pub const SERIAL_NUMBER: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.5");
    /// countryName
    pub const C: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.6");
    /// localityName
    pub const L: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.7");
    /// stateOrProvinceName
    pub const ST: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.8");
    /// organizationName
    pub const O: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");
    /// organizationalUnitName (NCA: `BIN` + 12 digits)
    pub const OU: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.11");
    /// businessCategory
    pub const BUSINESS_CATEGORY: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.15");
    /// givenName (NCA puts the patronymic here)
    pub const GIVEN_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.42");
    /// emailAddress (PKCS#9)
    pub const EMAIL: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.1");
    /// domainComponent
    pub const DC: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.9.2342.19200300.100.1.25");
    /// userId
    pub const UID: ObjectIdentifier = ObjectIdentifier::new_unwrap("0.9.2342.19200300.100.1.1");
}

/// One attribute of a relative distinguished name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameAttribute {
    /// Attribute type.
    pub oid: ObjectIdentifier,
    /// ASN.1 tag of the value (UTF8String, PrintableString, ...).
    pub tag: Tag,
    /// The value decoded as text where the string type allows it.
    pub text: Option<String>,
    /// The value's content octets.
    pub raw: Vec<u8>,
}

/// A distinguished name as it appeared in a certificate, CRL or OCSP response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DistinguishedName {
    der: Vec<u8>,
    rdns: Vec<Vec<NameAttribute>>,
}

impl DistinguishedName {
    /// Builds the view from a decoded name.
    pub fn from_name(name: &Name) -> Result<Self, der::Error> {
        let der = name.to_der()?;
        let mut rdns = Vec::with_capacity(name.len());
        for rdn in name.iter_rdn() {
            let mut attrs = Vec::new();
            for atv in rdn.iter() {
                let tag = atv.value.tag();
                let raw = atv.value.value().to_vec();
                attrs.push(NameAttribute {
                    oid: atv.oid,
                    tag,
                    text: decode_text(tag, &raw),
                    raw,
                });
            }
            rdns.push(attrs);
        }
        Ok(DistinguishedName { der, rdns })
    }

    /// Parses a DER-encoded Name.
    pub fn from_der(der: &[u8]) -> Result<Self, der::Error> {
        Self::from_name(&Name::from_der(der)?)
    }

    /// The exact DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// True for the empty sequence.
    pub fn is_empty(&self) -> bool {
        self.rdns.is_empty()
    }

    /// The RDNs in order.
    pub fn rdns(&self) -> &[Vec<NameAttribute>] {
        &self.rdns
    }

    /// All attributes in order.
    pub fn attributes(&self) -> impl Iterator<Item = &NameAttribute> {
        self.rdns.iter().flatten()
    }

    /// The text of the first attribute of this type.
    pub fn first_text(&self, oid: ObjectIdentifier) -> Option<&str> {
        self.attributes()
            .find(|a| a.oid == oid)
            .and_then(|a| a.text.as_deref())
    }

    /// RFC 5280 §7.1 comparison: same number of RDNs, each with the same set of attributes,
    /// values compared after case folding and whitespace collapsing when both are strings.
    pub fn matches(&self, other: &DistinguishedName) -> bool {
        if self.der == other.der {
            return true;
        }
        if self.rdns.len() != other.rdns.len() {
            return false;
        }
        self.rdns.iter().zip(other.rdns.iter()).all(|(a, b)| {
            a.len() == b.len() && a.iter().all(|x| b.iter().any(|y| attribute_matches(x, y)))
        })
    }

    /// True if `self` is `prefix` followed by zero or more RDNs (directoryName constraints).
    pub fn has_prefix(&self, prefix: &DistinguishedName) -> bool {
        if prefix.rdns.len() > self.rdns.len() {
            return false;
        }
        self.rdns.iter().zip(prefix.rdns.iter()).all(|(a, b)| {
            a.len() == b.len() && a.iter().all(|x| b.iter().any(|y| attribute_matches(x, y)))
        })
    }

    /// A one-line rendering for people (RFC 4514 order is reversed; we keep the
    /// certificate's order, as OpenSSL's `-nameopt oneline` does).
    pub fn to_display_string(&self) -> String {
        let mut parts = Vec::new();
        for a in self.attributes() {
            let key = short_name(&a.oid);
            let val = a
                .text
                .clone()
                .unwrap_or_else(|| format!("#{}", hex::encode(&a.raw)));
            parts.push(format!("{key}={val}"));
        }
        parts.join(", ")
    }
}

fn attribute_matches(a: &NameAttribute, b: &NameAttribute) -> bool {
    if a.oid != b.oid {
        return false;
    }
    match (&a.text, &b.text) {
        (Some(x), Some(y)) if a.tag != Tag::Ia5String || b.tag != Tag::Ia5String => {
            normalise(x) == normalise(y)
        }
        (Some(x), Some(y)) => x.eq_ignore_ascii_case(y),
        _ => a.tag == b.tag && a.raw == b.raw,
    }
}

/// RFC 4518 in its simplest useful form: trim, collapse inner whitespace, case fold.
fn normalise(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

fn decode_text(tag: Tag, raw: &[u8]) -> Option<String> {
    match tag {
        Tag::Utf8String | Tag::PrintableString | Tag::Ia5String | Tag::VisibleString => {
            String::from_utf8(raw.to_vec()).ok()
        }
        // TeletexString: treat as Latin-1 (what most producers meant).
        Tag::TeletexString => Some(raw.iter().map(|&b| char::from(b)).collect()),
        Tag::BmpString => {
            if !raw.len().is_multiple_of(2) {
                return None;
            }
            let units: Vec<u16> = raw
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        _ => None,
    }
}

/// Short attribute names for display.
pub fn short_name(oid: &ObjectIdentifier) -> String {
    let s = match *oid {
        oids::CN => "CN",
        oids::SURNAME => "SURNAME",
        oids::SERIAL_NUMBER => "SERIALNUMBER",
        oids::C => "C",
        oids::L => "L",
        oids::ST => "ST",
        oids::O => "O",
        oids::OU => "OU",
        oids::GIVEN_NAME => "G",
        oids::EMAIL => "E",
        oids::DC => "DC",
        oids::UID => "UID",
        oids::BUSINESS_CATEGORY => "BUSINESSCATEGORY",
        _ => return oid.to_string(),
    };
    s.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;
    use x509_cert::name::RdnSequence;

    fn dn(s: &str) -> DistinguishedName {
        let rdn = RdnSequence::from_str(s).expect("rdn");
        DistinguishedName::from_der(&rdn.to_der().expect("der")).expect("dn")
    }

    #[test]
    fn names_match_ignoring_case_and_spaces() {
        assert!(dn("CN=Test  CA,C=KZ").matches(&dn("CN=test ca,C=KZ")));
        assert!(!dn("CN=Test CA,C=KZ").matches(&dn("CN=Test CA 2,C=KZ")));
        assert!(!dn("CN=Test CA,C=KZ").matches(&dn("CN=Test CA")));
    }
}

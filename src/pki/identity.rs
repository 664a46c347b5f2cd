//! NCA RK identity: who a certificate names, in the terms a hospital uses (IIN, BIN, names,
//! organisation, role OIDs) and which NCA key profile it is (../shared/NCA.md §3).
//!
//! NCA's subject layout: `CN=<SURNAME GIVEN>`, `SURNAME=<surname>`, `SERIALNUMBER=IIN<12 digits>`,
//! `G=<patronymic>` (yes, the patronymic sits in givenName; the given name exists only inside CN),
//! `O=<organisation>`, `OU=BIN<12 digits>`, optional `E=<email>`.

use const_oid::ObjectIdentifier;
use serde::Serialize;

use super::cert::{Certificate, KeyUsage, oids as ext_oids};
use super::name::oids;

/// NCA role OIDs carried in extKeyUsage (root.gov.kz OID registry, ../shared/NCA.md §3.3).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NcaRole {
    /// 1.2.398.3.3.4.1.1 — an individual (физическое лицо).
    Individual,
    /// 1.2.398.3.3.4.1.2 — a legal entity (any employee of an organisation).
    LegalEntity,
    /// 1.2.398.3.3.4.1.2.1 — first head (первый руководитель).
    FirstHead,
    /// 1.2.398.3.3.4.1.2.2 — person with signing right (право подписи).
    SigningRight,
    /// 1.2.398.3.3.4.1.2.3 — signing right for financial documents.
    FinanceSigningRight,
    /// 1.2.398.3.3.4.1.2.4 — HR officer (сотрудник отдела кадров).
    Hr,
    /// 1.2.398.3.3.4.1.2.5 — employee (сотрудник организации).
    Employee,
    /// 1.2.398.3.3.4.1.2.6 (and sub-arcs) — information system of a legal entity.
    InformationSystem,
}

impl NcaRole {
    /// The role for an EKU OID, if it is one of NCA's.
    pub fn from_oid(oid: &ObjectIdentifier) -> Option<NcaRole> {
        let s = oid.to_string();
        Some(match s.as_str() {
            "1.2.398.3.3.4.1.1" => NcaRole::Individual,
            "1.2.398.3.3.4.1.2" => NcaRole::LegalEntity,
            "1.2.398.3.3.4.1.2.1" => NcaRole::FirstHead,
            "1.2.398.3.3.4.1.2.2" => NcaRole::SigningRight,
            "1.2.398.3.3.4.1.2.3" => NcaRole::FinanceSigningRight,
            "1.2.398.3.3.4.1.2.4" => NcaRole::Hr,
            "1.2.398.3.3.4.1.2.5" => NcaRole::Employee,
            x if x == "1.2.398.3.3.4.1.2.6" || x.starts_with("1.2.398.3.3.4.1.2.6.") => {
                NcaRole::InformationSystem
            }
            _ => return None,
        })
    }

    /// The role's OID (the base arc for information systems).
    pub fn oid(&self) -> ObjectIdentifier {
        ObjectIdentifier::new_unwrap(match self {
            NcaRole::Individual => "1.2.398.3.3.4.1.1",
            NcaRole::LegalEntity => "1.2.398.3.3.4.1.2",
            NcaRole::FirstHead => "1.2.398.3.3.4.1.2.1",
            NcaRole::SigningRight => "1.2.398.3.3.4.1.2.2",
            NcaRole::FinanceSigningRight => "1.2.398.3.3.4.1.2.3",
            NcaRole::Hr => "1.2.398.3.3.4.1.2.4",
            NcaRole::Employee => "1.2.398.3.3.4.1.2.5",
            NcaRole::InformationSystem => "1.2.398.3.3.4.1.2.6",
        })
    }

    /// snake_case name (as in JSON and config files).
    pub fn as_str(&self) -> &'static str {
        match self {
            NcaRole::Individual => "individual",
            NcaRole::LegalEntity => "legal_entity",
            NcaRole::FirstHead => "first_head",
            NcaRole::SigningRight => "signing_right",
            NcaRole::FinanceSigningRight => "finance_signing_right",
            NcaRole::Hr => "hr",
            NcaRole::Employee => "employee",
            NcaRole::InformationSystem => "information_system",
        }
    }
}

/// Which kind of NCA key a certificate belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum NcaProfile {
    /// GOST 34.10-2015 (512 or 256): one key for signing and login (NCA's only kind since 2024).
    Gost2015SingleKey,
    /// RSA authentication key (clientAuth; digitalSignature + keyEncipherment).
    RsaAuth,
    /// RSA signing key (emailProtection; digitalSignature + nonRepudiation).
    RsaSign,
    /// GOST 34.310-2004 (legacy).
    Gost2004,
    /// Anything else (not an NCA-shaped personal certificate).
    Other,
}

impl NcaProfile {
    /// snake_case name.
    pub fn as_str(&self) -> &'static str {
        match self {
            NcaProfile::Gost2015SingleKey => "gost2015_single_key",
            NcaProfile::RsaAuth => "rsa_auth",
            NcaProfile::RsaSign => "rsa_sign",
            NcaProfile::Gost2004 => "gost2004",
            NcaProfile::Other => "other",
        }
    }
}

/// A 12-digit national identifier (IIN or BIN) with the result of its checksum.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NationalId {
    /// The 12 digits.
    pub value: String,
    /// Whether the official control digit matches. Reported, never enforced: NCA's own test
    /// IINs (123456789011/012) and BIN (123456789021) fail it.
    pub checksum_ok: bool,
}

/// What an NCA certificate says about its holder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NcaIdentity {
    /// IIN from SERIALNUMBER=`IIN…`.
    pub iin: Option<NationalId>,
    /// BIN from OU=`BIN…`.
    pub bin: Option<NationalId>,
    /// commonName.
    pub common_name: Option<String>,
    /// SURNAME.
    pub surname: Option<String>,
    /// Given name, taken from CN after the surname.
    pub given_name: Option<String>,
    /// Patronymic, from G (givenName) where NCA puts it.
    pub patronymic: Option<String>,
    /// O.
    pub organization: Option<String>,
    /// E (emailAddress) or an rfc822Name in subjectAltName.
    pub email: Option<String>,
    /// NCA role OIDs found in extKeyUsage.
    pub roles: Vec<NcaRole>,
    /// The key profile.
    pub profile: NcaProfile,
}

impl NcaIdentity {
    /// Extracts the identity from a certificate. Never fails: absent fields are `None`.
    pub fn from_certificate(cert: &Certificate) -> NcaIdentity {
        let s = &cert.subject;
        let text = |oid| s.first_text(oid).map(|t| t.trim().to_string());
        let iin = text(oids::SERIAL_NUMBER).and_then(|v| national_id(&v, "IIN"));
        let bin = s
            .attributes()
            .filter(|a| a.oid == oids::OU)
            .filter_map(|a| a.text.as_deref())
            .find_map(|v| national_id(v.trim(), "BIN"));
        let common_name = text(oids::CN);
        let surname = text(oids::SURNAME);
        let given_name = match (&common_name, &surname) {
            (Some(cn), Some(sn)) => cn
                .strip_prefix(sn.as_str())
                .map(|rest| rest.trim().to_string())
                .filter(|r| !r.is_empty())
                .or_else(|| cn.split_whitespace().nth(1).map(str::to_string)),
            _ => None,
        };
        let email = text(oids::EMAIL).or_else(|| {
            cert.extensions
                .subject_alt_names
                .as_ref()
                .and_then(|names| {
                    names.iter().find_map(|n| match n {
                        super::cert::GeneralName::Email(e) => Some(e.clone()),
                        _ => None,
                    })
                })
        });
        let mut roles = Vec::new();
        for oid in cert.extensions.extended_key_usage.iter().flatten() {
            if let Some(r) = NcaRole::from_oid(oid)
                && !roles.contains(&r)
            {
                roles.push(r);
            }
        }
        NcaIdentity {
            iin,
            bin,
            common_name,
            surname,
            given_name,
            patronymic: text(oids::GIVEN_NAME),
            organization: text(oids::O),
            email,
            roles,
            profile: profile_of(cert),
        }
    }

    /// "Surname Given Patronymic", as staff lists write it.
    pub fn full_name(&self) -> Option<String> {
        let parts: Vec<&str> = [&self.surname, &self.given_name, &self.patronymic]
            .iter()
            .filter_map(|p| p.as_deref())
            .collect();
        if parts.is_empty() {
            self.common_name.clone()
        } else {
            Some(parts.join(" "))
        }
    }
}

/// The key profile from the key algorithm, key usage and EKU.
pub fn profile_of(cert: &Certificate) -> NcaProfile {
    let key = cert.public_key_algorithm.oid.to_string();
    if key.starts_with("1.2.398.3.10.1.1.2.") {
        return NcaProfile::Gost2015SingleKey;
    }
    if key.starts_with("1.2.398.3.10.1.1.1.") {
        return NcaProfile::Gost2004;
    }
    if key == "1.2.840.113549.1.1.1" {
        let eku = cert.extensions.extended_key_usage.as_deref().unwrap_or(&[]);
        let ku = cert.extensions.key_usage.unwrap_or_default();
        if eku.contains(&ext_oids::KP_CLIENT_AUTH) || ku.has(KeyUsage::KEY_ENCIPHERMENT) {
            return NcaProfile::RsaAuth;
        }
        if eku.contains(&ext_oids::KP_EMAIL_PROTECTION) || ku.has(KeyUsage::NON_REPUDIATION) {
            return NcaProfile::RsaSign;
        }
    }
    NcaProfile::Other
}

fn national_id(v: &str, prefix: &str) -> Option<NationalId> {
    let digits = v.strip_prefix(prefix)?;
    if digits.len() != 12 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(NationalId {
        value: digits.to_string(),
        checksum_ok: iin_checksum_ok(digits),
    })
}

/// The official IIN/BIN control digit: weights 1..11, and if the sum mod 11 is 10, weights
/// 3..11,1,2; a second 10 means the number is invalid.
pub fn iin_checksum_ok(digits: &str) -> bool {
    let d: Vec<u32> = digits
        .bytes()
        .filter_map(|b| (b as char).to_digit(10))
        .collect();
    if d.len() != 12 {
        return false;
    }
    let sum = |w: &[u32]| d[..11].iter().zip(w).map(|(a, b)| a * b).sum::<u32>() % 11;
    let mut c = sum(&[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    if c == 10 {
        c = sum(&[3, 4, 5, 6, 7, 8, 9, 10, 11, 1, 2]);
        if c == 10 {
            return false;
        }
    }
    c == d[11]
}

/// Makes a valid IIN from 11 leading digits (for the test PKI), or `None` if no control digit
/// exists for them.
pub fn complete_iin(first11: &str) -> Option<String> {
    (0..10)
        .map(|c| format!("{first11}{c}"))
        .find(|s| iin_checksum_ok(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nca_test_iins_fail_the_checksum_and_real_shapes_pass() {
        assert!(!iin_checksum_ok("123456789011"));
        assert!(!iin_checksum_ok("123456789012"));
        assert!(!iin_checksum_ok("123456789021"));
        let good = complete_iin("88051530012").expect("a control digit exists");
        assert!(iin_checksum_ok(&good));
        assert!(!iin_checksum_ok("12345"));
    }

    #[test]
    fn role_oids_map_both_ways() {
        for r in [
            NcaRole::Individual,
            NcaRole::LegalEntity,
            NcaRole::FirstHead,
            NcaRole::SigningRight,
            NcaRole::FinanceSigningRight,
            NcaRole::Hr,
            NcaRole::Employee,
            NcaRole::InformationSystem,
        ] {
            assert_eq!(NcaRole::from_oid(&r.oid()), Some(r));
        }
        let sub = ObjectIdentifier::new_unwrap("1.2.398.3.3.4.1.2.6.7");
        assert_eq!(NcaRole::from_oid(&sub), Some(NcaRole::InformationSystem));
    }
}

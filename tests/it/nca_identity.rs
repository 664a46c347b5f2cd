//! Identity extraction for every NCA fixture certificate (IIN, BIN, names, roles, profile).

use crate::common;

use eds_gateway::pki::cert::Certificate;
use eds_gateway::pki::identity::{NcaIdentity, NcaProfile, NcaRole};

fn load(rel: &str) -> Certificate {
    Certificate::parse(&common::nca_bytes(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn every_fixture_certificate_parses() {
    let mut n = 0;
    for dir in common::CA_CERT_DIRS
        .iter()
        .chain(common::LEAF_CERT_DIRS.iter())
    {
        for f in common::nca_files(dir) {
            let bytes = std::fs::read(&f).expect("read");
            let c = Certificate::parse(&bytes).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            assert!(!c.subject.is_empty());
            n += 1;
        }
    }
    assert_eq!(n, 4 + 1 + 4 + 3 + 12 + 3 + 6 + 5);
}

#[test]
fn individual_gost2015_2026_identity() {
    let c = load("certs/gost2015-2026/individual_valid.pem");
    let id = NcaIdentity::from_certificate(&c);
    let iin = id.iin.clone().expect("iin");
    assert_eq!(iin.value, "123456789011");
    assert!(
        !iin.checksum_ok,
        "NCA's test IIN fails the checksum, and is still reported"
    );
    assert_eq!(id.bin, None);
    assert_eq!(id.surname.as_deref(), Some("ТЕСТОВ"));
    assert_eq!(id.given_name.as_deref(), Some("ТЕСТ"));
    assert_eq!(id.patronymic.as_deref(), Some("ТЕСТОВИЧ"));
    assert_eq!(id.full_name().as_deref(), Some("ТЕСТОВ ТЕСТ ТЕСТОВИЧ"));
    assert_eq!(id.roles, vec![NcaRole::Individual]);
    assert_eq!(id.profile, NcaProfile::Gost2015SingleKey);
}

#[test]
fn legal_entity_head_identity() {
    let id = NcaIdentity::from_certificate(&load("certs/gost2015-2026/legal_valid_head.pem"));
    assert_eq!(id.iin.expect("iin").value, "123456789011");
    let bin = id.bin.expect("bin");
    assert_eq!(bin.value, "123456789021");
    assert!(!bin.checksum_ok);
    assert_eq!(id.organization.as_deref(), Some("АО \"ТЕСТ\""));
    assert!(id.roles.contains(&NcaRole::LegalEntity));
    assert!(id.roles.contains(&NcaRole::FirstHead));
}

#[test]
fn employee_and_signing_right_roles() {
    let id = NcaIdentity::from_certificate(&load("certs/gost2015-2026/legal_valid_employee.pem"));
    assert_eq!(id.iin.expect("iin").value, "123456789012");
    assert!(id.roles.contains(&NcaRole::Employee), "{:?}", id.roles);
    let id = NcaIdentity::from_certificate(&load(
        "certs/gost2015-2026/legal_valid_employee_signright.pem",
    ));
    assert!(id.roles.contains(&NcaRole::SigningRight), "{:?}", id.roles);
}

#[test]
fn information_system_certificate_has_no_person() {
    let id =
        NcaIdentity::from_certificate(&load("certs/gost2015-2026/legal_valid_treasury_client.pem"));
    assert_eq!(id.iin, None);
    assert_eq!(id.surname, None);
    assert_eq!(id.bin.expect("bin").value, "123456789021");
    assert!(
        id.roles.contains(&NcaRole::InformationSystem),
        "{:?}",
        id.roles
    );
}

#[test]
fn rsa_auth_and_sign_profiles() {
    let auth = load(
        "certs/rsa-2020/dk_personal_active_AUTH_RSA256_b2c70a9ff7a5dc59de0ccc3c0ddde3437cc1f12d.pem",
    );
    assert_eq!(
        NcaIdentity::from_certificate(&auth).profile,
        NcaProfile::RsaAuth
    );
    let sign = load(
        "certs/rsa-2020/dk_personal_active_RSA256_11c707bd54cbfcccb3815e39c4eb57b1dc7dfea9.pem",
    );
    assert_eq!(
        NcaIdentity::from_certificate(&sign).profile,
        NcaProfile::RsaSign
    );
    let g2004 = load("certs/gost2004/ncanode_ceo_sign_gost2004_2022.pem");
    assert_eq!(
        NcaIdentity::from_certificate(&g2004).profile,
        NcaProfile::Gost2004
    );
}

#[test]
fn nca_quirks_are_tolerated() {
    // Production RSA intermediate: two URLs in one CDP URI, 4-byte SKI.
    let c = load("ca/prod/nca_rsa_2018_expired.cer");
    assert_eq!(
        c.extensions.subject_key_id.as_deref(),
        Some(&[0x5b, 0x6a, 0x74, 0x11][..])
    );
    let urls: Vec<&str> = c
        .extensions
        .crl_distribution_points
        .iter()
        .flat_map(|d| d.urls.iter())
        .map(String::as_str)
        .collect();
    assert_eq!(
        urls,
        vec![
            "http://crl.root.gov.kz/rsa.crl",
            "http://crl1.root.gov.kz/rsa.crl"
        ]
    );
    // 2026 test certificates list the OCSP URI twice: reported once.
    let c = load("certs/gost2015-2026/individual_valid.pem");
    assert_eq!(
        c.extensions.ocsp_urls.len(),
        1,
        "{:?}",
        c.extensions.ocsp_urls
    );
    assert!(!c.extensions.freshest_crl.is_empty());
}

//! Identity extraction for EVERY certificate in ../shared/fixtures/nca/certs, against a table
//! written from OpenSSL's reading of the same files (`openssl x509 -subject -ext
//! extendedKeyUsage,keyUsage`): IIN, BIN, surname, role OIDs and key profile.

use crate::common;

use eds_gateway::pki::cert::Certificate;
use eds_gateway::pki::identity::{NcaIdentity, NcaProfile, NcaRole};

use NcaProfile::{Gost2004, Gost2015SingleKey, RsaAuth, RsaSign};
use NcaRole::{Employee, FirstHead, Individual, InformationSystem, LegalEntity, SigningRight};

const T1: &str = "ТЕСТОВ"; // IIN 123456789011
const T2: &str = "ТЕСТТОВ"; // IIN 123456789012
const BIN: &str = "123456789021";

struct Row {
    file: &'static str,
    iin: Option<&'static str>,
    bin: Option<&'static str>,
    surname: Option<&'static str>,
    roles: &'static [NcaRole],
    profile: Option<NcaProfile>,
}

const fn row(
    file: &'static str,
    iin: Option<&'static str>,
    bin: Option<&'static str>,
    surname: Option<&'static str>,
    roles: &'static [NcaRole],
    profile: Option<NcaProfile>,
) -> Row {
    Row {
        file,
        iin,
        bin,
        surname,
        roles,
        profile,
    }
}

const I1: Option<&str> = Some("123456789011");
const I2: Option<&str> = Some("123456789012");
const B: Option<&str> = Some(BIN);
const HEAD: &[NcaRole] = &[LegalEntity, FirstHead];

const TABLE: &[Row] = &[
    row(
        "gost2004/ceo_sign_gost2004_revoked_2022.pem",
        I1,
        B,
        Some(T1),
        HEAD,
        Some(Gost2004),
    ),
    row(
        "gost2004/dk_organization_active_GOSTKNCA_13a3741b52d7bf860aab199b56fad1f4652e357b.pem",
        I1,
        B,
        Some(T1),
        HEAD,
        Some(Gost2004),
    ),
    row(
        "gost2004/dk_organization_revoked_GOSTKNCA_c372b7809440fcb681051bbc89ea2f089fd2fe16.pem",
        I1,
        B,
        Some(T1),
        HEAD,
        Some(Gost2004),
    ),
    row(
        "gost2004/ncanode_ceo_sign_gost2004_2022.pem",
        I1,
        B,
        Some(T1),
        HEAD,
        Some(Gost2004),
    ),
    row(
        "gost2015-2022/ceo_revoked_2015.pem",
        I1,
        B,
        Some(T1),
        HEAD,
        Some(Gost2015SingleKey),
    ),
    row(
        "gost2015-2022/gokalkan_individual_gost2015_2023.pem",
        I1,
        None,
        Some(T1),
        &[Individual],
        Some(Gost2015SingleKey),
    ),
    row(
        "gost2015-2022/individual_valid_2015.pem",
        I2,
        None,
        Some(T2),
        &[Individual],
        Some(Gost2015SingleKey),
    ),
    row(
        "gost2015-2026/individual_revoked.pem",
        I1,
        None,
        Some(T1),
        &[Individual],
        Some(Gost2015SingleKey),
    ),
    row(
        "gost2015-2026/individual_valid.pem",
        I1,
        None,
        Some(T1),
        &[Individual],
        Some(Gost2015SingleKey),
    ),
    row(
        "gost2015-2026/legal_revoked_employee.pem",
        I2,
        B,
        Some(T2),
        &[LegalEntity, Employee],
        Some(Gost2015SingleKey),
    ),
    row(
        "gost2015-2026/legal_revoked_employee_signright.pem",
        I2,
        B,
        Some(T2),
        &[LegalEntity, SigningRight],
        Some(Gost2015SingleKey),
    ),
    row(
        "gost2015-2026/legal_revoked_head.pem",
        I1,
        B,
        Some(T1),
        HEAD,
        Some(Gost2015SingleKey),
    ),
    // NCA's file names "infosystem"/"treasury_client" are swapped relative to their EKUs: this
    // one carries the Treasury-client OID 1.2.398.5.19.1.2.2.1 (not a typed role).
    row(
        "gost2015-2026/legal_revoked_infosystem.pem",
        I2,
        B,
        Some(T2),
        &[LegalEntity],
        Some(Gost2015SingleKey),
    ),
    row(
        "gost2015-2026/legal_revoked_treasury_client.pem",
        None,
        B,
        None,
        &[LegalEntity, InformationSystem],
        Some(Gost2015SingleKey),
    ),
    row(
        "gost2015-2026/legal_valid_employee.pem",
        I2,
        B,
        Some(T2),
        &[LegalEntity, Employee],
        Some(Gost2015SingleKey),
    ),
    row(
        "gost2015-2026/legal_valid_employee_signright.pem",
        I2,
        B,
        Some(T2),
        &[LegalEntity, SigningRight],
        Some(Gost2015SingleKey),
    ),
    row(
        "gost2015-2026/legal_valid_head.pem",
        I1,
        B,
        Some(T1),
        HEAD,
        Some(Gost2015SingleKey),
    ),
    row(
        "gost2015-2026/legal_valid_infosystem.pem",
        I2,
        B,
        Some(T2),
        &[LegalEntity],
        Some(Gost2015SingleKey),
    ),
    row(
        "gost2015-2026/legal_valid_treasury_client.pem",
        None,
        B,
        None,
        &[LegalEntity, InformationSystem],
        Some(Gost2015SingleKey),
    ),
    // OCSP responders: identity fields only; they are never login certificates.
    row(
        "ocsp-responders/ocsp_responder_gost2004_test_2022.der",
        I1,
        B,
        None,
        &[],
        None,
    ),
    row(
        "ocsp-responders/ocsp_responder_gost2015_test_2022.der",
        None,
        None,
        None,
        &[],
        None,
    ),
    row(
        "ocsp-responders/ocsp_responder_rsa_test_2022.der",
        I1,
        B,
        None,
        &[],
        None,
    ),
    row(
        "rsa-2020/dk_organization_active_AUTH_RSA256_d682726b55b3e62600ea8fe1c74e75fc96f47790.pem",
        I1,
        B,
        Some(T1),
        HEAD,
        Some(RsaAuth),
    ),
    row(
        "rsa-2020/dk_organization_revoked_AUTH_RSA256_7d6d313ac5bf7367a2a69f28607a8deb80dd3ba9.pem",
        I1,
        B,
        Some(T1),
        HEAD,
        Some(RsaAuth),
    ),
    row(
        "rsa-2020/dk_personal_active_AUTH_RSA256_b2c70a9ff7a5dc59de0ccc3c0ddde3437cc1f12d.pem",
        I1,
        None,
        Some(T1),
        &[Individual],
        Some(RsaAuth),
    ),
    row(
        "rsa-2020/dk_personal_active_RSA256_11c707bd54cbfcccb3815e39c4eb57b1dc7dfea9.pem",
        I1,
        None,
        Some(T1),
        &[Individual],
        Some(RsaSign),
    ),
    row(
        "rsa-2020/dk_personal_revoked_AUTH_RSA256_60d5a0346dd52fb5f3b9148e6cfbcd6cf323d119.pem",
        I1,
        None,
        Some(T1),
        &[Individual],
        Some(RsaAuth),
    ),
    row(
        "rsa-2020/dk_personal_revoked_RSA256_346a7e57c2995259140b6fc375b6ff3bba7e852f.pem",
        I1,
        None,
        Some(T1),
        &[Individual],
        Some(RsaSign),
    ),
    row(
        "rsa-2021-2022/individual_auth_rsa_revoked_2022.pem",
        I1,
        None,
        Some(T1),
        &[Individual],
        Some(RsaAuth),
    ),
    row(
        "rsa-2021-2022/individual_sign_rsa_2021.pem",
        I1,
        None,
        Some(T1),
        &[Individual],
        Some(RsaSign),
    ),
    row(
        "rsa-2021-2022/individual_sign_rsa_revoked_2022.pem",
        I1,
        None,
        Some(T1),
        &[Individual],
        Some(RsaSign),
    ),
    row(
        "rsa-2021-2022/ncanode_individual_auth_rsa_2022.pem",
        I1,
        None,
        Some(T1),
        &[Individual],
        Some(RsaAuth),
    ),
    row(
        "rsa-2021-2022/ncanode_individual_sign_rsa_2022.pem",
        I1,
        None,
        Some(T1),
        &[Individual],
        Some(RsaSign),
    ),
];

#[test]
fn every_fixture_certificate_yields_the_identity_openssl_reads() {
    let mut seen = 0;
    for dir in common::LEAF_CERT_DIRS {
        for path in common::nca_files(dir) {
            let rel = path
                .strip_prefix(common::nca("certs"))
                .expect("under certs")
                .display()
                .to_string();
            let row = TABLE
                .iter()
                .find(|r| r.file == rel)
                .unwrap_or_else(|| panic!("{rel}: no row in the table (new fixture?)"));
            let cert = Certificate::parse(&std::fs::read(&path).expect("read"))
                .unwrap_or_else(|e| panic!("{rel}: {e}"));
            let id = NcaIdentity::from_certificate(&cert);
            assert_eq!(
                id.iin.as_ref().map(|i| i.value.as_str()),
                row.iin,
                "{rel} IIN"
            );
            assert_eq!(
                id.bin.as_ref().map(|b| b.value.as_str()),
                row.bin,
                "{rel} BIN"
            );
            // NCA's test IINs/BIN fail the official checksum: reported, never a refusal.
            assert!(id.iin.as_ref().is_none_or(|i| !i.checksum_ok), "{rel}");
            assert!(id.bin.as_ref().is_none_or(|b| !b.checksum_ok), "{rel}");
            assert_eq!(id.surname.as_deref(), row.surname, "{rel} surname");
            assert_eq!(id.roles, row.roles, "{rel} roles");
            if let Some(p) = row.profile {
                assert_eq!(id.profile, p, "{rel} profile");
            }
            if row.surname.is_some() {
                // Given name from CN after the surname; patronymic from G.
                assert_eq!(
                    id.given_name.as_deref(),
                    Some(if row.surname == Some(T2) {
                        "ТЕСТТ"
                    } else {
                        "ТЕСТ"
                    }),
                    "{rel}"
                );
            }
            seen += 1;
        }
    }
    assert_eq!(seen, TABLE.len());
}

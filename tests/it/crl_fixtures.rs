//! CRL module scenarios: NCA's real test CRLs, CRLs generated at test time by OpenSSL (a real
//! peer), hostile bytes, and the x509-limbo / BSI CRL conformance cases.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::Command;

use eds_gateway::pki::cert::Certificate;
use eds_gateway::pki::crl::{self, Crl, CrlError, CrlNumber, CrlStatus, RevocationReason};
use eds_gateway::pki::gost::{GostError, oids as gost_oids};
use eds_gateway::pki::signature::{SignatureError, SignaturePolicy};
use eds_gateway::pki::time::UnixTime;

#[track_caller]
fn nca_crl(name: &str) -> Crl {
    Crl::parse(&common::nca_bytes(&format!("crl/{name}"))).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[track_caller]
fn nca_cert(rel: &str) -> Certificate {
    Certificate::parse(&common::nca_bytes(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn n(v: u64) -> CrlNumber {
    CrlNumber::from_be_bytes(&v.to_be_bytes())
}

fn policy() -> SignaturePolicy {
    SignaturePolicy::default()
}

// ---------------------------------------------------------------------------------------------
// NCA fixtures (../shared/fixtures/nca/PROVENANCE.md)
// ---------------------------------------------------------------------------------------------

#[test]
fn nca_rsa_test_crl_parses_with_its_126_entries_and_superseded_2022_keys() {
    let c = nca_crl("nca_rsa_test_2022-03-29.crl");
    assert_eq!(c.entries().len(), 126);
    assert_eq!(c.duplicate_entries, 0);
    assert!(!c.is_delta());
    assert!(c.crl_number.is_some());
    assert_eq!(c.this_update, common::at("2022-03-29T04:18:29Z"));
    assert_eq!(c.next_update, Some(common::at("2022-09-25T04:18:29Z")));
    for rel in [
        "certs/rsa-2021-2022/individual_auth_rsa_revoked_2022.pem",
        "certs/rsa-2021-2022/individual_sign_rsa_revoked_2022.pem",
    ] {
        let cert = nca_cert(rel);
        let e = c.find(&cert.serial).expect("listed");
        assert_eq!(e.reason, Some(RevocationReason::Superseded), "{rel}");
    }
    let auth = nca_cert("certs/rsa-2021-2022/individual_auth_rsa_revoked_2022.pem");
    assert!(auth.serial_hex().starts_with("1AB11253"));
    let sign = nca_cert("certs/rsa-2021-2022/individual_sign_rsa_revoked_2022.pem");
    assert!(sign.serial_hex().starts_with("46757A21"));
    // Other reasons in the same CRL, as printed by `openssl crl -text`.
    let hold = c
        .find(&hex::decode("474C38696D8677A2C8B6E40345A8B04168C0905C").expect("hex"))
        .expect("listed");
    assert_eq!(hold.reason, Some(RevocationReason::CertificateHold));
    let kc = c
        .find(&hex::decode("4B779CB5647C4DA7B07327C503EAB1656D716ED8").expect("hex"))
        .expect("listed");
    assert_eq!(kc.reason, Some(RevocationReason::KeyCompromise));
    let no_reason = c
        .find(&hex::decode("1F6DE34F4F4BB353DD57EF15E4E6DDB8363F6D00").expect("hex"))
        .expect("listed");
    assert_eq!(no_reason.reason, None);
}

#[test]
fn nca_rsa_test_crl_signature_verifies_with_the_rsa_test_ca() {
    let c = nca_crl("nca_rsa_test_2022-03-29.crl");
    let ca = nca_cert("ca/test/nca_rsa_test_2019.pem");
    assert_eq!(c.verify_signature(&ca, &policy()), Ok(()));
    // Any other key must fail as a bad signature.
    let other = nca_cert("certs/ocsp-responders/ocsp_responder_rsa_test_2022.der");
    let e = c
        .verify_signature(&other, &policy())
        .expect_err("wrong key");
    assert!(
        matches!(
            e,
            CrlError::BadSignature { .. } | CrlError::MissingCrlSign { .. }
        ),
        "{e:?}"
    );
}

#[test]
fn revoked_nca_rsa_leaf_is_refused_as_superseded_in_may_2022() {
    let c = nca_crl("nca_rsa_test_2022-03-29.crl");
    let ca = nca_cert("ca/test/nca_rsa_test_2019.pem");
    let leaf = nca_cert("certs/rsa-2021-2022/individual_auth_rsa_revoked_2022.pem");
    let at = common::at("2022-05-01T00:00:00Z");
    let status = crl::check(&leaf, &ca, std::slice::from_ref(&c), at, &policy()).expect("check");
    let expected_date = c.find(&leaf.serial).expect("listed").revocation_date;
    assert_eq!(
        status,
        CrlStatus::Revoked {
            date: expected_date,
            reason: Some(RevocationReason::Superseded),
            crl_number: c.crl_number.clone().expect("number"),
        }
    );
}

#[test]
fn unrevoked_nca_rsa_leaf_is_good_until_next_update_and_stale_after() {
    let c = nca_crl("nca_rsa_test_2022-03-29.crl");
    let ca = nca_cert("ca/test/nca_rsa_test_2019.pem");
    let leaf = nca_cert("certs/rsa-2021-2022/ncanode_individual_auth_rsa_2022.pem");
    let crls = std::slice::from_ref(&c);
    assert_eq!(
        crl::check(
            &leaf,
            &ca,
            crls,
            common::at("2022-05-01T00:00:00Z"),
            &policy()
        ),
        Ok(CrlStatus::Good {
            crl_number: c.crl_number.clone().expect("number"),
            this_update: c.this_update,
            next_update: c.next_update.expect("next"),
        })
    );
    assert_eq!(
        crl::check(
            &leaf,
            &ca,
            crls,
            common::at("2022-10-01T00:00:00Z"),
            &policy()
        ),
        Err(CrlError::Stale {
            crl_number: c.crl_number.clone(),
            next_update: c.next_update.expect("next"),
            at: common::at("2022-10-01T00:00:00Z"),
        })
    );
    assert!(matches!(
        crl::check(
            &leaf,
            &ca,
            crls,
            common::at("2022-03-01T00:00:00Z"),
            &policy()
        ),
        Err(CrlError::NotYetValid { .. })
    ));
}

#[test]
fn nca_rsa_crl_does_not_apply_to_gost_ca_certificates() {
    // Another CA's CRL listing nothing of this cert: ignored, not "good".
    let c = nca_crl("nca_rsa_test_2022-03-29.crl");
    let ca = nca_cert("ca/test/nca_gost_test_2019.pem");
    let leaf = nca_cert("certs/gost2004/ceo_sign_gost2004_revoked_2022.pem");
    assert_eq!(
        crl::check(
            &leaf,
            &ca,
            &[c],
            common::at("2022-05-01T00:00:00Z"),
            &policy()
        ),
        Ok(CrlStatus::NoApplicableCrl)
    );
}

#[test]
fn nca_gost2004_crl_parses_with_31_entries_and_the_superseded_ceo_key() {
    let c = nca_crl("nca_gost_test_2022-03-29.crl");
    assert_eq!(c.entries().len(), 31);
    let cert = nca_cert("certs/gost2004/ceo_sign_gost2004_revoked_2022.pem");
    assert!(cert.serial_hex().starts_with("12E3E7B9"));
    let e = c.find(&cert.serial).expect("listed");
    assert_eq!(e.reason, Some(RevocationReason::Superseded));
    let ca = nca_cert("ca/test/nca_gost_test_2019.pem");
    assert!(c.applies_to(&cert, &ca));
}

#[test]
fn nca_gost2015_2022_crl_parses_with_6_entries_and_the_held_ceo_key() {
    let c = nca_crl("nca_gost2022_test_2022-07-27.crl");
    assert_eq!(c.entries().len(), 6);
    let cert = nca_cert("certs/gost2015-2022/ceo_revoked_2015.pem");
    assert!(cert.serial_hex().starts_with("3A90343E"));
    assert_eq!(
        c.find(&cert.serial).expect("listed").reason,
        Some(RevocationReason::CertificateHold)
    );
}

#[test]
fn nca_gost2015_2026_crl_parses_with_195_entries_holds_and_superseded_keys() {
    let c = nca_crl("nca_gost2022_test_2026-08-11.crl");
    assert_eq!(c.entries().len(), 195);
    assert_eq!(c.this_update, common::at("2026-08-11T03:49:19Z"));
    assert_eq!(c.next_update, Some(common::at("2027-02-07T03:49:19Z")));
    let ca = nca_cert("ca/test/nca_gost2022_test.cer");
    for f in common::nca_files("certs/gost2015-2026") {
        let name = f
            .file_name()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let cert = Certificate::parse(&std::fs::read(&f).expect("read")).expect("cert");
        assert!(c.applies_to(&cert, &ca), "{name}");
        let reason = c.find(&cert.serial).map(|e| e.reason);
        let expected = if name.contains("_revoked") {
            Some(Some(RevocationReason::CertificateHold))
        } else if name == "legal_valid_employee.pem" || name == "legal_valid_infosystem.pem" {
            Some(Some(RevocationReason::Superseded))
        } else {
            None
        };
        assert_eq!(reason, expected, "{name}");
    }
}

/// The three GOST-signed NCA CRLs (GOST 34.10-2015-512 and GOST 34.310-2004) and their issuers.
const GOST_CRLS: [(&str, &str); 3] = [
    (
        "nca_gost2022_test_2026-08-11.crl",
        "ca/test/nca_gost2022_test.cer",
    ),
    (
        "nca_gost2022_test_2022-07-27.crl",
        "ca/test/nca_gost2022_test.cer",
    ),
    (
        "nca_gost_test_2022-03-29.crl",
        "ca/test/nca_gost_test_2019.pem",
    ),
];

#[test]
fn gost_signed_nca_crls_verify_against_their_issuers() {
    for (crl_name, ca_rel) in GOST_CRLS {
        let c = nca_crl(crl_name);
        let ca = nca_cert(ca_rel);
        assert_eq!(c.verify_signature(&ca, &policy()), Ok(()), "{crl_name}");
    }
}

#[test]
fn gost2015_signed_nca_crl_is_not_verified_with_the_gost2004_ca_key() {
    let c = nca_crl("nca_gost2022_test_2026-08-11.crl");
    let other = nca_cert("ca/test/nca_gost_test_2019.pem");
    assert_eq!(
        c.verify_signature(&other, &policy()),
        Err(CrlError::SignatureNotVerified {
            crl_number: c.crl_number.clone(),
            source: SignatureError::Gost(GostError::KeyAlgorithmMismatch {
                signature: gost_oids::GOST2015_512_SIGNATURE,
                key: gost_oids::GOST2004_KEY,
            }),
        })
    );
}

/// A GOST CRL whose signature value had one byte flipped (byte 0 = low byte of r).
fn gost_crl_with_flipped_signature(crl_name: &str) -> Crl {
    let mut der = common::nca_bytes(&format!("crl/{crl_name}"));
    let sig = nca_crl(crl_name).signature.clone();
    assert!(sig.len() == 64 || sig.len() == 128, "{crl_name}: r||s");
    assert!(
        der.ends_with(&sig),
        "{crl_name}: signature value ends the CRL"
    );
    let pos = der.len() - sig.len();
    der[pos] ^= 0x01;
    Crl::parse(&der).expect("still parses")
}

#[test]
fn gost_signed_nca_crl_with_a_flipped_signature_byte_is_refused() {
    for (crl_name, ca_rel) in GOST_CRLS {
        let c = gost_crl_with_flipped_signature(crl_name);
        let got = c.verify_signature(&nca_cert(ca_rel), &policy());
        // Today: SignatureNotVerified { Gost(InvalidSignature) }; once the BUG below is fixed:
        // BadSignature. Either way refused, never Ok.
        assert!(
            matches!(
                &got,
                Err(CrlError::BadSignature { .. })
                    | Err(CrlError::SignatureNotVerified {
                        source: SignatureError::Gost(GostError::InvalidSignature),
                        ..
                    })
            ),
            "{crl_name}: {got:?}"
        );
    }
}

#[test]
fn gost_signed_nca_crl_with_a_flipped_signature_byte_is_a_bad_signature() {
    for (crl_name, ca_rel) in GOST_CRLS {
        let c = gost_crl_with_flipped_signature(crl_name);
        assert_eq!(
            c.verify_signature(&nca_cert(ca_rel), &policy()),
            Err(CrlError::BadSignature {
                crl_number: c.crl_number.clone(),
            }),
            "{crl_name}"
        );
    }
}

#[test]
fn gost_2026_crl_check_reports_hold_and_superseded_keys_and_passes_the_others() {
    let c = nca_crl("nca_gost2022_test_2026-08-11.crl");
    let ca = nca_cert("ca/test/nca_gost2022_test.cer");
    let at = common::at("2026-11-25T00:00:00Z");
    let mut revoked = 0;
    for f in common::nca_files("certs/gost2015-2026") {
        let name = f
            .file_name()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_string();
        let leaf = Certificate::parse(&std::fs::read(&f).expect("read")).expect("cert");
        let got = crl::check(&leaf, &ca, std::slice::from_ref(&c), at, &policy())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        if name.contains("_revoked") {
            assert!(
                matches!(
                    got,
                    CrlStatus::Revoked {
                        reason: Some(RevocationReason::CertificateHold),
                        ..
                    }
                ),
                "{name}: {got:?}"
            );
            revoked += 1;
        } else if name == "legal_valid_employee.pem" || name == "legal_valid_infosystem.pem" {
            assert!(
                matches!(
                    got,
                    CrlStatus::Revoked {
                        reason: Some(RevocationReason::Superseded),
                        ..
                    }
                ),
                "{name}: {got:?}"
            );
            revoked += 1;
        } else {
            assert!(matches!(got, CrlStatus::Good { .. }), "{name}: {got:?}");
        }
    }
    assert_eq!(revoked, 8);
}

// ---------------------------------------------------------------------------------------------
// Hostile input
// ---------------------------------------------------------------------------------------------

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn every_truncation_and_many_bit_flips_of_every_nca_crl_give_a_named_error_never_a_panic() {
    let mut seed = 0x5eed_c0de_u64;
    for f in common::nca_files("crl") {
        let der = std::fs::read(&f).expect("read");
        assert!(Crl::parse(&der).is_ok(), "{}", f.display());
        for len in 0..der.len() {
            let e = Crl::parse(der.get(..len).expect("prefix")).expect_err("truncated");
            assert!(!e.code().is_empty() && !e.to_string().is_empty());
        }
        for _ in 0..3000 {
            let mut m = der.clone();
            let r = xorshift(&mut seed);
            let pos = usize::try_from(r % u64::try_from(m.len()).expect("len")).expect("pos");
            if let Some(b) = m.get_mut(pos) {
                *b ^= 1 << ((r >> 32) % 8);
            }
            // A flip may land in the signature or a string and still parse: no panic is the bar.
            if let Err(e) = Crl::parse(&m) {
                assert!(!e.code().is_empty());
            }
        }
    }
}

#[test]
fn absurd_lengths_and_counts_are_refused() {
    // A revokedCertificates list claiming 4 GiB.
    let mut v = vec![0x30, 0x84, 0xff, 0xff, 0xff, 0xf0];
    v.extend_from_slice(&[0; 64]);
    assert!(matches!(Crl::parse(&v), Err(CrlError::BadEncoding { .. })));
    // Trailing garbage after a valid CRL.
    let mut der = common::nca_bytes("crl/nca_rsa_test_2022-03-29.crl");
    der.push(0);
    assert!(matches!(
        Crl::parse(&der),
        Err(CrlError::BadEncoding { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Generated with OpenSSL (real peer)
// ---------------------------------------------------------------------------------------------

const CNF: &str = r#"
[ req ]
distinguished_name = dn
prompt = no
[ dn ]
CN = unused
[ v3_ca ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ v3_ca_nocrlsign ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign
subjectKeyIdentifier = hash
[ v3_leaf ]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
authorityKeyIdentifier = keyid
[ ca ]
default_ca = myca
[ myca ]
database = index.txt
crlnumber = crlnumber
certificate = CERT
private_key = KEY
default_md = sha256
[ crl_plain ]
authorityKeyIdentifier = keyid
[ crl_delta_base1 ]
authorityKeyIdentifier = keyid
2.5.29.27 = critical,ASN1:INTEGER:1
[ crl_delta_base2 ]
authorityKeyIdentifier = keyid
2.5.29.27 = critical,ASN1:INTEGER:2
[ crl_delta_base5 ]
authorityKeyIdentifier = keyid
2.5.29.27 = critical,ASN1:INTEGER:5
[ crl_unknown_critical ]
authorityKeyIdentifier = keyid
1.3.6.1.4.1.55555.1 = critical,ASN1:NULL
"#;

/// Generated PKI in a unique temp dir (removed on drop).
struct Pki {
    dir: PathBuf,
}

impl Drop for Pki {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const LEAF_SERIAL: &str = "8A01"; // high bit set: DER carries a 0x00 pad, exercises normalisation
const LAST: &str = "20300101000000Z";
const NEXT: &str = "20300201000000Z";

impl Pki {
    #[track_caller]
    fn openssl(&self, args: &[&str]) {
        let out = Command::new("openssl")
            .args(args)
            .current_dir(&self.dir)
            .output()
            .unwrap_or_else(|e| {
                panic!("the `openssl` CLI is required for these tests and could not be run: {e}")
            });
        assert!(
            out.status.success(),
            "openssl {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn new() -> Pki {
        let dir = std::env::temp_dir().join(format!(
            "eds-crl-test-{}-{}",
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or_default()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let pki = Pki { dir };
        std::fs::write(pki.path("openssl.cnf"), CNF).expect("cnf");
        let ca_subj = "/CN=Test CRL CA/O=eds-gateway tests";
        pki.openssl(&[
            "req",
            "-x509",
            "-config",
            "openssl.cnf",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-subj",
            ca_subj,
            "-days",
            "7300",
            "-extensions",
            "v3_ca",
        ]);
        // Same name and key, but keyUsage without cRLSign.
        pki.openssl(&[
            "req",
            "-x509",
            "-config",
            "openssl.cnf",
            "-new",
            "-key",
            "ca.key",
            "-out",
            "ca_nocrlsign.pem",
            "-subj",
            ca_subj,
            "-days",
            "7300",
            "-extensions",
            "v3_ca_nocrlsign",
        ]);
        // Another CA (different name and key) that lists the same serial.
        pki.openssl(&[
            "req",
            "-x509",
            "-config",
            "openssl.cnf",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "other.key",
            "-out",
            "other.pem",
            "-subj",
            "/CN=Other CA",
            "-days",
            "7300",
            "-extensions",
            "v3_ca",
        ]);
        pki.openssl(&[
            "req",
            "-new",
            "-config",
            "openssl.cnf",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "leaf.key",
            "-out",
            "leaf.csr",
            "-subj",
            "/CN=Test Leaf",
        ]);
        pki.openssl(&[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            &format!("0x{LEAF_SERIAL}"),
            "-days",
            "3650",
            "-extfile",
            "openssl.cnf",
            "-extensions",
            "v3_leaf",
            "-out",
            "leaf.pem",
        ]);
        pki
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    fn cert(&self, name: &str) -> Certificate {
        Certificate::parse(&std::fs::read(self.path(name)).expect("read")).expect("cert")
    }

    /// `openssl ca -gencrl` with the given index entries (`(serial, "revdate[,reason]")`).
    fn crl(
        &self,
        ca: &str,
        number: u32,
        exts: &str,
        revoked: &[(&str, &str)],
        times: (&str, &str),
    ) -> Crl {
        let mut index = String::new();
        for (serial, rev) in revoked {
            index.push_str(&format!(
                "R\t491231000000Z\t{rev}\t{serial}\tunknown\t/CN=Test Leaf\n"
            ));
        }
        std::fs::write(self.path("index.txt"), index).expect("index");
        std::fs::write(self.path("crlnumber"), format!("{number:02X}\n")).expect("crlnumber");
        let cnf = CNF
            .replace("CERT", &format!("{ca}.pem"))
            .replace("KEY", &format!("{ca}.key"));
        std::fs::write(self.path("ca.cnf"), cnf).expect("cnf");
        let out = format!("crl-{ca}-{number}-{exts}.pem");
        self.openssl(&[
            "ca",
            "-gencrl",
            "-config",
            "ca.cnf",
            "-crlexts",
            exts,
            "-crl_lastupdate",
            times.0,
            "-crl_nextupdate",
            times.1,
            "-out",
            &out,
        ]);
        Crl::parse(&std::fs::read(self.path(&out)).expect("read")).expect("openssl CRL parses")
    }

    fn plain(&self, number: u32, revoked: &[(&str, &str)]) -> Crl {
        self.crl("ca", number, "crl_plain", revoked, (LAST, NEXT))
    }
}

fn at_mid() -> UnixTime {
    common::at("2030-01-15T00:00:00Z")
}

#[track_caller]
fn status(pki: &Pki, issuer: &str, crls: &[Crl], at: UnixTime) -> Result<CrlStatus, CrlError> {
    crl::check(
        &pki.cert("leaf.pem"),
        &pki.cert(issuer),
        crls,
        at,
        &policy(),
    )
}

#[track_caller]
fn assert_good(r: Result<CrlStatus, CrlError>, number: u64) {
    match r {
        Ok(CrlStatus::Good { crl_number, .. }) => assert_eq!(crl_number, n(number)),
        other => panic!("expected Good from CRL #{number}, got {other:?}"),
    }
}

#[track_caller]
fn assert_revoked(r: Result<CrlStatus, CrlError>, number: u64, reason: RevocationReason) {
    match r {
        Ok(CrlStatus::Revoked {
            crl_number,
            reason: got,
            date,
        }) => {
            assert_eq!((crl_number, got), (n(number), Some(reason)));
            assert_eq!(date, common::at("2029-12-20T00:00:00Z"));
        }
        other => panic!("expected Revoked({reason}) from CRL #{number}, got {other:?}"),
    }
}

const REV: &str = "291220000000Z";

#[test]
fn openssl_generated_crls_give_exact_outcomes() {
    let pki = Pki::new();
    let hold = format!("{REV},certificateHold");
    let key_compromise = format!("{REV},keyCompromise");
    let remove = format!("{REV},removeFromCRL");

    let empty1 = pki.plain(1, &[]);
    let held2 = pki.plain(2, &[(LEAF_SERIAL, &hold)]);
    let empty4 = pki.plain(4, &[]);
    let compromised3 = pki.plain(3, &[(LEAF_SERIAL, &key_compromise)]);
    assert_eq!(held2.entries().len(), 1);
    assert_eq!(held2.entries()[0].serial, vec![0x8a, 0x01]);

    // not listed -> Good, with the CRL's window
    assert_eq!(
        status(&pki, "ca.pem", std::slice::from_ref(&empty1), at_mid()),
        Ok(CrlStatus::Good {
            crl_number: n(1),
            this_update: common::at("2030-01-01T00:00:00Z"),
            next_update: common::at("2030-02-01T00:00:00Z"),
        })
    );
    // listed on hold -> Revoked(certificateHold)
    assert_revoked(
        status(&pki, "ca.pem", std::slice::from_ref(&held2), at_mid()),
        2,
        RevocationReason::CertificateHold,
    );
    // a hold that is gone from a newer complete CRL is lifted
    assert_good(
        status(&pki, "ca.pem", &[held2.clone(), empty4.clone()], at_mid()),
        4,
    );
    // a permanent revocation is not undone by a newer CRL that forgot it
    assert_revoked(
        status(
            &pki,
            "ca.pem",
            &[compromised3.clone(), empty4.clone()],
            at_mid(),
        ),
        3,
        RevocationReason::KeyCompromise,
    );

    // delta CRLs
    let delta_unhold = pki.crl(
        "ca",
        3,
        "crl_delta_base2",
        &[(LEAF_SERIAL, &remove)],
        (LAST, NEXT),
    );
    assert_eq!(delta_unhold.base_crl_number, Some(n(2)));
    assert_eq!(
        delta_unhold.entries()[0].reason,
        Some(RevocationReason::RemoveFromCrl)
    );
    assert_good(
        status(
            &pki,
            "ca.pem",
            &[held2.clone(), delta_unhold.clone()],
            at_mid(),
        ),
        3,
    );
    let delta_revoke = pki.crl(
        "ca",
        3,
        "crl_delta_base1",
        &[(LEAF_SERIAL, &key_compromise)],
        (LAST, NEXT),
    );
    assert_revoked(
        status(
            &pki,
            "ca.pem",
            &[empty1.clone(), delta_revoke.clone()],
            at_mid(),
        ),
        3,
        RevocationReason::KeyCompromise,
    );
    assert_eq!(
        status(
            &pki,
            "ca.pem",
            std::slice::from_ref(&delta_unhold),
            at_mid()
        ),
        Err(CrlError::DeltaWithoutBase {
            delta_crl_number: Some(n(3)),
            base_crl_number: n(2),
        })
    );
    let delta_base5 = pki.crl("ca", 6, "crl_delta_base5", &[], (LAST, NEXT));
    assert_eq!(
        status(&pki, "ca.pem", &[held2.clone(), delta_base5], at_mid()),
        Err(CrlError::DeltaWithoutBase {
            delta_crl_number: Some(n(6)),
            base_crl_number: n(5),
        })
    );
    // removeFromCRL is only for deltas
    let complete_with_remove = pki.plain(7, &[(LEAF_SERIAL, &remove)]);
    assert_eq!(
        status(&pki, "ca.pem", &[complete_with_remove], at_mid()),
        Err(CrlError::RemoveFromCrlInCompleteCrl {
            crl_number: Some(n(7)),
        })
    );

    // time window
    assert_eq!(
        status(
            &pki,
            "ca.pem",
            std::slice::from_ref(&empty1),
            common::at("2030-03-01T00:00:00Z")
        ),
        Err(CrlError::Stale {
            crl_number: Some(n(1)),
            next_update: common::at("2030-02-01T00:00:00Z"),
            at: common::at("2030-03-01T00:00:00Z"),
        })
    );
    assert_eq!(
        status(
            &pki,
            "ca.pem",
            std::slice::from_ref(&empty1),
            common::at("2029-12-31T00:00:00Z")
        ),
        Err(CrlError::NotYetValid {
            crl_number: Some(n(1)),
            this_update: common::at("2030-01-01T00:00:00Z"),
            at: common::at("2029-12-31T00:00:00Z"),
        })
    );
    // a stale CRL next to a fresh one is still an error: never skipped silently
    let old = pki.crl(
        "ca",
        1,
        "crl_plain",
        &[],
        ("20291101000000Z", "20291201000000Z"),
    );
    assert!(matches!(
        status(&pki, "ca.pem", &[old, empty4.clone()], at_mid()),
        Err(CrlError::Stale { .. })
    ));

    // forged: one bit of the signature flipped
    let mut der = empty1.der().to_vec();
    if let Some(last) = der.last_mut() {
        *last ^= 0x01;
    }
    let forged = Crl::from_der(der).expect("still parses");
    assert_eq!(
        status(&pki, "ca.pem", &[forged], at_mid()),
        Err(CrlError::BadSignature {
            crl_number: Some(n(1)),
        })
    );

    // issuer whose keyUsage lacks cRLSign
    assert!(matches!(
        status(
            &pki,
            "ca_nocrlsign.pem",
            std::slice::from_ref(&empty1),
            at_mid()
        ),
        Err(CrlError::MissingCrlSign { .. })
    ));

    // unknown critical CRL extension
    let unknown = pki.crl("ca", 8, "crl_unknown_critical", &[], (LAST, NEXT));
    assert_eq!(
        status(&pki, "ca.pem", &[unknown], at_mid()),
        Err(CrlError::UnhandledCriticalExtension {
            oid: "1.3.6.1.4.1.55555.1".parse().expect("oid"),
        })
    );

    // another CA listing the same serial: ignored
    let other = pki.crl(
        "other",
        1,
        "crl_plain",
        &[(LEAF_SERIAL, &key_compromise)],
        (LAST, NEXT),
    );
    assert!(other.find(&[0x8a, 0x01]).is_some());
    assert_eq!(
        status(&pki, "ca.pem", std::slice::from_ref(&other), at_mid()),
        Ok(CrlStatus::NoApplicableCrl)
    );
    assert_good(
        status(&pki, "ca.pem", &[other, empty1.clone()], at_mid()),
        1,
    );

    // OpenSSL agrees on the plain cases.
    std::fs::write(pki.path("held.pem"), pem_crl(&held2)).expect("write");
    let out = Command::new("openssl")
        .args([
            "verify",
            "-crl_check",
            "-no_check_time",
            "-CAfile",
            "ca.pem",
            "-CRLfile",
        ])
        .arg("held.pem")
        .arg("leaf.pem")
        .current_dir(&pki.dir)
        .output()
        .expect("openssl");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("revoked"), "openssl says: {text}");
}

fn pem_crl(c: &Crl) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(c.der());
    let mut s = String::from("-----BEGIN X509 CRL-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        s.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        s.push('\n');
    }
    s.push_str("-----END X509 CRL-----\n");
    s
}

// ---------------------------------------------------------------------------------------------
// Conformance: x509-limbo crl::* and BSI CRL_* (../shared/conformance)
// ---------------------------------------------------------------------------------------------

fn conformance_dir() -> PathBuf {
    common::shared_dir().join("conformance")
}

fn load_cert(dir: &Path, rel: &str) -> Certificate {
    let p = dir.join(rel);
    Certificate::parse(&std::fs::read(&p).expect("read cert"))
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// Our module's verdict for a case: the outcome of each (cert, issuer) link checked, as a code.
fn run_case(case: &serde_json::Value) -> (bool, Vec<String>) {
    let dir = conformance_dir();
    let strs = |k: &str| -> Vec<String> {
        case[k]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };
    let anchors: Vec<Certificate> = strs("trust_anchors")
        .iter()
        .map(|p| load_cert(&dir, p))
        .collect();
    let inters: Vec<Certificate> = strs("intermediates")
        .iter()
        .map(|p| load_cert(&dir, p))
        .collect();
    let leaf = load_cert(&dir, case["leaf"].as_str().expect("leaf"));
    let at = UnixTime::parse_rfc3339(case["validation_time"].as_str().expect("time")).expect("t");
    let require_status = case["revocation"]["require_status"]
        .as_bool()
        .unwrap_or(false);
    let mut outcomes = Vec::new();
    let mut crls = Vec::new();
    for p in strs("crls") {
        match Crl::parse(&std::fs::read(dir.join(&p)).expect("read crl")) {
            Ok(c) => crls.push(c),
            Err(e) => outcomes.push(format!("parse:{}", e.code())),
        }
    }
    // Walk leaf -> issuer -> ... by name (path building is path.rs's job; these chains are short).
    let mut cur = leaf;
    for _ in 0..4 {
        let Some(issuer) = inters
            .iter()
            .chain(anchors.iter())
            .find(|c| c.subject.matches(&cur.issuer) && c.der() != cur.der())
            .cloned()
        else {
            break;
        };
        let out = match crl::check(&cur, &issuer, &crls, at, &SignaturePolicy::default()) {
            Ok(CrlStatus::Good { .. }) => "good".to_string(),
            Ok(CrlStatus::Revoked { .. }) => "revoked".to_string(),
            Ok(CrlStatus::NoApplicableCrl) => "none".to_string(),
            Ok(other) => format!("{other:?}"),
            Err(e) => e.code().to_string(),
        };
        outcomes.push(out);
        if anchors.iter().any(|a| a.der() == issuer.der()) {
            break;
        }
        cur = issuer;
    }
    let accept = outcomes
        .iter()
        .all(|o| o == "good" || (o == "none" && !require_status));
    (accept, outcomes)
}

#[test]
fn limbo_and_bsi_crl_cases_get_the_expected_verdict_and_reason() {
    let text = std::fs::read_to_string(conformance_dir().join("cases.jsonl")).expect("cases");
    let mut ran = 0;
    let mut failures = Vec::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: serde_json::Value = serde_json::from_str(line).expect("json");
        let id = case["id"].as_str().unwrap_or_default().to_string();
        let is_crl_case = id.starts_with("crl::") || id.starts_with("bsi::CRL_");
        if !is_crl_case {
            continue;
        }
        ran += 1;
        let (accept, outcomes) = run_case(&case);
        let expected_accept = case["expected"] == "accept";
        // The reason we must give for the cases the brief names.
        let expected_code = match id.as_str() {
            "crl::crlnumber-missing" => Some("crl_number_missing"),
            "crl::crlnumber-critical" => Some("crl_extension_wrongly_critical"),
            "crl::issuer-missing-crlsign" => Some("crl_issuer_missing_crl_sign"),
            "crl::revoked-certificate-with-crl" => Some("revoked"),
            "bsi::CRL_04" => Some("crl_bad_signature"),
            "bsi::CRL_06" => Some("crl_unhandled_critical_extension"),
            "bsi::CRL_11" => Some("crl_unhandled_critical_entry_extension"),
            "bsi::CRL_08" => Some("crl_not_yet_valid"),
            "bsi::CRL_09" => Some("crl_stale"),
            // CRL signed by another key of the same name (AKI mismatch) / IDP that does not
            // match the certificate's CDP / no CRL for the intermediate: no applicable CRL.
            "bsi::CRL_12" | "bsi::CRL_13" | "bsi::CRL_15" => Some("none"),
            "bsi::CRL_14" => Some("parse:crl_malformed"),
            _ => None,
        };
        let code_ok = expected_code.is_none_or(|c| outcomes.iter().any(|o| o == c));
        println!(
            "{id}: {} {outcomes:?}",
            if accept { "accept" } else { "reject" }
        );
        if accept != expected_accept || !code_ok {
            failures.push(format!(
                "{id}: expected {} ({expected_code:?}), got {outcomes:?}",
                case["expected"]
            ));
        }
    }
    assert_eq!(ran, 24, "limbo crl::* (8) + BSI CRL_01..CRL_16 (16) cases");
    assert!(failures.is_empty(), "{failures:#?}");
}

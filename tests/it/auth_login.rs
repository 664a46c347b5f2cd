//! Signature logins through [`LoginVerifier`] with CMS made by `drill::sign` over issued
//! challenges: NCA's own test keys (GOST-2015 and RSA AUTH, ../shared/fixtures/nca/keys) against
//! NCA's test CAs with pinned times, and the project's test PKI (GOST-512 and RSA) with
//! revocation through a running `eds-gateway pki serve` (OCSP and CRL). Then the bad-input
//! catalogue at this layer, each scenario asserting its exact reason code.

use crate::common;
use crate::online_support;

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use const_oid::ObjectIdentifier;
use eds_gateway::auth::challenge::{accept_taken, new_challenge};
use eds_gateway::auth::login::{LoginVerifier, subject_of};
use eds_gateway::auth::proof::LoginProof;
use eds_gateway::auth::purpose::{LoginProfile, PurposePolicy};
use eds_gateway::auth::refusal::Refusal;
use eds_gateway::auth::staff::{MappingRule, StaffDirectory};
use eds_gateway::auth::trust::{TrustRole, TrustStore};
use eds_gateway::drill::builder::{self, CertSpec};
use eds_gateway::drill::ca::{Ca, InitOptions, IssueRequest, Lock, Profile};
use eds_gateway::drill::der::{self as d, pem};
use eds_gateway::drill::keys::{KeyKind, SigningKey, key_id};
use eds_gateway::drill::sign::{SignOptions, Signer, load_p12, sign_cms};
use eds_gateway::pki::cert::{Certificate, KeyUsage, oids as ext};
use eds_gateway::pki::cms::oids as cms_oids;
use eds_gateway::pki::name::oids as attr;
use eds_gateway::pki::time::UnixTime;
use eds_gateway::revocation::checker::Checker;
use eds_gateway::revocation::crl_store::{CrlStore, CrlStoreConfig};
use eds_gateway::revocation::http::{Http, HttpConfig};
use eds_gateway::revocation::ocsp_client::{OcspClient, OcspConfig};
use eds_gateway::revocation::policy::{Mode, Policy};
use eds_gateway::session::PendingChallenge;

const ORIGIN: &str = "https://mis.example.kz";
const COOKIE: &str = "3f1c0e9d2b7a4c5e8f60718293a4b5c6d7e8f90112233445566778899aabbccd";

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("auth_login_{}_{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("tmp");
    d
}

fn staff(dir: &Path, csv: &str, rules: Vec<MappingRule>) -> Arc<StaffDirectory> {
    let f = dir.join("staff.csv");
    std::fs::write(&f, csv).expect("staff file");
    Arc::new(StaffDirectory::load(&f, rules).expect("staff file loads"))
}

/// Form in which the browser hands over the CMS.
#[derive(Clone, Copy)]
enum Form {
    Der,
    Base64,
    Pem,
    Detached,
}

fn challenge(now: UnixTime) -> PendingChallenge {
    new_challenge(ORIGIN, now, 120, COOKIE, "127.0.0.1").expect("challenge")
}

fn cms_for(signer: &Signer, data: &[u8], at: UnixTime, form: Form) -> Vec<u8> {
    let der = sign_cms(
        &signer.key,
        &signer.certificate,
        data,
        SignOptions {
            detached: matches!(form, Form::Detached),
            signing_time: at,
        },
    )
    .expect("sign");
    match form {
        Form::Der | Form::Detached => der,
        Form::Base64 => base64::engine::general_purpose::STANDARD
            .encode(&der)
            .into_bytes(),
        Form::Pem => pem("CMS", &der).into_bytes(),
    }
}

/// The whole flow at the library level: issue, store, take once, sign, verify.
async fn login(
    v: &LoginVerifier,
    s: &Signer,
    now: UnixTime,
    form: Form,
) -> Result<LoginProof, Refusal> {
    let c = challenge(now);
    let c = accept_taken(Some(c), COOKIE, now)?;
    let cms = cms_for(s, &c.data, now, form);
    v.verify(&c, &cms, now).await
}

#[track_caller]
fn refused(r: Result<LoginProof, Refusal>) -> Refusal {
    match r {
        Ok(p) => panic!("expected a refusal, got a login of {:?}", p.identity()),
        Err(e) => e,
    }
}

fn at(s: &str) -> UnixTime {
    UnixTime::parse_rfc3339(s).expect("time")
}

// ---------------------------------------------------------------------------------------------
// NCA's own test keys.

fn nca_key(rel: &str) -> Signer {
    let password = if rel.starts_with("keys/gost2015-2022/") {
        "Aa123456"
    } else {
        "Qwerty12"
    };
    load_p12(&common::nca_bytes(rel), password).expect("NCA test key opens")
}

fn nca_cert(rel: &str) -> Certificate {
    Certificate::parse(&common::nca_bytes(rel)).expect("NCA test certificate")
}

/// NCA's test CA folder as an operator would configure it: the GOST 2022 root is the anchor; the
/// other three are intermediates.
fn nca_trust() -> Arc<TrustStore> {
    let store = TrustStore::load_dir(&common::nca("ca/test")).expect("NCA test CAs load");
    let roles: Vec<(TrustRole, bool)> = store
        .summary()
        .iter()
        .map(|e| (e.role, e.subject.contains("НЕГІЗГІ")))
        .collect();
    assert_eq!(roles.len(), 4);
    assert_eq!(store.anchors().len(), 1);
    assert!(
        roles
            .iter()
            .all(|(r, root)| (*r == TrustRole::Anchor) == *root)
    );
    Arc::new(store)
}

/// NCA's test CRL of 2026-08-11 (valid to 2027-02-07), served over HTTP on 127.0.0.1.
async fn nca_crl_checker(server: &online_support::Server) -> Arc<Checker> {
    server.file(
        "/nca_gost2022_test.crl",
        common::nca_bytes("crl/nca_gost2022_test_2026-08-11.crl"),
    );
    let store = CrlStore::new(
        http(),
        Arc::new(nca_cert("ca/test/nca_gost2022_test.cer")),
        CrlStoreConfig::new(server.url("/nca_gost2022_test.crl")),
    );
    Arc::new(Checker {
        policy: Policy::new(Mode::Crl),
        ocsp: None,
        crls: vec![Arc::new(store)],
    })
}

fn http() -> Http {
    Http::new(HttpConfig {
        connect_timeout: Duration::from_millis(1000),
        total_timeout: Duration::from_secs(3),
        ..HttpConfig::default()
    })
    .expect("http client")
}

/// Inside the 2026 test keys' validity (2026-05-08..2027-05-08) and the CRL's (2026-08-11..
/// 2027-02-07): pinned, so these tests keep passing after the keys expire.
const NCA_GOST_NOW: &str = "2026-09-01T09:00:00Z";

const NCA_STAFF: &str = "iin,name,roles,enabled,valid_until,bin
123456789011,Тестов Тест Тестович,doctor,yes,,
123456789012,Тесттов Тестт,nurse,yes,,123456789021
";

#[tokio::test]
async fn nca_gost2015_key_logs_in_checked_against_ncas_crl() {
    let server = online_support::Server::start().await;
    let d = tmp("nca_gost");
    let now = at(NCA_GOST_NOW);
    let v = LoginVerifier::new(
        nca_trust(),
        PurposePolicy::nca_default(),
        nca_crl_checker(&server).await,
        staff(&d, NCA_STAFF, vec![]),
    );
    let signer = nca_key("keys/gost2015-2026/individual_valid.p12");
    for form in [Form::Der, Form::Base64, Form::Pem, Form::Detached] {
        let proof = login(&v, &signer, now, form).await.expect("logs in");
        let id = proof.identity();
        assert_eq!(id.iin, "123456789011");
        assert_eq!(id.name, "Тестов Тест Тестович", "name from the staff file");
        assert_eq!(id.roles, vec!["doctor"]);
        assert_eq!(
            id.cert_serial,
            signer.certificate.serial_hex().to_lowercase()
        );
        assert!(
            id.cert_issuer
                .contains("ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (GOST) TEST 2022")
        );
        assert_eq!(
            id.key_id,
            hex::encode(ring::digest::digest(
                &ring::digest::SHA256,
                &signer.certificate.spki_der
            ))
        );
        assert_eq!(id.cert_not_after, signer.certificate.not_after.0);
        assert_eq!(proof.cert_der(), signer.certificate.der());
    }
}

#[tokio::test]
async fn nca_revoked_gost_key_is_refused_by_ncas_crl() {
    let server = online_support::Server::start().await;
    let d = tmp("nca_revoked");
    let v = LoginVerifier::new(
        nca_trust(),
        PurposePolicy::nca_default(),
        nca_crl_checker(&server).await,
        staff(&d, NCA_STAFF, vec![]),
    );
    let signer = nca_key("keys/gost2015-2026/individual_revoked.p12");
    let e = refused(login(&v, &signer, at(NCA_GOST_NOW), Form::Der).await);
    assert_eq!((e.code, e.status), ("cert_revoked", 403), "{e}");
    assert!(e.detail.contains("\"decided_by\":\"crl\""), "{}", e.detail);
    let who = e.subject.expect("subject known");
    assert_eq!(who, subject_of(&signer.certificate));
    assert_eq!(who.iin.as_deref(), Some("123456789011"));
}

#[tokio::test]
async fn nca_legal_entity_head_gets_rule_roles_and_is_bound_to_the_bin() {
    let server = online_support::Server::start().await;
    let d = tmp("nca_head");
    let rules = vec![MappingRule {
        bin: Some("123456789021".into()),
        nca_role: MappingRule::nca_role_from_name("first_head"),
        profile: None,
        grant: vec!["head".into(), "staff".into()],
    }];
    let v = LoginVerifier::new(
        nca_trust(),
        PurposePolicy::nca_default(),
        nca_crl_checker(&server).await,
        staff(
            &d,
            "iin,name,roles,bin\n123456789011,Тестов Тест,doctor,123456789021\n",
            rules,
        ),
    );
    let head = nca_key("keys/gost2015-2026/legal_valid_head.p12");
    let proof = login(&v, &head, at(NCA_GOST_NOW), Form::Der)
        .await
        .expect("head logs in");
    assert_eq!(proof.identity().roles, vec!["doctor", "head", "staff"]);
    assert_eq!(proof.identity().bin.as_deref(), Some("123456789021"));
    assert!(proof.identity().org.is_some());
    // The same person's individual key (no BIN) does not match the BIN-bound record.
    let individual = nca_key("keys/gost2015-2026/individual_valid.p12");
    let e = refused(login(&v, &individual, at(NCA_GOST_NOW), Form::Der).await);
    assert_eq!(e.code, "staff_bin_mismatch", "{e}");
}

#[tokio::test]
async fn nca_gost_key_is_expired_after_may_2027() {
    let d = tmp("nca_expired");
    let v = LoginVerifier::danger_no_revocation(
        nca_trust(),
        PurposePolicy::nca_default(),
        staff(&d, NCA_STAFF, vec![]),
    );
    let signer = nca_key("keys/gost2015-2026/individual_valid.p12");
    let e = refused(login(&v, &signer, at("2027-06-01T09:00:00Z"), Form::Der).await);
    assert_eq!((e.code, e.status), ("cert_expired", 403), "{e}");
    let e = refused(login(&v, &signer, at("2026-05-01T09:00:00Z"), Form::Der).await);
    assert_eq!(e.code, "cert_not_yet_valid", "{e}");
}

/// NCA's RSA test root was never published: the issuing CA "ҰКО 3.0 (RSA TEST)" is pinned as the
/// anchor. No CRL of 2020 exists among the fixtures, so revocation is off here — and the test
/// says so by using the loud constructor.
fn nca_rsa_verifier(d: &Path) -> LoginVerifier {
    let trust =
        TrustStore::from_certificates(vec![nca_cert("ca/test/nca_rsa_test_2019.pem")], vec![])
            .expect("pinned RSA CA");
    LoginVerifier::danger_no_revocation(
        Arc::new(trust),
        PurposePolicy::nca_default(),
        staff(d, NCA_STAFF, vec![]),
    )
}

#[tokio::test]
async fn nca_rsa_auth_key_logs_in_and_rsa_sign_key_is_refused() {
    let d = tmp("nca_rsa");
    let v = nca_rsa_verifier(&d);
    assert!(!v.checks_revocation());
    let now = at("2020-06-01T09:00:00Z");
    let auth = nca_key(
        "keys/rsa-2020/dk_personal_active_AUTH_RSA256_b2c70a9ff7a5dc59de0ccc3c0ddde3437cc1f12d.p12",
    );
    let proof = login(&v, &auth, now, Form::Base64)
        .await
        .expect("RSA AUTH logs in");
    assert_eq!(proof.identity().iin, "123456789011");

    let sign = nca_key(
        "keys/rsa-2020/dk_personal_active_RSA256_11c707bd54cbfcccb3815e39c4eb57b1dc7dfea9.p12",
    );
    let e = refused(login(&v, &sign, now, Form::Der).await);
    assert_eq!((e.code, e.status), ("cert_purpose_not_allowed", 403), "{e}");
    assert!(
        e.detail.contains("rsa_sign"),
        "names the profile: {}",
        e.detail
    );
    assert!(e.subject.is_some());

    // Relaxing is possible, and loud.
    let mut relaxed = nca_rsa_verifier(&d);
    relaxed.purpose = PurposePolicy::nca_default().danger_allow_profile(LoginProfile::RsaSign);
    login(&relaxed, &sign, now, Form::Der)
        .await
        .expect("allowed by name");
}

/// What the FCALayer attack tool does: a home-made CA with exactly NCA's names (root and issuing
/// CA), a leaf under it with a real-looking IIN. Trust goes by key, never by name.
#[tokio::test]
async fn chain_to_a_home_made_ca_with_ncas_names_is_refused() {
    let d = tmp("fake_nca");
    let v = LoginVerifier::danger_no_revocation(
        nca_trust(),
        PurposePolicy::nca_default(),
        staff(&d, NCA_STAFF, vec![]),
    );
    let real_root = nca_cert("ca/test/root_test_gost_2022.cer");
    let real_ca = nca_cert("ca/test/nca_gost2022_test.cer");
    let now = at(NCA_GOST_NOW);
    let new_key = || SigningKey::generate(KeyKind::Gost512).expect("GOST key");
    let (root_key, ca_key, leaf_key) = (new_key(), new_key(), new_key());
    let id_of = |k: &SigningKey| key_id(&k.public_key_bits().expect("bits"));
    let ca_exts = |own: &[u8], parent: &[u8]| {
        vec![
            builder::basic_constraints(true, None),
            builder::key_usage(KeyUsage::KEY_CERT_SIGN | KeyUsage::CRL_SIGN, true),
            builder::subject_key_id(own),
            builder::authority_key_id(parent),
        ]
    };
    let root_der = builder::certificate(
        &CertSpec {
            serial: &[0x11, 0x22],
            issuer: real_root.subject.der(),
            subject: real_root.subject.der(),
            not_before: real_root.not_before,
            not_after: real_root.not_after,
            spki: &root_key.spki_der().expect("spki"),
            extensions: ca_exts(&id_of(&root_key), &id_of(&root_key)),
        },
        &root_key,
    )
    .expect("fake root");
    let ca_der = builder::certificate(
        &CertSpec {
            serial: &[0x33, 0x44],
            issuer: real_root.subject.der(),
            subject: real_ca.subject.der(),
            not_before: real_ca.not_before,
            not_after: real_ca.not_after,
            spki: &ca_key.spki_der().expect("spki"),
            extensions: ca_exts(&id_of(&ca_key), &id_of(&root_key)),
        },
        &root_key,
    )
    .expect("fake CA");
    let leaf_subject = builder::name(&[
        (attr::CN, "ТЕСТОВ ТЕСТ"),
        (attr::SURNAME, "ТЕСТОВ"),
        (attr::SERIAL_NUMBER, "IIN123456789011"),
        (attr::C, "KZ"),
    ]);
    let leaf_der = builder::certificate(
        &CertSpec {
            serial: &[0x55, 0x66],
            issuer: real_ca.subject.der(),
            subject: &leaf_subject,
            not_before: now.plus_seconds(-86400),
            not_after: now.plus_seconds(86400 * 300),
            spki: &leaf_key.spki_der().expect("spki"),
            extensions: vec![
                builder::key_usage(
                    KeyUsage::DIGITAL_SIGNATURE | KeyUsage::NON_REPUDIATION,
                    true,
                ),
                builder::ext_key_usage(
                    &[
                        ext::KP_EMAIL_PROTECTION,
                        ObjectIdentifier::new_unwrap("1.2.398.3.3.4.1.1"),
                    ],
                    false,
                ),
                builder::subject_key_id(&id_of(&leaf_key)),
                builder::authority_key_id(&id_of(&ca_key)),
                builder::policies(&[ObjectIdentifier::new_unwrap("1.2.398.3.3.2")]),
            ],
        },
        &ca_key,
    )
    .expect("fake leaf");
    let leaf = Certificate::parse(&leaf_der).expect("leaf parses");
    let c = challenge(now);
    // The forger ships the whole fake chain inside the CMS.
    let cms = cms_with_certs(&leaf_key, &leaf, &[&ca_der, &root_der], &c.data, now, 1);
    let e = v.verify(&c, &cms, now).await.expect_err("refused");
    // The names match NCA's, but the key identifiers and signatures lead only to the forger's
    // own root, which is not an anchor: no trusted issuer.
    assert_eq!((e.code, e.status), ("unknown_issuer", 403), "{e}");
    assert_eq!(
        e.subject.and_then(|s| s.iin).as_deref(),
        Some("123456789011")
    );
    // Without the fake chain in the CMS: the same.
    let cms = cms_with_certs(&leaf_key, &leaf, &[], &c.data, now, 1);
    let e = v.verify(&c, &cms, now).await.expect_err("refused");
    assert_eq!(e.code, "unknown_issuer", "{e}");
    // Control: the forged chain is otherwise well made — trusting the forger's root (which no
    // operator does) would let it in. So the refusals above are about trust, not a broken chain.
    let fooled = LoginVerifier::danger_no_revocation(
        Arc::new(
            TrustStore::from_certificates(
                vec![Certificate::parse(&root_der).expect("fake root")],
                vec![Certificate::parse(&ca_der).expect("fake CA")],
            )
            .expect("store"),
        ),
        PurposePolicy::nca_default(),
        staff(&d, NCA_STAFF, vec![]),
    );
    fooled
        .verify(&c, &cms, now)
        .await
        .expect("accepted only when the fake root is trusted");
}

/// `sign_cms` with extra certificates in `certificates` and `signers` copies of the SignerInfo
/// (the forger's and the multi-signer cases).
fn cms_with_certs(
    key: &SigningKey,
    cert: &Certificate,
    extra: &[&[u8]],
    data: &[u8],
    at: UnixTime,
    signers: usize,
) -> Vec<u8> {
    let attr = |o, value: Vec<u8>| d::seq(&[d::oid(&o), d::set(&[value])]);
    let attrs = [
        attr(cms_oids::CONTENT_TYPE, d::oid(&cms_oids::ID_DATA)),
        attr(cms_oids::SIGNING_TIME, d::utc_time(at)),
        attr(cms_oids::MESSAGE_DIGEST, d::octets(&key.digest(data))),
    ]
    .concat();
    let signature = key.sign(&d::tlv(0x31, &attrs)).expect("sign");
    let si = d::seq(&[
        d::int(1),
        d::seq(&[cert.issuer.der().to_vec(), d::tlv(0x02, &cert.serial)]),
        key.digest_alg_id(),
        d::tlv(0xa0, &attrs),
        key.signature_alg_id(),
        d::octets(&signature),
    ]);
    let mut certs = cert.der().to_vec();
    for e in extra {
        certs.extend_from_slice(e);
    }
    let sd = d::seq(&[
        d::int(1),
        d::set(&[key.digest_alg_id()]),
        d::seq(&[d::oid(&cms_oids::ID_DATA), d::explicit(0, &d::octets(data))]),
        d::tlv(0xa0, &certs),
        d::set(&vec![si; signers]),
    ]);
    d::seq(&[d::oid(&cms_oids::ID_SIGNED_DATA), d::explicit(0, &sd)])
}

// ---------------------------------------------------------------------------------------------
// The project's own test PKI, with a running responder.

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

struct OwnPki {
    dir: PathBuf,
    ca: Ca,
    base: String,
    _serve: Serve,
}

const OWN_STAFF: &str = "iin,name,roles,enabled,valid_until,bin
900101300012,Ахметов Ерлан,doctor,yes,,
900101300013,Сейткали Дана,nurse,no,,
900101300014,Омаров Нурлан,nurse,yes,2020-01-31,
900101300015,Жумабаева Алия,nurse,yes,,999999999999
900101300016,Ким Ольга,admin,yes,,
900101300017,Оспанов Бахыт,doctor,yes,,
900101300018,Ли Мария,nurse,yes,,
900101300019,Абенов Арман,nurse,yes,,
900101300020,Садыкова Айгерим,nurse,yes,,
900101300021,Нуров Тимур,nurse,yes,,
";

impl OwnPki {
    fn new(name: &str, kind: KeyKind) -> OwnPki {
        let dir = tmp(name).join("ca");
        let ca = Ca::init(
            &dir,
            &InitOptions {
                algorithm: kind,
                base_url: "http://127.0.0.1:9".into(),
                crl_lifetime_secs: 86400,
                delta_lifetime_secs: 3600,
            },
        )
        .expect("pki init");
        let mut child = Command::new(env!("CARGO_BIN_EXE_eds-gateway"))
            .args(["pki", "serve"])
            .arg(&dir)
            .args(["--listen", "127.0.0.1:0"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn pki serve");
        let stdout = child.stdout.take().expect("stdout");
        let serve = Serve(child);
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).expect("read");
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_string();
        OwnPki {
            dir,
            ca,
            base,
            _serve: serve,
        }
    }

    fn issue(
        &mut self,
        iin: &str,
        profile: Profile,
        bin: Option<&str>,
        not_before: UnixTime,
        days: i64,
    ) -> Signer {
        let _lock = Lock::take(&self.dir).expect("lock");
        let legal = bin.is_some();
        let issued = self
            .ca
            .issue(&IssueRequest {
                iin: iin.into(),
                surname: "ТЕСТОВ".into(),
                given_name: "ТЕСТ".into(),
                patronymic: None,
                bin: bin.map(str::to_string),
                org: legal.then(|| "ТОО «БОЛЬНИЦА»".to_string()),
                role: if legal { "employee" } else { "individual" }.into(),
                profile,
                not_before,
                days,
            })
            .expect("pki issue");
        Signer {
            key: issued.key,
            certificate: Certificate::parse(&issued.cert_der).expect("issued cert"),
        }
    }

    fn revoke(&mut self, s: &Signer) {
        let _lock = Lock::take(&self.dir).expect("lock");
        self.ca
            .revoke(
                &s.certificate.serial_hex(),
                1,
                eds_gateway::clock::now().plus_seconds(-5),
            )
            .expect("pki revoke");
    }

    /// Drops the certificate from the CA's records: its responder then answers "unknown".
    fn forget(&mut self, s: &Signer) {
        let _lock = Lock::take(&self.dir).expect("lock");
        let serial = s.certificate.serial_hex();
        self.ca.state.issued.retain(|i| i.serial != serial);
        self.ca.save().expect("save");
    }

    /// The operator's `certs/` folder: root.pem and chain.pem (CA + root again: the duplicate
    /// root is dropped).
    fn trust(&self) -> Arc<TrustStore> {
        let certs = self.dir.parent().expect("parent").join("certs");
        std::fs::create_dir_all(&certs).expect("certs dir");
        std::fs::copy(self.dir.join("root.pem"), certs.join("root.pem")).expect("copy");
        std::fs::copy(self.dir.join("chain.pem"), certs.join("chain.pem")).expect("copy");
        std::fs::write(certs.join("README.md"), "not a certificate, skipped").expect("readme");
        let store = TrustStore::load_dir(&certs).expect("trust store");
        assert_eq!(store.summary().len(), 2, "{:?}", store.summary());
        assert_eq!(store.anchors().len(), 1);
        assert_eq!(store.intermediates().len(), 1);
        Arc::new(store)
    }

    fn checker(&self, mode: Mode) -> Arc<Checker> {
        let ocsp = OcspClient::new(
            http(),
            OcspConfig {
                url_override: Some(format!("{}/ocsp", self.base)),
                retries: 0,
                ..OcspConfig::default()
            },
        );
        let mut cfg = CrlStoreConfig::new(format!("{}/crl/ca.crl", self.base));
        cfg.delta_url = Some(format!("{}/crl/ca_delta.crl", self.base));
        cfg.retry_after = Duration::from_secs(0);
        let store = CrlStore::new(http(), Arc::new(self.ca.ca.clone()), cfg);
        Arc::new(Checker {
            policy: Policy::new(mode),
            ocsp: Some(Arc::new(ocsp)),
            crls: vec![Arc::new(store)],
        })
    }

    fn verifier(&self, mode: Mode) -> LoginVerifier {
        let d = self.dir.parent().expect("parent").to_path_buf();
        LoginVerifier::new(
            self.trust(),
            PurposePolicy::nca_default(),
            self.checker(mode),
            staff(&d, OWN_STAFF, vec![]),
        )
    }
}

fn recent() -> UnixTime {
    eds_gateway::clock::now().plus_seconds(-60)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_gost_pki_logins_with_ocsp_and_crl_through_the_responder() {
    let mut pki = OwnPki::new("own_gost", KeyKind::Gost512);
    let good = pki.issue("900101300012", Profile::Gost2015, None, recent(), 30);
    let crl_revoked = pki.issue("900101300017", Profile::Gost2015, None, recent(), 30);
    let ocsp_revoked = pki.issue("900101300018", Profile::Gost2015, None, recent(), 30);
    let unknown = pki.issue("900101300019", Profile::Gost2015, None, recent(), 30);
    let expired = pki.issue(
        "900101300020",
        Profile::Gost2015,
        None,
        recent().plus_seconds(-86400 * 10),
        1,
    );
    let future = pki.issue(
        "900101300021",
        Profile::Gost2015,
        None,
        recent().plus_seconds(86400 * 2),
        30,
    );
    pki.revoke(&crl_revoked);
    pki.revoke(&ocsp_revoked);
    pki.forget(&unknown);
    let now = eds_gateway::clock::now();

    // Both sources must say good (crl-and-ocsp).
    let both = pki.verifier(Mode::CrlAndOcsp);
    let proof = login(&both, &good, now, Form::Pem)
        .await
        .expect("good logs in");
    assert_eq!(proof.identity().name, "Ахметов Ерлан");
    assert_eq!(proof.identity().roles, vec!["doctor"]);

    // Revoked, seen by the CRL alone.
    let crl = pki.verifier(Mode::Crl);
    let e = refused(login(&crl, &crl_revoked, now, Form::Der).await);
    assert_eq!((e.code, e.status), ("cert_revoked", 403), "{e}");
    assert!(e.detail.contains("\"decided_by\":\"crl\""), "{}", e.detail);
    assert_eq!(e.subject.expect("who").iin.as_deref(), Some("900101300017"));
    login(&crl, &good, now, Form::Der)
        .await
        .expect("good by CRL");

    // Revoked, seen by OCSP alone.
    let ocsp = pki.verifier(Mode::Ocsp);
    let e = refused(login(&ocsp, &ocsp_revoked, now, Form::Der).await);
    assert_eq!(e.code, "cert_revoked", "{e}");
    assert!(e.detail.contains("\"decided_by\":\"ocsp\""), "{}", e.detail);

    // OCSP "unknown" refuses (deny by default).
    let e = refused(login(&ocsp, &unknown, now, Form::Der).await);
    assert_eq!(
        (e.code, e.status),
        ("revocation_status_unknown", 403),
        "{e}"
    );

    // Validity is judged before revocation.
    let e = refused(login(&both, &expired, now, Form::Der).await);
    assert_eq!(e.code, "cert_expired", "{e}");
    let e = refused(login(&both, &future, now, Form::Der).await);
    assert_eq!(e.code, "cert_not_yet_valid", "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_gost_pki_staff_directory_refusals() {
    let mut pki = OwnPki::new("own_staff", KeyKind::Gost512);
    let v = pki.verifier(Mode::OcspThenCrl);
    let now = eds_gateway::clock::now();
    let cases = [
        ("900101300099", None, "staff_unknown"),
        ("900101300013", None, "staff_disabled"),
        ("900101300014", None, "staff_expired"),
        ("900101300015", Some("123456789021"), "staff_bin_mismatch"),
    ];
    for (iin, bin, code) in cases {
        let s = pki.issue(iin, Profile::Gost2015, bin, recent(), 30);
        let e = refused(login(&v, &s, now, Form::Der).await);
        assert_eq!((e.code, e.status), (code, 403), "{iin}: {e}");
        let who = e.subject.expect("subject");
        assert_eq!(who.iin.as_deref(), Some(iin));
        assert_eq!(who.serial, s.certificate.serial_hex().to_lowercase());
    }
    // The block-list hook (issue 8) sees the final identity.
    let admin = pki.issue("900101300016", Profile::Gost2015, None, recent(), 30);
    let blocked_key = hex::encode(ring::digest::digest(
        &ring::digest::SHA256,
        &admin.certificate.spki_der,
    ));
    let v = pki
        .verifier(Mode::Ocsp)
        .with_block_hook(Arc::new(move |id| {
            (id.key_id == blocked_key).then(|| "key on the local block list".to_string())
        }));
    let e = refused(login(&v, &admin, now, Form::Der).await);
    assert_eq!(
        (e.code, e.detail.as_str()),
        ("key_blocked", "key on the local block list")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn own_rsa_pki_auth_key_logs_in_and_sign_key_is_refused() {
    let mut pki = OwnPki::new("own_rsa", KeyKind::Rsa2048);
    let auth = pki.issue("900101300012", Profile::RsaAuth, None, recent(), 30);
    let sign = pki.issue("900101300016", Profile::RsaSign, None, recent(), 30);
    let v = pki.verifier(Mode::CrlAndOcsp);
    let now = eds_gateway::clock::now();
    let proof = login(&v, &auth, now, Form::Base64)
        .await
        .expect("RSA AUTH logs in");
    assert_eq!(proof.identity().iin, "900101300012");
    login(&v, &auth, now, Form::Detached)
        .await
        .expect("detached too");
    let e = refused(login(&v, &sign, now, Form::Der).await);
    assert_eq!(e.code, "cert_purpose_not_allowed", "{e}");
    assert!(e.detail.contains("rsa_sign"), "{}", e.detail);
}

// ---------------------------------------------------------------------------------------------
// The bad-input catalogue (challenge and CMS layer), on NCA's GOST key at a pinned time.

fn catalogue_verifier(d: &Path) -> LoginVerifier {
    LoginVerifier::danger_no_revocation(
        nca_trust(),
        PurposePolicy::nca_default(),
        staff(d, NCA_STAFF, vec![]),
    )
}

#[tokio::test]
async fn replayed_challenge_is_refused() {
    let d = tmp("replay");
    let v = catalogue_verifier(&d);
    let now = at(NCA_GOST_NOW);
    let signer = nca_key("keys/gost2015-2026/individual_valid.p12");
    // A store whose take is a remove: the second take of the same id finds nothing.
    let mut store: HashMap<String, PendingChallenge> = HashMap::new();
    let c = challenge(now);
    store.insert(c.id.clone(), c.clone());
    let cms = cms_for(&signer, &c.data, now, Form::Der);
    let first = accept_taken(store.remove(&c.id), COOKIE, now).expect("first use");
    v.verify(&first, &cms, now).await.expect("first login");
    let e = accept_taken(store.remove(&c.id), COOKIE, now).expect_err("replay");
    assert_eq!((e.code, e.status), ("challenge_unknown", 400));
}

#[tokio::test]
async fn expired_challenge_and_challenge_from_another_browser_are_refused() {
    let now = at(NCA_GOST_NOW);
    let c = challenge(now);
    let e = accept_taken(Some(c.clone()), COOKIE, now.plus_seconds(121)).expect_err("expired");
    assert_eq!((e.code, e.status), ("challenge_expired", 401));
    let other = "0".repeat(64);
    let e = accept_taken(Some(c), &other, now).expect_err("other browser");
    assert_eq!((e.code, e.status), ("challenge_wrong_browser", 400));
}

#[tokio::test]
async fn cms_over_other_data_is_refused() {
    let d = tmp("other_data");
    let v = catalogue_verifier(&d);
    let now = at(NCA_GOST_NOW);
    let signer = nca_key("keys/gost2015-2026/individual_valid.p12");
    let c = challenge(now);
    let older = challenge(now);
    for form in [Form::Der, Form::Detached] {
        let cms = cms_for(&signer, &older.data, now, form);
        let e = v.verify(&c, &cms, now).await.expect_err("other data");
        assert_eq!((e.code, e.status), ("cms_content_mismatch", 400), "{e}");
    }
}

#[tokio::test]
async fn signer_not_matching_the_embedded_certificate_is_refused() {
    let d = tmp("swap");
    let v = catalogue_verifier(&d);
    let now = at(NCA_GOST_NOW);
    let mine = nca_key("keys/gost2015-2026/individual_valid.p12");
    let victim = nca_cert("certs/gost2015-2026/legal_valid_head.pem");
    let c = challenge(now);
    // My key's signature, the victim's certificate in the CMS (and in the SignerIdentifier).
    let cms = sign_cms(
        &mine.key,
        &victim,
        &c.data,
        SignOptions {
            detached: false,
            signing_time: now,
        },
    )
    .expect("sign");
    let e = v.verify(&c, &cms, now).await.expect_err("swapped");
    assert_eq!((e.code, e.status), ("cms_signature_invalid", 401), "{e}");
    assert_eq!(e.subject, Some(subject_of(&victim)));
    // A CMS whose SignerIdentifier names a certificate it does not carry.
    let mut cms = cms_for(&mine, &c.data, now, Form::Der);
    let serial = &mine.certificate.serial;
    let pos = cms
        .windows(serial.len())
        .rposition(|w| w == serial.as_slice())
        .expect("sid serial");
    cms[pos + serial.len() - 1] ^= 0x01;
    let e = v.verify(&c, &cms, now).await.expect_err("no such signer");
    assert_eq!(e.code, "cms_signer_certificate_not_found", "{e}");
}

#[tokio::test]
async fn several_signers_and_signing_time_skew_are_refused() {
    let d = tmp("several");
    let v = catalogue_verifier(&d);
    let now = at(NCA_GOST_NOW);
    let s = nca_key("keys/gost2015-2026/individual_valid.p12");
    let c = challenge(now);
    let cms = cms_with_certs(&s.key, &s.certificate, &[], &c.data, now, 2);
    let e = v.verify(&c, &cms, now).await.expect_err("two signers");
    assert_eq!(e.code, "cms_several_signers", "{e}");
    let cms = cms_with_certs(
        &s.key,
        &s.certificate,
        &[],
        &c.data,
        now.plus_seconds(-3600),
        1,
    );
    let e = v.verify(&c, &cms, now).await.expect_err("skew");
    assert_eq!((e.code, e.status), ("cms_signing_time_skew", 401), "{e}");
    assert!(e.subject.is_some());
    let cms = cms_with_certs(
        &s.key,
        &s.certificate,
        &[],
        &c.data,
        now.plus_seconds(-290),
        1,
    );
    v.verify(&c, &cms, now).await.expect("within 300 s");
}

#[tokio::test]
async fn malformed_base64_pem_and_der_are_refused() {
    let d = tmp("malformed");
    let v = catalogue_verifier(&d);
    let now = at(NCA_GOST_NOW);
    let s = nca_key("keys/gost2015-2026/individual_valid.p12");
    let c = challenge(now);
    let der = cms_for(&s, &c.data, now, Form::Der);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&der);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", Vec::new(), "cms_bad_encoding"),
        (
            "not base64",
            b"this is not base64!".to_vec(),
            "cms_bad_encoding",
        ),
        (
            "base64 cut mid-way",
            b64.as_bytes()[..b64.len() / 2 + 1].to_vec(),
            "cms_bad_encoding",
        ),
        (
            "PEM without footer",
            format!("-----BEGIN CMS-----\n{b64}\n").into_bytes(),
            "cms_bad_encoding",
        ),
        (
            "PEM with a certificate label",
            pem("CERTIFICATE", &der).into_bytes(),
            "cms_unexpected_pem_label",
        ),
        (
            "DER cut short",
            der[..der.len() - 10].to_vec(),
            "cms_malformed",
        ),
        (
            "a certificate instead of a CMS",
            s.certificate.der().to_vec(),
            "cms_too_many",
        ),
        ("one byte", vec![0x30], "cms_malformed"),
    ];
    for (name, input, code) in cases {
        let e = v.verify(&c, &input, now).await.expect_err(name);
        assert_eq!((e.code, e.status), (code, 400), "{name}: {e}");
        assert_eq!(e.subject, None, "{name}");
        assert!(
            !e.detail.contains(&b64[..40]),
            "{name}: no raw CMS in detail"
        );
    }
}

#[tokio::test]
async fn oversized_cms_is_refused_before_parsing() {
    let d = tmp("oversized");
    let v = catalogue_verifier(&d);
    let now = at(NCA_GOST_NOW);
    let c = challenge(now);
    for size in [256 * 1024 + 1, 10 * 1024 * 1024] {
        let e = v
            .verify(&c, &vec![b'A'; size], now)
            .await
            .expect_err("too large");
        assert_eq!((e.code, e.status), ("cms_too_large", 413), "{e}");
    }
}

#[tokio::test]
async fn random_garbage_never_panics() {
    let d = tmp("garbage");
    let v = catalogue_verifier(&d);
    let now = at(NCA_GOST_NOW);
    let s = nca_key("keys/gost2015-2026/individual_valid.p12");
    let c = challenge(now);
    let der = cms_for(&s, &c.data, now, Form::Der);
    // Every single-byte corruption of a real CMS is refused with some code (or, where the byte
    // is not covered by anything, still logs in), never a panic.
    let mut refused_count = 0;
    for i in (0..der.len()).step_by(7) {
        let mut bad = der.clone();
        bad[i] ^= 0x5a;
        if v.verify(&c, &bad, now).await.is_err() {
            refused_count += 1;
        }
    }
    assert!(refused_count > der.len() / 7 / 2, "{refused_count}");
}

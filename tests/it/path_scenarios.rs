//! Path validation and revocation scenarios against a PKI generated at test time with the real
//! OpenSSL CLI (tests/pki_gen). One scenario per reason code, pinned at `pki_gen::AT`, asserting
//! the exact reason code; NCA-like profiles (../shared/NCA.md §3.2–3.3) with their identities;
//! a 10,000-certificate pool; and a handful of the same scenarios through the real binary.

use crate::pki_gen;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use const_oid::ObjectIdentifier;
use eds_gateway::pki::cert::{Certificate, KeyUsage};
use eds_gateway::pki::identity::{self, NcaIdentity, NcaProfile, NcaRole};
use eds_gateway::pki::path::{
    EkuRequirement, PathError, ValidatedPath, ValidationOptions, build_and_validate,
};
use eds_gateway::pki::policy::{PolicyError, PolicyOptions};
use eds_gateway::pki::revocation::{
    self, Evidence, RevocationMode, RevocationOptions, Scope, SourceStatus,
};
use eds_gateway::pki::signature::SignatureError;
use eds_gateway::pki::time::UnixTime;
use pki_gen::{AT, Gen, Issue, KeyAlg, NOT_AFTER, NOT_BEFORE, at, load_cert};

// ---------------------------------------------------------------------------------------------
// The scenario PKI
// ---------------------------------------------------------------------------------------------

const CA_EXT: &str = "basicConstraints = critical, CA:TRUE\n\
    keyUsage = critical, keyCertSign, cRLSign, digitalSignature\n\
    subjectKeyIdentifier = hash\n\
    authorityKeyIdentifier = keyid:always\n\
    certificatePolicies = 2.5.29.32.0";

const LEAF_EXT: &str = "basicConstraints = critical, CA:FALSE\n\
    keyUsage = critical, digitalSignature, keyEncipherment\n\
    extendedKeyUsage = clientAuth, emailProtection\n\
    subjectKeyIdentifier = hash\n\
    authorityKeyIdentifier = keyid:always\n\
    certificatePolicies = 1.2.398.3.3.2.4";

const UNKNOWN_CRITICAL: &str = "1.3.6.1.4.1.55555.1 = critical, ASN1:UTF8String:must understand";

/// Expired at AT (notAfter 2029-01-01).
const EXPIRED: (&str, &str) = ("20240101000000Z", "20290101000000Z");
/// Not yet valid at AT (notBefore 2031-01-01).
const FUTURE: (&str, &str) = ("20310101000000Z", "20400101000000Z");
const VALID: (&str, &str) = (NOT_BEFORE, NOT_AFTER);

/// CRL windows around AT.
const CRL_FRESH: (&str, &str) = ("20300601000000Z", "20300701000000Z");
const CRL_STALE: (&str, &str) = ("20300501000000Z", "20300601000000Z");

const ROOT_SUBJ: &str = "/C=KZ/O=EDS Scenario/CN=Scenario Root CA";
const INT_SUBJ: &str = "/C=KZ/O=EDS Scenario/CN=Scenario Issuing CA";
const TWIN_SUBJ: &str = "/C=KZ/O=EDS Scenario/CN=Scenario Twin CA";

struct Pki {
    files: HashMap<String, PathBuf>,
    nonces: HashMap<String, Vec<u8>>,
    iin: String,
}

impl Pki {
    #[track_caller]
    fn path(&self, id: &str) -> &Path {
        self.files
            .get(id)
            .unwrap_or_else(|| panic!("no generated file {id}"))
    }

    #[track_caller]
    fn cert(&self, id: &str) -> Certificate {
        load_cert(self.path(id))
    }

    #[track_caller]
    fn certs(&self, ids: &[&str]) -> Vec<Certificate> {
        ids.iter().map(|id| self.cert(id)).collect()
    }

    #[track_caller]
    fn bytes(&self, id: &str) -> Vec<u8> {
        std::fs::read(self.path(id)).unwrap_or_else(|e| panic!("reading {id}: {e}"))
    }
}

fn pki() -> &'static Pki {
    static PKI: OnceLock<Pki> = OnceLock::new();
    PKI.get_or_init(build)
}

fn build() -> Pki {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    assert!(
        i64::try_from(now).unwrap_or(i64::MAX) < at().0 - 86_400,
        "the real clock is past {AT}: OCSP responses (thisUpdate = now) would be in the future \
         of the pinned validation time; move pki_gen::AT forward"
    );
    let mut g = Gen::new();
    let k_root = g.key("k_root", KeyAlg::Rsa(2048));
    let k_int = g.key("k_int", KeyAlg::Rsa(2048));
    let k_leaf = g.key("k_leaf", KeyAlg::Rsa(2048));
    let k_evil = g.key("k_evil", KeyAlg::Rsa(2048));
    let k_small = g.key("k_rsa1024", KeyAlg::Rsa(1024));
    let k_ec_root = g.key("k_ec_root", KeyAlg::P256);
    let k_ec_int = g.key("k_ec_int", KeyAlg::P256);
    let k_ec_leaf = g.key("k_ec_leaf", KeyAlg::P256);

    macro_rules! issue {
        ($ca:expr, $id:expr, $subj:expr, $key:expr, $ext:expr) => {
            issue!($ca, $id, $subj, $key, $ext, VALID, "sha256")
        };
        ($ca:expr, $id:expr, $subj:expr, $key:expr, $ext:expr, $v:expr) => {
            issue!($ca, $id, $subj, $key, $ext, $v, "sha256")
        };
        ($ca:expr, $id:expr, $subj:expr, $key:expr, $ext:expr, $v:expr, $md:expr) => {
            g.issue(
                $ca,
                &Issue {
                    id: $id,
                    subj: $subj,
                    key: $key,
                    ext: $ext,
                    start: $v.0,
                    end: $v.1,
                    md: $md,
                },
            )
        };
    }
    macro_rules! sub_ca {
        ($ca:expr, $id:expr, $subj:expr, $key:expr, $ext:expr) => {
            sub_ca!($ca, $id, $subj, $key, $ext, VALID)
        };
        ($ca:expr, $id:expr, $subj:expr, $key:expr, $ext:expr, $v:expr) => {
            g.sub_ca(
                $ca,
                &Issue {
                    id: $id,
                    subj: $subj,
                    key: $key,
                    ext: $ext,
                    start: $v.0,
                    end: $v.1,
                    md: "sha256",
                },
            )
        };
    }
    macro_rules! root {
        ($id:expr, $subj:expr, $key:expr, $v:expr) => {
            g.root(&Issue {
                id: $id,
                subj: $subj,
                key: $key,
                ext: CA_EXT,
                start: $v.0,
                end: $v.1,
                md: "sha256",
            })
        };
    }

    // Roots.
    let root = root!("root", ROOT_SUBJ, &k_root, VALID);
    let other_root = root!(
        "other_root",
        "/C=KZ/O=Elsewhere/CN=Unrelated Root CA",
        &k_evil,
        VALID
    );
    let root_expired = root!("root_expired", "/C=KZ/CN=Expired Root CA", &k_root, EXPIRED);
    let root_future = root!("root_future", "/C=KZ/CN=Future Root CA", &k_root, FUTURE);

    // The main RSA chain and its leaves.
    let int = sub_ca!(&root, "int", INT_SUBJ, &k_int, CA_EXT);
    issue!(&int, "leaf_ok", "/C=KZ/CN=Leaf Good", &k_leaf, LEAF_EXT);
    issue!(
        &int,
        "leaf_expired",
        "/C=KZ/CN=Leaf Expired",
        &k_leaf,
        LEAF_EXT,
        EXPIRED
    );
    issue!(
        &int,
        "leaf_future",
        "/C=KZ/CN=Leaf Future",
        &k_leaf,
        LEAF_EXT,
        FUTURE
    );
    let leaf_revoked = issue!(
        &int,
        "leaf_revoked",
        "/C=KZ/CN=Leaf Revoked",
        &k_leaf,
        LEAF_EXT
    );
    let leaf_hold = issue!(
        &int,
        "leaf_hold",
        "/C=KZ/CN=Leaf On Hold",
        &k_leaf,
        LEAF_EXT
    );
    issue!(
        &int,
        "leaf_crit",
        "/C=KZ/CN=Leaf Unknown Critical",
        &k_leaf,
        &format!("{LEAF_EXT}\n{UNKNOWN_CRITICAL}")
    );
    issue!(
        &int,
        "leaf_crit_aki",
        "/C=KZ/CN=Leaf Critical AKI",
        &k_leaf,
        &LEAF_EXT.replace(
            "authorityKeyIdentifier = keyid:always",
            "authorityKeyIdentifier = critical, keyid:always"
        )
    );
    issue!(
        &int,
        "leaf_email_only",
        "/C=KZ/CN=Leaf Email Only",
        &k_leaf,
        &LEAF_EXT.replace("clientAuth, emailProtection", "emailProtection")
    );
    issue!(
        &int,
        "leaf_kcs",
        "/C=KZ/CN=Leaf With keyCertSign",
        &k_leaf,
        &LEAF_EXT.replace(
            "digitalSignature, keyEncipherment",
            "digitalSignature, keyCertSign"
        )
    );
    issue!(
        &int,
        "leaf_sha1",
        "/C=KZ/CN=Leaf SHA1",
        &k_leaf,
        LEAF_EXT,
        VALID,
        "sha1"
    );
    issue!(
        &int,
        "leaf_rsa1024",
        "/C=KZ/CN=Leaf RSA1024",
        &k_small,
        LEAF_EXT
    );
    // A second CA with the main intermediate's exact name but another key; its leaf carries no
    // AKI, so only the signature can tell the two issuers apart.
    let evil = g.sub_ca(
        &other_root,
        &Issue {
            id: "evil_int",
            subj: INT_SUBJ,
            key: &k_evil,
            ext: CA_EXT,
            start: VALID.0,
            end: VALID.1,
            md: "sha256",
        },
    );
    issue!(
        &evil,
        "leaf_forged",
        "/C=KZ/CN=Leaf Forged",
        &k_leaf,
        &LEAF_EXT.replace("keyid:always", "none")
    );

    // Expired / not-yet-valid intermediates.
    let int_expired = sub_ca!(
        &root,
        "int_expired",
        "/C=KZ/CN=Expired Issuing CA",
        &k_int,
        CA_EXT,
        EXPIRED
    );
    issue!(
        &int_expired,
        "leaf_under_expired_int",
        "/C=KZ/CN=Leaf A",
        &k_leaf,
        LEAF_EXT
    );
    let int_future = sub_ca!(
        &root,
        "int_future",
        "/C=KZ/CN=Future Issuing CA",
        &k_int,
        CA_EXT,
        FUTURE
    );
    issue!(
        &int_future,
        "leaf_under_future_int",
        "/C=KZ/CN=Leaf B",
        &k_leaf,
        LEAF_EXT
    );
    issue!(
        &root_expired,
        "leaf_under_expired_root",
        "/C=KZ/CN=Leaf C",
        &k_leaf,
        LEAF_EXT
    );
    issue!(
        &root_future,
        "leaf_under_future_root",
        "/C=KZ/CN=Leaf D",
        &k_leaf,
        LEAF_EXT
    );

    // Broken CA profiles.
    let not_ca = sub_ca!(
        &root,
        "int_not_ca",
        "/C=KZ/CN=Not A CA",
        &k_int,
        "keyUsage = critical, digitalSignature\nsubjectKeyIdentifier = hash\n\
         authorityKeyIdentifier = keyid:always"
    );
    issue!(
        &not_ca,
        "leaf_under_not_ca",
        "/C=KZ/CN=Leaf E",
        &k_leaf,
        LEAF_EXT
    );
    let no_kcs = sub_ca!(
        &root,
        "int_no_kcs",
        "/C=KZ/CN=No keyCertSign CA",
        &k_int,
        &CA_EXT.replace("keyCertSign, cRLSign", "cRLSign")
    );
    issue!(
        &no_kcs,
        "leaf_under_no_kcs",
        "/C=KZ/CN=Leaf F",
        &k_leaf,
        LEAF_EXT
    );
    let pl0 = sub_ca!(
        &root,
        "int_pathlen0",
        "/C=KZ/CN=PathLen0 CA",
        &k_int,
        &CA_EXT.replace("CA:TRUE", "CA:TRUE, pathlen:0")
    );
    let pl0_sub = sub_ca!(
        &pl0,
        "int_under_pathlen0",
        "/C=KZ/CN=Below PathLen0 CA",
        &k_int,
        CA_EXT
    );
    issue!(
        &pl0_sub,
        "leaf_pathlen",
        "/C=KZ/CN=Leaf G",
        &k_leaf,
        LEAF_EXT
    );
    let second = sub_ca!(
        &int,
        "int_second",
        "/C=KZ/CN=Second Level CA",
        &k_int,
        CA_EXT
    );
    issue!(
        &second,
        "leaf_deep",
        "/C=KZ/CN=Leaf Deep",
        &k_leaf,
        LEAF_EXT
    );
    let crit = sub_ca!(
        &root,
        "int_crit",
        "/C=KZ/CN=Critical Extension CA",
        &k_int,
        &format!("{CA_EXT}\n{UNKNOWN_CRITICAL}")
    );
    issue!(
        &crit,
        "leaf_under_crit",
        "/C=KZ/CN=Leaf H",
        &k_leaf,
        LEAF_EXT
    );
    let no_aki = sub_ca!(
        &root,
        "int_no_aki",
        "/C=KZ/CN=No AKI CA",
        &k_int,
        &CA_EXT.replace("keyid:always", "none")
    );
    issue!(
        &no_aki,
        "leaf_under_no_aki",
        "/C=KZ/CN=Leaf I",
        &k_leaf,
        LEAF_EXT
    );
    let no_ski = sub_ca!(
        &root,
        "int_no_ski",
        "/C=KZ/CN=No SKI CA",
        &k_int,
        &CA_EXT.replace("subjectKeyIdentifier = hash", "subjectKeyIdentifier = none")
    );
    issue!(
        &no_ski,
        "leaf_under_no_ski",
        "/C=KZ/CN=Leaf J",
        &k_leaf,
        &LEAF_EXT.replace("keyid:always", "none")
    );

    // Name constraints: permitted DNS and email subtrees.
    let nc = sub_ca!(
        &root,
        "int_nc",
        "/C=KZ/CN=Hospital Constrained CA",
        &k_int,
        &format!(
            "{CA_EXT}\nnameConstraints = critical, permitted;DNS:hospital.kz, \
             permitted;email:hospital.kz"
        )
    );
    let san =
        |dns: &str, email: &str| format!("{LEAF_EXT}\nsubjectAltName = DNS:{dns}, email:{email}");
    issue!(
        &nc,
        "leaf_nc_ok",
        "/C=KZ/CN=Doctor OK",
        &k_leaf,
        &san("portal.hospital.kz", "doctor@hospital.kz")
    );
    issue!(
        &nc,
        "leaf_nc_bad_dns",
        "/C=KZ/CN=Doctor DNS",
        &k_leaf,
        &san("portal.evil.kz", "doctor@hospital.kz")
    );
    issue!(
        &nc,
        "leaf_nc_bad_email",
        "/C=KZ/CN=Doctor Email",
        &k_leaf,
        &san("portal.hospital.kz", "doctor@evil.kz")
    );

    // Twins: three CAs named "Scenario Twin CA" with the same key (a renewed intermediate).
    let twin = sub_ca!(&root, "twin_good", TWIN_SUBJ, &k_int, CA_EXT);
    issue!(&root, "twin_expired", TWIN_SUBJ, &k_int, CA_EXT, EXPIRED);
    let twin_revoked = issue!(&root, "twin_revoked", TWIN_SUBJ, &k_int, CA_EXT);
    issue!(&twin, "leaf_twin", "/C=KZ/CN=Leaf Twin", &k_leaf, LEAF_EXT);
    // An intermediate revoked by the root, with a good leaf.
    let int_revoked = sub_ca!(
        &root,
        "int_revoked",
        "/C=KZ/CN=Revoked Issuing CA",
        &k_int,
        CA_EXT
    );
    issue!(
        &int_revoked,
        "leaf_under_revoked_int",
        "/C=KZ/CN=Leaf K",
        &k_leaf,
        LEAF_EXT
    );

    // OCSP responders issued by the main intermediate.
    let k_ocsp = k_int.clone();
    issue!(
        &int,
        "ocsp_responder",
        "/C=KZ/CN=Scenario OCSP Responder",
        &k_ocsp,
        "basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\n\
         extendedKeyUsage = OCSPSigning\nnoCheck = ignored\nsubjectKeyIdentifier = hash\n\
         authorityKeyIdentifier = keyid:always"
    );
    issue!(
        &int,
        "ocsp_rogue",
        "/C=KZ/CN=Scenario Rogue Responder",
        &k_ocsp,
        "basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature\n\
         extendedKeyUsage = clientAuth\nsubjectKeyIdentifier = hash\n\
         authorityKeyIdentifier = keyid:always"
    );

    // ECDSA P-256 chain.
    let ec_root = root!(
        "ec_root",
        "/C=KZ/O=EDS Scenario/CN=Scenario EC Root",
        &k_ec_root,
        VALID
    );
    let ec_int = sub_ca!(
        &ec_root,
        "ec_int",
        "/C=KZ/O=EDS Scenario/CN=Scenario EC Issuing CA",
        &k_ec_int,
        CA_EXT
    );
    issue!(&ec_int, "ec_leaf", "/C=KZ/CN=EC Leaf", &k_ec_leaf, LEAF_EXT);

    // NCA-like profiles (../shared/NCA.md §3.2-3.3).
    let iin = identity::complete_iin("88051530012").expect("a control digit exists");
    let nca_root = root!(
        "nca_root",
        "/C=KZ/CN=ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ ТҮБІРЛІК (RSA) TEST",
        &k_root,
        VALID
    );
    let nca_int = sub_ca!(
        &nca_root,
        "nca_int",
        "/C=KZ/CN=ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (RSA) TEST",
        &k_int,
        &CA_EXT.replace("2.5.29.32.0", "1.2.398.3.3.1.1, 2.5.29.32.0")
    );
    let person = format!("/CN=ТЕСТОВ ТЕСТ/SN=ТЕСТОВ/serialNumber=IIN{iin}/C=KZ/GN=ТЕСТОВИЧ");
    let employee = format!(
        "/CN=ТЕСТОВА АЙГЕРІМ/SN=ТЕСТОВА/serialNumber=IIN{iin}/C=KZ/O=ГКП \"ГОРОДСКАЯ БОЛЬНИЦА №1\"/OU=BIN123456789021/GN=СЕРІКҚЫЗЫ"
    );
    issue!(
        &nca_int,
        "nca_rsa_auth",
        &person,
        &k_leaf,
        "keyUsage = critical, digitalSignature, keyEncipherment\n\
         extendedKeyUsage = clientAuth, 1.2.398.3.3.4.1.1\n\
         certificatePolicies = 1.2.398.3.3.2.4\n\
         subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always"
    );
    issue!(
        &nca_int,
        "nca_rsa_sign",
        &employee,
        &k_leaf,
        "keyUsage = critical, digitalSignature, nonRepudiation\n\
         extendedKeyUsage = emailProtection, 1.2.398.3.3.4.1.2, 1.2.398.3.3.4.1.2.2\n\
         certificatePolicies = 1.2.398.3.3.2.1\n\
         subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always"
    );
    issue!(
        &nca_int,
        "nca_gost_shape",
        &employee,
        &k_leaf,
        "keyUsage = critical, digitalSignature, nonRepudiation, keyAgreement\n\
         extendedKeyUsage = emailProtection, 1.2.398.3.3.4.1.2, 1.2.398.3.3.4.1.2.5\n\
         certificatePolicies = 1.2.398.3.3.2\n\
         subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid:always"
    );

    // Revocations, then CRLs.
    g.revoke(&int, &leaf_revoked, &["-crl_reason", "keyCompromise"]);
    g.revoke(&int, &leaf_hold, &["-crl_hold", "holdInstructionReject"]);
    g.crl("crl_int", &int, CRL_FRESH.0, CRL_FRESH.1);
    g.crl("crl_int_stale", &int, CRL_STALE.0, CRL_STALE.1);
    g.revoke(&root, &twin_revoked, &["-crl_reason", "superseded"]);
    let int_revoked_pem = g.files["int_revoked"].clone();
    g.revoke(&root, &int_revoked_pem, &["-crl_reason", "cACompromise"]);
    g.crl("crl_root", &root, CRL_FRESH.0, CRL_FRESH.1);
    g.crl("crl_twin", &twin, CRL_FRESH.0, CRL_FRESH.1);
    g.crl("crl_int_revoked", &int_revoked, CRL_FRESH.0, CRL_FRESH.1);

    // OCSP.
    let mut nonces = HashMap::new();
    let int_pem = int.cert.clone();
    let idx = int.dir.join("index.txt");
    let empty_idx = g.file("empty_index.txt");
    std::fs::write(&empty_idx, "").expect("write empty index");
    let leaf_ok = g.files["leaf_ok"].clone();
    let (req_ok, nonce) = g.ocsp_request("req_ok", &int_pem, &leaf_ok, true);
    nonces.insert("req_ok".to_string(), nonce.expect("nonce"));
    let (req_revoked, _) = g.ocsp_request("req_revoked", &int_pem, &leaf_revoked, false);
    let (req_ok_plain, _) = g.ocsp_request("req_ok_plain", &int_pem, &leaf_ok, false);
    let responder = g.files["ocsp_responder"].clone();
    let rogue = g.files["ocsp_rogue"].clone();
    g.ocsp_response("ocsp_ok_ca", &req_ok, &idx, &int_pem, &int_pem, &int.key);
    g.ocsp_response(
        "ocsp_ok_ca_no_nonce",
        &req_ok_plain,
        &idx,
        &int_pem,
        &int_pem,
        &int.key,
    );
    g.ocsp_response(
        "ocsp_revoked_ca",
        &req_revoked,
        &idx,
        &int_pem,
        &int_pem,
        &int.key,
    );
    g.ocsp_response(
        "ocsp_ok_delegated",
        &req_ok_plain,
        &idx,
        &int_pem,
        &responder,
        &k_ocsp,
    );
    g.ocsp_response(
        "ocsp_revoked_delegated",
        &req_revoked,
        &idx,
        &int_pem,
        &responder,
        &k_ocsp,
    );
    g.ocsp_response(
        "ocsp_unknown",
        &req_ok_plain,
        &empty_idx,
        &int_pem,
        &int_pem,
        &int.key,
    );
    g.ocsp_response(
        "ocsp_resp_rogue",
        &req_ok_plain,
        &idx,
        &int_pem,
        &rogue,
        &k_ocsp,
    );

    Pki {
        files: g.files,
        nonces,
        iin,
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

fn opts() -> ValidationOptions {
    ValidationOptions::at(at())
}

fn oid(s: &str) -> ObjectIdentifier {
    ObjectIdentifier::new(s).expect("valid OID")
}

fn subjects(vp: &ValidatedPath<'_>) -> Vec<String> {
    vp.certs
        .iter()
        .map(|c| {
            format!(
                "{} [serial {}]",
                c.subject.to_display_string(),
                c.serial_hex()
            )
        })
        .collect()
}

/// Validates `leaf` with no revocation check; Ok = the path's subjects, leaf first.
fn run(
    leaf: &str,
    anchors: &[&str],
    pool: &[&str],
    opts: &ValidationOptions,
) -> Result<Vec<String>, PathError> {
    let p = pki();
    let leaf = p.cert(leaf);
    let anchors = p.certs(anchors);
    let pool = p.certs(pool);
    build_and_validate(&leaf, &anchors, &pool, opts, &mut |_| Ok(())).map(|vp| subjects(&vp))
}

/// Validates `leaf` with revocation evidence (generated ids: CRLs and OCSP responses).
fn run_rev(
    leaf: &str,
    anchors: &[&str],
    pool: &[&str],
    evidence: &[&str],
    ropts: &RevocationOptions,
) -> Result<Vec<String>, PathError> {
    let p = pki();
    let leaf = p.cert(leaf);
    let anchors = p.certs(anchors);
    let pool = p.certs(pool);
    let ev = evidence_of(evidence);
    build_and_validate(&leaf, &anchors, &pool, &opts(), &mut |path| {
        revocation::check_path(path, &ev, ropts, at()).result
    })
    .map(|vp| subjects(&vp))
}

fn evidence_of(ids: &[&str]) -> Evidence {
    let p = pki();
    let mut ev = Evidence::default();
    for id in ids {
        let bytes = p.bytes(id);
        if id.starts_with("crl") {
            ev.add_crl(&bytes)
                .unwrap_or_else(|e| panic!("CRL {id}: {e}"));
        } else {
            ev.add_ocsp_response(&bytes)
                .unwrap_or_else(|e| panic!("OCSP {id}: {e}"));
        }
    }
    ev
}

#[track_caller]
fn expect_err(r: Result<Vec<String>, PathError>) -> PathError {
    match r {
        Ok(path) => panic!("expected a refusal, got a valid path {path:?}"),
        Err(e) => e,
    }
}

#[track_caller]
fn expect_ok(r: Result<Vec<String>, PathError>) -> Vec<String> {
    r.unwrap_or_else(|e| panic!("expected a valid path, got {}: {e}", e.code()))
}

const ROOT: &[&str] = &["root"];
const INT: &[&str] = &["int"];

fn crl_opts(scope: Scope) -> RevocationOptions {
    RevocationOptions::new(RevocationMode::Crl, scope)
}

fn ocsp_opts() -> RevocationOptions {
    RevocationOptions::new(RevocationMode::Ocsp, Scope::Leaf)
}

// ---------------------------------------------------------------------------------------------
// Valid chains
// ---------------------------------------------------------------------------------------------

#[test]
fn valid_three_level_rsa_chain_root_intermediate_leaf() {
    let path = expect_ok(run("leaf_ok", ROOT, INT, &opts()));
    assert_eq!(path.len(), 3);
    assert!(path[0].contains("Leaf Good"), "{path:?}");
    assert!(path[1].contains("Scenario Issuing CA"), "{path:?}");
    assert!(path[2].contains("Scenario Root CA"), "{path:?}");
}

#[test]
fn valid_three_level_ecdsa_p256_chain() {
    let path = expect_ok(run("ec_leaf", &["ec_root"], &["ec_int"], &opts()));
    assert_eq!(path.len(), 3);
    assert!(path[1].contains("Scenario EC Issuing CA"), "{path:?}");
}

#[test]
fn valid_four_level_chain_within_default_depth() {
    let path = expect_ok(run("leaf_deep", ROOT, &["int_second", "int"], &opts()));
    assert_eq!(path.len(), 4);
}

#[test]
fn pool_order_and_irrelevant_certificates_do_not_matter() {
    let path = expect_ok(run(
        "leaf_ok",
        &["other_root", "ec_root", "root"],
        &["ec_int", "int_nc", "evil_int", "int"],
        &opts(),
    ));
    assert!(path[1].contains("Scenario Issuing CA"), "{path:?}");
    assert!(path[2].contains("Scenario Root CA"), "{path:?}");
}

// ---------------------------------------------------------------------------------------------
// unknown_issuer
// ---------------------------------------------------------------------------------------------

#[test]
fn unknown_issuer_when_the_intermediate_is_missing() {
    let e = expect_err(run("leaf_ok", ROOT, &[], &opts()));
    assert_eq!(e.code(), "unknown_issuer");
    match e {
        PathError::UnknownIssuer { subject, issuer } => {
            assert!(subject.contains("Leaf Good"), "{subject}");
            assert!(issuer.contains("Scenario Issuing CA"), "{issuer}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_issuer_when_the_root_is_not_trusted() {
    let e = expect_err(run("leaf_ok", &["other_root"], INT, &opts()));
    assert_eq!(e.code(), "unknown_issuer");
}

#[test]
fn unknown_issuer_names_the_link_whose_issuer_is_missing() {
    let e = expect_err(run("leaf_ok", &["other_root"], INT, &opts()));
    match e {
        PathError::UnknownIssuer { subject, issuer } => {
            assert!(subject.contains("Scenario Issuing CA"), "subject {subject}");
            assert!(issuer.contains("Scenario Root CA"), "issuer {issuer}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unknown_issuer_when_the_root_is_only_in_the_untrusted_pool() {
    let e = expect_err(run("leaf_ok", &[], &["int", "root"], &opts()));
    assert_eq!(e.code(), "unknown_issuer");
}

// ---------------------------------------------------------------------------------------------
// Validity periods
// ---------------------------------------------------------------------------------------------

#[test]
fn cert_expired_for_the_leaf() {
    let e = expect_err(run("leaf_expired", ROOT, INT, &opts()));
    assert_eq!(e.code(), "cert_expired");
    match e {
        PathError::CertExpired {
            subject,
            not_after,
            at: when,
        } => {
            assert!(subject.contains("Leaf Expired"), "{subject}");
            assert_eq!(
                not_after,
                UnixTime::parse_rfc3339("2029-01-01T00:00:00Z").expect("t")
            );
            assert_eq!(when, at());
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn cert_not_yet_valid_for_the_leaf() {
    let e = expect_err(run("leaf_future", ROOT, INT, &opts()));
    assert_eq!(e.code(), "cert_not_yet_valid");
    match e {
        PathError::CertNotYetValid { not_before, .. } => {
            assert_eq!(
                not_before,
                UnixTime::parse_rfc3339("2031-01-01T00:00:00Z").expect("t")
            )
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_same_leaf_is_valid_inside_its_window() {
    let mut o = opts();
    o.at = UnixTime::parse_rfc3339("2028-06-01T00:00:00Z").expect("t");
    expect_ok(run("leaf_expired", ROOT, INT, &o));
    o.at = UnixTime::parse_rfc3339("2031-06-01T00:00:00Z").expect("t");
    expect_ok(run("leaf_future", ROOT, INT, &o));
}

#[test]
fn cert_expired_for_the_intermediate() {
    let e = expect_err(run(
        "leaf_under_expired_int",
        ROOT,
        &["int_expired"],
        &opts(),
    ));
    assert_eq!(e.code(), "cert_expired");
    assert!(
        matches!(&e, PathError::CertExpired { subject, .. } if subject.contains("Expired Issuing CA")),
        "{e:?}"
    );
}

#[test]
fn cert_not_yet_valid_for_the_intermediate() {
    let e = expect_err(run("leaf_under_future_int", ROOT, &["int_future"], &opts()));
    assert_eq!(e.code(), "cert_not_yet_valid");
    assert!(
        matches!(&e, PathError::CertNotYetValid { subject, .. } if subject.contains("Future Issuing CA")),
        "{e:?}"
    );
}

#[test]
fn cert_expired_for_the_root() {
    let e = expect_err(run(
        "leaf_under_expired_root",
        &["root_expired"],
        &[],
        &opts(),
    ));
    assert_eq!(e.code(), "cert_expired");
    assert!(
        matches!(&e, PathError::CertExpired { subject, .. } if subject.contains("Expired Root CA")),
        "{e:?}"
    );
}

#[test]
fn cert_not_yet_valid_for_the_root() {
    let e = expect_err(run(
        "leaf_under_future_root",
        &["root_future"],
        &[],
        &opts(),
    ));
    assert_eq!(e.code(), "cert_not_yet_valid");
    assert!(
        matches!(&e, PathError::CertNotYetValid { subject, .. } if subject.contains("Future Root CA")),
        "{e:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Signatures and keys
// ---------------------------------------------------------------------------------------------

#[test]
fn bad_signature_when_the_issuer_name_matches_but_the_key_differs() {
    let e = expect_err(run("leaf_forged", ROOT, INT, &opts()));
    assert_eq!(e.code(), "bad_signature");
    assert!(
        matches!(&e, PathError::BadSignature { subject, error: SignatureError::Invalid } if subject.contains("Leaf Forged")),
        "{e:?}"
    );
}

#[test]
fn sha1_not_allowed_by_default_and_accepted_with_allow_sha1() {
    let e = expect_err(run("leaf_sha1", ROOT, INT, &opts()));
    assert_eq!(e.code(), "sha1_not_allowed");
    assert!(
        matches!(
            &e,
            PathError::BadSignature {
                error: SignatureError::Sha1NotAllowed,
                ..
            }
        ),
        "{e:?}"
    );
    let mut o = opts();
    o.signature.allow_sha1 = true;
    expect_ok(run("leaf_sha1", ROOT, INT, &o));
}

#[test]
fn unacceptable_public_key_for_an_rsa_1024_leaf() {
    let e = expect_err(run("leaf_rsa1024", ROOT, INT, &opts()));
    assert_eq!(e.code(), "unacceptable_public_key");
    assert!(
        matches!(
            &e,
            PathError::UnacceptableKey {
                error: SignatureError::RsaKeyTooSmall { .. },
                ..
            }
        ),
        "{e:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// CA profile
// ---------------------------------------------------------------------------------------------

#[test]
fn issuer_not_ca_when_the_intermediate_lacks_basic_constraints() {
    let e = expect_err(run("leaf_under_not_ca", ROOT, &["int_not_ca"], &opts()));
    assert_eq!(e.code(), "issuer_not_ca");
    assert!(
        matches!(&e, PathError::NotCa { subject } if subject.contains("Not A CA")),
        "{e:?}"
    );
}

#[test]
fn issuer_key_cert_sign_missing_when_the_intermediate_key_usage_lacks_it() {
    let e = expect_err(run("leaf_under_no_kcs", ROOT, &["int_no_kcs"], &opts()));
    assert_eq!(e.code(), "issuer_key_cert_sign_missing");
    assert!(
        matches!(&e, PathError::KeyCertSignMissing { subject } if subject.contains("No keyCertSign CA")),
        "{e:?}"
    );
}

#[test]
fn key_cert_sign_without_ca_for_a_leaf_asserting_key_cert_sign() {
    let e = expect_err(run("leaf_kcs", ROOT, INT, &opts()));
    assert_eq!(e.code(), "key_cert_sign_without_ca");
    assert!(
        matches!(&e, PathError::KeyCertSignWithoutCa { subject } if subject.contains("Leaf With keyCertSign")),
        "{e:?}"
    );
}

#[test]
fn path_len_exceeded_below_a_pathlen_zero_intermediate() {
    let e = expect_err(run(
        "leaf_pathlen",
        ROOT,
        &["int_under_pathlen0", "int_pathlen0"],
        &opts(),
    ));
    assert_eq!(e.code(), "path_len_exceeded");
    assert!(
        matches!(&e, PathError::PathLenExceeded { subject } if subject.contains("Below PathLen0 CA")),
        "{e:?}"
    );
}

#[test]
fn max_depth_exceeded_when_the_caller_allows_one_intermediate() {
    let mut o = opts();
    o.max_depth = 1;
    let e = expect_err(run("leaf_deep", ROOT, &["int_second", "int"], &o));
    assert_eq!(e.code(), "max_depth_exceeded");
    assert_eq!(e, PathError::MaxDepthExceeded { max: 1 });
    o.max_depth = 2;
    expect_ok(run("leaf_deep", ROOT, &["int_second", "int"], &o));
}

#[test]
fn unhandled_critical_extension_in_the_leaf() {
    let e = expect_err(run("leaf_crit", ROOT, INT, &opts()));
    assert_eq!(e.code(), "unhandled_critical_extension");
    assert!(
        matches!(&e, PathError::UnhandledCriticalExtension { subject, oid: o } if subject.contains("Leaf Unknown Critical") && *o == oid("1.3.6.1.4.1.55555.1")),
        "{e:?}"
    );
}

#[test]
fn unhandled_critical_extension_in_the_intermediate() {
    let e = expect_err(run("leaf_under_crit", ROOT, &["int_crit"], &opts()));
    assert_eq!(e.code(), "unhandled_critical_extension");
    assert!(
        matches!(&e, PathError::UnhandledCriticalExtension { subject, oid: o } if subject.contains("Critical Extension CA") && *o == oid("1.3.6.1.4.1.55555.1")),
        "{e:?}"
    );
}

#[test]
fn extension_must_not_be_critical_for_a_critical_authority_key_identifier() {
    let e = expect_err(run("leaf_crit_aki", ROOT, INT, &opts()));
    assert_eq!(e.code(), "extension_must_not_be_critical");
    assert!(
        matches!(&e, PathError::ExtensionMustNotBeCritical { oid: o, .. } if *o == oid("2.5.29.35")),
        "{e:?}"
    );
}

#[test]
fn missing_authority_key_id_in_an_intermediate() {
    let e = expect_err(run("leaf_under_no_aki", ROOT, &["int_no_aki"], &opts()));
    assert_eq!(e.code(), "missing_authority_key_id");
    assert!(
        matches!(&e, PathError::MissingAuthorityKeyId { subject } if subject.contains("No AKI CA")),
        "{e:?}"
    );
}

#[test]
fn missing_subject_key_id_in_a_ca() {
    let e = expect_err(run("leaf_under_no_ski", ROOT, &["int_no_ski"], &opts()));
    assert_eq!(e.code(), "missing_subject_key_id");
    assert!(
        matches!(&e, PathError::MissingSubjectKeyId { subject } if subject.contains("No SKI CA")),
        "{e:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Name constraints, policies, EKU / KU
// ---------------------------------------------------------------------------------------------

#[test]
fn name_constraints_permit_dns_and_email_inside_the_subtrees() {
    expect_ok(run("leaf_nc_ok", ROOT, &["int_nc"], &opts()));
}

#[test]
fn name_constraints_violation_for_a_dns_name_outside_the_permitted_subtree() {
    let e = expect_err(run("leaf_nc_bad_dns", ROOT, &["int_nc"], &opts()));
    assert_eq!(e.code(), "name_constraints_violation");
    match e {
        PathError::NameConstraints { error, .. } => {
            assert!(format!("{error:?}").contains("portal.evil.kz"), "{error:?}")
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn name_constraints_violation_for_an_email_outside_the_permitted_subtree() {
    let e = expect_err(run("leaf_nc_bad_email", ROOT, &["int_nc"], &opts()));
    assert_eq!(e.code(), "name_constraints_violation");
    match e {
        PathError::NameConstraints { error, .. } => {
            assert!(format!("{error:?}").contains("doctor@evil.kz"), "{error:?}")
        }
        other => panic!("{other:?}"),
    }
}

fn explicit(policy: &str) -> ValidationOptions {
    let mut o = opts();
    o.policy = PolicyOptions {
        initial_policy_set: vec![oid(policy)],
        require_explicit_policy: true,
        inhibit_policy_mapping: false,
        inhibit_any_policy: false,
    };
    o
}

#[test]
fn no_acceptable_policy_when_an_explicit_policy_the_chain_lacks_is_required() {
    // The leaf asserts 1.2.398.3.3.2.4 (authentication, individuals); ask for …2.3 (signing).
    let e = expect_err(run("leaf_ok", ROOT, INT, &explicit("1.2.398.3.3.2.3")));
    assert_eq!(e.code(), "no_acceptable_policy");
    assert!(
        matches!(
            &e,
            PathError::Policy(PolicyError::NoAcceptablePolicy { .. })
        ),
        "{e:?}"
    );
}

#[test]
fn explicit_policy_the_leaf_asserts_is_accepted() {
    expect_ok(run("leaf_ok", ROOT, INT, &explicit("1.2.398.3.3.2.4")));
}

#[test]
fn required_eku_missing_for_client_auth_on_an_email_protection_only_leaf() {
    let mut o = opts();
    o.eku = EkuRequirement::AllOf(vec![oid("1.3.6.1.5.5.7.3.2")]);
    let e = expect_err(run("leaf_email_only", ROOT, INT, &o));
    assert_eq!(e.code(), "required_eku_missing");
    assert_eq!(
        e,
        PathError::RequiredEkuMissing {
            oid: oid("1.3.6.1.5.5.7.3.2")
        }
    );
    // The same requirement on a leaf that has clientAuth passes.
    expect_ok(run("leaf_ok", ROOT, INT, &o));
}

#[test]
fn required_key_usage_missing_for_non_repudiation() {
    let mut o = opts();
    o.key_usage = KeyUsage::DIGITAL_SIGNATURE | KeyUsage::NON_REPUDIATION;
    let e = expect_err(run("leaf_ok", ROOT, INT, &o));
    assert_eq!(e.code(), "required_key_usage_missing");
    assert_eq!(
        e,
        PathError::RequiredKeyUsageMissing {
            missing: vec!["nonRepudiation"]
        }
    );
    o.key_usage = KeyUsage::DIGITAL_SIGNATURE | KeyUsage::KEY_ENCIPHERMENT;
    expect_ok(run("leaf_ok", ROOT, INT, &o));
}

// ---------------------------------------------------------------------------------------------
// Revocation: CRL
// ---------------------------------------------------------------------------------------------

/// The revocation statuses of the leaf → int → root path, for status-level assertions.
fn leaf_statuses(leaf: &str, evidence: &[&str], ropts: &RevocationOptions) -> Vec<SourceStatus> {
    let p = pki();
    let (leaf, int, root) = (p.cert(leaf), p.cert("int"), p.cert("root"));
    let ev = evidence_of(evidence);
    let r = revocation::check_path(&[&leaf, &int, &root], &ev, ropts, at());
    r.statuses
        .into_iter()
        .flat_map(|c| c.sources.into_iter().map(|(_, st)| st))
        .collect()
}

#[test]
fn crl_says_good_for_an_unrevoked_leaf() {
    expect_ok(run_rev(
        "leaf_ok",
        ROOT,
        INT,
        &["crl_int"],
        &crl_opts(Scope::Leaf),
    ));
    assert_eq!(
        leaf_statuses("leaf_ok", &["crl_int"], &crl_opts(Scope::Leaf)),
        vec![SourceStatus::Good]
    );
}

#[test]
fn cert_revoked_via_crl_with_reason_key_compromise() {
    let e = expect_err(run_rev(
        "leaf_revoked",
        ROOT,
        INT,
        &["crl_int"],
        &crl_opts(Scope::Leaf),
    ));
    assert_eq!(e.code(), "cert_revoked");
    assert!(
        e.to_string().contains("keyCompromise") || e.to_string().contains("key_compromise"),
        "{e}"
    );
    let st = leaf_statuses("leaf_revoked", &["crl_int"], &crl_opts(Scope::Leaf));
    assert!(
        matches!(
            st.as_slice(),
            [SourceStatus::Revoked {
                reason: Some("key_compromise"),
                ..
            }]
        ),
        "{st:?}"
    );
}

#[test]
fn cert_revoked_via_crl_with_reason_certificate_hold() {
    let e = expect_err(run_rev(
        "leaf_hold",
        ROOT,
        INT,
        &["crl_int"],
        &crl_opts(Scope::Leaf),
    ));
    assert_eq!(e.code(), "cert_revoked");
    let st = leaf_statuses("leaf_hold", &["crl_int"], &crl_opts(Scope::Leaf));
    assert!(
        matches!(
            st.as_slice(),
            [SourceStatus::Revoked {
                reason: Some("certificate_hold"),
                ..
            }]
        ),
        "{st:?}"
    );
}

#[test]
fn revocation_status_unknown_without_evidence_refuses_by_default() {
    let e = expect_err(run_rev("leaf_ok", ROOT, INT, &[], &crl_opts(Scope::Leaf)));
    assert_eq!(e.code(), "revocation_status_unknown");
    let mut o = crl_opts(Scope::Leaf);
    o.allow_unknown = true;
    expect_ok(run_rev("leaf_ok", ROOT, INT, &[], &o));
}

#[test]
fn allow_unknown_status_still_refuses_a_revoked_leaf() {
    let mut o = crl_opts(Scope::Leaf);
    o.allow_unknown = true;
    let e = expect_err(run_rev("leaf_revoked", ROOT, INT, &["crl_int"], &o));
    assert_eq!(e.code(), "cert_revoked");
}

#[test]
fn crl_stale_after_its_next_update() {
    let e = expect_err(run_rev(
        "leaf_ok",
        ROOT,
        INT,
        &["crl_int_stale"],
        &crl_opts(Scope::Leaf),
    ));
    assert_eq!(e.code(), "crl_stale");
    // A stale CRL is not rescued by allow_unknown: broken evidence refuses.
    let mut o = crl_opts(Scope::Leaf);
    o.allow_unknown = true;
    let e = expect_err(run_rev("leaf_ok", ROOT, INT, &["crl_int_stale"], &o));
    assert_eq!(e.code(), "crl_stale");
}

#[test]
fn chain_scope_catches_a_revoked_intermediate_that_leaf_scope_ignores() {
    let ev = ["crl_root", "crl_int_revoked"];
    let e = expect_err(run_rev(
        "leaf_under_revoked_int",
        ROOT,
        &["int_revoked"],
        &ev,
        &crl_opts(Scope::Chain),
    ));
    assert_eq!(e.code(), "cert_revoked");
    assert!(e.to_string().contains("Revoked Issuing CA"), "{e}");
    expect_ok(run_rev(
        "leaf_under_revoked_int",
        ROOT,
        &["int_revoked"],
        &ev,
        &crl_opts(Scope::Leaf),
    ));
}

#[test]
fn chain_scope_needs_a_status_for_the_intermediate_too() {
    // Only the intermediate's CRL (about the leaf): the intermediate's own status is unknown.
    let e = expect_err(run_rev(
        "leaf_ok",
        ROOT,
        INT,
        &["crl_int"],
        &crl_opts(Scope::Chain),
    ));
    assert_eq!(e.code(), "revocation_status_unknown");
    assert!(e.to_string().contains("Scenario Issuing CA"), "{e}");
    expect_ok(run_rev(
        "leaf_ok",
        ROOT,
        INT,
        &["crl_int", "crl_root"],
        &crl_opts(Scope::Chain),
    ));
}

// ---------------------------------------------------------------------------------------------
// Revocation: OCSP
// ---------------------------------------------------------------------------------------------

#[test]
fn ocsp_good_from_the_issuing_ca_itself() {
    expect_ok(run_rev("leaf_ok", ROOT, INT, &["ocsp_ok_ca"], &ocsp_opts()));
}

#[test]
fn ocsp_good_from_a_delegated_responder_with_ocsp_signing() {
    expect_ok(run_rev(
        "leaf_ok",
        ROOT,
        INT,
        &["ocsp_ok_delegated"],
        &ocsp_opts(),
    ));
}

#[test]
fn cert_revoked_via_ocsp_signed_by_the_issuing_ca() {
    let e = expect_err(run_rev(
        "leaf_revoked",
        ROOT,
        INT,
        &["ocsp_revoked_ca"],
        &ocsp_opts(),
    ));
    assert_eq!(e.code(), "cert_revoked");
    assert!(e.to_string().contains("OCSP"), "{e}");
    let st = leaf_statuses("leaf_revoked", &["ocsp_revoked_ca"], &ocsp_opts());
    assert!(
        matches!(
            st.as_slice(),
            [SourceStatus::Revoked {
                reason: Some("keyCompromise"),
                ..
            }]
        ),
        "{st:?}"
    );
}

#[test]
fn cert_revoked_via_ocsp_signed_by_a_delegated_responder() {
    let e = expect_err(run_rev(
        "leaf_revoked",
        ROOT,
        INT,
        &["ocsp_revoked_delegated"],
        &ocsp_opts(),
    ));
    assert_eq!(e.code(), "cert_revoked");
}

#[test]
fn ocsp_unknown_status_refuses_unless_unknown_is_allowed() {
    let e = expect_err(run_rev(
        "leaf_ok",
        ROOT,
        INT,
        &["ocsp_unknown"],
        &ocsp_opts(),
    ));
    assert_eq!(e.code(), "revocation_status_unknown");
    let mut o = ocsp_opts();
    o.allow_unknown = true;
    expect_ok(run_rev("leaf_ok", ROOT, INT, &["ocsp_unknown"], &o));
}

#[test]
fn ocsp_response_about_another_certificate_is_no_evidence() {
    let e = expect_err(run_rev(
        "leaf_ok",
        ROOT,
        INT,
        &["ocsp_revoked_ca"],
        &ocsp_opts(),
    ));
    assert_eq!(e.code(), "revocation_status_unknown");
}

#[test]
fn ocsp_nonce_echoed_from_the_request_is_accepted() {
    let mut o = ocsp_opts();
    o.ocsp_nonce = Some(pki().nonces["req_ok"].clone());
    expect_ok(run_rev("leaf_ok", ROOT, INT, &["ocsp_ok_ca"], &o));
}

#[test]
fn ocsp_nonce_mismatch_refuses() {
    let mut o = ocsp_opts();
    let mut wrong = pki().nonces["req_ok"].clone();
    wrong[0] ^= 0xff;
    o.ocsp_nonce = Some(wrong);
    let e = expect_err(run_rev("leaf_ok", ROOT, INT, &["ocsp_ok_ca"], &o));
    assert_eq!(e.code(), "ocsp_nonce_mismatch");
}

#[test]
fn ocsp_nonce_missing_when_the_response_has_none() {
    let mut o = ocsp_opts();
    o.ocsp_nonce = Some(pki().nonces["req_ok"].clone());
    let e = expect_err(run_rev("leaf_ok", ROOT, INT, &["ocsp_ok_ca_no_nonce"], &o));
    assert_eq!(e.code(), "ocsp_nonce_missing");
}

#[test]
fn ocsp_from_a_delegate_without_ocsp_signing_eku_is_unauthorised() {
    let e = expect_err(run_rev(
        "leaf_ok",
        ROOT,
        INT,
        &["ocsp_resp_rogue"],
        &ocsp_opts(),
    ));
    assert_eq!(e.code(), "ocsp_unauthorized_responder");
    assert!(
        e.to_string().to_lowercase().contains("ocspsigning") || e.to_string().contains("OCSP"),
        "{e}"
    );
}

#[test]
fn crl_or_ocsp_revoked_from_either_source_refuses() {
    let o = RevocationOptions::new(RevocationMode::CrlOrOcsp, Scope::Leaf);
    // The CRL knows the leaf is revoked even though no OCSP response is given.
    let e = expect_err(run_rev("leaf_revoked", ROOT, INT, &["crl_int"], &o));
    assert_eq!(e.code(), "cert_revoked");
    // OCSP alone establishes "good".
    expect_ok(run_rev("leaf_ok", ROOT, INT, &["ocsp_ok_ca"], &o));
}

#[test]
fn crl_and_ocsp_needs_both_sources_good() {
    let o = RevocationOptions::new(RevocationMode::CrlAndOcsp, Scope::Leaf);
    let e = expect_err(run_rev("leaf_ok", ROOT, INT, &["ocsp_ok_ca"], &o));
    assert_eq!(e.code(), "revocation_status_unknown");
    expect_ok(run_rev(
        "leaf_ok",
        ROOT,
        INT,
        &["ocsp_ok_ca", "crl_int"],
        &o,
    ));
    let st = leaf_statuses("leaf_ok", &["ocsp_ok_ca", "crl_int"], &o);
    assert_eq!(st, vec![SourceStatus::Good, SourceStatus::Good]);
}

// ---------------------------------------------------------------------------------------------
// Backtracking over same-named intermediates
// ---------------------------------------------------------------------------------------------

fn serial(id: &str) -> String {
    pki().cert(id).serial_hex()
}

#[test]
fn backtracks_past_an_expired_twin_intermediate_to_the_good_one() {
    let e = expect_err(run("leaf_twin", ROOT, &["twin_expired"], &opts()));
    assert_eq!(e.code(), "cert_expired");
    let path = expect_ok(run(
        "leaf_twin",
        ROOT,
        &["twin_expired", "twin_good"],
        &opts(),
    ));
    assert!(path[1].contains(&serial("twin_good")), "{path:?}");
}

#[test]
fn backtracks_past_a_revoked_twin_intermediate_to_the_good_one() {
    let ev = ["crl_root", "crl_twin"];
    let o = crl_opts(Scope::Chain);
    let e = expect_err(run_rev("leaf_twin", ROOT, &["twin_revoked"], &ev, &o));
    assert_eq!(e.code(), "cert_revoked");
    let path = expect_ok(run_rev(
        "leaf_twin",
        ROOT,
        &["twin_revoked", "twin_expired", "twin_good"],
        &ev,
        &o,
    ));
    assert!(path[1].contains(&serial("twin_good")), "{path:?}");
}

#[test]
fn the_revocation_check_sees_every_complete_candidate_path() {
    let p = pki();
    let leaf = p.cert("leaf_twin");
    let anchors = p.certs(ROOT);
    let pool = p.certs(&["twin_revoked", "twin_good"]);
    let ev = evidence_of(&["crl_root", "crl_twin"]);
    let o = crl_opts(Scope::Chain);
    let mut seen = Vec::new();
    let vp = build_and_validate(&leaf, &anchors, &pool, &opts(), &mut |path| {
        seen.push(path.iter().map(|c| c.serial_hex()).collect::<Vec<_>>());
        revocation::check_path(path, &ev, &o, at()).result
    })
    .unwrap_or_else(|e| panic!("{}: {e}", e.code()));
    assert_eq!(vp.certs[1].serial_hex(), serial("twin_good"));
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0][1], serial("twin_revoked"));
    assert_eq!(seen[1][1], serial("twin_good"));
}

// ---------------------------------------------------------------------------------------------
// NCA-like profiles (../shared/NCA.md §3.2–3.3), RSA keys
// ---------------------------------------------------------------------------------------------

fn nca_validate(leaf: &str, o: &ValidationOptions) -> Result<Vec<String>, PathError> {
    run(leaf, &["nca_root"], &["nca_int"], o)
}

fn nca_opts(ekus: &[&str], ku: u16, policy: &str) -> ValidationOptions {
    let mut o = explicit(policy);
    o.eku = EkuRequirement::AllOf(ekus.iter().map(|e| oid(e)).collect());
    o.key_usage = ku;
    o
}

#[test]
fn nca_rsa_auth_individual_validates_and_names_the_person() {
    let o = nca_opts(
        &["1.3.6.1.5.5.7.3.2", "1.2.398.3.3.4.1.1"],
        KeyUsage::DIGITAL_SIGNATURE | KeyUsage::KEY_ENCIPHERMENT,
        "1.2.398.3.3.2.4",
    );
    let path = expect_ok(nca_validate("nca_rsa_auth", &o));
    assert_eq!(path.len(), 3);
    let id = NcaIdentity::from_certificate(&pki().cert("nca_rsa_auth"));
    let iin = id.iin.clone().expect("IIN");
    assert_eq!(iin.value, pki().iin);
    assert!(iin.checksum_ok);
    assert_eq!(id.bin, None);
    assert_eq!(id.common_name.as_deref(), Some("ТЕСТОВ ТЕСТ"));
    assert_eq!(id.surname.as_deref(), Some("ТЕСТОВ"));
    assert_eq!(id.given_name.as_deref(), Some("ТЕСТ"));
    assert_eq!(id.patronymic.as_deref(), Some("ТЕСТОВИЧ"));
    assert_eq!(id.organization, None);
    assert_eq!(id.email, None);
    assert_eq!(id.roles, vec![NcaRole::Individual]);
    assert_eq!(id.profile, NcaProfile::RsaAuth);
    assert_eq!(id.full_name().as_deref(), Some("ТЕСТОВ ТЕСТ ТЕСТОВИЧ"));
}

#[test]
fn nca_rsa_sign_legal_entity_validates_and_names_the_employee_and_organisation() {
    let o = nca_opts(
        &["1.3.6.1.5.5.7.3.4", "1.2.398.3.3.4.1.2"],
        KeyUsage::DIGITAL_SIGNATURE | KeyUsage::NON_REPUDIATION,
        "1.2.398.3.3.2.1",
    );
    expect_ok(nca_validate("nca_rsa_sign", &o));
    let id = NcaIdentity::from_certificate(&pki().cert("nca_rsa_sign"));
    assert_eq!(
        id.iin.as_ref().map(|i| i.value.as_str()),
        Some(pki().iin.as_str())
    );
    let bin = id.bin.clone().expect("BIN");
    assert_eq!(bin.value, "123456789021");
    assert!(
        !bin.checksum_ok,
        "NCA's test BIN fails the checksum (reported, not enforced)"
    );
    assert_eq!(id.common_name.as_deref(), Some("ТЕСТОВА АЙГЕРІМ"));
    assert_eq!(id.surname.as_deref(), Some("ТЕСТОВА"));
    assert_eq!(id.given_name.as_deref(), Some("АЙГЕРІМ"));
    assert_eq!(id.patronymic.as_deref(), Some("СЕРІКҚЫЗЫ"));
    assert_eq!(
        id.organization.as_deref(),
        Some("ГКП \"ГОРОДСКАЯ БОЛЬНИЦА №1\"")
    );
    assert_eq!(id.roles, vec![NcaRole::LegalEntity, NcaRole::SigningRight]);
    assert_eq!(id.profile, NcaProfile::RsaSign);
}

#[test]
fn nca_gost2015_shape_on_rsa_keys_validates_and_is_profiled_by_its_key_as_rsa_sign() {
    let o = nca_opts(
        &["1.3.6.1.5.5.7.3.4", "1.2.398.3.3.4.1.2.5"],
        KeyUsage::DIGITAL_SIGNATURE | KeyUsage::NON_REPUDIATION | KeyUsage::KEY_AGREEMENT,
        "1.2.398.3.3.2",
    );
    expect_ok(nca_validate("nca_gost_shape", &o));
    let id = NcaIdentity::from_certificate(&pki().cert("nca_gost_shape"));
    assert_eq!(
        id.bin.as_ref().map(|b| b.value.as_str()),
        Some("123456789021")
    );
    assert_eq!(
        id.iin.as_ref().map(|i| i.value.as_str()),
        Some(pki().iin.as_str())
    );
    assert_eq!(id.roles, vec![NcaRole::LegalEntity, NcaRole::Employee]);
    // profile_of decides by the key algorithm first: an RSA key can never be
    // Gost2015SingleKey; with emailProtection and no keyEncipherment it is RsaSign.
    assert_eq!(id.profile, NcaProfile::RsaSign);
}

#[test]
fn nca_gost2015_shape_has_no_client_auth_so_requiring_it_refuses() {
    let mut o = opts();
    o.eku = EkuRequirement::AllOf(vec![oid("1.3.6.1.5.5.7.3.2")]);
    let e = expect_err(nca_validate("nca_gost_shape", &o));
    assert_eq!(e.code(), "required_eku_missing");
}

#[test]
fn nca_rsa_sign_is_refused_under_the_auth_policy() {
    let e = expect_err(nca_validate("nca_rsa_sign", &explicit("1.2.398.3.3.2.4")));
    assert_eq!(e.code(), "no_acceptable_policy");
}

// ---------------------------------------------------------------------------------------------
// A 10,000-certificate pool
// ---------------------------------------------------------------------------------------------

fn big_pool(filler: &str, extra: &[&str]) -> Vec<Certificate> {
    let c = pki().cert(filler);
    let mut pool = vec![c; 10_000];
    pool.extend(pki().certs(extra));
    pool
}

#[test]
fn ten_thousand_unrelated_certificates_do_not_hide_the_real_intermediate() {
    let p = pki();
    let leaf = p.cert("leaf_ok");
    let anchors = p.certs(ROOT);
    let pool = big_pool("int_nc", &["int"]);
    let vp = build_and_validate(&leaf, &anchors, &pool, &opts(), &mut |_| Ok(()))
        .unwrap_or_else(|e| panic!("{}: {e}", e.code()));
    assert_eq!(vp.certs.len(), 3);
}

#[test]
fn ten_thousand_same_named_wrong_key_cas_are_pruned_by_key_identifiers() {
    // evil_int has the intermediate's exact name but another key (and SKI).
    let p = pki();
    let leaf = p.cert("leaf_ok");
    let anchors = p.certs(ROOT);
    let pool = big_pool("evil_int", &["int"]);
    let vp = build_and_validate(&leaf, &anchors, &pool, &opts(), &mut |_| Ok(()))
        .unwrap_or_else(|e| panic!("{}: {e}", e.code()));
    assert_eq!(vp.certs[1].serial_hex(), serial("int"));
}

#[test]
fn ten_thousand_unrelated_certificates_without_the_intermediate_give_unknown_issuer() {
    let p = pki();
    let leaf = p.cert("leaf_ok");
    let anchors = p.certs(ROOT);
    let pool = big_pool("int_nc", &[]);
    let e = build_and_validate(&leaf, &anchors, &pool, &opts(), &mut |_| Ok(()))
        .map(|vp| subjects(&vp))
        .expect_err("no path");
    assert_eq!(e.code(), "unknown_issuer");
}

#[test]
fn ten_thousand_identical_expired_twins_are_one_candidate_and_the_good_twin_is_found() {
    // Every copy is a real candidate (same name, same key, signature verifies) that fails on
    // expiry. Identical copies are tried once, so padding the pool with them cannot spend the
    // budget before the good twin is reached. (Distinct hostile candidates exhausting the
    // budget: tests/hostile_inputs.rs.)
    let p = pki();
    let leaf = p.cert("leaf_twin");
    let anchors = p.certs(ROOT);
    let pool = big_pool("twin_expired", &["twin_good"]);
    let vp = build_and_validate(&leaf, &anchors, &pool, &opts(), &mut |_| Ok(()))
        .unwrap_or_else(|e| panic!("{}: {e}", e.code()));
    assert_eq!(vp.certs[1].serial_hex(), serial("twin_good"));
    // Without the good twin: the expired one is the reason.
    let pool = big_pool("twin_expired", &[]);
    let e = build_and_validate(&leaf, &anchors, &pool, &opts(), &mut |_| Ok(()))
        .map(|vp| subjects(&vp))
        .expect_err("expired");
    assert_eq!(e.code(), "cert_expired");
}

// ---------------------------------------------------------------------------------------------
// The real binary
// ---------------------------------------------------------------------------------------------

/// Runs `eds-gateway verify cert LEAF args... --at AT`, returning (exit code, stdout).
fn cli(leaf: &str, args: &[&str]) -> (i32, String) {
    let p = pki();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_eds-gateway"));
    cmd.args(["verify", "cert"]).arg(p.path(leaf));
    for a in args {
        // Generated ids become their file paths; flags and values pass through.
        match p.files.get(*a) {
            Some(path) => cmd.arg(path),
            None => cmd.arg(a),
        };
    }
    cmd.args(["--at", AT]);
    let out = cmd.output().expect("run eds-gateway");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

fn cli_json(leaf: &str, args: &[&str]) -> (i32, serde_json::Value) {
    let mut all = args.to_vec();
    all.push("--json");
    let (code, out) = cli(leaf, &all);
    let line = out.lines().last().unwrap_or_default();
    let v = serde_json::from_str(line).unwrap_or_else(|e| panic!("JSON {line:?}: {e}"));
    (code, v)
}

#[test]
fn cli_valid_nca_auth_chain_prints_path_and_identity() {
    let (code, v) = cli_json(
        "nca_rsa_auth",
        &[
            "--root",
            "nca_root",
            "--intermediate",
            "nca_int",
            "--eku",
            "clientAuth",
        ],
    );
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["valid"], true);
    assert_eq!(v["code"], "ok");
    assert_eq!(v["path"].as_array().map(Vec::len), Some(3));
    assert_eq!(v["identity"]["iin"]["value"], pki().iin.as_str());
    assert_eq!(v["identity"]["profile"], "rsa_auth");
}

#[test]
fn cli_unknown_issuer_without_the_intermediate() {
    let (code, v) = cli_json("leaf_ok", &["--root", "root"]);
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["valid"], false);
    assert_eq!(v["code"], "unknown_issuer");
}

#[test]
fn cli_cert_expired_text_output_ends_with_the_invalid_line() {
    let (code, out) = cli("leaf_expired", &["--root", "root", "--intermediate", "int"]);
    assert_eq!(code, 1, "{out}");
    let last = out.lines().last().unwrap_or_default();
    assert!(last.starts_with("INVALID cert_expired: "), "{last}");
}

#[test]
fn cli_cert_revoked_via_crl() {
    let (code, v) = cli_json(
        "leaf_revoked",
        &[
            "--root",
            "root",
            "--intermediate",
            "int",
            "--crl",
            "crl_int",
            "--revocation",
            "crl",
        ],
    );
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["code"], "cert_revoked");
}

#[test]
fn cli_crl_stale_and_chain_scope() {
    let (code, v) = cli_json(
        "leaf_ok",
        &[
            "--root",
            "root",
            "--intermediate",
            "int",
            "--crl",
            "crl_int_stale",
        ],
    );
    assert_eq!((code, v["code"].as_str()), (1, Some("crl_stale")), "{v}");
    let (code, v) = cli_json(
        "leaf_under_revoked_int",
        &[
            "--root",
            "root",
            "--intermediate",
            "int_revoked",
            "--crl",
            "crl_root",
            "--crl",
            "crl_int_revoked",
            "--revocation-scope",
            "chain",
        ],
    );
    assert_eq!((code, v["code"].as_str()), (1, Some("cert_revoked")), "{v}");
}

#[test]
fn cli_ocsp_nonce_matching_and_mismatching() {
    let nonce = hex::encode(&pki().nonces["req_ok"]);
    let base = [
        "--root",
        "root",
        "--intermediate",
        "int",
        "--ocsp-response",
        "ocsp_ok_ca",
        "--revocation",
        "ocsp",
        "--ocsp-nonce",
    ];
    let mut args = base.to_vec();
    args.push(&nonce);
    let (code, v) = cli_json("leaf_ok", &args);
    assert_eq!((code, v["code"].as_str()), (0, Some("ok")), "{v}");
    let mut args = base.to_vec();
    args.push("00112233445566778899aabbccddeeff");
    let (code, v) = cli_json("leaf_ok", &args);
    assert_eq!(
        (code, v["code"].as_str()),
        (1, Some("ocsp_nonce_mismatch")),
        "{v}"
    );
}

#[test]
fn cli_unknown_status_refused_then_allowed() {
    let args = [
        "--root",
        "root",
        "--intermediate",
        "int",
        "--revocation",
        "crl",
    ];
    let (code, v) = cli_json("leaf_ok", &args);
    assert_eq!(
        (code, v["code"].as_str()),
        (1, Some("revocation_status_unknown")),
        "{v}"
    );
    let mut more = args.to_vec();
    more.push("--allow-unknown-status");
    let (code, v) = cli_json("leaf_ok", &more);
    assert_eq!((code, v["code"].as_str()), (0, Some("ok")), "{v}");
}

#[test]
fn cli_usage_error_exits_2() {
    let p = pki();
    let out = Command::new(env!("CARGO_BIN_EXE_eds-gateway"))
        .args(["verify", "cert"])
        .arg(p.path("leaf_ok"))
        .args(["--root"])
        .arg(p.path("root"))
        .args(["--at", "yesterday"])
        .output()
        .expect("run eds-gateway");
    assert_eq!(out.status.code(), Some(2));
}

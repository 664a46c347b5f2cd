//! The test CA end to end through the real binary: `pki init/issue/revoke/release/list/crl/ocsp`,
//! then every output checked by our core (cert path, CRL, OCSP, CMS) and, for RSA, by OpenSSL
//! as the independent peer (`openssl verify`, `crl -verify`, `ocsp -respin … -verify_other`,
//! `pkcs12 -legacy`, `cms -verify`). OpenSSL missing = test failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use eds_gateway::drill::builder;
use eds_gateway::pki::cert::Certificate;
use eds_gateway::pki::crl::{Crl, RevocationReason};
use eds_gateway::pki::identity::iin_checksum_ok;
use eds_gateway::pki::ocsp::{self, OcspCheckOptions, OcspResponse, OcspStatus};
use eds_gateway::pki::p12;
use eds_gateway::pki::signature::SignaturePolicy;
use eds_gateway::pki::time::UnixTime;

const BIN: &str = env!("CARGO_BIN_EXE_eds-gateway");

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("testpki_ca_{}_{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("tmp");
    d
}

#[track_caller]
fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).output().expect("run binary")
}

#[track_caller]
fn ok(args: &[&str]) -> String {
    let o = run(args);
    assert!(
        o.status.success(),
        "{args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[track_caller]
fn openssl(args: &[&str]) -> Output {
    Command::new("openssl")
        .args(args)
        .output()
        .expect("openssl must be installed for the interop tests")
}

#[track_caller]
fn openssl_ok(args: &[&str]) -> String {
    let o = openssl(args);
    assert!(
        o.status.success(),
        "openssl {args:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8 path")
}

fn cert(p: &Path) -> Certificate {
    Certificate::parse(&std::fs::read(p).expect("read cert")).expect("parse cert")
}

fn crl(p: &Path) -> Crl {
    Crl::parse(&std::fs::read(p).expect("read crl")).expect("parse crl")
}

fn now() -> UnixTime {
    UnixTime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64,
    )
}

/// Builds a request, asks `pki ocsp`, checks the answer with the core; returns the response path.
fn ocsp_round(
    ca_dir: &Path,
    leaf: &Certificate,
    issuer: &Certificate,
    extra: &[&str],
    tag: &str,
) -> (PathBuf, OcspStatus) {
    let nonce = [7u8; 16];
    let cid = builder::make_cert_id(issuer.subject.der(), &issuer.public_key, &leaf.serial);
    let req = builder::make_ocsp_request(&cid, Some(&nonce));
    let req_path = ca_dir.join(format!("req_{tag}.der"));
    let resp_path = ca_dir.join(format!("resp_{tag}.der"));
    std::fs::write(&req_path, req).expect("write req");
    let mut args = vec![
        "pki",
        "ocsp",
        s(ca_dir),
        "--request",
        s(&req_path),
        "--out",
        s(&resp_path),
    ];
    args.extend_from_slice(extra);
    ok(&args);
    let resp = OcspResponse::parse(&std::fs::read(&resp_path).expect("read")).expect("parse ocsp");
    let opts = OcspCheckOptions {
        expected_nonce: Some(nonce.to_vec()),
        max_age_secs: Some(600),
        ..OcspCheckOptions::default()
    };
    let st = ocsp::check(&resp, leaf, issuer, now(), &opts).expect("OCSP response checks");
    (resp_path, st)
}

#[test]
fn rsa_ca_issue_revoke_crl_ocsp_all_accepted_by_openssl_and_our_core() {
    let d = dir("rsa");
    let ca_dir = d.join("ca");
    ok(&[
        "pki",
        "init",
        s(&ca_dir),
        "--algorithm",
        "rsa2048",
        "--base-url",
        "http://127.0.0.1:9",
    ]);
    let (root, ca, chain) = (
        ca_dir.join("root.pem"),
        ca_dir.join("ca.pem"),
        ca_dir.join("chain.pem"),
    );
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(ca_dir.join("keys/ca.key"))
            .expect("key")
            .permissions(),
    );
    assert_eq!(mode & 0o777, 0o600);

    let p12_path = d.join("u.p12");
    let pem_path = d.join("u.pem");
    let out = ok(&[
        "pki",
        "issue",
        s(&ca_dir),
        "--iin",
        "900101300012",
        "--surname",
        "ТЕСТОВ",
        "--given-name",
        "ТЕСТ",
        "--patronymic",
        "ТЕСТОВИЧ",
        "--bin",
        "123456789021",
        "--org",
        "ТЕСТ АУРУХАНАСЫ",
        "--role",
        "head",
        "--profile",
        "rsa-auth",
        "--out",
        s(&p12_path),
        "--password",
        "Qwerty12",
        "--pem-out",
        s(&pem_path),
    ]);
    let serial = out.split_whitespace().next().expect("serial").to_string();

    // The certificate: NCA-like shape, verified by OpenSSL up to our root.
    let leaf = cert(&pem_path);
    let issuer = cert(&ca);
    assert_eq!(leaf.serial_hex(), serial);
    // NCA's habit: serial = subjectKeyIdentifier with the top bit cleared.
    let mut ski = leaf.extensions.subject_key_id.clone().expect("ski");
    ski[0] &= 0x7f;
    assert_eq!(leaf.serial, ski);
    assert_eq!(
        leaf.subject
            .first_text(eds_gateway::pki::name::oids::SERIAL_NUMBER),
        Some("IIN900101300012")
    );
    assert_eq!(
        leaf.subject.first_text(eds_gateway::pki::name::oids::OU),
        Some("BIN123456789021")
    );
    assert_eq!(
        leaf.subject
            .first_text(eds_gateway::pki::name::oids::GIVEN_NAME),
        Some("ТЕСТОВИЧ")
    );
    let eku: Vec<String> = leaf
        .extensions
        .extended_key_usage
        .clone()
        .expect("eku")
        .iter()
        .map(|o| o.to_string())
        .collect();
    assert_eq!(
        eku,
        [
            "1.3.6.1.5.5.7.3.2",
            "1.2.398.3.3.4.1.2",
            "1.2.398.3.3.4.1.2.1"
        ]
    );
    assert_eq!(leaf.extensions.ocsp_urls, ["http://127.0.0.1:9/ocsp"]);
    assert_eq!(
        leaf.extensions.freshest_crl[0].urls,
        ["http://127.0.0.1:9/crl/ca_delta.crl"]
    );
    assert!(
        openssl_ok(&[
            "verify",
            "-CAfile",
            s(&root),
            "-untrusted",
            s(&ca),
            s(&pem_path)
        ])
        .contains("OK")
    );
    assert!(cert(&ca_dir.join("ocsp.pem")).extensions.ocsp_no_check);

    // The .p12: OpenSSL -legacy opens it fully; our parser reads it back.
    let dump = openssl_ok(&[
        "pkcs12",
        "-legacy",
        "-in",
        s(&p12_path),
        "-passin",
        "pass:Qwerty12",
        "-nodes",
        "-info",
    ]);
    assert!(
        dump.contains("pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048"),
        "{dump}"
    );
    assert!(dump.contains("pbeWithSHA1And40BitRC2-CBC, Iteration 2048"));
    assert!(dump.contains("MAC: sha1, Iteration 2048"));
    assert!(dump.contains("BEGIN PRIVATE KEY"));
    let contents =
        p12::parse(&std::fs::read(&p12_path).expect("p12"), "Qwerty12").expect("our p12 parse");
    assert_eq!((contents.keys.len(), contents.certificates.len()), (1, 2));
    assert!(p12::parse(&std::fs::read(&p12_path).expect("p12"), "wrong").is_err());

    // CMS with the issued key: OpenSSL verifies it to our root.
    let data = d.join("data.txt");
    std::fs::write(&data, b"hello").expect("write");
    let cms_path = d.join("u.p7s");
    let o = Command::new(BIN)
        .args([
            "sign",
            "--p12",
            s(&p12_path),
            "--password-env",
            "TP_PW",
            "--data",
            s(&data),
            "--out",
            s(&cms_path),
        ])
        .env("TP_PW", "Qwerty12")
        .output()
        .expect("sign");
    assert!(o.status.success());
    openssl_ok(&[
        "cms",
        "-verify",
        "-binary",
        "-inform",
        "DER",
        "-in",
        s(&cms_path),
        "-CAfile",
        s(&chain),
        "-purpose",
        "any",
        "-out",
        "/dev/null",
    ]);

    // OCSP good before revocation (delegated responder), OpenSSL agrees.
    let (resp, st) = ocsp_round(&ca_dir, &leaf, &issuer, &[], "good");
    assert!(
        matches!(
            st,
            OcspStatus::Good {
                next_update: Some(_),
                ..
            }
        ),
        "{st:?}"
    );
    // OpenSSL's own request (from -cert) would carry another nonce: the echo is checked by our
    // core above (expected_nonce), so OpenSSL gets -no_nonce.
    let txt = openssl_ok(&[
        "ocsp",
        "-sha256",
        "-no_nonce",
        "-respin",
        s(&resp),
        "-issuer",
        s(&ca),
        "-cert",
        s(&pem_path),
        "-CAfile",
        s(&chain),
        "-verify_other",
        s(&ca_dir.join("ocsp.pem")),
    ]);
    assert!(
        txt.contains("Response verify OK") && txt.contains(": good"),
        "{txt}"
    );

    // Revoke: full + delta CRLs list it, both verify with OpenSSL and the core.
    ok(&[
        "pki",
        "revoke",
        s(&ca_dir),
        &serial,
        "--reason",
        "keyCompromise",
    ]);
    let full = crl(&ca_dir.join("crl/ca.crl"));
    let delta = crl(&ca_dir.join("crl/ca_delta.crl"));
    full.verify_signature(&issuer, &SignaturePolicy::default())
        .expect("full CRL signature");
    delta
        .verify_signature(&issuer, &SignaturePolicy::default())
        .expect("delta CRL signature");
    full.validate_for_use(&issuer, now(), &SignaturePolicy::default())
        .expect("full CRL usable");
    delta
        .validate_for_use(&issuer, now(), &SignaturePolicy::default())
        .expect("delta CRL usable");
    assert!(!full.is_delta() && delta.is_delta());
    assert_eq!(delta.base_crl_number, full.crl_number);
    assert!(
        full.find(&leaf.serial).is_none(),
        "the full CRL predates the revocation"
    );
    assert_eq!(
        delta.find(&leaf.serial).expect("in delta").reason,
        Some(RevocationReason::KeyCompromise)
    );
    for f in ["crl/ca.crl", "crl/ca_delta.crl"] {
        let t = openssl_ok(&[
            "crl",
            "-inform",
            "DER",
            "-in",
            s(&ca_dir.join(f)),
            "-CAfile",
            s(&chain),
            "-verify",
            "-noout",
        ]);
        assert!(t.contains("verify OK"), "{t}");
    }
    // A new full CRL lists it; `openssl verify -crl_check` refuses the certificate.
    ok(&["pki", "crl", s(&ca_dir)]);
    let full = crl(&ca_dir.join("crl/ca.crl"));
    assert_eq!(
        full.find(&leaf.serial).expect("in full").reason,
        Some(RevocationReason::KeyCompromise)
    );
    let pem_crl = d.join("ca_crl.pem");
    openssl_ok(&[
        "crl",
        "-inform",
        "DER",
        "-in",
        s(&ca_dir.join("crl/ca.crl")),
        "-out",
        s(&pem_crl),
    ]);
    let o = openssl(&[
        "verify",
        "-crl_check",
        "-CAfile",
        s(&root),
        "-untrusted",
        s(&ca),
        "-CRLfile",
        s(&pem_crl),
        s(&pem_path),
    ]);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("certificate revoked")
            || String::from_utf8_lossy(&o.stderr).contains("certificate revoked")
    );

    // OCSP revoked, CA-signed and NCA-like (no nextUpdate); OpenSSL verifies both.
    let (resp, st) = ocsp_round(
        &ca_dir,
        &leaf,
        &issuer,
        &["--ca-signed", "--no-next-update"],
        "rev",
    );
    assert!(
        matches!(
            st,
            OcspStatus::Revoked {
                reason: Some(ocsp::RevocationReason::KeyCompromise),
                ..
            }
        ),
        "{st:?}"
    );
    let txt = openssl_ok(&[
        "ocsp",
        "-sha256",
        "-no_nonce",
        "-respin",
        s(&resp),
        "-issuer",
        s(&ca),
        "-cert",
        s(&pem_path),
        "-CAfile",
        s(&chain),
    ]);
    assert!(
        txt.contains("Response verify OK") && txt.contains(": revoked"),
        "{txt}"
    );

    // Unknown: a serial this CA never issued.
    let mut stranger = leaf.clone();
    stranger.serial = vec![0x01, 0x02, 0x03];
    let cid = builder::make_cert_id(issuer.subject.der(), &issuer.public_key, &stranger.serial);
    std::fs::write(d.join("req_u.der"), builder::make_ocsp_request(&cid, None)).expect("w");
    ok(&[
        "pki",
        "ocsp",
        s(&ca_dir),
        "--request",
        s(&d.join("req_u.der")),
        "--out",
        s(&d.join("resp_u.der")),
    ]);
    let resp =
        OcspResponse::parse(&std::fs::read(d.join("resp_u.der")).expect("r")).expect("parse");
    assert_eq!(
        ocsp::check(
            &resp,
            &stranger,
            &issuer,
            now(),
            &OcspCheckOptions::default()
        )
        .expect("check"),
        OcspStatus::Unknown
    );

    // A malformed request gets malformedRequest (status 1), not a crash.
    std::fs::write(d.join("junk.der"), b"\x30\x03junk").expect("w");
    ok(&[
        "pki",
        "ocsp",
        s(&ca_dir),
        "--request",
        s(&d.join("junk.der")),
        "--out",
        s(&d.join("resp_j.der")),
    ]);
    assert_eq!(
        std::fs::read(d.join("resp_j.der")).expect("r"),
        vec![0x30, 0x03, 0x0a, 0x01, 0x01]
    );

    // Refusals: revoking twice, an unknown serial.
    assert_eq!(
        run(&["pki", "revoke", s(&ca_dir), &serial]).status.code(),
        Some(1)
    );
    assert_eq!(
        run(&["pki", "revoke", s(&ca_dir), "ABCDEF"]).status.code(),
        Some(1)
    );
}

#[test]
fn gost_ca_hold_and_release_through_delta_crl_and_ocsp() {
    let d = dir("gost");
    let ca_dir = d.join("ca");
    ok(&[
        "pki",
        "init",
        s(&ca_dir),
        "--base-url",
        "http://127.0.0.1:9",
    ]);
    let root_c = cert(&ca_dir.join("root.pem"));
    assert!(root_c.subject.to_display_string().contains("(GOST) TEST"));
    assert_eq!(
        root_c.signature_algorithm.oid.to_string(),
        "1.2.398.3.10.1.1.2.3.2"
    );
    let p12_path = d.join("g.p12");
    let pem_path = d.join("g.pem");
    let out = ok(&[
        "pki",
        "issue",
        s(&ca_dir),
        "--iin",
        "900101300012",
        "--surname",
        "ТЕСТОВ",
        "--given-name",
        "ТЕСТ",
        "--bin",
        "123456789021",
        "--org",
        "АУРУХАНА",
        "--role",
        "employee",
        "--profile",
        "gost2015",
        "--out",
        s(&p12_path),
        "--password",
        "Aa123456",
        "--pem-out",
        s(&pem_path),
    ]);
    let serial = out.split_whitespace().next().expect("serial").to_string();
    let leaf = cert(&pem_path);
    let issuer = cert(&ca_dir.join("ca.pem"));
    let eku: Vec<String> = leaf
        .extensions
        .extended_key_usage
        .clone()
        .expect("eku")
        .iter()
        .map(|o| o.to_string())
        .collect();
    assert_eq!(
        eku,
        [
            "1.3.6.1.5.5.7.3.4",
            "1.2.398.3.3.4.1.2",
            "1.2.398.3.3.4.1.2.5"
        ],
        "no clientAuth on GOST-2015"
    );
    assert_eq!(
        leaf.extensions.policies.clone().expect("policies")[0]
            .oid
            .to_string(),
        "1.2.398.3.3.2"
    );

    // The .p12: OpenSSL -legacy -nokeys opens it; our parser reads the GOST key back.
    let dump = openssl_ok(&[
        "pkcs12",
        "-legacy",
        "-in",
        s(&p12_path),
        "-passin",
        "pass:Aa123456",
        "-nokeys",
    ]);
    assert!(dump.contains("BEGIN CERTIFICATE"));
    let contents =
        p12::parse(&std::fs::read(&p12_path).expect("p12"), "Aa123456").expect("our p12 parse");
    assert!(matches!(contents.keys[0], p12::P12Key::Gost(_)));

    // Our verifier: path to the root, and a CMS signed with the issued key.
    ok(&[
        "verify",
        "cert",
        s(&pem_path),
        "--root",
        s(&ca_dir.join("root.pem")),
        "--intermediate",
        s(&ca_dir.join("ca.pem")),
    ]);
    let data = d.join("data.txt");
    std::fs::write(&data, b"challenge").expect("w");
    let cms_path = d.join("g.p7s");
    let o = Command::new(BIN)
        .args([
            "sign",
            "--p12",
            s(&p12_path),
            "--password-env",
            "TP_PW",
            "--data",
            s(&data),
            "--out",
            s(&cms_path),
        ])
        .env("TP_PW", "Aa123456")
        .output()
        .expect("sign");
    assert!(o.status.success());
    ok(&[
        "verify",
        "cms",
        s(&cms_path),
        "--root",
        s(&ca_dir.join("root.pem")),
        "--intermediate",
        s(&ca_dir.join("ca.pem")),
    ]);

    // Hold: the delta lists certificateHold; our verify cert with full+delta refuses.
    ok(&[
        "pki",
        "revoke",
        s(&ca_dir),
        "--iin",
        "900101300012",
        "--reason",
        "certificateHold",
    ]);
    let delta = crl(&ca_dir.join("crl/ca_delta.crl"));
    delta
        .validate_for_use(&issuer, now(), &SignaturePolicy::default())
        .expect("GOST delta CRL verifies");
    assert_eq!(
        delta.find(&leaf.serial).expect("held").reason,
        Some(RevocationReason::CertificateHold)
    );
    let o = run(&[
        "verify",
        "cert",
        s(&pem_path),
        "--root",
        s(&ca_dir.join("root.pem")),
        "--intermediate",
        s(&ca_dir.join("ca.pem")),
        "--crl",
        s(&ca_dir.join("crl/ca.crl")),
        "--crl",
        s(&ca_dir.join("crl/ca_delta.crl")),
    ]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let (_, st) = ocsp_round(&ca_dir, &leaf, &issuer, &[], "hold");
    assert!(matches!(
        st,
        OcspStatus::Revoked {
            reason: Some(ocsp::RevocationReason::CertificateHold),
            ..
        }
    ));

    // The hold goes into a new full CRL; release → the next delta says removeFromCRL.
    ok(&["pki", "crl", s(&ca_dir)]);
    assert!(crl(&ca_dir.join("crl/ca.crl")).find(&leaf.serial).is_some());
    ok(&["pki", "release", s(&ca_dir), &serial]);
    let delta = crl(&ca_dir.join("crl/ca_delta.crl"));
    delta
        .validate_for_use(&issuer, now(), &SignaturePolicy::default())
        .expect("delta verifies");
    assert_eq!(
        delta.find(&leaf.serial).expect("listed").reason,
        Some(RevocationReason::RemoveFromCrl)
    );
    ok(&[
        "verify",
        "cert",
        s(&pem_path),
        "--root",
        s(&ca_dir.join("root.pem")),
        "--intermediate",
        s(&ca_dir.join("ca.pem")),
        "--crl",
        s(&ca_dir.join("crl/ca.crl")),
        "--crl",
        s(&ca_dir.join("crl/ca_delta.crl")),
    ]);
    let (_, st) = ocsp_round(&ca_dir, &leaf, &issuer, &[], "released");
    assert!(matches!(st, OcspStatus::Good { .. }), "{st:?}");
    assert_eq!(
        run(&["pki", "release", s(&ca_dir), &serial]).status.code(),
        Some(1),
        "not on hold any more"
    );
    let list = ok(&["pki", "list", s(&ca_dir)]);
    assert!(list.contains(&serial) && list.contains("good"), "{list}");
}

#[test]
fn random_staff_have_valid_iins_and_parallel_issues_do_not_lose_state() {
    let d = dir("staff");
    let ca_dir = d.join("ca");
    ok(&["pki", "init", s(&ca_dir), "--algorithm", "p256"]);
    assert_eq!(
        cert(&ca_dir.join("ca.pem"))
            .signature_algorithm
            .oid
            .to_string(),
        "1.2.840.10045.4.3.2"
    );
    let staff = d.join("staff");
    ok(&[
        "pki",
        "issue",
        s(&ca_dir),
        "--random-staff",
        "3",
        "--profile",
        "gost2015",
        "--out",
        s(&staff),
        "--password",
        "Qwerty12",
    ]);
    let children: Vec<_> = (0..4)
        .map(|k| {
            Command::new(BIN)
                .args([
                    "pki",
                    "issue",
                    s(&ca_dir),
                    "--iin",
                    "900101300012",
                    "--surname",
                    "А",
                    "--given-name",
                    "Б",
                    "--profile",
                    "gost2015",
                    "--out",
                    s(&d.join(format!("p{k}.p12"))),
                    "--password",
                    "Qwerty12",
                ])
                .spawn()
                .expect("spawn")
        })
        .collect();
    for mut c in children {
        assert!(c.wait().expect("wait").success());
    }
    let list = ok(&["pki", "list", s(&ca_dir), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&list).expect("json");
    let items = v.as_array().expect("array");
    assert_eq!(items.len(), 7);
    let mut serials: Vec<&str> = items
        .iter()
        .map(|i| i["serial"].as_str().expect("serial"))
        .collect();
    serials.sort();
    serials.dedup();
    assert_eq!(serials.len(), 7);
    for i in items.iter().take(3) {
        assert!(iin_checksum_ok(i["iin"].as_str().expect("iin")), "{i}");
        assert_eq!(i["role"], "employee");
    }
    for k in 0..3 {
        let p = staff.join(format!("staff_{k:03}.p12"));
        p12::parse(&std::fs::read(&p).expect("p12"), "Qwerty12").expect("staff p12 parses");
    }
    // A second init on the same directory is refused.
    assert_eq!(run(&["pki", "init", s(&ca_dir)]).status.code(), Some(1));
}

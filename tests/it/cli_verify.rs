//! The `verify` command line on NCA fixtures, through the real binary: exit codes, reason codes
//! and JSON shapes as the README documents them.

use crate::common;

use common::run_cli as run;

fn f(rel: &str) -> String {
    common::nca_arg(rel)
}

const RSA_CA: &str = "ca/test/nca_rsa_test_2019.pem";

#[test]
fn rsa_sign_certificate_is_valid_in_2021() {
    let r = run(&[
        "verify",
        "cert",
        &f("certs/rsa-2021-2022/individual_sign_rsa_2021.pem"),
        "--root",
        &f(RSA_CA),
        "--at",
        "2021-06-01T00:00:00Z",
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["valid"], true);
    assert_eq!(v["identity"]["iin"]["value"], "123456789011");
    assert_eq!(v["identity"]["profile"], "rsa_sign");
    assert_eq!(v["path"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        v["path"][0]["serial"],
        "4279390A141F5353A62947B61ED65E81741467D1"
    );
}

#[test]
fn revoked_rsa_auth_certificate_is_refused_by_the_nca_test_crl() {
    let r = run(&[
        "verify",
        "cert",
        &f("certs/rsa-2021-2022/individual_auth_rsa_revoked_2022.pem"),
        "--root",
        &f(RSA_CA),
        "--crl",
        &f("crl/nca_rsa_test_2022-03-29.crl"),
        "--at",
        "2022-05-01T00:00:00Z",
    ]);
    assert_eq!(r.code, 1);
    assert!(
        r.last_line().starts_with("INVALID cert_revoked:"),
        "{}",
        r.last_line()
    );
    assert!(r.last_line().contains("superseded"));
}

#[test]
fn certificate_not_on_the_crl_is_valid_with_crl_evidence() {
    let r = run(&[
        "verify",
        "cert",
        &f("certs/rsa-2021-2022/ncanode_individual_sign_rsa_2022.pem"),
        "--root",
        &f(RSA_CA),
        "--crl",
        &f("crl/nca_rsa_test_2022-03-29.crl"),
        "--revocation",
        "crl",
        "--at",
        "2022-05-01T00:00:00Z",
        "--json",
    ]);
    let v = r.json();
    assert_eq!(r.code, 0, "{v}");
    assert_eq!(v["revocation"][0]["sources"][0]["source"], "crl");
    assert_eq!(v["revocation"][0]["sources"][0]["status"], "good");
}

#[test]
fn unknown_revocation_status_is_refused_by_default() {
    // OCSP mode with no response about this certificate: deny by default.
    let args = [
        "verify",
        "cert",
        &f("certs/rsa-2021-2022/individual_sign_rsa_2021.pem"),
        "--root",
        &f(RSA_CA),
        "--revocation",
        "ocsp",
        "--at",
        "2021-06-01T00:00:00Z",
    ];
    let r = run(&args);
    assert_eq!(r.code, 1);
    assert!(
        r.last_line()
            .starts_with("INVALID revocation_status_unknown:")
    );
    let mut allowed = args.to_vec();
    allowed.push("--allow-unknown-status");
    assert_eq!(run(&allowed).code, 0);
}

#[test]
fn stale_crl_is_refused() {
    let r = run(&[
        "verify",
        "cert",
        &f("certs/rsa-2021-2022/ncanode_individual_sign_rsa_2022.pem"),
        "--root",
        &f(RSA_CA),
        "--crl",
        &f("crl/nca_rsa_test_2022-03-29.crl"),
        "--at",
        "2022-12-01T00:00:00Z",
    ]);
    assert_eq!(r.code, 1);
    // The leaf itself has expired by then too; the path check comes first.
    assert!(r.last_line().starts_with("INVALID "), "{}", r.last_line());
    let crl = run(&[
        "verify",
        "crl",
        &f("crl/nca_rsa_test_2022-03-29.crl"),
        "--issuer",
        &f(RSA_CA),
        "--at",
        "2022-12-01T00:00:00Z",
    ]);
    assert_eq!(crl.code, 1);
    assert!(
        crl.last_line().starts_with("INVALID crl_stale:"),
        "{}",
        crl.last_line()
    );
}

#[test]
fn nca_rsa_crl_verifies_against_its_issuer() {
    let r = run(&[
        "verify",
        "crl",
        &f("crl/nca_rsa_test_2022-03-29.crl"),
        "--issuer",
        &f(RSA_CA),
        "--at",
        "2022-05-01T00:00:00Z",
        "--json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    let v = r.json();
    assert_eq!(v["entries"], 126);
}

#[test]
fn nca_rsa_ocsp_response_is_good_with_its_nonce_and_refused_with_another() {
    let base = [
        "verify",
        "ocsp",
        &f("ocsp/ocsp_response_individual_sign_2004.bin"),
        "--cert",
        &f("certs/rsa-2021-2022/individual_sign_rsa_2021.pem"),
        "--issuer",
        &f(RSA_CA),
        "--at",
        "2022-09-02T17:00:00Z",
        "--json",
    ];
    let mut good = base.to_vec();
    good.extend(["--nonce", "b5e5c9b552cbcac4"]);
    let r = run(&good);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert_eq!(r.json()["status"], "good");
    let mut bad = base.to_vec();
    bad.extend(["--nonce", "0000000000000000"]);
    let r = run(&bad);
    assert_eq!(r.code, 1);
    assert_eq!(r.json()["code"], "ocsp_nonce_mismatch");
}

#[test]
fn every_kalkan_rsa_cms_verifies_at_its_signing_time() {
    let mut n = 0;
    for p in common::nca_files("cms") {
        let name = p.file_name().and_then(|s| s.to_str()).unwrap_or("");
        if !(name.starts_with("dk_") && name.contains("RSA256")) {
            continue;
        }
        let r = run(&[
            "verify",
            "cms",
            &p.display().to_string(),
            "--root",
            &f(RSA_CA),
            "--at-signing-time",
            "--json",
        ]);
        assert_eq!(r.code, 0, "{name}: {}", r.stdout);
        let v = r.json();
        assert_eq!(v["signers"][0]["identity"]["iin"]["value"], "123456789011");
        let t = v["signers"][0]["signing_time"].as_str().unwrap_or("");
        assert!(t.starts_with("2020-09-09T20:03:1"), "{name}: {t}");
        n += 1;
    }
    assert_eq!(n, 6);
}

#[test]
fn cms_whose_signer_certificate_had_expired_is_refused_with_that_reason() {
    let r = run(&[
        "verify",
        "cms",
        &f("cms/ncanode_rsa_sign_attached_test123.p7s"),
        "--root",
        &f(RSA_CA),
        "--at-signing-time",
    ]);
    assert_eq!(r.code, 1);
    assert!(
        r.last_line().starts_with("INVALID cert_expired: signer 0:"),
        "{}",
        r.last_line()
    );
}

#[test]
fn detached_cms_without_its_data_is_refused() {
    let r = run(&[
        "verify",
        "cms",
        &f("cms/ncanode_2signers_gost2015+rsa_detached.p7s"),
        "--root",
        &f(RSA_CA),
        "--json",
    ]);
    assert_eq!(r.code, 1);
    assert_eq!(r.json()["code"], "cms_no_content");
}

#[test]
fn unreadable_input_is_a_usage_error() {
    let r = run(&[
        "verify",
        "cert",
        "/nonexistent/leaf.pem",
        "--root",
        &f(RSA_CA),
    ]);
    assert_eq!(r.code, 2);
    let r = run(&["verify", "cert", &f(RSA_CA), "--at", "yesterday"]);
    assert_eq!(r.code, 2);
}

#[test]
fn garbage_leaf_is_invalid_not_a_usage_error() {
    let dir = std::env::temp_dir().join(format!("eds-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("tmp");
    let junk = dir.join("junk.der");
    std::fs::write(&junk, [0x30, 0x82, 0xff, 0xff, 0x01]).expect("write");
    let r = run(&[
        "verify",
        "cert",
        &junk.display().to_string(),
        "--root",
        &f(RSA_CA),
    ]);
    assert_eq!(r.code, 1);
    assert!(r.last_line().starts_with("INVALID cert_malformed:"));
    let _ = std::fs::remove_dir_all(&dir);
}

//! `eds-gateway sign` with NCA's own test .p12 files: every output verifies with our CMS
//! verifier (library and binary), the full path verifies for the 2026 GOST pack, and OpenSSL
//! (`openssl cms -verify -noverify`) accepts the RSA outputs. OpenSSL missing = failure.

use crate::common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use eds_gateway::pki::cms::{self, SignedData};
use eds_gateway::pki::signature::SignaturePolicy;

const BIN: &str = env!("CARGO_BIN_EXE_eds-gateway");

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("testpki_sign_{}", std::process::id()));
    std::fs::create_dir_all(&d).expect("tmp dir");
    d.join(name)
}

fn password_for(p12: &Path) -> &'static str {
    if p12.to_string_lossy().contains("gost2015-2022") {
        "Aa123456"
    } else {
        "Qwerty12"
    }
}

fn sign(p12: &Path, data: &Path, extra: &[&str]) -> Output {
    Command::new(BIN)
        .arg("sign")
        .arg("--p12")
        .arg(p12)
        .args(["--password-env", "TESTPKI_PW", "--data"])
        .arg(data)
        .args(extra)
        .env("TESTPKI_PW", password_for(p12))
        .output()
        .expect("run eds-gateway sign")
}

fn all_keys() -> Vec<PathBuf> {
    let mut v = Vec::new();
    for dir in [
        "keys/rsa-2020",
        "keys/rsa-2021-2022",
        "keys/gost2004",
        "keys/gost2015-2022",
        "keys/gost2015-2026",
    ] {
        v.extend(common::nca_files(dir));
    }
    v
}

fn verify_lib(cms_bytes: &[u8], detached: Option<&[u8]>, content: &[u8]) -> String {
    let sd = SignedData::parse(cms_bytes).expect("our CMS parses");
    assert_eq!(sd.certificates.len(), 1, "signer certificate embedded");
    assert_eq!(sd.signers.len(), 1);
    if detached.is_none() {
        assert_eq!(sd.content.as_deref(), Some(content));
    } else {
        assert_eq!(sd.content, None);
    }
    let v = cms::verify_signers(&sd, detached, &[], &SignaturePolicy::default())
        .expect("whole message ok");
    assert_eq!(v[0].result, Ok(()), "signer verifies");
    assert!(v[0].signing_time.is_some());
    let attrs: Vec<String> = sd.signers[0]
        .signed_attributes
        .as_ref()
        .expect("signed attributes")
        .iter()
        .map(|a| a.oid.to_string())
        .collect();
    // Kalkan's order: contentType, signingTime, messageDigest.
    assert_eq!(
        attrs,
        [
            "1.2.840.113549.1.9.3",
            "1.2.840.113549.1.9.5",
            "1.2.840.113549.1.9.4"
        ]
    );
    format!("{} {}", v[0].digest_algorithm, v[0].signature_algorithm)
}

#[test]
fn every_nca_test_key_signs_attached_and_detached_and_our_verifier_accepts() {
    let data = tmp("data.bin");
    std::fs::write(&data, "challenge-Ωmega-123".as_bytes()).expect("write");
    let content = std::fs::read(&data).expect("read");
    let keys = all_keys();
    assert!(keys.len() >= 20, "fixture keys found: {}", keys.len());
    for p12 in &keys {
        let out = sign(p12, &data, &[]);
        assert!(
            out.status.success(),
            "{}: {}",
            p12.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        let algs = verify_lib(&out.stdout, None, &content);
        let name = p12.to_string_lossy();
        let expected = if name.contains("gost2015") {
            "1.2.398.3.10.1.3.3 1.2.398.3.10.1.1.2.3.2"
        } else if name.contains("gost2004") {
            "1.2.398.3.10.1.3.1 1.2.398.3.10.1.1.1.2"
        } else {
            "2.16.840.1.101.3.4.2.1 1.2.840.113549.1.1.11"
        };
        assert_eq!(algs, expected, "{name}");

        let out = sign(p12, &data, &["--detached", "--pem"]);
        assert!(out.status.success(), "{name} detached");
        assert!(out.stdout.starts_with(b"-----BEGIN CMS-----"));
        verify_lib(&out.stdout, Some(&content), &content);
    }
}

#[test]
fn verify_cms_binary_accepts_the_2026_gost_pack_signature_with_the_test_root() {
    let data = tmp("data26.bin");
    std::fs::write(&data, b"login challenge").expect("write");
    let p12 = common::nca("keys/gost2015-2026/individual_valid.p12");
    let cms_path = tmp("i26.p7s");
    let out = sign(
        &p12,
        &data,
        &[
            "--out",
            cms_path.to_str().expect("utf8"),
            "--signing-time",
            "2026-09-01T10:00:00Z",
        ],
    );
    assert!(out.status.success());
    let v = Command::new(BIN)
        .args(["verify", "cms"])
        .arg(&cms_path)
        .arg("--root")
        .arg(common::nca("ca/test/root_test_gost_2022.cer"))
        .arg("--intermediate")
        .arg(common::nca("ca/test/nca_gost2022_test.cer"))
        .args(["--at", "2026-09-01T10:00:00Z"])
        .output()
        .expect("verify");
    assert!(
        v.status.success(),
        "{}{}",
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v.stderr)
    );
}

#[test]
fn openssl_cms_verify_accepts_every_rsa_output() {
    let data = tmp("data_rsa.bin");
    std::fs::write(&data, b"RSA content for OpenSSL").expect("write");
    let mut n = 0;
    for p12 in all_keys()
        .into_iter()
        .filter(|p| p.to_string_lossy().contains("rsa-"))
    {
        for detached in [false, true] {
            let cms_path = tmp("rsa.p7s");
            let mut extra = vec!["--out", cms_path.to_str().expect("utf8")];
            if detached {
                extra.push("--detached");
            }
            assert!(sign(&p12, &data, &extra).status.success());
            let mut cmd = Command::new("openssl");
            cmd.args([
                "cms",
                "-verify",
                "-noverify",
                "-binary",
                "-inform",
                "DER",
                "-in",
            ])
            .arg(&cms_path)
            .args(["-out", "/dev/null"]);
            if detached {
                cmd.arg("-content").arg(&data);
            }
            let o = cmd
                .output()
                .expect("openssl must be installed for the interop tests");
            assert!(
                o.status.success(),
                "openssl rejected {} (detached {detached}): {}",
                p12.display(),
                String::from_utf8_lossy(&o.stderr)
            );
            n += 1;
        }
    }
    assert_eq!(n, 18);
}

#[test]
fn wrong_password_is_exit_1_and_missing_data_is_usage() {
    let data = tmp("d.bin");
    std::fs::write(&data, b"x").expect("write");
    let p12 = common::nca("keys/gost2015-2026/individual_valid.p12");
    let o = Command::new(BIN)
        .args(["sign", "--p12"])
        .arg(&p12)
        .args(["--password-env", "TESTPKI_BAD", "--data"])
        .arg(&data)
        .env("TESTPKI_BAD", "wrong")
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(1));
    let o = Command::new(BIN)
        .args(["sign", "--p12"])
        .arg(&p12)
        .args(["--password-env", "TESTPKI_PW"])
        .output()
        .expect("run");
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn data_base64_signs_the_decoded_bytes() {
    let p12 = common::nca("keys/gost2015-2026/legal_valid_head.p12");
    let o = Command::new(BIN)
        .args(["sign", "--p12"])
        .arg(&p12)
        .args([
            "--password-env",
            "TESTPKI_PW",
            "--data-base64",
            "0JvQvtCz0LjQvS0xMjM=",
            "--detached",
        ])
        .env("TESTPKI_PW", "Qwerty12")
        .output()
        .expect("run");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let content = "Логин-123".as_bytes();
    verify_lib(&o.stdout, Some(content), content);
}

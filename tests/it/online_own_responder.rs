//! The online revocation layer against the project's own GOST responder (`pki serve`), through
//! the real binary: a GOST-2015 staff certificate is GOOD by OCSP and CRL, then REVOKED at once
//! after `pki revoke`, without restarting the responder.

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use common::run_cli;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn status(leaf: &str, ca: &str, base: &str) -> common::CliRun {
    run_cli(&[
        "revocation",
        "status",
        leaf,
        "--issuer",
        ca,
        "--ocsp-url",
        &format!("{base}/ocsp"),
        "--crl-url",
        &format!("{base}/crl/ca.crl"),
        "--delta-url",
        &format!("{base}/crl/ca_delta.crl"),
        "--hash",
        "sha256",
    ])
}

#[test]
fn gost_staff_certificate_is_good_then_revoked_by_the_own_responder() {
    let dir = std::env::temp_dir().join(format!("eds-own-responder-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("tmp");
    let ca_dir = dir.join("ca");
    let ca = ca_dir.display().to_string();
    let leaf = dir.join("staff.pem").display().to_string();
    let p12 = dir.join("staff.p12").display().to_string();

    let r = run_cli(&["pki", "init", &ca]);
    assert_eq!(r.code, 0, "pki init: {}{}", r.stdout, r.stderr);
    let r = run_cli(&[
        "pki",
        "issue",
        &ca,
        "--iin",
        "900101300012",
        "--surname",
        "АХМЕТОВ",
        "--given-name",
        "ЕРЛАН",
        "--bin",
        "123456789021",
        "--org",
        "ТЕСТ",
        "--role",
        "employee",
        "--profile",
        "gost2015",
        "--out",
        &p12,
        "--password",
        "Qwerty12",
        "--pem-out",
        &leaf,
    ]);
    assert_eq!(r.code, 0, "pki issue: {}{}", r.stdout, r.stderr);

    let mut child = Command::new(env!("CARGO_BIN_EXE_eds-gateway"))
        .args(["pki", "serve", &ca, "--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn pki serve");
    let stdout = child.stdout.take().expect("stdout");
    let server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read");
    let base = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    let issuer = ca_dir.join("ca.pem").display().to_string();

    let r = status(&leaf, &issuer, &base);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert_eq!(r.last_line(), "GOOD", "{}", r.stdout);

    let r = run_cli(&[
        "pki",
        "revoke",
        &ca,
        "--iin",
        "900101300012",
        "--reason",
        "keyCompromise",
    ]);
    assert_eq!(r.code, 0, "pki revoke: {}{}", r.stdout, r.stderr);

    let r = status(&leaf, &issuer, &base);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert_eq!(r.last_line(), "REVOKED", "{}", r.stdout);
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

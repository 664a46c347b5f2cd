//! The online command line through the real binary: `revocation status`, `crl fetch`,
//! `verify cert --online`, against `openssl ocsp` and the in-test HTTP server.

use crate::online_support;

use online_support::{Pki, Responder, Server};

async fn run(args: Vec<String>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_eds-gateway"))
            .args(&args)
            .output()
            .expect("binary");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    })
    .await
    .expect("join")
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

#[tokio::test]
async fn status_fetch_and_verify_online() {
    let pki = Pki::get();
    let responder = Responder::start(pki, "ca.pem", "ca.key", &[]);
    let server = Server::start().await;
    server.ocsp("/ocsp", responder.port);
    server.file("/full.crl", pki.bytes("full.crl"));
    let p = |n: &str| pki.path(n).display().to_string();
    let (ocsp, crl) = (server.url("/ocsp"), server.url("/full.crl"));

    let (code, out, err) = run(s(&[
        "revocation",
        "status",
        &p("good.pem"),
        "--issuer",
        &p("ca.pem"),
        "--ocsp-url",
        &ocsp,
        "--crl-url",
        &crl,
        "--hash",
        "sha256",
    ]))
    .await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("OCSP") && out.contains("good") && out.contains("ago"),
        "{out}"
    );
    assert!(out.contains("CRL #5"), "{out}");
    assert!(out.trim_end().ends_with("GOOD"), "{out}");

    let (code, out, _) = run(s(&[
        "revocation",
        "status",
        &p("revoked.pem"),
        "--issuer",
        &p("ca.pem"),
        "--ocsp-url",
        &ocsp,
        "--crl-url",
        &crl,
        "--json",
    ]))
    .await;
    assert_eq!(code, 1);
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(v["revoked"], true);
    assert_eq!(v["crl"]["status"], "revoked");

    let dest = pki.path("fetched.crl");
    let (code, out, err) = run(s(&[
        "crl",
        "fetch",
        &crl,
        "--out",
        &dest.display().to_string(),
        "--issuer",
        &p("ca.pem"),
        "--quiet",
    ]))
    .await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("CRL #5, 2 entries"), "{out}");
    assert_eq!(std::fs::read(&dest).expect("out"), pki.bytes("full.crl"));
    let (code, out, _) = run(s(&[
        "crl",
        "fetch",
        &server.url("/nope.crl"),
        "--out",
        &dest.display().to_string(),
        "--quiet",
    ]))
    .await;
    assert_eq!(code, 1);
    assert_eq!(out.trim(), "crl_http_404");

    for (leaf, want) in [("good.pem", 0), ("revoked.pem", 1)] {
        let (code, out, err) = run(s(&[
            "verify",
            "cert",
            &p(leaf),
            "--root",
            &p("ca.pem"),
            "--online",
            "--ocsp-url",
            &ocsp,
        ]))
        .await;
        assert_eq!(code, want, "{leaf}: {out}{err}");
        if want == 1 {
            assert!(out.contains("cert_revoked"), "{out}");
        }
    }
}

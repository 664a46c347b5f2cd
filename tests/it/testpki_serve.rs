//! `pki serve` on an ephemeral port: OpenSSL's OCSP client (with its nonce) against the live
//! responder, a revocation made while it runs served at once (OCSP and delta CRL), OCSP over GET,
//! and garbage requests answered with malformedRequest without killing the server.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use base64::Engine;
use eds_gateway::drill::builder;
use eds_gateway::pki::cert::Certificate;
use eds_gateway::pki::crl::{Crl, RevocationReason};
use eds_gateway::pki::ocsp::{self, OcspCheckOptions, OcspResponse, OcspStatus};
use eds_gateway::pki::signature::SignaturePolicy;
use eds_gateway::pki::time::UnixTime;

const BIN: &str = env!("CARGO_BIN_EXE_eds-gateway");

struct Server(Child, String);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn start(dir: &Path, extra: &[&str]) -> Server {
    let mut child = Command::new(BIN)
        .args(["pki", "serve"])
        .arg(dir)
        .args(["--listen", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("read address");
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    Server(child, addr)
}

/// Minimal HTTP/1.1 client: returns (status code, body).
fn http(addr: &str, method: &str, path: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).expect("connect");
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: testpki\r\nContent-Type: application/ocsp-request\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes()).expect("write");
    s.write_all(body).expect("write body");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).expect("read");
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("header end");
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let code: u16 = head
        .split_whitespace()
        .nth(1)
        .expect("status")
        .parse()
        .expect("code");
    (code, buf[split + 4..].to_vec())
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("testpki_serve_{}_{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("tmp");
    d
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf8")
}

#[track_caller]
fn ok(args: &[&str]) -> String {
    let o = Command::new(BIN).args(args).output().expect("run");
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn now() -> UnixTime {
    UnixTime(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs() as i64,
    )
}

fn openssl_ocsp(addr: &str, ca_dir: &Path, leaf: &Path) -> String {
    let o = Command::new("openssl")
        .args([
            "ocsp",
            "-sha256",
            "-url",
            &format!("http://{addr}/ocsp"),
            "-issuer",
        ])
        .arg(ca_dir.join("ca.pem"))
        .arg("-cert")
        .arg(leaf)
        .arg("-CAfile")
        .arg(ca_dir.join("chain.pem"))
        .output()
        .expect("openssl must be installed for the interop tests");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{text}");
    text
}

#[test]
fn live_responder_serves_a_revocation_at_once_to_openssl_and_our_core() {
    let d = dir("rsa");
    let ca_dir = d.join("ca");
    // The base URL is only written into certificates; the server listens on an ephemeral port.
    ok(&[
        "pki",
        "init",
        s(&ca_dir),
        "--algorithm",
        "rsa2048",
        "--base-url",
        "http://127.0.0.1:9",
    ]);
    let pem = d.join("u.pem");
    let out = ok(&[
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
        "rsa-sign",
        "--out",
        s(&d.join("u.p12")),
        "--password",
        "Qwerty12",
        "--pem-out",
        s(&pem),
    ]);
    let serial = out.split_whitespace().next().expect("serial").to_string();
    let server = start(&ca_dir, &[]);

    // OpenSSL as the OCSP client (sends its own nonce and checks the echo and the signature).
    let t = openssl_ocsp(&server.1, &ca_dir, &pem);
    assert!(
        t.contains("Response verify OK") && t.contains(": good"),
        "{t}"
    );

    ok(&[
        "pki",
        "revoke",
        s(&ca_dir),
        &serial,
        "--reason",
        "superseded",
    ]);
    let t = openssl_ocsp(&server.1, &ca_dir, &pem);
    assert!(
        t.contains(": revoked") && t.contains("Reason: superseded"),
        "{t}"
    );

    // The delta CRL over HTTP lists it and verifies.
    let issuer = Certificate::parse(&std::fs::read(ca_dir.join("ca.pem")).expect("r")).expect("ca");
    let leaf = Certificate::parse(&std::fs::read(&pem).expect("r")).expect("leaf");
    let (code, body) = http(&server.1, "GET", "/crl/ca_delta.crl", b"");
    assert_eq!(code, 200);
    let delta = Crl::parse(&body).expect("delta parses");
    delta
        .validate_for_use(&issuer, now(), &SignaturePolicy::default())
        .expect("delta verifies");
    assert_eq!(
        delta.find(&leaf.serial).expect("listed").reason,
        Some(RevocationReason::Superseded)
    );
    let (code, body) = http(&server.1, "GET", "/cert/root.cer", b"");
    assert_eq!(code, 200);
    Certificate::parse(&body).expect("root DER");

    // OCSP over GET (RFC 6960 A.1, percent-encoded base64) with a nonce: our core checks it.
    let cid = builder::make_cert_id(issuer.subject.der(), &issuer.public_key, &leaf.serial);
    let nonce = b"0123456789abcdef";
    let req = builder::make_ocsp_request(&cid, Some(nonce));
    let b64 = base64::engine::general_purpose::STANDARD.encode(&req);
    let enc = b64
        .replace('+', "%2B")
        .replace('/', "%2F")
        .replace('=', "%3D");
    let (code, body) = http(&server.1, "GET", &format!("/ocsp/{enc}"), b"");
    assert_eq!(code, 200);
    let resp = OcspResponse::parse(&body).expect("parse");
    let opts = OcspCheckOptions {
        expected_nonce: Some(nonce.to_vec()),
        ..Default::default()
    };
    assert!(matches!(
        ocsp::check(&resp, &leaf, &issuer, now(), &opts).expect("check"),
        OcspStatus::Revoked {
            reason: Some(ocsp::RevocationReason::Superseded),
            ..
        }
    ));

    // Garbage: malformedRequest, and the server keeps answering.
    let (code, body) = http(&server.1, "POST", "/ocsp", b"not der at all");
    assert_eq!((code, body), (200, vec![0x30, 0x03, 0x0a, 0x01, 0x01]));
    let (code, _) = http(&server.1, "POST", "/ocsp", &vec![0x30; 200 * 1024]);
    assert_eq!(code, 413);
    let (code, _) = http(&server.1, "GET", "/nothing", b"");
    assert_eq!(code, 404);
    assert!(openssl_ocsp(&server.1, &ca_dir, &pem).contains(": revoked"));
}

#[test]
fn gost_responder_nca_mode_and_try_later_fault() {
    let d = dir("gost");
    let ca_dir = d.join("ca");
    ok(&["pki", "init", s(&ca_dir)]);
    let pem = d.join("g.pem");
    ok(&[
        "pki",
        "issue",
        s(&ca_dir),
        "--iin",
        "900101300012",
        "--surname",
        "А",
        "--given-name",
        "Б",
        "--out",
        s(&d.join("g.p12")),
        "--password",
        "Qwerty12",
        "--pem-out",
        s(&pem),
    ]);
    let issuer = Certificate::parse(&std::fs::read(ca_dir.join("ca.pem")).expect("r")).expect("ca");
    let leaf = Certificate::parse(&std::fs::read(&pem).expect("r")).expect("leaf");
    let cid = builder::make_cert_id(issuer.subject.der(), &issuer.public_key, &leaf.serial);
    let req = builder::make_ocsp_request(&cid, Some(b"nonce-8b"));

    let server = start(&ca_dir, &["--nca-mode", "--ca-signed"]);
    let (code, body) = http(&server.1, "POST", "/ocsp", &req);
    assert_eq!(code, 200);
    let resp = OcspResponse::parse(&body).expect("parse");
    let opts = OcspCheckOptions {
        expected_nonce: Some(b"nonce-8b".to_vec()),
        max_age_secs: Some(300),
        ..Default::default()
    };
    assert!(matches!(
        ocsp::check(&resp, &leaf, &issuer, now(), &opts).expect("GOST OCSP verifies"),
        OcspStatus::Good {
            next_update: None,
            ..
        }
    ));
    drop(server);

    let server = start(&ca_dir, &["--try-later"]);
    let (_, body) = http(&server.1, "POST", "/ocsp", &req);
    assert_eq!(body, vec![0x30, 0x03, 0x0a, 0x01, 0x03]);
}

#[test]
fn webhook_hears_a_revocation_and_stale_and_down_faults_behave() {
    let d = dir("hook");
    let ca_dir = d.join("ca");
    ok(&["pki", "init", s(&ca_dir), "--algorithm", "p256"]);
    let pem = d.join("h.pem");
    let out = ok(&[
        "pki",
        "issue",
        s(&ca_dir),
        "--iin",
        "900101300012",
        "--surname",
        "А",
        "--given-name",
        "Б",
        "--out",
        s(&d.join("h.p12")),
        "--password",
        "Qwerty12",
        "--pem-out",
        s(&pem),
    ]);
    let serial = out.split_whitespace().next().expect("serial").to_string();

    let hook = std::net::TcpListener::bind("127.0.0.1:0").expect("bind hook");
    let hook_url = format!("http://{}/evict", hook.local_addr().expect("addr"));
    let receiver = std::thread::spawn(move || {
        let (mut c, _) = hook.accept().expect("webhook call");
        c.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .expect("timeout");
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        while let Ok(n) = c.read(&mut chunk) {
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..p]).to_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                if buf.len() >= p + 4 + len {
                    let _ = c.write_all(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n");
                    return String::from_utf8_lossy(&buf[p + 4..p + 4 + len]).into_owned();
                }
            }
        }
        String::new()
    });
    let server = start(&ca_dir, &["--webhook", &hook_url, "--stale"]);
    std::thread::sleep(std::time::Duration::from_millis(300));
    ok(&[
        "pki",
        "revoke",
        s(&ca_dir),
        &serial,
        "--reason",
        "keyCompromise",
    ]);
    let body = receiver.join().expect("receiver");
    let v: serde_json::Value =
        serde_json::from_str(&body).unwrap_or_else(|_| panic!("json body {body:?}"));
    assert_eq!(v["serial"], serial.as_str());
    assert_eq!(v["status"], "revoked");
    assert_eq!(v["reason"], 1);
    assert_eq!(v["iin"], "900101300012");

    // --stale: a well-signed answer whose nextUpdate is long past; our core refuses it.
    let issuer = Certificate::parse(&std::fs::read(ca_dir.join("ca.pem")).expect("r")).expect("ca");
    let leaf = Certificate::parse(&std::fs::read(&pem).expect("r")).expect("leaf");
    let cid = builder::make_cert_id(issuer.subject.der(), &issuer.public_key, &leaf.serial);
    let (_, body) = http(
        &server.1,
        "POST",
        "/ocsp",
        &builder::make_ocsp_request(&cid, None),
    );
    let resp = OcspResponse::parse(&body).expect("parse");
    assert!(ocsp::check(&resp, &leaf, &issuer, now(), &OcspCheckOptions::default()).is_err());
    drop(server);

    // --down: the connection closes without a response.
    let server = start(&ca_dir, &["--down"]);
    let mut c = TcpStream::connect(&server.1).expect("connect");
    let _ = c.write_all(b"GET /crl/ca.crl HTTP/1.1\r\nHost: x\r\n\r\n");
    let mut buf = Vec::new();
    let _ = c.read_to_end(&mut buf);
    assert!(buf.is_empty());
}

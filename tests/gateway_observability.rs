//! Observability and the signed assertion end to end (issue 7 items 2 and 5): real logins
//! against a test PKI with its live responder, an echo MIS, the gateway on 127.0.0.1:0.
//! The assertion is verified by an independent implementation (Node's `crypto`, Ed25519 from a
//! JWK), the metrics are read over HTTP, and the JSON log lines are captured from the real
//! `tracing` subscriber the `serve` command installs.

mod gateway_support;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};

use base64::Engine;
use serde_json::{Value, json};

use eds_gateway::drill::ca::Profile;
use eds_gateway::drill::keys::KeyKind;
use eds_gateway::gateway::client::Browser;
use eds_gateway::pki::identity::complete_iin;
use gateway_support::*;

const B64URL: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

fn iin(n: u32) -> String {
    for k in 0..10 {
        if let Some(i) = complete_iin(&format!("870202{}{:04}", 4, n * 10 + k)) {
            return i;
        }
    }
    panic!("no IIN for {n}");
}

struct World {
    pki: TestPki,
    mis: SocketAddr,
    dir: std::path::PathBuf,
    clock: TestClock,
}

async fn world(name: &str) -> World {
    let dir = tmp(name);
    let pki = TestPki::start(&dir.join("pki"), KeyKind::Gost512).await;
    pki.trust_into(&dir.join("certs"), "test");
    let mis = echo_mis().await;
    World {
        pki,
        mis,
        dir,
        clock: TestClock::default(),
    }
}

impl World {
    fn revocation(&self) -> String {
        format!(
            "[revocation]\nmode = \"crl\"\n\n{}",
            self.pki.crl_toml("test")
        )
    }
    async fn gateway(&self, extra: &str) -> Gw {
        gateway(&self.dir, self.mis, &self.revocation(), extra, &self.clock).await
    }
    /// A staff member with a key, in the staff file.
    fn staff(&self, n: u32, roles: &str) -> TestKey {
        let k = self
            .pki
            .issue(&iin(n), "АХМЕТОВ", Profile::Gost2015, "employee");
        let line = format!("{},Ахметов Айдар,{roles},true,,\n", k.iin);
        let f = self.dir.join("staff.csv");
        let mut text = std::fs::read_to_string(&f)
            .unwrap_or_else(|_| "iin,name,roles,enabled,valid_until,bin\n".into());
        text.push_str(&line);
        std::fs::write(&f, text).expect("staff");
        k
    }
}

fn header<'a>(v: &'a Value, name: &str) -> Vec<&'a str> {
    v["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .filter(|h| h[0].as_str() == Some(name))
        .filter_map(|h| h[1].as_str())
        .collect()
}

/// What the MIS received for GET `path` with this browser's session.
async fn mis_view(b: &mut Browser, path: &str) -> Value {
    let (status, body) = b.get(path).await.expect("GET");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("echo JSON")
}

/// The assertion the MIS received.
async fn assertion_of(b: &mut Browser, path: &str) -> String {
    let v = mis_view(b, path).await;
    let a = header(&v, "x-eds-assertion");
    assert_eq!(a.len(), 1, "exactly one assertion header: {v}");
    a[0].to_string()
}

fn claims(jwt: &str) -> Value {
    let p = jwt.split('.').nth(1).expect("payload segment");
    serde_json::from_slice(&B64URL.decode(p).expect("base64url")).expect("JSON claims")
}

async fn get_json(url: &str) -> (u16, Value) {
    let r = reqwest::get(url).await.expect("GET");
    let s = r.status().as_u16();
    (
        s,
        serde_json::from_slice(&r.bytes().await.unwrap_or_default()).unwrap_or(Value::Null),
    )
}

/// Verifies `jwt` against `jwks` with Node's own Ed25519 (an implementation that shares no code
/// with ring): the signature, the kid as an RFC 7638 thumbprint computed by Node, and a copy
/// with a tampered payload. Returns Node's report.
#[track_caller]
fn node_verify(jwt: &str, jwks: &Value) -> Value {
    const SCRIPT: &str = r#"
import { createPublicKey, verify, createHash } from "node:crypto";
const [jwt, jwksText] = process.argv.slice(2);
const jwks = JSON.parse(jwksText);
const check = (token) => {
  const [h, p, s] = token.split(".");
  const header = JSON.parse(Buffer.from(h, "base64url"));
  const jwk = jwks.keys.find((k) => k.kid === header.kid);
  if (!jwk || header.alg !== "EdDSA") return { ok: false, why: "no key" };
  const key = createPublicKey({ key: jwk, format: "jwk" });
  const ok = verify(null, Buffer.from(`${h}.${p}`), key, Buffer.from(s, "base64url"));
  return { ok, header, claims: JSON.parse(Buffer.from(p, "base64url")) };
};
const good = check(jwt);
const [h, p, s] = jwt.split(".");
const forged = JSON.parse(Buffer.from(p, "base64url"));
forged.roles = ["admin"];
const tampered = check(`${h}.${Buffer.from(JSON.stringify(forged)).toString("base64url")}.${s}`);
const k = jwks.keys[0];
const thumb = createHash("sha256")
  .update(JSON.stringify({ crv: k.crv, kty: k.kty, x: k.x }))
  .digest("base64url");
console.log(JSON.stringify({ good, tampered: tampered.ok, thumbprint: thumb, kid: k.kid }));
"#;
    let dir = tmp("node-verify");
    let script = dir.join("verify.mjs");
    std::fs::write(&script, SCRIPT).expect("script");
    let out = std::process::Command::new("node")
        .arg(&script)
        .arg(jwt)
        .arg(jwks.to_string())
        .output()
        .expect("node (Node 20) must be installed");
    assert!(
        out.status.success(),
        "node failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("node JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assertion_verifies_with_node_against_the_jwks_and_tampering_fails() {
    let w = world("assert-node").await;
    let doctor = w.staff(1, "doctor;staff");
    let gw = w.gateway("").await;
    let mut b = gw.browser();
    let login = b
        .login(&doctor.signer, eds_gateway::clock::now())
        .await
        .expect("login");
    let jwt = assertion_of(&mut b, "/ward/1").await;
    let r = reqwest::get(format!("http://{}/eds/.well-known/jwks.json", gw.addr))
        .await
        .expect("jwks");
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["cache-control"].to_str().expect("ascii"),
        "public, max-age=300"
    );
    let jwks: Value =
        serde_json::from_slice(&r.bytes().await.expect("jwks JSON")).expect("jwks JSON");
    let key = &jwks["keys"][0];
    assert_eq!(
        (&key["kty"], &key["crv"], &key["use"], &key["alg"]),
        (
            &json!("OKP"),
            &json!("Ed25519"),
            &json!("sig"),
            &json!("EdDSA")
        )
    );
    let v = node_verify(&jwt, &jwks);
    assert_eq!(v["good"]["ok"], json!(true), "{v}");
    assert_eq!(v["tampered"], json!(false), "{v}");
    assert_eq!(v["thumbprint"], v["kid"], "kid is the RFC 7638 thumbprint");
    assert_eq!(
        v["good"]["header"],
        json!({"alg": "EdDSA", "typ": "JWT", "kid": key["kid"]})
    );
    let c = &v["good"]["claims"];
    assert_eq!(c["iss"], json!(gw.origin));
    assert_eq!(c["aud"], json!("mis"));
    assert_eq!(c["sub"], json!(doctor.iin));
    assert_eq!(c["name"], json!("Ахметов Айдар"));
    assert_eq!(c["bin"], json!(BIN));
    assert_eq!(c["roles"], json!(["doctor", "staff"]));
    assert_eq!(c["serial"], login["session"]["cert_serial"]);
    assert_eq!(c["sid"], login["session"]["sid"]);
    assert_eq!(
        c["exp"].as_i64().expect("exp") - c["iat"].as_i64().expect("iat"),
        60
    );
    assert_eq!(c["jti"].as_str().map(str::len), Some(32));
    // Client-sent assertions never pass: the MIS sees only the gateway's.
    let r = reqwest::Client::new()
        .get(format!("http://{}/ward/2", gw.addr))
        .header("cookie", b.cookie_header())
        .header("X-EDS-Assertion", "forged.forged.forged")
        .header("x_eds_assertion", "forged")
        .send()
        .await
        .expect("GET");
    let seen: Value = serde_json::from_slice(&r.bytes().await.expect("echo")).expect("echo");
    assert_eq!(header(&seen, "x-eds-assertion"), vec![jwt.as_str()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_reuses_its_assertion_until_fifteen_seconds_remain() {
    let w = world("assert-reuse").await;
    let a = w.staff(2, "nurse");
    let other = w.staff(3, "nurse");
    let gw = w.gateway("").await;
    let mut b = gw.browser();
    b.login(&a.signer, eds_gateway::clock::now())
        .await
        .expect("login");
    let t1 = assertion_of(&mut b, "/a").await;
    assert_eq!(
        assertion_of(&mut b, "/b").await,
        t1,
        "same token per session"
    );
    w.clock.advance(40); // 20 s left: still reused
    assert_eq!(assertion_of(&mut b, "/c").await, t1);
    w.clock.advance(10); // 10 s left (< 15): signed anew
    let t2 = assertion_of(&mut b, "/d").await;
    assert_ne!(t2, t1);
    assert_eq!(
        claims(&t2)["iat"].as_i64().expect("iat"),
        claims(&t1)["iat"].as_i64().expect("iat") + 50
    );
    assert_ne!(claims(&t2)["jti"], claims(&t1)["jti"]);
    // Another session has its own token.
    let mut b2 = gw.browser();
    b2.login(&other.signer, eds_gateway::clock::now())
        .await
        .expect("login");
    let t3 = assertion_of(&mut b2, "/a").await;
    assert_ne!(t3, t2);
    assert_eq!(claims(&t3)["sub"], json!(other.iin));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn assertion_key_survives_a_restart_and_the_claims_list_is_respected() {
    let w = world("assert-restart").await;
    let a = w.staff(4, "doctor");
    let extra = "[assertion]\nkey_file = \"keys/assertion.pem\"\naud = \"ward-app\"\nttl_secs = 120\n\
                 claims = [\"sub\", \"roles\"]\n";
    let kid1 = {
        let gw = w.gateway(extra).await;
        let mut b = gw.browser();
        b.login(&a.signer, eds_gateway::clock::now())
            .await
            .expect("login");
        let c = claims(&assertion_of(&mut b, "/x").await);
        let keys: Vec<&str> = c
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            vec!["aud", "exp", "iat", "iss", "jti", "roles", "sub"],
            "only the configured claims (plus the registered ones): {c}"
        );
        assert_eq!(c["aud"], json!("ward-app"));
        assert_eq!(
            c["exp"].as_i64().expect("exp") - c["iat"].as_i64().expect("iat"),
            120
        );
        let (_, jwks) = get_json(&format!("http://{}/eds/.well-known/jwks.json", gw.addr)).await;
        jwks["keys"][0]["kid"].as_str().expect("kid").to_string()
    };
    let key_file = w.dir.join("keys/assertion.pem");
    let text = std::fs::read_to_string(&key_file).expect("key kept on disk");
    assert!(text.starts_with("-----BEGIN PRIVATE KEY-----"));
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // A second instance (own session folder: the first still holds its lock) reads the same key.
    let gw2 = w
        .gateway(&format!(
            "{extra}\n[session]\nstore = \"embedded\"\ndir = \"sessions2\"\n"
        ))
        .await;
    let (_, jwks) = get_json(&format!("http://{}/eds/.well-known/jwks.json", gw2.addr)).await;
    assert_eq!(jwks["keys"][0]["kid"], json!(kid1));
    // An unusable key file stops the gateway before it serves.
    std::fs::write(
        &key_file,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .expect("spoil key");
    let cfg = w.dir.join("gateway.toml");
    let problems = eds_gateway::gateway::config::Config::load(&cfg).expect_err("bad key");
    assert!(
        problems.iter().any(|p| p.contains("assertion.key_file")),
        "{problems:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabled_assertions_send_no_header_and_publish_no_key() {
    let w = world("assert-off").await;
    let a = w.staff(5, "doctor");
    let gw = w.gateway("[assertion]\nenabled = false\n").await;
    let mut b = gw.browser();
    b.login(&a.signer, eds_gateway::clock::now())
        .await
        .expect("login");
    let v = mis_view(&mut b, "/x").await;
    assert!(header(&v, "x-eds-assertion").is_empty(), "{v}");
    let r = reqwest::get(format!("http://{}/eds/.well-known/jwks.json", gw.addr))
        .await
        .expect("jwks");
    assert_eq!(r.status(), 404);
    assert!(!w.dir.join("data/assertion_key.pem").exists());
}

fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(series) && l[series.len()..].starts_with(' '))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn scrape(gw: &Gw) -> String {
    let r = reqwest::get(format!("http://{}/eds/metrics", gw.addr))
        .await
        .expect("metrics");
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"].to_str().expect("ascii"),
        "text/plain; version=0.0.4; charset=utf-8"
    );
    r.text().await.expect("body")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_move_after_a_login_a_refused_login_and_a_proxied_request() {
    let w = world("metrics").await;
    let a = w.staff(6, "doctor");
    let gw = w.gateway("").await;
    let before = scrape(&gw).await;
    assert_eq!(
        metric(&before, "eds_logins_total{result=\"ok\",reason=\"none\"}"),
        None
    );
    let mut b = gw.browser();
    b.login(&a.signer, eds_gateway::clock::now())
        .await
        .expect("login");
    // A refused login: a CMS that is not one.
    let mut bad = gw.browser();
    bad.open_login().await.expect("page");
    let (id, _) = bad.challenge().await.expect("challenge");
    let refused = bad
        .send_login(&id, "bm90IGEgQ01T")
        .await
        .expect_err("refused");
    mis_view(&mut b, "/ward/3").await;
    mis_view(&mut b, "/ward/4").await;
    // The live-session count is cached for 10 s (listing reads every record).
    w.clock.advance(11);
    let t = scrape(&gw).await;
    assert_eq!(
        metric(&t, "eds_logins_total{result=\"ok\",reason=\"none\"}"),
        Some(1.0),
        "{t}"
    );
    assert_eq!(
        metric(
            &t,
            &format!(
                "eds_logins_total{{result=\"refused\",reason=\"{}\"}}",
                refused.code
            )
        ),
        Some(1.0),
        "{t}"
    );
    assert_eq!(
        metric(&t, "eds_requests_total{route=\"default\",status=\"2xx\"}"),
        Some(2.0),
        "{t}"
    );
    assert_eq!(
        metric(&t, "eds_request_duration_seconds_count{route=\"default\"}"),
        Some(2.0)
    );
    assert_eq!(
        metric(
            &t,
            "eds_request_duration_seconds_bucket{route=\"default\",le=\"+Inf\"}"
        ),
        Some(2.0)
    );
    // Gateway endpoints are labelled `eds`: the page, two challenges, two logins, a scrape.
    assert!(metric(&t, "eds_requests_total{route=\"eds\",status=\"2xx\"}").expect("eds") >= 5.0);
    assert!(metric(&t, "eds_requests_total{route=\"eds\",status=\"4xx\"}").expect("eds") >= 1.0);
    assert_eq!(metric(&t, "eds_sessions_live"), Some(1.0), "{t}");
    let crl_age = t
        .lines()
        .find(|l| l.starts_with("eds_crl_age_seconds{issuer="))
        .expect("CRL age");
    assert!(crl_age.contains("issuer=\""), "{crl_age}");
    let next = t
        .lines()
        .find(|l| l.starts_with("eds_crl_next_update_seconds{"))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse::<f64>().ok())
        .expect("next update");
    assert!(next > 0.0, "the test CRL is current: {t}");
    // Every line is a comment or `name{labels} value`: the exposition format parses.
    for l in t.lines().filter(|l| !l.starts_with('#')) {
        let (_, v) = l.rsplit_once(' ').expect("value");
        assert!(v.parse::<f64>().is_ok(), "{l}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_errors_are_counted_by_route_and_code() {
    let w = world("metrics-up").await;
    w.staff(9, "doctor");
    // Nothing listens here.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .expect("bind")
        .local_addr()
        .expect("addr");
    let gw = gateway(
        &w.dir,
        dead,
        &w.revocation(),
        "[access]\npublic = [\"/pub/\"]\n",
        &w.clock,
    )
    .await;
    let r = reqwest::get(format!("http://{}/pub/x", gw.addr))
        .await
        .expect("GET");
    assert_eq!(r.status(), 502);
    let t = scrape(&gw).await;
    assert_eq!(
        metric(
            &t,
            "eds_upstream_errors_total{route=\"default\",code=\"upstream_unavailable\"}"
        ),
        Some(1.0),
        "{t}"
    );
    assert_eq!(
        metric(&t, "eds_requests_total{route=\"default\",status=\"5xx\"}"),
        Some(1.0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_refused_to_an_address_not_allowed_unless_the_token_is_sent() {
    let w = world("metrics-deny").await;
    w.staff(7, "doctor");
    let token = "s3cret-metrics-token-0123";
    let gw = w
        .gateway(&format!(
            "[metrics]\nallow = [\"10.9.9.9\"]\ntoken = \"{token}\"\n"
        ))
        .await;
    let url = format!("http://{}/eds/metrics", gw.addr);
    let http = reqwest::Client::new();
    let r = http.get(&url).send().await.expect("GET");
    assert_eq!(r.status(), 403, "loopback is not in the allow list");
    let r = http
        .get(&url)
        .header("authorization", "Bearer wrong-token-wrong-token-")
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 403);
    // X-Forwarded-For is not trusted (server.trust_forwarded_for = false).
    let r = http
        .get(&url)
        .header("x-forwarded-for", "10.9.9.9")
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 403);
    let r = http
        .get(&url)
        .header("authorization", format!("Bearer {token}"))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 200);
    assert!(
        r.text()
            .await
            .expect("body")
            .contains("# TYPE eds_requests_total counter")
    );
}

/// A `MakeWriter` into a shared buffer.
#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("buf").extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Buf {
    type Writer = Buf;
    fn make_writer(&'a self) -> Buf {
        self.clone()
    }
}

/// The process-wide subscriber of this test binary: the same JSON formatting as `serve`.
fn log_buffer() -> Buf {
    static B: OnceLock<Buf> = OnceLock::new();
    B.get_or_init(|| {
        let buf = Buf::default();
        let cfg = eds_gateway::gateway::config::LogCfg {
            format: "json".into(),
            level: "info".into(),
        };
        tracing::subscriber::set_global_default(eds_gateway::gateway::logging::subscriber(
            &cfg,
            buf.clone(),
        ))
        .expect("one subscriber");
        buf
    })
    .clone()
}

fn log_lines(buf: &Buf) -> Vec<Value> {
    let bytes = buf.0.lock().expect("buf").clone();
    String::from_utf8_lossy(&bytes)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_request_gets_one_json_log_line_with_its_request_id_and_no_query() {
    let buf = log_buffer();
    let w = world("logs").await;
    let a = w.staff(8, "doctor");
    let gw = w.gateway("").await;
    let mut b = gw.browser();
    let login = b
        .login(&a.signer, eds_gateway::clock::now())
        .await
        .expect("login");
    let http = reqwest::Client::new();
    let r = http
        .get(format!(
            "http://{}/ward/9?iin=870202400000&q=secret",
            gw.addr
        ))
        .header("cookie", b.cookie_header())
        .header("x-request-id", "rid-obs-test-0001")
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-request-id"], "rid-obs-test-0001");
    let seen: Value = serde_json::from_slice(&r.bytes().await.expect("echo")).expect("echo");
    assert_eq!(header(&seen, "x-request-id"), vec!["rid-obs-test-0001"]);
    // An id that could smuggle text into logs is replaced by a fresh 128-bit one, everywhere.
    let r = http
        .get(format!("http://{}/ward/10", gw.addr))
        .header("cookie", b.cookie_header())
        .header("x-request-id", "bad id\"}")
        .send()
        .await
        .expect("GET");
    let new_id = r.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_string();
    assert_eq!(new_id.len(), 32);
    assert!(new_id.bytes().all(|c| c.is_ascii_hexdigit()));
    let seen: Value = serde_json::from_slice(&r.bytes().await.expect("echo")).expect("echo");
    assert_eq!(header(&seen, "x-request-id"), vec![new_id.as_str()]);
    // Gateway endpoints get one too.
    let r = http
        .get(format!("http://{}/eds/healthz", gw.addr))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.headers()["x-request-id"].len(), 32);

    let lines = log_lines(&buf);
    let line = lines
        .iter()
        .find(|l| l["request_id"] == json!("rid-obs-test-0001"))
        .unwrap_or_else(|| panic!("no log line with the request id: {lines:#?}"));
    assert_eq!(line["message"], json!("request"));
    assert_eq!(line["target"], json!("eds_gateway::access"));
    assert_eq!(line["level"], json!("INFO"));
    assert_eq!(line["method"], json!("GET"));
    assert_eq!(line["path"], json!("/ward/9"));
    assert_eq!(line["route"], json!("default"));
    assert_eq!(line["status"], json!(200));
    assert_eq!(line["client_ip"], json!("127.0.0.1"));
    assert_eq!(line["sid"], login["session"]["sid"]);
    assert!(line["duration_ms"].as_f64().is_some(), "{line}");
    assert!(line["timestamp"].is_string());
    let all = String::from_utf8_lossy(&buf.0.lock().expect("buf")).to_string();
    assert!(
        !all.contains("870202400000"),
        "query strings never reach the log"
    );
    let cookies = b.cookie_header();
    let token = cookies
        .split("; ")
        .find_map(|c| c.strip_prefix("__Host-eds-session="))
        .expect("session cookie");
    assert!(!all.contains(token), "no session tokens in logs");
    assert_eq!(
        lines
            .iter()
            .filter(|l| l["request_id"] == json!(new_id))
            .count(),
        1
    );
}

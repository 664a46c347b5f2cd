//! The gateway end to end over real HTTP (issue 6 item 9): logins with `sign`-made CMS (GOST
//! and RSA test-PKI keys with a live responder; NCA's own test keys at a pinned time with NCA's
//! own CRL), the bad-input catalogue — each answered with the right status, reason code, a
//! kk/ru/en message and an audit record — sessions (logout, idle and absolute expiry, one
//! session per key), header hygiene towards the MIS, and the audit chain verified at the end.

use crate::common;
use crate::gateway_support;

use std::net::SocketAddr;

use base64::Engine;
use serde_json::{Value, json};

use eds_gateway::drill::ca::Profile;
use eds_gateway::drill::keys::KeyKind;
use eds_gateway::drill::sign::{SignOptions, load_p12, sign_cms};
use eds_gateway::gateway::client::Browser;
use eds_gateway::pki::identity::complete_iin;
use eds_gateway::pki::time::UnixTime;
use gateway_support::*;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn iin(n: u32) -> String {
    // 11 digits: a birth date in 1985 plus a counter; complete_iin adds the control digit.
    for k in 0..10 {
        if let Some(i) = complete_iin(&format!("850101{}{:04}", 3, n * 10 + k)) {
            return i;
        }
    }
    panic!("no IIN for {n}");
}

/// A GOST test PKI, echo MIS, trust store, staff file and gateway with OCSP-then-CRL.
struct World {
    pki: TestPki,
    mis: SocketAddr,
    dir: std::path::PathBuf,
    clock: TestClock,
}

async fn world(name: &str, kind: KeyKind) -> World {
    let dir = tmp(name);
    let pki = TestPki::start(&dir.join("pki"), kind).await;
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
    fn revocation(&self, mode: &str) -> String {
        format!(
            "[revocation]\nmode = \"{mode}\"\nocsp_hash = \"sha256\"\n\n{}",
            self.pki.crl_toml("test")
        )
    }
    async fn gateway(&self, mode: &str, extra: &str) -> Gw {
        gateway(
            &self.dir,
            self.mis,
            &self.revocation(mode),
            extra,
            &self.clock,
        )
        .await
    }
}

fn cms_b64(key: &TestKey, data: &[u8]) -> String {
    B64.encode(
        sign_cms(
            &key.signer.key,
            &key.signer.certificate,
            data,
            SignOptions {
                detached: false,
                signing_time: eds_gateway::clock::now(),
            },
        )
        .expect("sign"),
    )
}

#[track_caller]
fn assert_refused(
    r: Result<Value, eds_gateway::gateway::client::Refused>,
    status: u16,
    code: &str,
) {
    match r {
        Ok(v) => panic!("expected {code}, logged in: {v}"),
        Err(e) => assert_eq!((e.status, e.code.as_str()), (status, code), "{e}"),
    }
}

async fn mis_view(b: &mut Browser, path: &str) -> Value {
    let (status, body) = b.get(path).await.expect("GET");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("echo JSON")
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gost_login_reaches_the_mis_with_identity_and_no_gateway_secrets() {
    let w = world("gost-login", KeyKind::Gost512).await;
    let doctor = w
        .pki
        .issue(&iin(1), "АХМЕТОВ", Profile::Gost2015, "employee");
    write_staff(
        &w.dir,
        &[(&doctor.iin, "Ахметов Айдар", "doctor;staff", true)],
    );
    let gw = w.gateway("ocsp-then-crl", "").await;
    let mut b = gw.browser();
    let v = b
        .login(&doctor.signer, eds_gateway::clock::now())
        .await
        .expect("login");
    assert_eq!(v["ok"], json!(true));
    assert_eq!(v["session"]["iin"], json!(doctor.iin));
    assert_eq!(v["session"]["roles"], json!(["doctor", "staff"]));
    // A client that tries to pass for someone else: its identity headers never arrive.
    let (status, body) = {
        let http = reqwest::Client::new();
        let cookie = b.cookie_header();
        let r = http
            .get(format!("http://{}/ward/7", gw.addr))
            .header("cookie", format!("{cookie}; other=1"))
            .header("X-EDS-IIN", "000000000000")
            .header("x_eds_roles", "admin")
            .header("X-Eds-Name", "forged")
            .send()
            .await
            .expect("GET");
        (r.status().as_u16(), r.text().await.expect("body"))
    };
    assert_eq!(status, 200, "{body}");
    let seen: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(seen["path"], json!("/ward/7"));
    assert_eq!(header(&seen, "x-eds-iin"), vec![doctor.iin.as_str()]);
    assert_eq!(header(&seen, "x-eds-roles"), vec!["doctor,staff"]);
    assert_eq!(
        header(&seen, "x-eds-name"),
        vec!["%D0%90%D1%85%D0%BC%D0%B5%D1%82%D0%BE%D0%B2%20%D0%90%D0%B9%D0%B4%D0%B0%D1%80"]
    );
    assert!(header(&seen, "x_eds_roles").is_empty());
    assert_eq!(
        header(&seen, "cookie"),
        vec!["other=1"],
        "gateway cookies never reach the MIS"
    );
    assert_eq!(header(&seen, "x-forwarded-for"), vec!["127.0.0.1"]);
    assert_eq!(header(&seen, "x-request-id").len(), 1);
    // The audit trail: challenge, login_ok with who and which certificate; no secrets.
    let ok = gw.last_audit("login_ok");
    assert_eq!(ok["iin"], json!(doctor.iin));
    assert_eq!(ok["serial"], json!(doctor.serial.to_lowercase()));
    let raw = std::fs::read_to_string(gw.dir.join("audit.jsonl")).expect("audit");
    let token = b
        .cookies
        .iter()
        .find(|(k, _)| k == "__Host-eds-session")
        .map(|(_, v)| v.clone())
        .expect("session cookie");
    assert!(!raw.contains(&token), "no session token in the audit log");
    assert!(!raw.contains(&b.csrf), "no CSRF token in the audit log");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rsa_auth_key_logs_in_and_rsa_sign_key_is_refused_for_purpose() {
    let w = world("rsa-login", KeyKind::Rsa2048).await;
    let auth = w
        .pki
        .issue(&iin(2), "ИВАНОВА", Profile::RsaAuth, "employee");
    let sign_only = w.pki.issue(&iin(3), "ПЕТРОВ", Profile::RsaSign, "employee");
    write_staff(
        &w.dir,
        &[
            (&auth.iin, "Иванова Мария", "nurse", true),
            (&sign_only.iin, "Петров Пётр", "nurse", true),
        ],
    );
    let gw = w.gateway("ocsp-then-crl", "").await;
    gw.browser()
        .login(&auth.signer, eds_gateway::clock::now())
        .await
        .expect("RSA AUTH login");
    let r = gw
        .browser()
        .login(&sign_only.signer, eds_gateway::clock::now())
        .await;
    assert_refused(r, 403, "cert_purpose_not_allowed");
    let rec = gw.last_audit("login_refused");
    assert_eq!(rec["code"], json!("cert_purpose_not_allowed"));
    assert_eq!(rec["iin"], json!(sign_only.iin));
}

/// NCA's own GOST-2015 test keys at a pinned time inside their validity, revocation by NCA's
/// own test CRL (served over HTTP from the fixtures): the valid key logs in, the revoked one is
/// refused by the CRL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nca_test_keys_log_in_and_the_revoked_one_is_refused_by_ncas_crl() {
    let dir = tmp("nca-keys");
    let certs = dir.join("certs");
    std::fs::create_dir_all(&certs).expect("certs");
    for f in ["root_test_gost_2022.cer", "nca_gost2022_test.cer"] {
        std::fs::copy(common::nca(&format!("ca/test/{f}")), certs.join(f)).expect("copy");
    }
    // NCA's CRL, served as the CDP would.
    let crl = common::nca_bytes("crl/nca_gost2022_test_2026-08-11.crl");
    let app = axum::Router::new().route(
        "/nca.crl",
        axum::routing::get(move || {
            let c = crl.clone();
            async move { c }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let crl_addr = l.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(l, app).await });
    let valid = load_p12(
        &common::nca_bytes("keys/gost2015-2026/individual_valid.p12"),
        "Qwerty12",
    )
    .expect("p12");
    let revoked = load_p12(
        &common::nca_bytes("keys/gost2015-2026/individual_revoked.p12"),
        "Qwerty12",
    )
    .expect("p12");
    let iin_of = |s: &eds_gateway::drill::sign::Signer| {
        eds_gateway::pki::identity::NcaIdentity::from_certificate(&s.certificate)
            .iin
            .expect("IIN")
            .value
    };
    // NCA gave both test keys the same IIN (123456789011): one staff record covers both.
    assert_eq!(iin_of(&valid), iin_of(&revoked));
    write_staff(&dir, &[(&iin_of(&valid), "NCA test person", "staff", true)]);
    let clock = TestClock::default();
    // Inside the keys' validity and the CRL's thisUpdate..nextUpdate window.
    clock.pin(common::at("2026-09-01T10:00:00Z"));
    let mis = echo_mis().await;
    let revocation = format!(
        "[revocation]\nmode = \"crl\"\n\n[[revocation.crl]]\nissuer = \"certs/nca_gost2022_test.cer\"\nurl = \"http://{crl_addr}/nca.crl\"\n"
    );
    let gw = gateway(&dir, mis, &revocation, "", &clock).await;
    let t = clock.now();
    let v = gw
        .browser()
        .login(&valid, t)
        .await
        .expect("NCA key logs in");
    assert_eq!(v["session"]["iin"], json!(iin_of(&valid)));
    assert_refused(gw.browser().login(&revoked, t).await, 403, "cert_revoked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_catalogue_gets_status_code_message_and_audit() {
    let w = world("catalogue", KeyKind::Gost512).await;
    let ok = w
        .pki
        .issue(&iin(10), "АЛИЕВ", Profile::Gost2015, "employee");
    let stranger = w
        .pki
        .issue(&iin(11), "БЕЙТАНЫС", Profile::Gost2015, "employee");
    let disabled = w
        .pki
        .issue(&iin(12), "ӨШІРІЛГЕН", Profile::Gost2015, "employee");
    let revoked = w
        .pki
        .issue(&iin(13), "КҮШІЖОҚ", Profile::Gost2015, "employee");
    let future = w.pki.issue_at(
        &iin(14),
        "БОЛАШАҚ",
        Profile::Gost2015,
        "employee",
        UnixTime(eds_gateway::clock::now().0 + 10 * 86400),
        365,
    );
    let expired = w.pki.issue_at(
        &iin(15),
        "ЕСКІ",
        Profile::Gost2015,
        "employee",
        UnixTime(eds_gateway::clock::now().0 - 3 * 86400),
        1,
    );
    w.pki.revoke(&revoked.serial);
    write_staff(
        &w.dir,
        &[
            (&ok.iin, "Алиев", "staff", true),
            (&disabled.iin, "Өшірілген", "staff", false),
            (&revoked.iin, "Күшіжоқ", "staff", true),
            (&future.iin, "Болашақ", "staff", true),
            (&expired.iin, "Ескі", "staff", true),
        ],
    );
    // A home-made CA with NCA-like names (what FCALayer does): same subject names, other keys.
    let fake = TestPki::start(&w.dir.join("fake"), KeyKind::Gost512).await;
    let forged = fake.issue(&ok.iin, "АЛИЕВ", Profile::Gost2015, "employee");
    let gw = w.gateway("ocsp-then-crl", "").await;
    let now = eds_gateway::clock::now;

    // Replayed challenge: the same id and CMS again, from the same browser (its pre-login
    // cookie restored: the login cleared it).
    let mut b = gw.browser();
    b.open_login().await.expect("page");
    let (id, data) = b.challenge().await.expect("challenge");
    let cms = cms_b64(&ok, &data);
    let (pre_cookies, pre_csrf) = (b.cookies.clone(), b.csrf.clone());
    b.send_login(&id, &cms).await.expect("first use");
    b.cookies = pre_cookies;
    b.csrf = pre_csrf;
    assert_refused(b.send_login(&id, &cms).await, 400, "challenge_unknown");

    // Challenge from another browser.
    let mut a = gw.browser();
    a.open_login().await.expect("page");
    let (id, data) = a.challenge().await.expect("challenge");
    let mut other = gw.browser();
    other.open_login().await.expect("page");
    assert_refused(
        other.send_login(&id, &cms_b64(&ok, &data)).await,
        400,
        "challenge_wrong_browser",
    );

    // Expired challenge.
    let mut b = gw.browser();
    b.open_login().await.expect("page");
    let (id, data) = b.challenge().await.expect("challenge");
    w.clock.advance(121);
    assert_refused(
        b.send_login(&id, &cms_b64(&ok, &data)).await,
        401,
        "challenge_expired",
    );
    w.clock.advance(-121);

    // CMS over other data.
    let mut b = gw.browser();
    b.open_login().await.expect("page");
    let (id, _) = b.challenge().await.expect("challenge");
    assert_refused(
        b.send_login(&id, &cms_b64(&ok, b"something else")).await,
        400,
        "cms_content_mismatch",
    );

    // Signer not matching the embedded certificate: ok's key, stranger's certificate.
    let mut b = gw.browser();
    b.open_login().await.expect("page");
    let (id, data) = b.challenge().await.expect("challenge");
    let swapped = sign_cms(
        &ok.signer.key,
        &stranger.signer.certificate,
        &data,
        SignOptions {
            detached: false,
            signing_time: now(),
        },
    )
    .expect("sign");
    let r = b.send_login(&id, &B64.encode(swapped)).await;
    let e = r.expect_err("refused");
    assert!(
        e.code.starts_with("cms_") || e.code == "signature_invalid",
        "signer mismatch: {e}"
    );

    // The rest through the full flow.
    let cases: Vec<(&TestKey, u16, &str)> = vec![
        (&forged, 403, "unknown_issuer"),
        (&future, 403, "cert_not_yet_valid"),
        (&expired, 403, "cert_expired"),
        (&revoked, 403, "cert_revoked"),
        (&stranger, 403, "staff_unknown"),
        (&disabled, 403, "staff_disabled"),
    ];
    for (key, status, code) in cases {
        let r = gw.browser().login(&key.signer, now()).await;
        assert_refused(r, status, code);
        let rec = gw.last_audit("login_refused");
        assert_eq!(rec["code"], json!(code));
    }

    // Malformed CMS: base64, PEM, DER.
    for junk in [
        "%%% not base64 %%%".to_string(),
        "-----BEGIN CMS-----\nAAAA\n-----END CMS-----\n".to_string(),
        B64.encode([0x30, 0x03, 0x02, 0x01]),
    ] {
        let mut b = gw.browser();
        b.open_login().await.expect("page");
        let (id, _) = b.challenge().await.expect("challenge");
        let e = b.send_login(&id, &junk).await.expect_err("refused");
        assert_eq!(e.status, 400, "{junk}: {e}");
        assert!(e.code.starts_with("cms_"), "{junk}: {e}");
    }

    // Transport-level refusals: 10 MB body, wrong content type, cross-site POST.
    let http = reqwest::Client::new();
    let mut b = gw.browser();
    b.open_login().await.expect("page");
    let cookie = b.cookie_header();
    let post = |body: Vec<u8>, ct: &str, origin: &str| {
        http.post(format!("http://{}/eds/login", gw.addr))
            .header("cookie", cookie.clone())
            .header("origin", origin.to_string())
            .header("x-eds-csrf", b.csrf.clone())
            .header("content-type", ct.to_string())
            .header("accept-language", "kk")
            .body(body)
            .send()
    };
    // A 10 MB body: refused from its Content-Length, before the body is read. The server
    // answers at once and closes, so only the headers are sent (pushing 10 MB into a socket the
    // server has closed races its answer).
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut tcp = tokio::net::TcpStream::connect(gw.addr).await.expect("tcp");
        let head = format!(
            "POST /eds/login HTTP/1.1\r\nHost: {}\r\nCookie: {cookie}\r\nOrigin: {}\r\n\
             X-EDS-CSRF: {}\r\nContent-Type: application/json\r\nAccept-Language: kk\r\n\
             Content-Length: {}\r\n\r\n",
            gw.addr,
            gw.origin,
            b.csrf,
            10 << 20
        );
        tcp.write_all(head.as_bytes()).await.expect("write");
        let mut resp = Vec::new();
        let _ = tcp.read_to_end(&mut resp).await;
        let text = String::from_utf8_lossy(&resp);
        assert!(text.starts_with("HTTP/1.1 413"), "{text}");
        let body = text.split("\r\n\r\n").nth(1).unwrap_or("");
        let v: Value = serde_json::from_str(body).expect("json");
        assert_eq!(v["code"], json!("body_too_large"));
        assert!(!v["message"].as_str().unwrap_or("").is_empty());
    }
    let wrong = post(b"{}".to_vec(), "text/plain", &gw.origin)
        .await
        .expect("send");
    assert_eq!(wrong.status().as_u16(), 415);
    let cross = post(b"{}".to_vec(), "application/json", "https://evil.example")
        .await
        .expect("send");
    assert_eq!(cross.status().as_u16(), 403);
    let v: Value = serde_json::from_slice(&cross.bytes().await.expect("body")).expect("json");
    assert_eq!(v["code"], json!("origin_mismatch"));
    assert!(
        !v["message"].as_str().unwrap_or("").is_empty(),
        "a Kazakh message: {v}"
    );
    // Every refusal above is in the audit log; the chain verifies.
    let codes: Vec<String> = gw
        .audit()
        .iter()
        .filter(|r| r["event"] == "login_refused")
        .filter_map(|r| r["code"].as_str().map(str::to_string))
        .collect();
    for c in [
        "challenge_unknown",
        "challenge_wrong_browser",
        "challenge_expired",
        "cms_content_mismatch",
        "body_too_large",
        "unsupported_media_type",
        "origin_mismatch",
    ] {
        assert!(codes.iter().any(|x| x == c), "{c} audited: {codes:?}");
    }
    let report = eds_gateway::audit::verify_files(&[gw.dir.join("audit.jsonl")]);
    assert!(report.is_intact(), "{:?}", report.to_json());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_end_on_logout_idle_absolute_and_newer_login() {
    let w = world("sessions", KeyKind::Gost512).await;
    let k = w
        .pki
        .issue(&iin(20), "САПАРОВ", Profile::Gost2015, "employee");
    write_staff(&w.dir, &[(&k.iin, "Сапаров", "staff", true)]);
    let gw = w.gateway("ocsp-then-crl", "").await;
    let now = || w.clock.now();

    // Logout.
    let mut b = gw.browser();
    b.login(&k.signer, now()).await.expect("login");
    mis_view(&mut b, "/a").await;
    b.logout().await.expect("logout");
    let (status, _) = b.get("/a").await.expect("GET");
    assert_eq!(
        status, 303,
        "after logout the MIS is behind the login page again"
    );
    gw.last_audit("logout");

    // Idle timeout (15 min default).
    let mut b = gw.browser();
    b.login(&k.signer, now()).await.expect("login");
    w.clock.advance(14 * 60);
    mis_view(&mut b, "/still-here").await;
    w.clock.advance(14 * 60);
    mis_view(&mut b, "/activity-kept-it-alive").await;
    w.clock.advance(16 * 60);
    let (status, _) = b.get("/too-late").await.expect("GET");
    assert_eq!(status, 303);
    gw.last_audit("session_expired_idle");

    // A newer login with the same key ends the older session (max_sessions_per_key = 1).
    let mut first = gw.browser();
    first.login(&k.signer, now()).await.expect("login 1");
    let mut second = gw.browser();
    second.login(&k.signer, now()).await.expect("login 2");
    mis_view(&mut second, "/").await;
    let (status, _) = first.get("/").await.expect("GET");
    assert_eq!(status, 303, "the older session is gone");
    gw.last_audit("session_replaced");

    // Absolute lifetime (12 h default), even with activity.
    // A request every 14 minutes keeps the idle timer from firing; the 12-hour limit still ends
    // the session.
    let mut served = 0;
    for _ in 0..60 {
        w.clock.advance(14 * 60);
        let (status, _) = second.get("/busy").await.expect("GET");
        if status != 200 {
            assert_eq!(status, 303);
            break;
        }
        served += 1;
    }
    assert_eq!(
        served,
        12 * 60 / 14,
        "served until the absolute limit, not longer"
    );
    gw.last_audit("session_expired_absolute");

    // API calls get 401 JSON, not a redirect.
    let r = reqwest::Client::new()
        .get(format!("http://{}/api/x", gw.addr))
        .header("accept", "application/json")
        .header("accept-language", "ru")
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status().as_u16(), 401);
    let v: Value = serde_json::from_slice(&r.bytes().await.expect("body")).expect("json");
    assert_eq!(v["code"], json!("not_authenticated"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_survive_a_gateway_restart_with_the_embedded_store() {
    let w = world("restart", KeyKind::Gost512).await;
    let k = w
        .pki
        .issue(&iin(30), "ҚАЛИЕВ", Profile::Gost2015, "employee");
    write_staff(&w.dir, &[(&k.iin, "Қалиев", "staff", true)]);
    let gw = w.gateway("ocsp-then-crl", "").await;
    let mut b = gw.browser();
    b.login(&k.signer, eds_gateway::clock::now())
        .await
        .expect("login");
    drop(gw);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let gw2 = w.gateway("ocsp-then-crl", "").await;
    let mut b2 = Browser::new(gw2.addr, &gw2.origin).expect("browser");
    b2.cookies = b.cookies.clone();
    let v = mis_view(&mut b2, "/after-restart").await;
    assert_eq!(header(&v, "x-eds-iin"), vec![k.iin.as_str()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_gateways_on_one_redis_share_sessions_and_logout() {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let w = world("redis-pair", KeyKind::Gost512).await;
    let k = w.pki.issue(&iin(40), "ЕКЕУ", Profile::Gost2015, "employee");
    write_staff(&w.dir, &[(&k.iin, "Екеу", "staff", true)]);
    let prefix = format!(
        "edstest:{}:{}:",
        std::process::id(),
        eds_gateway::clock::now().0
    );
    let session = format!(
        "[session]\nstore = \"redis\"\nredis_url = \"{url}\"\nredis_prefix = \"{prefix}\"\n"
    );
    let a = w.gateway("ocsp-then-crl", &session).await;
    let b_gw = w.gateway("ocsp-then-crl", &session).await;
    let mut on_a = a.browser();
    on_a.login(&k.signer, eds_gateway::clock::now())
        .await
        .expect("login on A (is Redis running at REDIS_URL?)");
    mis_view(&mut on_a, "/on-a").await;
    // The same cookie on B.
    let mut on_b = Browser::new(b_gw.addr, &b_gw.origin).expect("browser");
    on_b.cookies = on_a.cookies.clone();
    on_b.csrf = on_a.csrf.clone();
    let v = mis_view(&mut on_b, "/on-b").await;
    assert_eq!(header(&v, "x-eds-iin"), vec![k.iin.as_str()]);
    // Logout on B ends the session on A at once (A had it cached).
    on_b.logout().await.expect("logout on B");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (status, _) = on_a.get("/on-a-again").await.expect("GET");
    assert_eq!(status, 303, "A no longer serves the session");
}

/// Violation 05: the access policy over HTTP — roles × paths × methods, the default, public
/// paths, and paths spelled to slip past the rules.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_policy_matrix_is_enforced_and_refusals_are_audited() {
    let w = world("access", KeyKind::Gost512).await;
    let doctor = w
        .pki
        .issue(&iin(50), "ДӘРІГЕР", Profile::Gost2015, "employee");
    let nurse = w
        .pki
        .issue(&iin(51), "МЕЙІРБИКЕ", Profile::Gost2015, "employee");
    write_staff(
        &w.dir,
        &[
            (&doctor.iin, "Дәрігер", "doctor;staff", true),
            (&nurse.iin, "Мейірбике", "nurse;staff", true),
        ],
    );
    let access = "[access]\ndefault = \"deny\"\npublic = [\"/public/\"]\n\
        [[access.rule]]\npath = \"/admin/\"\nroles = [\"admin\"]\n\
        [[access.rule]]\npath = \"/wards/*/orders\"\nmethods = [\"POST\"]\nroles = [\"doctor\"]\n\
        [[access.rule]]\npath = \"/wards/\"\nroles = [\"doctor\", \"nurse\"]\n";
    let gw = w.gateway("ocsp-then-crl", access).await;
    let now = eds_gateway::clock::now;
    let mut d = gw.browser();
    d.login(&doctor.signer, now()).await.expect("doctor");
    let mut n = gw.browser();
    n.login(&nurse.signer, now()).await.expect("nurse");
    let http = reqwest::Client::new();
    let call = |b: &Browser, method: &str, path: &str| {
        let cookie = b.cookie_header();
        http.request(
            reqwest::Method::from_bytes(method.as_bytes()).expect("method"),
            format!("http://{}{path}", gw.addr),
        )
        .header("cookie", cookie)
        .header("accept", "text/html")
        .send()
    };
    let matrix: [(&Browser, &str, &str, u16); 7] = [
        (&n, "GET", "/wards/3", 200),
        (&n, "GET", "/wards/3/orders", 200),
        (&n, "POST", "/wards/3/orders", 403),
        (&d, "POST", "/wards/3/orders", 200),
        (&d, "GET", "/admin/users", 403),
        (&n, "GET", "/ADMIN/users", 403),
        (&d, "GET", "/home", 403),
    ];
    for (b, method, path, want) in matrix {
        let r = call(b, method, path).await.expect("send");
        assert_eq!(r.status().as_u16(), want, "{method} {path}");
    }
    // Spellings an HTTP client library would normalise away, sent raw.
    let cookie = n.cookie_header();
    for path in ["/public/../admin/users", "/wards//3", "/wards/%2e%2e/admin"] {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut tcp = tokio::net::TcpStream::connect(gw.addr).await.expect("tcp");
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nCookie: {cookie}\r\nConnection: close\r\n\r\n",
            gw.addr
        );
        tcp.write_all(req.as_bytes()).await.expect("write");
        let mut resp = Vec::new();
        tcp.read_to_end(&mut resp).await.expect("read");
        let head = String::from_utf8_lossy(&resp);
        assert!(
            head.starts_with("HTTP/1.1 400"),
            "{path}: {}",
            head.lines().next().unwrap_or("")
        );
    }
    let denied = gw.last_audit("access_denied");
    assert_eq!(denied["reason"], json!("non_canonical_path"));
    let by_rule: Vec<Value> = gw
        .audit()
        .into_iter()
        .filter(|r| r["event"] == "access_denied" && r["rule_path"] == "/wards/*/orders")
        .collect();
    assert_eq!(by_rule.len(), 1, "the nurse's order POST names its rule");
    assert_eq!(by_rule[0]["iin"], json!(nurse.iin));
    // Public paths need no session and carry no identity.
    let r = reqwest::Client::new()
        .get(format!("http://{}/public/logo.png", gw.addr))
        .header("x-eds-iin", "forged")
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status().as_u16(), 200);
    let seen: Value = serde_json::from_slice(&r.bytes().await.expect("body")).expect("json");
    assert!(header(&seen, "x-eds-iin").is_empty(), "{seen}");
}

/// `/eds/readyz`: ready with a current CRL and a working store; 503 naming the stale source
/// when the CRL could not be fetched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_ready_only_with_current_revocation_data() {
    let w = world("readyz", KeyKind::Gost512).await;
    write_staff(&w.dir, &[(&iin(60), "Кто-то", "staff", true)]);
    let gw = w.gateway("ocsp-then-crl", "").await;
    let r = reqwest::get(format!("http://{}/eds/readyz", gw.addr))
        .await
        .expect("GET");
    assert_eq!(r.status().as_u16(), 200);
    drop(gw);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // The same gateway with its CRL source pointing where nothing listens.
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    };
    let revocation = format!(
        "[revocation]\nmode = \"crl\"\n\n[[revocation.crl]]\nissuer = \"certs/test_ca.pem\"\nurl = \"http://{dead}/ca.crl\"\n"
    );
    let gw = gateway(&w.dir, w.mis, &revocation, "", &w.clock).await;
    let r = reqwest::get(format!("http://{}/eds/readyz", gw.addr))
        .await
        .expect("GET");
    assert_eq!(r.status().as_u16(), 503);
    let v: Value = serde_json::from_slice(&r.bytes().await.expect("body")).expect("json");
    assert_eq!(v["ready"], json!(false));
    assert_eq!(
        v["problems"][0]["code"],
        json!("revocation_crl_stale"),
        "{v}"
    );
}

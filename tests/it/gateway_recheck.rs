//! Live sessions re-checked and evicted (issue 8 items 1, 2, 5) over real HTTP: a logged-in
//! nurse's key is revoked in the test PKI (with its live CRL/OCSP responder) or blocked, and the
//! open session is evicted — by a CRL refresh, by the OCSP interval, by the responder's webhook
//! (`pki serve --webhook`), by an admin block — with 401 `session_revoked`/`session_blocked` on
//! its next request and no request served after the `session_evicted` audit record. An OCSP
//! outage during a re-check evicts nobody. Two gateway instances on one real Redis: a block on A
//! evicts a session that lives on B.

use crate::gateway_support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use eds_gateway::drill::ca::{Ca, InitOptions, OcspOptions, Profile};
use eds_gateway::drill::keys::KeyKind;
use eds_gateway::drill::responder::{ServeOptions, serve};
use eds_gateway::gateway::client::Browser;
use eds_gateway::pki::identity::complete_iin;
use eds_gateway::revocation::crl_store::Kind;
use gateway_support::*;

fn iin(n: u32) -> String {
    for k in 0..10 {
        if let Some(i) = complete_iin(&format!("860202{}{:04}", 4, n * 10 + k)) {
            return i;
        }
    }
    panic!("no IIN for {n}");
}

fn free_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind :0");
    l.local_addr().expect("addr")
}

/// A GOST test PKI whose responder runs with `opts` (the handle stops it: an outage).
async fn pki_with(
    dir: &std::path::Path,
    opts: ServeOptions,
) -> (TestPki, tokio::task::JoinHandle<()>) {
    let responder = free_port();
    Ca::init(
        dir,
        &InitOptions {
            algorithm: KeyKind::Gost512,
            base_url: format!("http://{responder}"),
            crl_lifetime_secs: 24 * 3600,
            delta_lifetime_secs: 3600,
        },
    )
    .expect("pki init");
    let d = dir.to_path_buf();
    let h = tokio::spawn(async move {
        let _ = serve(d, responder, opts).await;
    });
    wait_for(responder).await;
    (
        TestPki {
            dir: dir.to_path_buf(),
            responder,
        },
        h,
    )
}

struct World {
    pki: TestPki,
    responder: tokio::task::JoinHandle<()>,
    mis: SocketAddr,
    dir: std::path::PathBuf,
    clock: TestClock,
    nurse: TestKey,
    admin: TestKey,
}

async fn world(name: &str, opts: ServeOptions) -> World {
    let dir = tmp(name);
    let (pki, responder) = pki_with(&dir.join("pki"), opts).await;
    let nurse = pki.issue(&iin(1), "НҰРЛАНОВА", Profile::Gost2015, "employee");
    let admin = pki.issue(&iin(2), "ӘКІМОВ", Profile::Gost2015, "employee");
    prepare(&pki, &dir, &nurse, &admin);
    World {
        pki,
        responder,
        mis: echo_mis().await,
        dir,
        clock: TestClock::default(),
        nurse,
        admin,
    }
}

/// A gateway folder: trust store and staff file (nurse, admin).
fn prepare(pki: &TestPki, dir: &std::path::Path, nurse: &TestKey, admin: &TestKey) {
    pki.trust_into(&dir.join("certs"), "test");
    write_staff(
        dir,
        &[
            (&nurse.iin, "Нұрланова Айгүл", "nurse", true),
            (&admin.iin, "Әкімов Ерлан", "admin", true),
        ],
    );
}

impl World {
    fn revocation(&self, mode: &str) -> String {
        let crl = if mode == "ocsp" {
            String::new()
        } else {
            self.pki.crl_toml("test")
        };
        format!("[revocation]\nmode = \"{mode}\"\nocsp_hash = \"sha256\"\n\n{crl}")
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

async fn logged_in(gw: &Gw, key: &TestKey) -> Browser {
    let mut b = gw.browser();
    b.login(&key.signer, eds_gateway::clock::now())
        .await
        .unwrap_or_else(|e| panic!("login of {}: {e}", key.iin));
    b
}

/// A non-browser request (Accept: application/json) with `b`'s cookies.
async fn api_get(gw: &Gw, b: &Browser, path: &str) -> (u16, Value) {
    let r = reqwest::Client::new()
        .get(format!("http://{}{path}", gw.addr))
        .header("cookie", b.cookie_header())
        .header("accept", "application/json")
        .send()
        .await
        .expect("GET");
    let status = r.status().as_u16();
    (
        status,
        serde_json::from_slice(&r.bytes().await.unwrap_or_default()).unwrap_or(Value::Null),
    )
}

/// Waits (≤ `secs`) for an audit record of `event` matching `pred`.
async fn audit_record(gw: &Gw, event: &str, secs: u64, pred: impl Fn(&Value) -> bool) -> Value {
    let until = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(r) = gw
            .audit()
            .into_iter()
            .find(|r| r["event"] == event && pred(r))
        {
            return r;
        }
        assert!(
            Instant::now() < until,
            "no {event} audit record within {secs} s: {:#?}",
            gw.audit()
                .iter()
                .map(|r| r["event"].clone())
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn field<'a>(r: &'a Value, k: &str) -> &'a Value {
    if r.get(k).is_some() {
        &r[k]
    } else {
        &r["fields"][k]
    }
}

/// Keeps browsing the MIS with `b` until stopped; every response with the instant its request
/// started.
fn keep_browsing(
    gw: &Gw,
    b: &Browser,
) -> (
    Arc<AtomicBool>,
    tokio::task::JoinHandle<Vec<(Instant, u16)>>,
) {
    let stop = Arc::new(AtomicBool::new(false));
    let st = stop.clone();
    let addr = gw.addr;
    let cookie = b.cookie_header();
    let h = tokio::spawn(async move {
        let c = reqwest::Client::new();
        let mut out = Vec::new();
        while !st.load(Ordering::SeqCst) {
            let t = Instant::now();
            let status = c
                .get(format!("http://{addr}/ward/7"))
                .header("cookie", &cookie)
                .header("accept", "application/json")
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0);
            out.push((t, status));
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        out
    });
    (stop, h)
}

/// Waits for the eviction of `serial`, then checks: browsing got 200s before it and nothing but
/// 401 after the audit record appeared; the session's next requests get `code` (JSON and page).
#[allow(clippy::too_many_arguments)] // a test helper: one scenario's facts, named at each call
async fn expect_evicted(
    gw: &Gw,
    b: &mut Browser,
    browsing: (
        Arc<AtomicBool>,
        tokio::task::JoinHandle<Vec<(Instant, u16)>>,
    ),
    t0: Instant,
    serial: &str,
    source: &str,
    code: &str,
    secs: u64,
) -> Value {
    let rec = audit_record(gw, "session_evicted", secs, |r| {
        field(r, "serial").as_str().map(str::to_lowercase) == Some(serial.to_lowercase())
    })
    .await;
    let seen = Instant::now();
    // Measured, never asserted: how long after the news the eviction record appeared (this
    // poll's resolution is 50 ms).
    eprintln!(
        "eviction by {source}: {} ms after the news",
        seen.duration_since(t0).as_millis()
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    browsing.0.store(true, Ordering::SeqCst);
    let log = browsing.1.await.expect("browsing task");
    assert!(
        log.iter().any(|(_, s)| *s == 200),
        "the session never reached the MIS: {log:?}"
    );
    let after: Vec<u16> = log
        .iter()
        .filter(|(t, _)| *t > seen)
        .map(|(_, s)| *s)
        .collect();
    assert!(!after.is_empty(), "no request after the eviction record");
    assert!(
        after.iter().all(|s| *s == 401),
        "served after eviction: {after:?}"
    );
    assert_eq!(field(&rec, "source"), source, "{rec}");
    assert_eq!(field(&rec, "reason"), code, "{rec}");
    assert_eq!(field(&rec, "iin"), &Value::String(iin(1)), "{rec}");
    assert!(field(&rec, "sid").as_str().is_some_and(|s| s.len() == 16));
    let (status, v) = api_get(gw, b, "/ward/7").await;
    assert_eq!(
        (status, v["ok"].clone(), v["code"].as_str()),
        (401, json!(false), Some(code)),
        "{v}"
    );
    let (status, v) = api_get(gw, b, "/eds/session").await;
    assert_eq!((status, v["code"].as_str()), (401, Some(code)), "{v}");
    // A browser gets the page, in its language.
    let r = reqwest::Client::new()
        .get(format!("http://{}/ward/7", gw.addr))
        .header("cookie", b.cookie_header())
        .header("accept", "text/html")
        .header("accept-language", "kk")
        .send()
        .await
        .expect("GET page");
    assert_eq!(r.status().as_u16(), 401);
    let html = r.text().await.unwrap_or_default();
    assert!(html.contains(code), "{html}");
    assert!(html.contains("lang=\"kk\""), "{html}");
    rec
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crl_refresh_evicts_a_revoked_session() {
    let w = world("recheck-crl", ServeOptions::default()).await;
    let gw = w.gateway("crl", "").await;
    let mut b = logged_in(&gw, &w.nurse).await;
    let browsing = keep_browsing(&gw, &b);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t0 = Instant::now();
    w.pki.revoke(&w.nurse.serial);
    // The refresher's work, now: the new delta CRL is downloaded and swapped in.
    for st in gw.state.crl_stores() {
        st.refresh(Kind::Delta, w.clock.now(), &mut |_, _| {})
            .await
            .expect("delta refresh");
    }
    let rec = expect_evicted(
        &gw,
        &mut b,
        browsing,
        t0,
        &w.nurse.serial,
        "crl",
        "session_revoked",
        10,
    )
    .await;
    assert!(field(&rec, "detail")["crl_number"].is_string(), "{rec}");
    // The admin's own session is untouched.
    let mut a = logged_in(&gw, &w.admin).await;
    assert_eq!(a.get("/ward/7").await.expect("GET").0, 200);
}

fn short_ocsp() -> ServeOptions {
    ServeOptions {
        ocsp: OcspOptions {
            next_update_secs: 2,
            ..OcspOptions::default()
        },
        ..ServeOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ocsp_interval_evicts_a_revoked_session() {
    let w = world("recheck-ocsp", short_ocsp()).await;
    let gw = w
        .gateway("ocsp", "[recheck]\nocsp_interval_secs = 1\n")
        .await;
    let mut b = logged_in(&gw, &w.nurse).await;
    let browsing = keep_browsing(&gw, &b);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t0 = Instant::now();
    w.pki.revoke(&w.nurse.serial);
    let rec = expect_evicted(
        &gw,
        &mut b,
        browsing,
        t0,
        &w.nurse.serial,
        "ocsp",
        "session_revoked",
        15,
    )
    .await;
    assert!(field(&rec, "detail")["revoked_at"].is_string(), "{rec}");
    // Its key cannot log in again either.
    let r = gw
        .browser()
        .login(&w.nurse.signer, eds_gateway::clock::now())
        .await;
    assert_eq!(r.map_err(|e| e.code).err().as_deref(), Some("cert_revoked"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ocsp_outage_during_a_recheck_evicts_nobody() {
    let w = world("recheck-outage", short_ocsp()).await;
    let gw = w
        .gateway("ocsp", "[recheck]\nocsp_interval_secs = 1\n")
        .await;
    let mut b = logged_in(&gw, &w.nurse).await;
    // The responder blinks: its CA folder is gone, every OCSP answer is internalError (an
    // aborted listener would not do: the OCSP client keeps its keep-alive connection).
    w.responder.abort();
    let away = w.dir.join("pki-away");
    std::fs::rename(&w.pki.dir, &away).expect("move the CA away");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rec = audit_record(&gw, "recheck_inconclusive", 15, |r| {
        field(r, "source") == "ocsp"
    })
    .await;
    assert_eq!(field(&rec, "kept"), true, "{rec}");
    assert!(field(&rec, "inconclusive").as_u64() >= Some(1), "{rec}");
    assert_eq!(b.get("/ward/7").await.expect("GET").0, 200);
    assert!(
        !gw.audit().iter().any(|r| r["event"] == "session_evicted"),
        "evicted during an outage"
    );
    // The admin page's health shows the failures.
    let mut a = gw.browser();
    // (the admin cannot log in now: new logins follow the deny-by-default policy)
    let r = a.login(&w.admin.signer, eds_gateway::clock::now()).await;
    assert!(
        r.is_err(),
        "a login without a revocation answer was accepted"
    );
    // `/eds/metrics` counts both: the good answers of the logins, the responder's failures
    // (the re-check's fresh-cache client counts into the same figures), and how long ago the
    // responder last answered.
    let text = reqwest::get(format!("http://{}/eds/metrics", gw.addr))
        .await
        .expect("GET /eds/metrics")
        .text()
        .await
        .expect("metrics text");
    let value = |prefix: &str| -> f64 {
        text.lines()
            .find(|l| l.starts_with(prefix))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {prefix} in\n{text}"))
    };
    assert!(value("eds_ocsp_responder_results_total{outcome=\"good\"}") >= 1.0);
    assert!(value("eds_ocsp_responder_results_total{outcome=\"ocsp_internal_error\"}") >= 1.0);
    assert!(value("eds_ocsp_lookups_total{source=\"responder\"}") >= 2.0);
    assert!(value("eds_ocsp_responder_seconds_count") >= 2.0);
    assert!(value("eds_ocsp_last_answer_age_seconds{url=\"http://") >= 0.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn webhook_from_the_responder_evicts_at_once() {
    let w = world("recheck-webhook", ServeOptions::default()).await;
    // Polling would take an hour: only the push can evict in this test.
    let gw = w
        .gateway(
            "ocsp-then-crl",
            "[recheck]\nocsp_interval_secs = 3600\nwebhook_allow = [\"127.0.0.1\"]\n",
        )
        .await;
    // `pki serve --webhook URL` on the same CA: it posts every status change.
    let hook = free_port();
    let d = w.pki.dir.clone();
    let url = format!("http://{}/eds/revocation/webhook", gw.addr);
    tokio::spawn(async move {
        let _ = serve(
            d,
            hook,
            ServeOptions {
                webhook: Some(url),
                ..ServeOptions::default()
            },
        )
        .await;
    });
    wait_for(hook).await;
    let mut b = logged_in(&gw, &w.nurse).await;
    let browsing = keep_browsing(&gw, &b);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let t0 = Instant::now();
    w.pki.revoke(&w.nurse.serial);
    let rec = expect_evicted(
        &gw,
        &mut b,
        browsing,
        t0,
        &w.nurse.serial,
        "webhook",
        "session_revoked",
        10,
    )
    .await;
    assert_eq!(field(&rec, "detail")["fresh"], true, "{rec}");
    let hook_rec = gw.last_audit("revocation_webhook");
    assert_eq!(field(&hook_rec, "ip"), "127.0.0.1");

    // A webhook from a peer not on the list is refused and changes nothing.
    let dir2 = tmp("recheck-webhook-2");
    prepare(&w.pki, &dir2, &w.nurse, &w.admin);
    let gw2 = gateway(
        &dir2,
        w.mis,
        &w.revocation("ocsp-then-crl"),
        "[recheck]\nwebhook_allow = [\"10.9.9.9\"]\n",
        &w.clock,
    )
    .await;
    let r = reqwest::Client::new()
        .post(format!("http://{}/eds/revocation/webhook", gw2.addr))
        .header("content-type", "application/json")
        .body(json!({"event": "revocation", "serial": w.admin.serial}).to_string())
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status().as_u16(), 403);
    let v: Value = serde_json::from_slice(&r.bytes().await.expect("body")).expect("json");
    assert_eq!(v["code"], "webhook_forbidden");
    gw2.last_audit("webhook_refused");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_block_by_iin_evicts_refuses_logins_and_unblock_lets_them_back() {
    let w = world("recheck-block", ServeOptions::default()).await;
    let gw = w.gateway("ocsp-then-crl", "").await;
    let mut admin = logged_in(&gw, &w.admin).await;
    let mut b = logged_in(&gw, &w.nurse).await;

    // A nurse is not an admin: the API and the page say 403.
    let (status, v) = b
        .post_json(
            "/eds/admin/api/block",
            &json!({"iin": w.admin.iin, "reason": "x"}),
        )
        .await
        .expect("POST");
    assert_eq!(
        (status, v["code"].as_str()),
        (403, Some("admin_only")),
        "{v}"
    );
    assert_eq!(b.get("/eds/admin").await.expect("GET").0, 403);
    // Without the CSRF token an admin's POST is refused.
    let saved = std::mem::take(&mut admin.csrf);
    let (status, v) = admin
        .post_json(
            "/eds/admin/api/block",
            &json!({"iin": w.nurse.iin, "reason": "x"}),
        )
        .await
        .expect("POST");
    assert_eq!(
        (status, v["code"].as_str()),
        (403, Some("csrf_failed")),
        "{v}"
    );
    admin.csrf = saved;
    // Bad input is named.
    let (status, v) = admin
        .post_json(
            "/eds/admin/api/block",
            &json!({"iin": "123", "reason": "x"}),
        )
        .await
        .expect("POST");
    assert_eq!(
        (status, v["code"].as_str()),
        (400, Some("admin_bad_input")),
        "{v}"
    );

    let browsing = keep_browsing(&gw, &b);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let t0 = Instant::now();
    let (status, v) = admin
        .post_json(
            "/eds/admin/api/block",
            &json!({"iin": w.nurse.iin, "reason": "token reported lost"}),
        )
        .await
        .expect("POST");
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["evicted"], 1, "{v}");
    assert_eq!(v["entry"]["kind"], "iin");
    expect_evicted(
        &gw,
        &mut b,
        browsing,
        t0,
        &w.nurse.serial,
        "block",
        "session_blocked",
        5,
    )
    .await;
    let added = gw.last_audit("block_added");
    assert!(
        field(&added, "by")
            .as_str()
            .is_some_and(|s| s.contains(&w.admin.iin)),
        "{added}"
    );

    // The list shows it; a new login with the key is refused.
    let (status, v) = api_get(&gw, &admin, "/eds/admin/api/sessions").await;
    assert_eq!(status, 200);
    assert!(
        v["sessions"]
            .as_array()
            .expect("sessions")
            .iter()
            .all(|s| s["iin"] != Value::String(w.nurse.iin.clone())),
        "{v}"
    );
    let r = gw
        .browser()
        .login(&w.nurse.signer, eds_gateway::clock::now())
        .await;
    assert_eq!(
        r.map_err(|e| (e.status, e.code)).err(),
        Some((403, "key_blocked".to_string()))
    );
    let refused = gw.last_audit("login_refused");
    assert_eq!(field(&refused, "code"), "key_blocked");

    // Unblocked: back in.
    let (status, v) = admin
        .post_json("/eds/admin/api/unblock", &json!({"iin": w.nurse.iin}))
        .await
        .expect("POST");
    assert_eq!((status, v["removed"].clone()), (200, json!(true)), "{v}");
    let mut again = logged_in(&gw, &w.nurse).await;
    assert_eq!(again.get("/ward/7").await.expect("GET").0, 200);
    gw.last_audit("block_removed");

    // A block by serial also works, and persists in the store (blocklist.json).
    let (status, v) = admin
        .post_json(
            "/eds/admin/api/block",
            &json!({"serial": w.nurse.serial.to_uppercase(), "reason": "stolen laptop"}),
        )
        .await
        .expect("POST");
    assert_eq!((status, v["evicted"].clone()), (200, json!(1)), "{v}");
    let (status, v) = api_get(&gw, &again, "/eds/session").await;
    assert_eq!((status, v["code"].as_str()), (401, Some("session_blocked")));
    let list = gw.state.store.block_list().await.expect("block list");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].kind, "serial");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_on_instance_a_evicts_a_session_on_instance_b_over_redis() {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    if eds_gateway::session::redis_store::RedisStore::connect(&url, "eds-test:probe:")
        .await
        .is_err()
    {
        panic!(
            "this test needs a Redis server at {url} (set REDIS_URL): start one with `redis-server` or `apt-get install redis-server`"
        );
    }
    let base = tmp("recheck-redis");
    let (pki, _responder) = pki_with(&base.join("pki"), ServeOptions::default()).await;
    let nurse = pki.issue(&iin(1), "НҰРЛАНОВА", Profile::Gost2015, "employee");
    let admin = pki.issue(&iin(2), "ӘКІМОВ", Profile::Gost2015, "employee");
    let (da, db) = (base.join("a"), base.join("b"));
    for d in [&da, &db] {
        std::fs::create_dir_all(d).expect("dir");
        prepare(&pki, d, &nurse, &admin);
    }
    let mis = echo_mis().await;
    let clock = TestClock::default();
    let prefix = format!("eds-test:recheck:{}:{}:", std::process::id(), clock.now().0);
    let extra = format!(
        "[session]\nstore = \"redis\"\nredis_url = \"{url}\"\nredis_prefix = \"{prefix}\"\n"
    );
    let rev = format!(
        "[revocation]\nmode = \"ocsp-then-crl\"\nocsp_hash = \"sha256\"\n\n{}",
        pki.crl_toml("test")
    );
    let a = gateway(&da, mis, &rev, &extra, &clock).await;
    let b_gw = gateway(&db, mis, &rev, &extra, &clock).await;

    let mut on_b = logged_in(&b_gw, &nurse).await;
    assert_eq!(on_b.get("/ward/7").await.expect("GET").0, 200);
    let mut adm = logged_in(&a, &admin).await;
    // A sees B's session (shared store).
    let (_, v) = api_get(&a, &adm, "/eds/admin/api/sessions").await;
    assert!(
        v["sessions"]
            .as_array()
            .expect("sessions")
            .iter()
            .any(|s| s["iin"] == Value::String(nurse.iin.clone())),
        "{v}"
    );
    let (status, v) = adm
        .post_json(
            "/eds/admin/api/block",
            &json!({"iin": nurse.iin, "reason": "drill"}),
        )
        .await
        .expect("POST");
    assert_eq!((status, v["evicted"].clone()), (200, json!(1)), "{v}");
    // B hears of it through Redis pub/sub and refuses the session's next request.
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        let (status, v) = api_get(&b_gw, &on_b, "/ward/7").await;
        if status == 401 {
            assert_eq!(v["code"], "session_blocked", "{v}");
            break;
        }
        assert!(Instant::now() < until, "B still serves the evicted session");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, _) = on_b.get("/ward/7").await.expect("GET");
    assert_eq!(status, 401);
    // And B refuses a new login with that key (its block list copy was reloaded).
    let until = Instant::now() + Duration::from_secs(5);
    loop {
        match b_gw
            .browser()
            .login(&nurse.signer, eds_gateway::clock::now())
            .await
        {
            Err(e) if e.code == "key_blocked" => break,
            other => assert!(
                Instant::now() < until,
                "B let the blocked key in: {other:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The eviction was audited once, on A, from the block.
    let rec = a.last_audit("session_evicted");
    assert_eq!(field(&rec, "source"), "block");
    assert!(!b_gw.audit().iter().any(|r| r["event"] == "session_evicted"));
    // Leave the shared Redis clean (sessions and tombstones expire by themselves).
    let (status, _) = adm
        .post_json("/eds/admin/api/unblock", &json!({"iin": nurse.iin}))
        .await
        .expect("POST");
    assert_eq!(status, 200);
}

const BIN: &str = env!("CARGO_BIN_EXE_eds-gateway");

async fn cli(args: &[&str]) -> (i32, String, String) {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(BIN)
            .args(&args)
            .output()
            .expect("run eds-gateway")
    })
    .await
    .expect("join");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn block_cli_goes_through_the_running_gateway_with_the_operator_token() {
    let w = world("recheck-cli", ServeOptions::default()).await;
    std::fs::write(
        w.dir.join("admin.token"),
        "0123456789abcdef0123456789abcdef-operator\n",
    )
    .expect("token");
    let gw = w
        .gateway(
            "ocsp-then-crl",
            "[admin]\napi_token_file = \"admin.token\"\n",
        )
        .await;
    let config = w.dir.join("gateway.toml").display().to_string();
    let mut b = logged_in(&gw, &w.nurse).await;
    let (code, out, err) = cli(&[
        "block",
        "add",
        "--config",
        &config,
        "--iin",
        &w.nurse.iin,
        "--reason",
        "token reported lost",
    ])
    .await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("1 live session(s) evicted"), "{out}");
    let (status, v) = api_get(&gw, &b, "/eds/session").await;
    assert_eq!((status, v["code"].as_str()), (401, Some("session_blocked")));
    assert_eq!(b.get("/ward/7").await.expect("GET").0, 401);
    let added = gw.last_audit("block_added");
    assert_eq!(field(&added, "by"), "operator-token");

    let (code, out, _) = cli(&["block", "list", "--config", &config]).await;
    assert_eq!(code, 0);
    assert!(out.contains(&format!("iin:{}", w.nurse.iin)), "{out}");
    assert!(out.contains("token reported lost"), "{out}");

    // The operator token also reads sessions over the API (loopback only); a wrong one is refused.
    let r = reqwest::Client::new()
        .get(format!("http://{}/eds/admin/api/sessions", gw.addr))
        .bearer_auth("0123456789abcdef0123456789abcdef-wrong")
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status().as_u16(), 403);

    let (code, out, err) = cli(&[
        "block",
        "remove",
        "--config",
        &config,
        "--iin",
        &w.nurse.iin,
    ])
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = cli(&["block", "list", "--config", &config]).await;
    assert_eq!(code, 0);
    assert!(out.contains("empty"), "{out}");
    let mut again = logged_in(&gw, &w.nurse).await;
    assert_eq!(again.get("/ward/7").await.expect("GET").0, 200);

    // Kill: the session ends everywhere (audited with who did it).
    let token = "0123456789abcdef0123456789abcdef-operator";
    let c = reqwest::Client::new();
    let v: Value = serde_json::from_slice(
        &c.get(format!("http://{}/eds/admin/api/sessions", gw.addr))
            .bearer_auth(token)
            .send()
            .await
            .expect("GET")
            .bytes()
            .await
            .expect("body"),
    )
    .expect("json");
    let sid = v["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .find(|s| s["iin"] == Value::String(w.nurse.iin.clone()))
        .and_then(|s| s["sid"].as_str())
        .expect("nurse session")
        .to_string();
    let r = c
        .post(format!("http://{}/eds/admin/api/kill", gw.addr))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(json!({"sid": sid}).to_string())
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status().as_u16(), 200);
    let (status, v) = api_get(&gw, &again, "/eds/session").await;
    assert_eq!(
        (status, v["code"].as_str()),
        (401, Some("session_ended")),
        "{v}"
    );
    let ended = gw.last_audit("session_ended");
    assert_eq!(field(&ended, "reason"), "killed");
    assert_eq!(field(&ended, "by"), "operator-token");

    // Removing what is not there says so.
    let (code, _, err) = cli(&["block", "remove", "--config", &config, "--serial", "abcdef"]).await;
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("no such block"), "{err}");
}

//! The login page in a real browser (issue 6 item 3): Debian's headless Chromium, driven by
//! playwright-core from Node (tests/browser/login.mjs), loads the page that
//! `web::pages::login_page` renders (with the real CSP and the embedded script and stylesheet),
//! and the page's script talks to the real NCALayer simulator (`eds-gateway ncalayer-sim`, run
//! as a separate process with a .p12 made by `eds-gateway pki init` / `pki issue`).
//!
//! The gateway's own `/eds/challenge` and `/eds/login` are built elsewhere (they get their own
//! end-to-end test); here a small axum server stands in for them, and its login double really
//! verifies the CMS over the challenge bytes it issued (`pki::cms::{SignedData, verify_signers}`),
//! so a page that signed the wrong thing cannot pass.
//!
//! Nothing is skipped silently: without Chromium, Node or tests/browser/node_modules these tests
//! fail and name the install step (`.ci/run` does both), unless `EDS_SKIP_BROWSER_TESTS=1`.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use eds_gateway::pki::cms::{SignedData, verify_signers};
use eds_gateway::pki::identity::NcaIdentity;
use eds_gateway::pki::signature::SignaturePolicy;
use eds_gateway::web::i18n::{Lang, Ui, lang_cookie, message, ui};
use eds_gateway::web::pages::{LoginPage, escape, login_page};
use eds_gateway::web::{csp, static_asset};

use crate::browser_support;
use browser_support::{browser, screenshot_path};

const BIN: &str = env!("CARGO_BIN_EXE_eds-gateway");
const IIN: &str = "900101300012";
const P12_PASSWORD: &str = "Qwerty12";
const NEXT: &str = "/mis/home?ward=3";

// ---- The test PKI and the simulator -------------------------------------------------------

/// A test CA and one employee key, made once per test binary by the real CLI.
fn p12() -> &'static Path {
    static P12: OnceLock<PathBuf> = OnceLock::new();
    P12.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("login_page_pki_{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let cli = |args: &[&str]| {
            let o = Command::new(BIN)
                .args(args)
                .output()
                .expect("run eds-gateway");
            assert!(
                o.status.success(),
                "eds-gateway {args:?}: {}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
        };
        let d = dir.to_str().expect("utf-8 path");
        cli(&["pki", "init", d]);
        let p12 = dir.join("nurse.p12");
        cli(&[
            "pki",
            "issue",
            d,
            "--iin",
            IIN,
            "--surname",
            "АХМЕТОВА",
            "--given-name",
            "АЙГЕРІМ",
            "--bin",
            "123456789021",
            "--org",
            "ТЕСТ АУРУХАНАСЫ",
            "--role",
            "employee",
            "--out",
            p12.to_str().expect("utf-8 path"),
            "--password",
            P12_PASSWORD,
        ]);
        p12
    })
}

/// `eds-gateway ncalayer-sim` on an ephemeral port; killed on drop.
struct Sim {
    child: Child,
    url: String,
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_sim(flags: &[&str]) -> Sim {
    let mut child = Command::new(BIN)
        .arg("ncalayer-sim")
        .arg("--p12")
        .arg(p12())
        .args([
            "--password-env",
            "LOGIN_PAGE_P12_PW",
            "--listen",
            "127.0.0.1:0",
        ])
        .args(flags)
        .env("LOGIN_PAGE_P12_PW", P12_PASSWORD)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start ncalayer-sim");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("stdout");
    BufReader::new(stdout).read_line(&mut line).expect("read");
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line from ncalayer-sim: {line:?}"))
        .to_string();
    assert!(url.starts_with("ws://127.0.0.1:"), "{url}");
    Sim { child, url }
}

/// An address where nothing listens (NCALayer not running).
fn closed_port_url() -> String {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    drop(l);
    format!("ws://{addr}")
}

// ---- An older NCALayer: no basics module ---------------------------------------------------

/// A WebSocket relay in front of the simulator that answers `kz.gov.pki.knca.basics` the way
/// the old module dispatcher answers an unknown module (`{"code":"500","message":…}`, the
/// simulator's own shape for it, src/drill/ncalayer.rs) and relays everything else.
fn start_legacy_relay(rt: &tokio::runtime::Runtime, sim_url: &str) -> String {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .expect("bind relay");
    let addr = listener.local_addr().expect("addr");
    let upstream_addr: SocketAddr = sim_url
        .trim_start_matches("ws://")
        .parse()
        .expect("sim address");
    rt.spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(async move {
                let Ok(mut down) = tokio_tungstenite::accept_async(tcp).await else {
                    return;
                };
                let Ok(up_tcp) = tokio::net::TcpStream::connect(upstream_addr).await else {
                    return;
                };
                let Ok((mut up, _)) =
                    tokio_tungstenite::client_async(format!("ws://{upstream_addr}/"), up_tcp).await
                else {
                    return;
                };
                // The greeting, as the old app sends it.
                if let Some(Ok(greeting)) = up.next().await {
                    let _ = down.send(greeting).await;
                }
                while let Some(Ok(msg)) = down.next().await {
                    let Message::Text(t) = msg else { continue };
                    let v: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
                    if v["module"] == "kz.gov.pki.knca.basics" {
                        let reply = json!({"code": "500", "message": "module not found: kz.gov.pki.knca.basics"});
                        let _ = down.send(Message::text(reply.to_string())).await;
                        continue;
                    }
                    if up.send(Message::text(t.as_str())).await.is_err() {
                        return;
                    }
                    loop {
                        match up.next().await {
                            Some(Ok(Message::Text(r))) => {
                                let _ = down.send(Message::text(r.as_str())).await;
                                break;
                            }
                            Some(Ok(_)) => continue,
                            _ => return,
                        }
                    }
                }
            });
        }
    });
    format!("ws://{addr}")
}

// ---- The gateway double ---------------------------------------------------------------------

struct Double {
    ncalayer_url: String,
    csrf: String,
    /// Refuse every (verified) login with this code, as the real gateway refuses unknown staff.
    refuse_with: Option<&'static str>,
    challenges: Mutex<HashMap<String, Vec<u8>>>,
    issued: Mutex<usize>,
    /// IINs of logins whose CMS verified over the issued challenge.
    verified: Mutex<Vec<String>>,
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn accept_language(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
}

fn random_hex(n: usize) -> String {
    let mut b = vec![0u8; n];
    getrandom::fill(&mut b).expect("OS randomness");
    hex::encode(b)
}

fn html(d: &Double, body: String) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_str(&csp(&d.ncalayer_url)).expect("CSP is a valid header"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

async fn login_get(
    State(d): State<Arc<Double>>,
    Query(q): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let explicit = q.get("lang").and_then(|l| Lang::from_tag(l));
    let lang = Lang::negotiate(
        q.get("lang").map(String::as_str),
        cookie(&headers, "eds_lang"),
        accept_language(&headers),
    );
    let page = login_page(&LoginPage {
        lang,
        next: q.get("next").cloned().unwrap_or_else(|| "/".into()),
        csrf: d.csrf.clone(),
        ncalayer_url: d.ncalayer_url.clone(),
        gateway_name: "Тест ауруханасы".into(),
    });
    let mut r = html(&d, page);
    if let Some(l) = explicit {
        r.headers_mut().insert(
            header::SET_COOKIE,
            HeaderValue::from_str(&lang_cookie(l, false)).expect("cookie header"),
        );
    }
    r
}

async fn static_get(axum::extract::Path(rest): axum::extract::Path<String>) -> Response {
    match static_asset(&format!("/eds/static/{rest}")) {
        Some((bytes, ctype)) => ([(header::CONTENT_TYPE, ctype)], bytes).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn refusal(status: StatusCode, code: &str, headers: &HeaderMap) -> Response {
    let lang = Lang::negotiate(None, cookie(headers, "eds_lang"), accept_language(headers));
    (
        status,
        axum::Json(json!({"ok": false, "code": code, "message": message(code, lang)})),
    )
        .into_response()
}

/// The CSRF and content-type checks every POST of the real gateway makes: the refusal, if any.
fn post_checks(d: &Double, headers: &HeaderMap) -> Option<Response> {
    let json_ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json_ct {
        return Some(refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            headers,
        ));
    }
    let csrf_ok = headers
        .get("x-eds-csrf")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == d.csrf);
    if !csrf_ok {
        return Some(refusal(StatusCode::FORBIDDEN, "csrf_failed", headers));
    }
    None
}

async fn challenge_post(State(d): State<Arc<Double>>, headers: HeaderMap) -> Response {
    if let Some(r) = post_checks(&d, &headers) {
        return r;
    }
    use base64::Engine;
    let id = random_hex(16);
    let data = format!("eds-gateway login test 127.0.0.1 {}", random_hex(32)).into_bytes();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&data);
    d.challenges.lock().expect("lock").insert(id.clone(), data);
    *d.issued.lock().expect("lock") += 1;
    axum::Json(json!({
        "challenge_id": id,
        "data": b64,
        "expires_at": "2099-01-01T00:00:00Z",
    }))
    .into_response()
}

async fn login_post(
    State(d): State<Arc<Double>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Some(r) = post_checks(&d, &headers) {
        return r;
    }
    let Ok(req) = serde_json::from_slice::<Value>(&body) else {
        return refusal(StatusCode::BAD_REQUEST, "bad_request", &headers);
    };
    let id = req["challenge_id"].as_str().unwrap_or("");
    let Some(data) = d.challenges.lock().expect("lock").remove(id) else {
        return refusal(StatusCode::BAD_REQUEST, "challenge_unknown", &headers);
    };
    let cms = req["cms"].as_str().unwrap_or("");
    let sd = match SignedData::parse(cms.as_bytes()) {
        Ok(sd) => sd,
        Err(e) => return refusal(StatusCode::BAD_REQUEST, e.code(), &headers),
    };
    let verdicts = match verify_signers(&sd, Some(&data), &[], &SignaturePolicy::default()) {
        Ok(v) => v,
        Err(e) => return refusal(StatusCode::BAD_REQUEST, e.code(), &headers),
    };
    if verdicts.len() != 1 {
        return refusal(StatusCode::BAD_REQUEST, "cms_several_signers", &headers);
    }
    if let Err(e) = &verdicts[0].result {
        return refusal(StatusCode::FORBIDDEN, e.code(), &headers);
    }
    let Some(cert) = &verdicts[0].certificate else {
        return refusal(
            StatusCode::BAD_REQUEST,
            "cms_signer_certificate_not_found",
            &headers,
        );
    };
    let iin = NcaIdentity::from_certificate(cert)
        .iin
        .map(|i| i.value)
        .unwrap_or_default();
    d.verified.lock().expect("lock").push(iin.clone());
    if let Some(code) = d.refuse_with {
        return refusal(StatusCode::FORBIDDEN, code, &headers);
    }
    let next = req["next"].as_str().unwrap_or("/");
    let redirect = if next.starts_with('/') && !next.starts_with("//") {
        next
    } else {
        "/"
    };
    axum::Json(json!({"ok": true, "redirect": redirect})).into_response()
}

/// The page behind the login: shows who the double let in.
async fn mis_home(State(d): State<Arc<Double>>) -> Response {
    let who = d.verified.lock().expect("lock").last().cloned();
    let body = format!(
        "<!DOCTYPE html><html lang=\"ru\"><head><meta charset=\"utf-8\"><title>MIS</title>\
         <link rel=\"icon\" href=\"/eds/static/favicon.svg\">\
         <link rel=\"stylesheet\" href=\"/eds/static/login.css\"></head><body>\
         <main class=\"eds-card\"><h1>Demo MIS</h1><p id=\"who\">Signed in: IIN {}</p></main>\
         </body></html>",
        escape(who.as_deref().unwrap_or("nobody"))
    );
    html(&d, body)
}

/// The double on 127.0.0.1:0, in its own runtime thread; stopped on drop.
struct Server {
    base: String,
    double: Arc<Double>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn start_server(ncalayer_url: &str, refuse_with: Option<&'static str>) -> Server {
    let double = Arc::new(Double {
        ncalayer_url: ncalayer_url.to_string(),
        csrf: random_hex(32),
        refuse_with,
        challenges: Mutex::new(HashMap::new()),
        issued: Mutex::new(0),
        verified: Mutex::new(Vec::new()),
    });
    let app = Router::new()
        .route("/eds/login", get(login_get).post(login_post))
        .route("/eds/challenge", post(challenge_post))
        .route("/eds/static/{*rest}", get(static_get))
        .route("/mis/home", get(mis_home))
        .with_state(double.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stopped.await;
                })
                .await
                .expect("serve");
        });
    });
    Server {
        base: format!("http://{addr}"),
        double,
        stop: Some(stop),
        thread: Some(thread),
    }
}

// ---- Assertions -----------------------------------------------------------------------------

/// No CSP violation, no script error, and no console error except those `allowed` (substrings).
#[track_caller]
fn assert_clean(out: &Value, allowed: &[&str]) {
    assert_eq!(out["csp"], json!([]), "CSP violations: {out}");
    assert_eq!(out["pageErrors"], json!([]), "script errors: {out}");
    for m in out["console"].as_array().expect("console") {
        let text = m["text"].as_str().unwrap_or("");
        assert!(
            !text.contains("Content Security Policy"),
            "CSP violation reported on the console: {text}"
        );
        if m["type"] == "error" {
            assert!(
                allowed.iter().any(|a| text.contains(a)),
                "console error: {text}"
            );
        }
    }
}

/// The page shows `code` with its text in `lang`, and is ready for another attempt.
#[track_caller]
fn assert_error_shown(snap: &Value, code: &str, lang: Lang) {
    let err = &snap["error"];
    assert_eq!(err["visible"], json!(true), "no error shown: {snap}");
    assert_eq!(err["code"], json!(code), "{snap}");
    assert_eq!(err["text"], json!(message(code, lang)), "{snap}");
    assert_eq!(snap["lang"], json!(lang.tag()));
    assert_eq!(
        snap["button"]["disabled"],
        json!(false),
        "button stays busy: {snap}"
    );
    assert_eq!(snap["button"]["text"], json!(ui(Ui::Submit, lang)));
    assert_eq!(
        snap["busySeen"],
        json!(true),
        "the button never showed busy"
    );
}

fn login_url(server: &Server) -> String {
    format!(
        "{}/eds/login?next={}",
        server.base,
        NEXT.replace('?', "%3F").replace('=', "%3D")
    )
}

// ---- Scenarios ------------------------------------------------------------------------------

#[test]
fn signing_with_the_simulator_lands_on_the_next_page_and_saves_a_screenshot() {
    let Some(b) = browser() else { return };
    let sim = start_sim(&[]);
    let server = start_server(&sim.url, None);
    let shot_page = screenshot_path("login-page-ru.png");
    let shot_done = screenshot_path("login-success.png");
    let out = b.run(
        "ru-RU",
        json!([
            {"goto": login_url(&server)},
            {"snapshot": "page"},
            {"screenshot": shot_page},
            {"submit": true},
            {"snapshot": "after"},
            {"screenshot": shot_done},
        ]),
    );
    let page = &out["snapshots"]["page"];
    assert_eq!(page["lang"], json!("ru"));
    assert_eq!(page["h1"], json!(ui(Ui::Title, Lang::Ru)));
    assert_eq!(page["next"], json!(NEXT));
    assert_eq!(
        page["button"]["disabled"],
        json!(false),
        "script did not start"
    );
    let after = &out["snapshots"]["after"];
    assert_eq!(
        after["url"],
        json!(format!("{}{NEXT}", server.base)),
        "{after}"
    );
    assert!(
        after["body"]
            .as_str()
            .unwrap_or("")
            .contains(&format!("Signed in: IIN {IIN}")),
        "{after}"
    );
    assert_eq!(*server.double.verified.lock().expect("lock"), vec![IIN]);
    assert_eq!(*server.double.issued.lock().expect("lock"), 1);
    assert_clean(&out, &[]);
    for shot in [shot_page, shot_done] {
        let png = std::fs::read(&shot).expect("screenshot written");
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n") && png.len() > 5_000,
            "{shot}"
        );
    }
}

#[test]
fn an_older_ncalayer_without_basics_signs_through_common_utils() {
    let Some(b) = browser() else { return };
    let sim = start_sim(&[]);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let relay = start_legacy_relay(&rt, &sim.url);
    let server = start_server(&relay, None);
    let out = b.run(
        "en-US",
        json!([{"goto": login_url(&server)}, {"submit": true}, {"snapshot": "after"}]),
    );
    let after = &out["snapshots"]["after"];
    assert_eq!(
        after["url"],
        json!(format!("{}{NEXT}", server.base)),
        "{after}"
    );
    assert_eq!(*server.double.verified.lock().expect("lock"), vec![IIN]);
    assert_clean(&out, &[]);
}

#[test]
fn ncalayer_not_running_is_explained_in_russian_and_kazakh() {
    let Some(b) = browser() else { return };
    let server = start_server(&closed_port_url(), None);
    for (locale, lang) in [("ru-RU", Lang::Ru), ("kk-KZ", Lang::Kk)] {
        let out = b.run(
            locale,
            json!([{"goto": login_url(&server)}, {"submit": true}, {"snapshot": "after"}]),
        );
        let snap = &out["snapshots"]["after"];
        assert_error_shown(snap, "ncalayer_not_running", lang);
        assert_eq!(
            snap["error"]["links"],
            json!(["https://pki.gov.kz/ncalayer/"]),
            "the download address is a link: {snap}"
        );
        // The browser itself logs the refused WebSocket; nothing else may appear.
        assert_clean(&out, &["WebSocket connection to"]);
    }
    assert_eq!(
        *server.double.issued.lock().expect("lock"),
        0,
        "no challenge is spent while NCALayer is not running"
    );
}

#[test]
fn a_cancelled_ncalayer_dialog_is_reported() {
    let Some(b) = browser() else { return };
    let sim = start_sim(&["--cancel"]);
    let server = start_server(&sim.url, None);
    let out = b.run(
        "ru-RU",
        json!([{"goto": login_url(&server)}, {"submit": true}, {"snapshot": "after"}]),
    );
    assert_error_shown(&out["snapshots"]["after"], "ncalayer_cancelled", Lang::Ru);
    assert!(server.double.verified.lock().expect("lock").is_empty());
    assert_clean(&out, &[]);
}

#[test]
fn no_suitable_key_on_a_token_is_reported() {
    let Some(b) = browser() else { return };
    let sim = start_sim(&["--no-matching-key"]);
    let server = start_server(&sim.url, None);
    let out = b.run(
        "en-GB",
        json!([
            {"goto": login_url(&server)},
            {"check": "#eds-storage-token"},
            {"submit": true},
            {"snapshot": "after"},
        ]),
    );
    assert_error_shown(&out["snapshots"]["after"], "ncalayer_no_key", Lang::En);
    assert_clean(&out, &[]);
}

#[test]
fn a_wrong_key_password_is_reported() {
    let Some(b) = browser() else { return };
    let sim = start_sim(&["--wrong-password"]);
    let server = start_server(&sim.url, None);
    let out = b.run(
        "kk-KZ",
        json!([
            {"goto": login_url(&server)},
            {"check": "#eds-storage-file"},
            {"submit": true},
            {"snapshot": "after"},
        ]),
    );
    let snap = &out["snapshots"]["after"];
    assert_error_shown(snap, "ncalayer_wrong_password", Lang::Kk);
    assert!(
        snap["error"]["detail"]
            .as_str()
            .unwrap_or("")
            .contains("UnrecoverableKeyException"),
        "NCALayer's detail in small print for IT: {snap}"
    );
    assert_clean(&out, &[]);
}

#[test]
fn a_server_refusal_shows_the_servers_message_and_a_retry_gets_a_fresh_challenge() {
    let Some(b) = browser() else { return };
    let sim = start_sim(&[]);
    let server = start_server(&sim.url, Some("staff_unknown"));
    let out = b.run(
        "kk-KZ,kk;q=0.9,ru;q=0.8",
        json!([
            {"goto": login_url(&server)},
            {"submit": true},
            {"snapshot": "first"},
            {"submit": true},
            {"snapshot": "second"},
            {"screenshot": screenshot_path("login-refused-kk.png")},
        ]),
    );
    for s in ["first", "second"] {
        assert_error_shown(&out["snapshots"][s], "staff_unknown", Lang::Kk);
    }
    // Each attempt signed its own challenge, and both signatures verified.
    assert_eq!(*server.double.issued.lock().expect("lock"), 2);
    assert_eq!(
        *server.double.verified.lock().expect("lock"),
        vec![IIN, IIN]
    );
    // The refused POST is a 403: Chromium logs the failed resource load, nothing else.
    assert_clean(&out, &["403"]);
}

#[test]
fn the_language_switch_changes_the_page_keeps_next_and_is_remembered() {
    let Some(b) = browser() else { return };
    let server = start_server(&closed_port_url(), None);
    let out = b.run(
        "kk-KZ",
        json!([
            {"goto": login_url(&server)},
            {"snapshot": "kk"},
            {"click": "#eds-lang-en"},
            {"snapshot": "en"},
            {"goto": login_url(&server)},
            {"snapshot": "en_again"},
            {"click": "#eds-lang-ru"},
            {"snapshot": "ru"},
        ]),
    );
    let s = &out["snapshots"];
    for (name, lang) in [
        ("kk", Lang::Kk),
        ("en", Lang::En),
        ("en_again", Lang::En),
        ("ru", Lang::Ru),
    ] {
        assert_eq!(s[name]["lang"], json!(lang.tag()), "{name}: {}", s[name]);
        assert_eq!(s[name]["h1"], json!(ui(Ui::Title, lang)), "{name}");
        assert_eq!(
            s[name]["button"]["text"],
            json!(ui(Ui::Submit, lang)),
            "{name}"
        );
        assert_eq!(s[name]["next"], json!(NEXT), "{name}: next kept");
    }
    assert!(
        s["en"]["url"]
            .as_str()
            .unwrap_or("")
            .ends_with("/eds/login?lang=en&next=/mis/home%3Fward%3D3"),
        "{}",
        s["en"]
    );
    assert!(
        s["en_again"]["cookie"]
            .as_str()
            .unwrap_or("")
            .contains("eds_lang=en"),
        "{}",
        s["en_again"]
    );
    assert_clean(&out, &[]);
}

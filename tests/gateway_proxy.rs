//! The reverse proxy end to end over real sockets (issue 7 items 1, 2 headers, 6): routes by
//! prefix to several upstreams, Host preserved or rewritten, WebSocket echo through the gateway
//! (and refused without a session or by the access policy), 1 GB streamed up and down with the
//! process's memory measured, a table of header-spoofing attempts, upstream faults (down, slow,
//! reset mid-response, stalled body) with the session untouched after each, a TLS upstream with
//! its own CA (and refused with another), nginx as a real upstream, and an upstream that answers
//! before the upload ends (its connection is not reused until free).

mod gateway_support;

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::Request;
use futures_util::{SinkExt, StreamExt};
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use eds_gateway::drill::ca::Profile;
use eds_gateway::drill::keys::KeyKind;
use eds_gateway::gateway::client::Browser;
use eds_gateway::pki::identity::complete_iin;
use gateway_support::*;

const NO_REVOCATION: &str = "[revocation]\nmode = \"danger-none\"\n";

fn iin(n: u32) -> String {
    for k in 0..10 {
        if let Some(i) = complete_iin(&format!("850101{}{:04}", 4, n * 10 + k)) {
            return i;
        }
    }
    panic!("no IIN for {n}");
}

/// A test PKI, a doctor in the staff file, and a gateway in front of `mis` with `extra` config.
struct World {
    gw: Gw,
    doctor: TestKey,
    _pki: TestPki,
}

async fn world(name: &str, mis: SocketAddr, extra: &str) -> World {
    let dir = tmp(name);
    let pki = TestPki::start(&dir.join("pki"), KeyKind::Gost512).await;
    pki.trust_into(&dir.join("certs"), "test");
    let doctor = pki.issue(&iin(1), "АХМЕТОВ", Profile::Gost2015, "employee");
    write_staff(
        &dir,
        &[(&doctor.iin, "Ахметов Айдар", "doctor;staff", true)],
    );
    let gw = gateway(&dir, mis, NO_REVOCATION, extra, &TestClock::default()).await;
    World {
        gw,
        doctor,
        _pki: pki,
    }
}

impl World {
    async fn login(&self) -> Browser {
        let mut b = self.gw.browser();
        b.login(&self.doctor.signer, eds_gateway::clock::now())
            .await
            .expect("login");
        b
    }
}

/// The session still works: `/eds/session` says so and the default route answers.
async fn assert_session_alive(b: &mut Browser, after: &str) {
    let (status, body) = b.get("/eds/session").await.expect("session");
    assert_eq!(status, 200, "session gone after {after}: {body}");
    let (status, body) = b.get("/still-here").await.expect("GET");
    assert_eq!(status, 200, "default route after {after}: {body}");
}

fn seen<'a>(v: &'a Value, name: &str) -> Vec<&'a str> {
    v["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .filter(|h| h[0].as_str() == Some(name))
        .filter_map(|h| h[1].as_str())
        .collect()
}

/// An echo upstream that also says which one it is.
async fn tagged_echo(tag: &'static str) -> SocketAddr {
    let app = axum::Router::new().fallback(move |req: Request<Body>| async move {
        let headers: Vec<Value> = req
            .headers()
            .iter()
            .map(|(k, v)| json!([k.as_str(), String::from_utf8_lossy(v.as_bytes())]))
            .collect();
        axum::Json(json!({"upstream": tag, "path": req.uri().to_string(), "headers": headers}))
    });
    serve_axum(app).await
}

async fn serve_axum(app: axum::Router) -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let a = l.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(l, app).await });
    a
}

/// A raw HTTP/1.1 exchange (`Connection: close` is added): status, head, body.
async fn raw(addr: SocketAddr, head: &str) -> (u16, String, Vec<u8>) {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(format!("{head}Connection: close\r\n\r\n").as_bytes())
        .await
        .expect("write");
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(60), s.read_to_end(&mut buf))
        .await
        .expect("the gateway answers")
        .expect("read");
    let split = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("response head");
    let head = String::from_utf8_lossy(&buf[..split]).to_string();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .expect("status");
    let mut body = buf[split + 4..].to_vec();
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    (status, head, body)
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = b.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let n = usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if n == 0 || b.len() < eol + 2 + n {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + n]);
        b = &b[(eol + 4 + n).min(b.len())..];
    }
}

// ---------------------------------------------------------------------------------------------
// Routes

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_pick_the_longest_prefix_and_host_is_preserved_or_rewritten_per_route() {
    let default = tagged_echo("default").await;
    let lab = tagged_echo("lab").await;
    let results = tagged_echo("results").await;
    let pacs = tagged_echo("pacs").await;
    let extra = format!(
        "[[route]]\nprefix = \"/lab/\"\nurl = \"http://{lab}\"\n\n\
         [[route]]\nprefix = \"/lab/results/\"\nname = \"results\"\nurl = \"http://{results}/base\"\n\n\
         [[route]]\nprefix = \"/pacs\"\nurl = \"http://{pacs}\"\nhost = \"preserve\"\n"
    );
    let w = world("proxy-routes", default, &extra).await;
    let mut b = w.login().await;
    let gw_host = w.gw.addr.to_string();
    let cases: [(&str, &str, &str, String); 6] = [
        ("/ward/7", "default", "/ward/7", default.to_string()),
        ("/lab/orders?x=1", "lab", "/lab/orders?x=1", lab.to_string()),
        (
            "/lab/results/42",
            "results",
            "/base/lab/results/42",
            results.to_string(),
        ),
        ("/pacs", "pacs", "/pacs", gw_host.clone()),
        ("/pacs/study/1", "pacs", "/pacs/study/1", gw_host.clone()),
        ("/pacsx", "default", "/pacsx", default.to_string()),
    ];
    for (path, upstream, upstream_path, host) in cases {
        let (status, body) = b.get(path).await.expect("GET");
        assert_eq!(status, 200, "{path}: {body}");
        let v: Value = serde_json::from_str(&body).expect("echo JSON");
        assert_eq!(v["upstream"], json!(upstream), "{path}");
        assert_eq!(v["path"], json!(upstream_path), "{path}");
        assert_eq!(seen(&v, "host"), [host.as_str()], "{path}");
        assert_eq!(seen(&v, "x-forwarded-host"), [gw_host.as_str()], "{path}");
        assert_eq!(seen(&v, "x-eds-iin"), [w.doctor.iin.as_str()], "{path}");
    }
    let u = &w.gw.state.upstream;
    assert_eq!(u.route_name("/lab/results/1"), "results");
    assert_eq!(u.route_name("/lab/x"), "/lab/");
    assert_eq!(u.route_name("/pacs/x"), "/pacs");
    assert_eq!(u.route_name("/anything"), "default");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn route_config_problems_are_listed_together() {
    let dir = tmp("proxy-config");
    let toml = "[server]\nlisten = \"127.0.0.1:0\"\npublic_origin = \"http://127.0.0.1\"\nplain_http = true\n\
        [trust]\ndir = \".\"\n[revocation]\nmode = \"danger-none\"\n[staff]\nfile = \"gateway.toml\"\n\
        [audit]\nfile = \"audit.jsonl\"\n[upstream]\nurl = \"ftp://mis\"\n\
        [[route]]\nprefix = \"/a/\"\nurl = \"https://mis.local\"\n\
        [[route]]\nprefix = \"/a/\"\nurl = \"http://mis.local\"\nca_file = \"ca.pem\"\n\
        [[route]]\nprefix = \"/eds/x\"\nurl = \"http://mis.local\"\nhost = \"keep\"\nfirst_byte_timeout_secs = 0\n\
        [[route]]\nprefix = \"/b\"\nurl = \"https://mis.local\"\nca_file = \"missing.pem\"\n";
    let file = dir.join("gateway.toml");
    std::fs::write(&file, toml).expect("write");
    let problems = eds_gateway::gateway::config::Config::load(&file).expect_err("problems");
    let all = problems.join("\n");
    for expected in [
        "upstream.url \"ftp://mis\"",
        "route[0].url \"https://mis.local\" is https: set route[0].ca_file",
        "route[1].prefix \"/a/\": duplicate prefix",
        "route[1].ca_file is set but route[1].url \"http://mis.local\" is plain http",
        "route[2].prefix \"/eds/x\": /eds/ belongs to the gateway",
        "route[2].host \"keep\": preserve or rewrite",
        "route[2].first_byte_timeout_secs: between 1 and 86400",
        "route[3].ca_file",
    ] {
        assert!(all.contains(expected), "missing {expected:?} in:\n{all}");
    }
}

// ---------------------------------------------------------------------------------------------
// WebSockets

/// A WebSocket echo upstream whose first message reports the identity header it saw.
// tungstenite's handshake callback type returns its (large) error response by value.
#[allow(clippy::result_large_err)]
async fn ws_echo() -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let a = l.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut iin = String::new();
                let cb = |req: &tokio_tungstenite::tungstenite::handshake::server::Request,
                          resp| {
                    iin = req
                        .headers()
                        .get_all("x-eds-iin")
                        .iter()
                        .map(|v| String::from_utf8_lossy(v.as_bytes()).to_string())
                        .collect::<Vec<_>>()
                        .join("|");
                    Ok(resp)
                };
                let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(s, cb).await else {
                    return;
                };
                let _ = ws.send(Message::text(format!("iin={iin}"))).await;
                while let Some(Ok(m)) = ws.next().await {
                    if m.is_text() || m.is_binary() {
                        let _ = ws.send(m).await;
                    }
                }
            });
        }
    });
    a
}

async fn ws_connect(
    gw: SocketAddr,
    path: &str,
    cookie: Option<&str>,
) -> Result<
    tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    tokio_tungstenite::tungstenite::Error,
> {
    let mut req = format!("ws://{gw}{path}")
        .into_client_request()
        .expect("request");
    if let Some(c) = cookie {
        req.headers_mut()
            .insert("cookie", c.parse().expect("cookie"));
    }
    req.headers_mut()
        .insert("x-eds-iin", "000000000000".parse().expect("value"));
    let tcp = tokio::net::TcpStream::connect(gw).await.expect("connect");
    tokio_tungstenite::client_async(req, tcp)
        .await
        .map(|(ws, _)| ws)
}

fn refused_status(e: tokio_tungstenite::tungstenite::Error) -> u16 {
    match e {
        tokio_tungstenite::tungstenite::Error::Http(r) => r.status().as_u16(),
        other => panic!("expected an HTTP refusal, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_echo_passes_through_after_the_session_check_and_access_policy() {
    let ws = ws_echo().await;
    let mis = echo_mis().await;
    let extra = format!(
        "[[route]]\nprefix = \"/ws/\"\nurl = \"http://{ws}\"\nwebsocket = true\n\n\
         [[route]]\nprefix = \"/admin/ws/\"\nurl = \"http://{ws}\"\nwebsocket = true\n\n\
         [[route]]\nprefix = \"/nows/\"\nurl = \"http://{ws}\"\n\n\
         [[access.rule]]\npath = \"/admin/\"\nroles = [\"admin\"]\n"
    );
    let w = world("proxy-ws", mis, &extra).await;
    let b = w.login().await;
    let cookie = b.cookie_header();

    let mut sock = ws_connect(w.gw.addr, "/ws/chat", Some(&cookie))
        .await
        .expect("websocket through the gateway");
    let first = sock.next().await.expect("message").expect("ok");
    // The upstream saw the session's IIN, not the one the client sent.
    assert_eq!(
        first.to_text().expect("text"),
        format!("iin={}", w.doctor.iin)
    );
    for i in 0..20 {
        let text = format!("сообщение {i}");
        sock.send(Message::text(text.clone())).await.expect("send");
        let back = sock.next().await.expect("echo").expect("ok");
        assert_eq!(back.to_text().expect("text"), text);
    }
    let big = vec![7u8; 256 * 1024];
    sock.send(Message::binary(big.clone())).await.expect("send");
    let back = sock.next().await.expect("echo").expect("ok");
    assert_eq!(back.into_data().as_ref(), big.as_slice());
    sock.close(None).await.expect("close");

    let no_session = ws_connect(w.gw.addr, "/ws/chat", None)
        .await
        .expect_err("no session");
    assert_eq!(refused_status(no_session), 401);
    let forbidden = ws_connect(w.gw.addr, "/admin/ws/x", Some(&cookie))
        .await
        .expect_err("a doctor is not an admin");
    assert_eq!(refused_status(forbidden), 403);
    let denied = w.gw.last_audit("access_denied");
    assert_eq!(denied["path"], json!("/admin/ws/x"));
    // A route without `websocket = true` never upgrades: the Upgrade header is hop-by-hop.
    let off = ws_connect(w.gw.addr, "/nows/x", Some(&cookie)).await;
    assert!(off.is_err(), "upgraded on a route without websocket = true");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_websocket_is_closed_after_the_idle_limit() {
    let ws = ws_echo().await;
    let extra = format!(
        "[[route]]\nprefix = \"/ws/\"\nurl = \"http://{ws}\"\nwebsocket = true\nidle_timeout_secs = 1\n"
    );
    let w = world("proxy-ws-idle", echo_mis().await, &extra).await;
    let b = w.login().await;
    let mut sock = ws_connect(w.gw.addr, "/ws/idle", Some(&b.cookie_header()))
        .await
        .expect("websocket");
    let first = sock.next().await.expect("message").expect("ok");
    assert!(first.to_text().expect("text").starts_with("iin="));
    // Say nothing: the gateway closes both sides (a guard against a hang, not a timing check).
    let end = tokio::time::timeout(Duration::from_secs(60), sock.next())
        .await
        .expect("the gateway closes a silent WebSocket");
    assert!(
        !matches!(end, Some(Ok(Message::Text(_) | Message::Binary(_)))),
        "{end:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// 1 GB each way, memory measured

const GIB: u64 = 1 << 30;
const CHUNK: usize = 64 * 1024;

/// `len` zero bytes in 64 KiB frames, generated as read.
struct Zeros {
    left: u64,
    chunk: Bytes,
}

impl Zeros {
    fn new(len: u64) -> Zeros {
        Zeros {
            left: len,
            chunk: Bytes::from(vec![0u8; CHUNK]),
        }
    }
}

impl HttpBody for Zeros {
    type Data = Bytes;
    type Error = std::convert::Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        let n = self.left.min(CHUNK as u64);
        self.left -= n;
        let b = self.chunk.slice(..n as usize);
        Poll::Ready(Some(Ok(Frame::data(b))))
    }
    fn is_end_stream(&self) -> bool {
        self.left == 0
    }
    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}

/// `VmHWM` (peak resident set) of this process, in KiB.
fn peak_rss_kib() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    s.lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .expect("VmHWM")
}

/// An upstream that counts uploaded bytes (POST) and streams `GIB` zero bytes (GET).
async fn bulk_upstream(received: Arc<AtomicU64>) -> SocketAddr {
    let app = axum::Router::new().fallback(move |req: Request<Body>| {
        let received = received.clone();
        async move {
            if req.method() == axum::http::Method::POST {
                let mut body = req.into_body();
                let mut n = 0u64;
                while let Some(f) = http_body_util::BodyExt::frame(&mut body).await {
                    if let Ok(d) = f.expect("upload frame").into_data() {
                        n += d.len() as u64;
                    }
                }
                received.store(n, Ordering::SeqCst);
                axum::response::Response::new(Body::from(n.to_string()))
            } else {
                axum::response::Response::builder()
                    .header("content-length", GIB.to_string())
                    .body(Body::new(Zeros::new(GIB)))
                    .expect("response")
            }
        }
    });
    serve_axum(app).await
}

async fn http1(
    addr: SocketAddr,
) -> hyper::client::conn::http1::SendRequest<
    http_body_util::combinators::BoxBody<Bytes, std::convert::Infallible>,
> {
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    send
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gigabyte_streams_up_and_down_through_the_gateway_in_bounded_memory() {
    use http_body_util::BodyExt;
    let received = Arc::new(AtomicU64::new(0));
    let bulk = bulk_upstream(received.clone()).await;
    let extra = format!("[[route]]\nprefix = \"/bulk/\"\nurl = \"http://{bulk}\"\n");
    let w = world("proxy-bulk", echo_mis().await, &extra).await;
    let b = w.login().await;
    let cookie = b.cookie_header();
    let mut send = http1(w.gw.addr).await;
    // Warm up: one small exchange each way (pools, buffers, lazy statics).
    send.ready().await.expect("connection ready");
    let r = send
        .send_request(
            Request::post("/bulk/up")
                .header("host", w.gw.addr.to_string())
                .header("cookie", &cookie)
                .body(Zeros::new(1 << 20).boxed())
                .expect("request"),
        )
        .await
        .expect("warm-up");
    assert_eq!(r.status(), 200);
    r.into_body().collect().await.expect("body");

    let before = peak_rss_kib();
    send.ready().await.expect("connection ready");
    let r = send
        .send_request(
            Request::post("/bulk/up")
                .header("host", w.gw.addr.to_string())
                .header("cookie", &cookie)
                .header("content-length", GIB.to_string())
                .body(Zeros::new(GIB).boxed())
                .expect("request"),
        )
        .await
        .expect("upload");
    assert_eq!(r.status(), 200);
    let answer = r.into_body().collect().await.expect("body").to_bytes();
    assert_eq!(answer, GIB.to_string());
    assert_eq!(received.load(Ordering::SeqCst), GIB);
    let after_up = peak_rss_kib();

    send.ready().await.expect("connection ready");
    let r = send
        .send_request(
            Request::get("/bulk/down")
                .header("host", w.gw.addr.to_string())
                .header("cookie", &cookie)
                .body(http_body_util::Empty::new().boxed())
                .expect("request"),
        )
        .await
        .expect("download");
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers().get("content-length").map(|v| v.as_bytes()),
        Some(GIB.to_string().as_bytes())
    );
    let mut body = r.into_body();
    let mut got = 0u64;
    while let Some(f) = body.frame().await {
        if let Ok(d) = f.expect("download frame").into_data() {
            got += d.len() as u64;
        }
    }
    assert_eq!(got, GIB);
    let after_down = peak_rss_kib();
    println!(
        "memory (VmHWM of the test process: client + gateway + upstream): before {before} KiB, \
         after 1 GiB up {after_up} KiB (+{}), after 1 GiB down {after_down} KiB (+{})",
        after_up - before,
        after_down - before
    );
    assert!(
        after_down - before < 64 * 1024,
        "peak memory grew by {} KiB streaming 2 GiB",
        after_down - before
    );
}

// ---------------------------------------------------------------------------------------------
// Header spoofing

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_spelling_of_a_forged_identity_header_is_replaced_by_the_gateways_own() {
    let mis = echo_mis().await;
    let w = world("proxy-spoof", mis, "[access]\npublic = [\"/public/\"]\n").await;
    let b = w.login().await;
    let cookie = b.cookie_header();
    let real = w.doctor.iin.as_str();
    let gw = w.gw.addr.to_string();
    let forwarded = format!("for=\"127.0.0.1\";proto=http;host=\"{gw}\"");
    // (attempt, request header lines, header the upstream is asked about, what it must see)
    let table: Vec<(&str, String, &str, Vec<String>)> = vec![
        (
            "canonical case",
            "X-EDS-IIN: 000000000000\r\n".into(),
            "x-eds-iin",
            vec![real.into()],
        ),
        (
            "lower case",
            "x-eds-iin: 000000000000\r\n".into(),
            "x-eds-iin",
            vec![real.into()],
        ),
        (
            "mixed case",
            "X-Eds-Iin: 000000000000\r\n".into(),
            "x-eds-iin",
            vec![real.into()],
        ),
        (
            "underscores",
            "X_EDS_IIN: 000000000000\r\n".into(),
            "x_eds_iin",
            vec![],
        ),
        (
            "underscores, real kept",
            "X_EDS_IIN: 000000000000\r\n".into(),
            "x-eds-iin",
            vec![real.into()],
        ),
        (
            "mixed _ and -",
            "X-EDS_Roles: admin\r\n".into(),
            "x-eds_roles",
            vec![],
        ),
        (
            "duplicates",
            "X-EDS-Roles: admin\r\nx-eds-roles: admin\r\nX-EDS-ROLES: admin\r\n".into(),
            "x-eds-roles",
            vec!["doctor,staff".into()],
        ),
        (
            "forged assertion",
            "X-EDS-Assertion: e30.e30.sig\r\n".into(),
            "x-eds-assertion",
            vec![],
        ),
        (
            "unknown x-eds- name",
            "X-EDS-Anything: 1\r\n".into(),
            "x-eds-anything",
            vec![],
        ),
        (
            "forged sid",
            "X-EDS-Sid: 0000\r\n".into(),
            "x-eds-sid",
            vec![],
        ),
        (
            "Forwarded forged",
            "Forwarded: for=6.6.6.6;host=evil.example\r\n".into(),
            "forwarded",
            vec![forwarded.clone()],
        ),
        (
            "X-Forwarded-For forged",
            "X-Forwarded-For: 6.6.6.6\r\n".into(),
            "x-forwarded-for",
            vec!["127.0.0.1".into()],
        ),
        (
            "X-Forwarded-Host forged",
            "X-Forwarded-Host: evil.example\r\n".into(),
            "x-forwarded-host",
            vec![gw.clone()],
        ),
        (
            "X-Forwarded-Proto forged",
            "X-Forwarded-Proto: https\r\n".into(),
            "x-forwarded-proto",
            vec!["http".into()],
        ),
        (
            "hop-by-hop named in Connection",
            "Connection: X-Secret\r\nX-Secret: 1\r\n".into(),
            "x-secret",
            vec![],
        ),
        (
            "identity header named in Connection",
            "Connection: X-EDS-IIN\r\nX-EDS-IIN: 000000000000\r\n".into(),
            "x-eds-iin",
            vec![real.into()],
        ),
        (
            "Keep-Alive",
            "Keep-Alive: timeout=5\r\n".into(),
            "keep-alive",
            vec![],
        ),
        ("TE", "TE: trailers\r\n".into(), "te", vec![]),
        (
            "Proxy-Authorization",
            "Proxy-Authorization: Basic Zm9vOmJhcg==\r\n".into(),
            "proxy-authorization",
            vec![],
        ),
        (
            "Upgrade on a plain route",
            "Upgrade: h2c\r\n".into(),
            "upgrade",
            vec![],
        ),
        (
            "request id kept when valid",
            "X-Request-Id: ward7-abc\r\n".into(),
            "x-request-id",
            vec!["ward7-abc".into()],
        ),
    ];
    let mut report = String::from("| attempt | client sent | upstream saw |\n|---|---|---|\n");
    for (attempt, lines, name, want) in &table {
        let head = format!("GET /spoof HTTP/1.1\r\nHost: {gw}\r\nCookie: {cookie}\r\n{lines}");
        let (status, _, body) = raw(w.gw.addr, &head).await;
        assert_eq!(status, 200, "{attempt}");
        let v: Value = serde_json::from_slice(&body).expect("echo JSON");
        let got: Vec<String> = seen(&v, name).into_iter().map(String::from).collect();
        if *attempt == "forged sid" {
            // The sid is the session's, whatever it is: one value, not the forged one.
            assert_eq!(got.len(), 1, "{attempt}: {got:?}");
            assert_ne!(got[0], "0000", "{attempt}");
        } else if *attempt == "forged assertion" {
            // The forged token is gone; the gateway's own signed JWT (three base64url parts
            // with a 64-byte Ed25519 signature) is the one value the upstream sees.
            assert_eq!(got.len(), 1, "{attempt}: {got:?}");
            assert_ne!(got[0], "e30.e30.sig", "{attempt}");
            let parts: Vec<&str> = got[0].split('.').collect();
            assert_eq!(parts.len(), 3, "{attempt}: {got:?}");
            assert_eq!(parts[2].len(), 86, "{attempt}: an Ed25519 signature");
        } else {
            assert_eq!(&got, want, "{attempt}");
        }
        report.push_str(&format!(
            "| {attempt} | `{}` | {} |\n",
            lines.trim_end().replace("\r\n", "` `"),
            if got.is_empty() {
                "(absent)".to_string()
            } else {
                format!("`{name}: {}`", got.join(" | "))
            }
        ));
    }
    // The gateway's cookies never reach the upstream, in any Cookie header.
    let head = format!(
        "GET /spoof HTTP/1.1\r\nHost: {gw}\r\nCookie: mis=1; {cookie}\r\nCookie: {cookie}; other=2\r\n"
    );
    let (status, _, body) = raw(w.gw.addr, &head).await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_slice(&body).expect("echo JSON");
    assert_eq!(seen(&v, "cookie"), ["mis=1; other=2"]);
    report.push_str("| gateway cookie among others, two Cookie headers | `Cookie: mis=1; __Host-eds-session=…` `Cookie: __Host-eds-session=…; other=2` | `cookie: mis=1; other=2` |\n");
    // A public path without a session: forged identity is removed and none added.
    let head = format!(
        "GET /public/page HTTP/1.1\r\nHost: {gw}\r\nX-EDS-IIN: 000000000000\r\nx_eds_roles: admin\r\n"
    );
    let (status, _, body) = raw(w.gw.addr, &head).await;
    assert_eq!(status, 200);
    let v: Value = serde_json::from_slice(&body).expect("echo JSON");
    let identity: Vec<&Value> = v["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .filter(|h| {
            h[0].as_str()
                .is_some_and(|n| n.replace('_', "-").starts_with("x-eds-"))
        })
        .collect();
    assert!(identity.is_empty(), "{identity:?}");
    report.push_str("| public path, no session | `X-EDS-IIN: 000000000000` `x_eds_roles: admin` | no `x-eds-*` header at all |\n");
    println!("{report}");
}

// ---------------------------------------------------------------------------------------------
// Faults

/// Accepts and reads, never answers.
async fn silent_upstream() -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let a = l.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut s, _)) = l.accept().await {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            held.push(s);
        }
    });
    a
}

/// Answers headers promising 1 MB and 1000 bytes of it, then resets (`reset`) or goes silent.
async fn truncating_upstream(reset: bool) -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let a = l.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((mut s, _)) = l.accept().await {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let _ = s
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000000\r\n\r\n")
                .await;
            let _ = s.write_all(&[b'x'; 1000]).await;
            let _ = s.flush().await;
            if reset {
                tokio::time::sleep(Duration::from_millis(50)).await;
                let _ = s.set_zero_linger();
                drop(s);
            } else {
                held.push(s);
            }
        }
    });
    a
}

/// Reads the request, sends half a status line, then resets the connection.
async fn hangup_upstream() -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let a = l.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-").await;
            let _ = s.flush().await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _ = s.set_zero_linger();
            drop(s);
        }
    });
    a
}

/// GET through the gateway with a body read to the end: status and how the body ended.
async fn get_body(gw: SocketAddr, cookie: &str, path: &str) -> (u16, Result<usize, String>) {
    use http_body_util::BodyExt;
    let mut send = http1(gw).await;
    let r = send
        .send_request(
            Request::get(path)
                .header("host", gw.to_string())
                .header("cookie", cookie)
                .body(http_body_util::Empty::new().boxed())
                .expect("request"),
        )
        .await
        .expect("response head");
    let status = r.status().as_u16();
    // A guard against a hang only (a hang is the failure): generous, not a timing assertion.
    let body = tokio::time::timeout(Duration::from_secs(60), r.into_body().collect())
        .await
        .expect("the body ends instead of hanging");
    (
        status,
        body.map(|b| b.to_bytes().len()).map_err(|e| e.to_string()),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_faults_give_502_504_or_a_cut_body_and_leave_the_session_alone() {
    let down = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr")
    }; // closed again: nothing listens there
    let slow = silent_upstream().await;
    let hangup = hangup_upstream().await;
    let reset = truncating_upstream(true).await;
    let stall = truncating_upstream(false).await;
    let extra = format!(
        "[[route]]\nprefix = \"/down/\"\nurl = \"http://{down}\"\n\n\
         [[route]]\nprefix = \"/slow/\"\nurl = \"http://{slow}\"\nfirst_byte_timeout_secs = 1\n\n\
         [[route]]\nprefix = \"/hangup/\"\nurl = \"http://{hangup}\"\n\n\
         [[route]]\nprefix = \"/reset/\"\nurl = \"http://{reset}\"\n\n\
         [[route]]\nprefix = \"/stall/\"\nurl = \"http://{stall}\"\nidle_timeout_secs = 1\n"
    );
    let w = world("proxy-faults", echo_mis().await, &extra).await;
    let mut b = w.login().await;
    let cookie = b.cookie_header();
    let mut report = String::from("| upstream | client got | code |\n|---|---|---|\n");

    for (path, status, code) in [
        ("/down/x", 502, "upstream_unavailable"),
        ("/hangup/x", 502, "upstream_unavailable"),
        ("/slow/x", 504, "upstream_timeout"),
    ] {
        for lang in ["kk", "ru", "en"] {
            let head = format!(
                "GET {path} HTTP/1.1\r\nHost: {}\r\nCookie: {cookie}\r\nAccept: text/html\r\nAccept-Language: {lang}\r\n",
                w.gw.addr
            );
            let (got, _, body) = raw(w.gw.addr, &head).await;
            let page = String::from_utf8_lossy(&body);
            assert_eq!(got, status, "{path} {lang}: {page}");
            assert!(page.contains(code), "{path}: {page}");
            assert!(
                page.contains(&format!("lang=\"{lang}\"")),
                "{path} {lang}: {page}"
            );
        }
        // An API call (no text/html) gets the code as JSON.
        let head = format!(
            "GET {path} HTTP/1.1\r\nHost: {}\r\nCookie: {cookie}\r\nAccept: application/json\r\n",
            w.gw.addr
        );
        let (got, _, body) = raw(w.gw.addr, &head).await;
        assert_eq!(got, status, "{path} JSON");
        let v: Value = serde_json::from_slice(&body).expect("JSON refusal");
        assert_eq!(
            (v["ok"].clone(), v["code"].clone()),
            (json!(false), json!(code))
        );
        assert_session_alive(&mut b, path).await;
        report.push_str(&format!(
            "| {path} | {status} page (kk/ru/en), JSON for API calls | `{code}` |\n"
        ));
    }
    for path in ["/reset/x", "/stall/x"] {
        let (status, body) = get_body(w.gw.addr, &cookie, path).await;
        assert_eq!(status, 200, "{path}: headers came first");
        assert!(
            body.is_err(),
            "{path}: a 1 MB body that ended early must not look complete: {body:?}"
        );
        assert_session_alive(&mut b, path).await;
        report.push_str(&format!(
            "| {path} | 200 head, then the connection ends ({}) | — |\n",
            body.err().unwrap_or_default()
        ));
    }
    println!("{report}");
}

/// A listener whose accept queue is full and never drained: new SYNs are dropped, so a connect
/// neither succeeds nor fails. Returns the address and the listener with its queued fillers.
async fn full_backlog() -> (
    SocketAddr,
    tokio::net::TcpListener,
    Vec<tokio::net::TcpStream>,
) {
    let sock = tokio::net::TcpSocket::new_v4().expect("socket");
    sock.bind("127.0.0.1:0".parse().expect("addr"))
        .expect("bind");
    let l = sock.listen(0).expect("listen");
    let a = l.local_addr().expect("addr");
    let mut fillers = Vec::new();
    for _ in 0..8 {
        match tokio::time::timeout(
            Duration::from_millis(300),
            tokio::net::TcpStream::connect(a),
        )
        .await
        {
            Ok(Ok(s)) => fillers.push(s),
            _ => break, // the queue is full: this SYN was dropped
        }
    }
    (a, l, fillers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connect_that_never_completes_is_a_504_after_the_connect_timeout() {
    let (hole, listener, fillers) = full_backlog().await;
    let extra = format!(
        "[[route]]\nprefix = \"/hole/\"\nurl = \"http://{hole}\"\nconnect_timeout_secs = 1\nfirst_byte_timeout_secs = 3600\n"
    );
    let w = world("proxy-connect-timeout", echo_mis().await, &extra).await;
    let mut b = w.login().await;
    let head = format!(
        "GET /hole/x HTTP/1.1\r\nHost: {}\r\nCookie: {}\r\nAccept: application/json\r\n",
        w.gw.addr,
        b.cookie_header()
    );
    let (status, _, body) = raw(w.gw.addr, &head).await;
    assert_eq!(status, 504, "{}", String::from_utf8_lossy(&body));
    let v: Value = serde_json::from_slice(&body).expect("JSON");
    assert_eq!(v["code"], json!("upstream_timeout"));
    // With first_byte at an hour, the 504 can only have come from the connect timeout; and the
    // gateway's connection never got into the queue (only the fillers are there).
    let mut queued = 0;
    while let Ok(Ok(_)) = tokio::time::timeout(Duration::from_millis(300), listener.accept()).await
    {
        queued += 1;
    }
    assert!(
        queued <= fillers.len(),
        "{queued} queued, {} fillers",
        fillers.len()
    );
    assert_session_alive(&mut b, "a connect timeout").await;
}

// ---------------------------------------------------------------------------------------------
// TLS upstream

fn openssl(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl (Debian package openssl) must be installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A P-256 CA (`{name}-ca.pem`) and, from it, a server certificate for 127.0.0.1/localhost.
fn make_ca_and_server(dir: &Path, name: &str) {
    let ca_key = format!("{name}-ca.key");
    let ca = format!("{name}-ca.pem");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &ca_key,
            "-out",
            &ca,
            "-days",
            "2",
            "-subj",
            &format!("/CN={name} MIS test CA"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext");
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}-server.key"),
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            &ca,
            "-CAkey",
            &ca_key,
            "-CAcreateserial",
            "-out",
            &format!("{name}-server.pem"),
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
}

/// An HTTPS echo upstream (tokio-rustls + hyper) with `cert`/`key`.
async fn tls_echo(cert: &Path, key: &Path) -> SocketAddr {
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer};
    use tokio_rustls::rustls;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .expect("cert")
        .collect::<Result<_, _>>()
        .expect("certs");
    let key = PrivateKeyDer::from_pem_file(key).expect("key");
    let cfg = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .expect("server config");
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(cfg));
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let a = l.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((s, _)) = l.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(s).await else {
                    return;
                };
                let svc = hyper::service::service_fn(
                    |req: Request<hyper::body::Incoming>| async move {
                        let headers: Vec<Value> = req
                            .headers()
                            .iter()
                            .map(|(k, v)| {
                                json!([k.as_str(), String::from_utf8_lossy(v.as_bytes())])
                            })
                            .collect();
                        let body = json!({"upstream": "tls", "path": req.uri().to_string(), "headers": headers});
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(
                            http_body_util::Full::new(Bytes::from(body.to_string())),
                        ))
                    },
                );
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), svc)
                    .await;
            });
        }
    });
    a
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_upstream_is_reached_with_its_configured_ca_and_refused_with_another() {
    let certs = tmp("proxy-tls-certs");
    make_ca_and_server(&certs, "other");
    make_ca_and_server(&certs, "mis");
    let tls = tls_echo(&certs.join("mis-server.pem"), &certs.join("mis-server.key")).await;
    let extra = format!(
        "[[route]]\nprefix = \"/tls/\"\nurl = \"https://{tls}\"\nca_file = \"{}\"\n\n\
         [[route]]\nprefix = \"/tls-wrong-ca/\"\nurl = \"https://{tls}\"\nca_file = \"{}\"\n",
        certs.join("mis-ca.pem").display(),
        certs.join("other-ca.pem").display(),
    );
    let w = world("proxy-tls", echo_mis().await, &extra).await;
    let mut b = w.login().await;
    for i in 0..3 {
        let (status, body) = b.get(&format!("/tls/ward/{i}")).await.expect("GET");
        assert_eq!(status, 200, "{body}");
        let v: Value = serde_json::from_str(&body).expect("echo JSON");
        assert_eq!(v["upstream"], json!("tls"));
        assert_eq!(seen(&v, "x-eds-iin"), [w.doctor.iin.as_str()]);
        assert_eq!(seen(&v, "host"), [tls.to_string().as_str()]);
    }
    let (status, page) = b.get("/tls-wrong-ca/x").await.expect("GET");
    assert_eq!(status, 502, "{page}");
    assert!(page.contains("upstream_unavailable"), "{page}");
    assert_session_alive(&mut b, "a TLS refusal").await;
}

// ---------------------------------------------------------------------------------------------
// nginx as the upstream

struct Nginx {
    child: std::process::Child,
    addr: SocketAddr,
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_nginx(dir: &Path) -> Nginx {
    let bin = Path::new("/usr/sbin/nginx");
    assert!(
        bin.exists(),
        "this test runs a real nginx as the upstream: install it (apt-get install -y nginx)"
    );
    std::fs::create_dir_all(dir.join("www")).expect("www");
    let mut last_err = String::new();
    for _ in 0..5 {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("addr").port()
        };
        let d = dir.display();
        let conf = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n  client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
               fastcgi_temp_path {d}/fcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
               server {{\n    listen 127.0.0.1:{port};\n\
                 location /mis/static/ {{ alias {d}/www/; }}\n\
                 location = /mis/whoami {{\n      default_type text/plain;\n\
                   add_header X-Seen-IIN $http_x_eds_iin always;\n\
                   return 200 \"iin=$http_x_eds_iin;roles=$http_x_eds_roles;host=$http_host;xff=$http_x_forwarded_for;rid=$http_x_request_id;cookie=$http_cookie\";\n    }}\n  }}\n}}\n"
        );
        std::fs::write(dir.join("nginx.conf"), conf).expect("conf");
        let mut child = std::process::Command::new(bin)
            .args(["-p", &d.to_string(), "-e", &format!("{d}/error.log"), "-c"])
            .arg(dir.join("nginx.conf"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start nginx");
        let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(addr).await.is_ok() {
                return Nginx { child, addr };
            }
            if let Ok(Some(_)) = child.try_wait() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = child.kill();
        let out = child.wait_with_output().expect("nginx output");
        last_err = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(dir.join("error.log")).unwrap_or_default()
        );
    }
    panic!("nginx did not start: {last_err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nginx_as_the_upstream_serves_a_static_file_and_sees_only_the_gateways_identity() {
    let ng_dir = tmp("proxy-nginx");
    let nginx = start_nginx(&ng_dir).await;
    let file: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(ng_dir.join("www/report.bin"), &file).expect("static file");
    let w = world("proxy-nginx-gw", nginx.addr, "").await;
    let b = w.login().await;
    let cookie = b.cookie_header();
    let gw = w.gw.addr.to_string();

    let head = format!("GET /mis/static/report.bin HTTP/1.1\r\nHost: {gw}\r\nCookie: {cookie}\r\n");
    let (status, resp_head, body) = raw(w.gw.addr, &head).await;
    assert_eq!(status, 200, "{resp_head}");
    assert!(
        resp_head.to_ascii_lowercase().contains("server: nginx"),
        "{resp_head}"
    );
    assert_eq!(body, file, "the static file arrives byte for byte");

    let head = format!(
        "GET /mis/whoami HTTP/1.1\r\nHost: {gw}\r\nCookie: mis=1; {cookie}\r\nX-EDS-IIN: 000000000000\r\n\
         X_EDS_ROLES: admin\r\nX-Forwarded-For: 6.6.6.6\r\nX-Request-Id: nginx-test-1\r\n"
    );
    let (status, resp_head, body) = raw(w.gw.addr, &head).await;
    assert_eq!(status, 200, "{resp_head}");
    let text = String::from_utf8_lossy(&body);
    assert_eq!(
        text,
        format!(
            "iin={};roles=doctor,staff;host={};xff=127.0.0.1;rid=nginx-test-1;cookie=mis=1",
            w.doctor.iin, nginx.addr
        )
    );
    assert!(
        resp_head
            .to_ascii_lowercase()
            .contains(&format!("x-seen-iin: {}", w.doctor.iin)),
        "{resp_head}"
    );
    let (status, _, _) = raw(
        w.gw.addr,
        &format!("GET /mis/none HTTP/1.1\r\nHost: {gw}\r\nCookie: {cookie}\r\n"),
    )
    .await;
    assert_eq!(status, 404, "nginx's own 404 passes through");
}

/// An upstream that answers every request at once (`200`, body `ok`) and only then reads and
/// discards the request's chunked body, as an MIS that refuses an upload early would.
async fn early_answer_upstream() -> SocketAddr {
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let a = l.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 8192];
                loop {
                    // One request head.
                    let head_end = loop {
                        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                            break i + 4;
                        }
                        match s.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                    };
                    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
                    buf.drain(..head_end);
                    if s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                        .await
                        .is_err()
                    {
                        return;
                    }
                    if head.contains("transfer-encoding: chunked") {
                        // Then the body, to its last chunk.
                        while !buf.windows(5).any(|w| w == b"0\r\n\r\n") {
                            match s.read(&mut chunk).await {
                                Ok(0) | Err(_) => return,
                                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                            }
                        }
                        buf.clear();
                    }
                }
            });
        }
    });
    a
}

/// A request body of `left` 1 KiB frames, one every `every`.
struct Trickle {
    left: u32,
    every: Duration,
    sleep: Pin<Box<tokio::time::Sleep>>,
}

impl HttpBody for Trickle {
    type Data = Bytes;
    type Error = std::convert::Infallible;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        if self.sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.left -= 1;
        let next = tokio::time::Instant::now() + self.every;
        self.sleep.as_mut().reset(next);
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b'u'; 1024])))))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_still_sending_an_upload_is_not_reused_before_it_is_free() {
    use http_body_util::BodyExt;
    let mis = early_answer_upstream().await;
    let w = world("proxy-early-answer", mis, "").await;
    let b = w.login().await;
    let cookie = b.cookie_header();
    // An upload of 6 s whose answer comes at once.
    let mut up = http1(w.gw.addr).await;
    let body = Trickle {
        left: 20,
        every: Duration::from_millis(300),
        sleep: Box::pin(tokio::time::sleep(Duration::ZERO)),
    };
    let req = Request::post("/upload")
        .header("host", "gw")
        .header("cookie", &cookie)
        .header("accept", "application/json")
        .body(body.boxed())
        .expect("request");
    let resp = tokio::time::timeout(Duration::from_secs(5), up.send_request(req))
        .await
        .expect("early answer in time")
        .expect("answer");
    assert_eq!(resp.status(), 200);
    let got = resp.into_body().collect().await.expect("body").to_bytes();
    assert_eq!(&got[..], b"ok");
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The upload still goes on over the gateway's upstream connection; a second request must
    // not wait for it (it gets another connection).
    let (status, body) = tokio::time::timeout(
        Duration::from_secs(3),
        get_body(w.gw.addr, &cookie, "/after"),
    )
    .await
    .expect("the second request waited behind the upload");
    assert_eq!(status, 200);
    assert_eq!(body, Ok(2));
}

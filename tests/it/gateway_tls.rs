//! The gateway's own listener (issue 7 items 1, 4, 5): HTTPS with rustls, checked by real peers
//! (a rustls client that logs in, `openssl s_client`, `curl --http2`); the HTTP → HTTPS redirect
//! listener; HSTS; certificate reload while running (a good pair is picked up by new
//! connections, a bad one is refused and the old pair kept); graceful drain (an in-flight request
//! completes while new connections are refused; past the drain time the rest is closed);
//! per-core workers on SO_REUSEPORT; `check-config` on broken certificate files.
//!
//! Certificates are made with the `openssl` command line in a temporary folder.

use crate::gateway_support;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};

use eds_gateway::drill::ca::Profile;
use eds_gateway::drill::keys::KeyKind;
use eds_gateway::drill::sign::{SignOptions, sign_cms};
use eds_gateway::gateway::config::Config;
use eds_gateway::gateway::run;
use eds_gateway::gateway::server::AppState;
use eds_gateway::pki::identity::complete_iin;
use gateway_support::*;

/// The origin clients are told to use (it need not be the test port: the gateway compares the
/// Origin header with it and the redirect listener sends clients to it).
const ORIGIN: &str = "https://localhost:8443";
const HSTS: &str = "max-age=31536000; includeSubDomains";

fn iin(n: u32) -> String {
    for k in 0..10 {
        if let Some(i) = complete_iin(&format!("850101{}{:04}", 3, n * 10 + k)) {
            return i;
        }
    }
    panic!("no IIN for {n}");
}

#[track_caller]
fn openssl(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("run openssl (installed in CI)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A server certificate for `localhost`/127.0.0.1 (EC P-256, CN `cn`) issued by the test CA in
/// `dir` (`tls-ca.crt`, made by `openssl req -x509` on first use): (chain file with the leaf and
/// the CA, key file).
#[track_caller]
fn openssl_cert(dir: &Path, name: &str, cn: &str) -> (PathBuf, PathBuf) {
    let p = |f: &str| dir.join(f).to_string_lossy().into_owned();
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
    ];
    if !dir.join("tls-ca.crt").exists() {
        let mut a = vec!["req", "-x509"];
        a.extend(ec);
        let (k, c) = (p("tls-ca.key"), p("tls-ca.crt"));
        a.extend([
            "-days",
            "2",
            "-subj",
            "/CN=Test TLS CA",
            "-keyout",
            &k,
            "-out",
            &c,
        ]);
        openssl(&a);
    }
    let (key, csr, leaf, ext) = (
        p(&format!("{name}.key")),
        p(&format!("{name}.csr")),
        p(&format!("{name}.leaf")),
        p(&format!("{name}.ext")),
    );
    let mut a = vec!["req", "-new"];
    a.extend(ec);
    let subj = format!("/CN={cn}");
    a.extend(["-subj", &subj, "-keyout", &key, "-out", &csr]);
    openssl(&a);
    std::fs::write(
        &ext,
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=critical,CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .expect("ext file");
    let (ca_c, ca_k, srl) = (p("tls-ca.crt"), p("tls-ca.key"), p("tls-ca.srl"));
    openssl(&[
        "x509",
        "-req",
        "-in",
        &csr,
        "-CA",
        &ca_c,
        "-CAkey",
        &ca_k,
        "-CAserial",
        &srl,
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        &ext,
        "-out",
        &leaf,
    ]);
    let chain = dir.join(format!("{name}.crt"));
    let mut pem = std::fs::read(&leaf).expect("leaf");
    pem.extend(std::fs::read(dir.join("tls-ca.crt")).expect("ca"));
    std::fs::write(&chain, pem).expect("chain");
    (chain, PathBuf::from(key))
}

/// Runs a blocking command off the runtime's workers.
async fn run_cmd(mut c: Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || c.output().expect("run command"))
        .await
        .expect("join")
}

/// `openssl s_client` against `addr` with SNI localhost: its whole output (stdout + stderr).
async fn s_client(addr: SocketAddr, ca: &Path, extra: &[&str]) -> String {
    let mut c = Command::new("openssl");
    c.args([
        "s_client",
        "-connect",
        &addr.to_string(),
        "-servername",
        "localhost",
    ])
    .args(["-alpn", "h2,http/1.1", "-verify_return_error", "-CAfile"])
    .arg(ca)
    .args(extra)
    .stdin(std::process::Stdio::null());
    let out = run_cmd(c).await;
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A slow MIS: `/slow` reports its arrival, then waits until released; anything else echoes.
struct SlowMis {
    addr: SocketAddr,
    arrived: tokio::sync::mpsc::Receiver<()>,
    release: Arc<tokio::sync::Notify>,
}

async fn slow_mis() -> SlowMis {
    let (tx, arrived) = tokio::sync::mpsc::channel::<()>(8);
    let release = Arc::new(tokio::sync::Notify::new());
    let r = release.clone();
    let app = axum::Router::new()
        .route(
            "/slow",
            axum::routing::get(move || {
                let (tx, r) = (tx.clone(), r.clone());
                async move {
                    let _ = tx.send(()).await;
                    r.notified().await;
                    "slow done"
                }
            }),
        )
        .fallback(|| async { "mis page" });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind MIS");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(l, app).await });
    SlowMis {
        addr,
        arrived,
        release,
    }
}

/// A gateway serving HTTPS (and the redirect listener) on 127.0.0.1:0.
struct TlsGw {
    addr: SocketAddr,
    redirect: Option<SocketAddr>,
    state: Arc<AppState>,
    dir: PathBuf,
    /// Every certificate the test made (for `-CAfile` / the client's roots).
    ca_file: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TlsGw {
    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.addr.port())
    }

    /// A rustls client (reqwest) that trusts only the test certificates and finds `localhost`
    /// at the gateway; `fresh`: a new connection for every request.
    fn client(&self, fresh: bool) -> reqwest::Client {
        let pem = std::fs::read(&self.ca_file).expect("CA file");
        let mut b = reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .redirect(reqwest::redirect::Policy::none())
            .resolve("localhost", self.addr)
            .timeout(Duration::from_secs(60));
        for c in reqwest::Certificate::from_pem_bundle(&pem).expect("PEM bundle") {
            b = b.add_root_certificate(c);
        }
        if fresh {
            b = b.pool_max_idle_per_host(0);
        }
        b.build().expect("client")
    }

    fn audit(&self) -> Vec<Value> {
        std::fs::read_to_string(self.dir.join("audit.jsonl"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// Sends the shutdown signal; returns the serve task to await.
    fn shut_down(&mut self) -> tokio::task::JoinHandle<std::io::Result<()>> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        self.task.take().expect("serve task")
    }
}

impl Drop for TlsGw {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// A test PKI, a staff member with a key, certificates for the listener and a config folder.
struct World {
    pki: TestPki,
    dir: PathBuf,
    key: TestKey,
    cert: PathBuf,
    tls_key: PathBuf,
    ca_file: PathBuf,
    clock: TestClock,
}

async fn world(name: &str) -> World {
    let dir = tmp(name);
    let pki = TestPki::start(&dir.join("pki"), KeyKind::Rsa2048).await;
    pki.trust_into(&dir.join("certs"), "test");
    let key = pki.issue(&iin(1), "АХМЕТОВ", Profile::RsaAuth, "employee");
    write_staff(&dir, &[(&key.iin, "Ахметов Айдар", "doctor;staff", true)]);
    let (cert, tls_key) = openssl_cert(&dir, "server", "localhost");
    let ca_file = dir.join("tls-ca.crt");
    World {
        pki,
        dir,
        key,
        cert,
        tls_key,
        ca_file,
        clock: TestClock::default(),
    }
}

impl World {
    /// Writes gateway.toml (`server_extra` into `[server]`, `tls_extra` into `[tls]`) and
    /// serves it as `serve` does: listen options (certificates), build, bind, serve.
    async fn gateway(&self, mis: SocketAddr, server_extra: &str, tls_extra: &str) -> TlsGw {
        let toml = format!(
            "[server]\nlisten = \"127.0.0.1:0\"\npublic_origin = \"{ORIGIN}\"\ninstance = \"tls\"\n{server_extra}\n\n\
             [tls]\ncert_file = \"server.crt\"\nkey_file = \"server.key\"\n{tls_extra}\n\n\
             [trust]\ndir = \"certs\"\n\n[revocation]\nmode = \"ocsp-then-crl\"\n\n{crl}\n\
             [session]\nstore = \"embedded\"\ndir = \"sessions\"\n\n\
             [staff]\nfile = \"staff.csv\"\n\n[audit]\nfile = \"audit.jsonl\"\n\n\
             [upstream]\nurl = \"http://{mis}\"\n",
            crl = self.pki.crl_toml("test")
        );
        let file = self.dir.join("gateway.toml");
        std::fs::write(&file, toml).expect("write config");
        let cfg = Config::load(&file).unwrap_or_else(|p| panic!("config problems: {p:#?}"));
        let opts = run::listen_options(&cfg).unwrap_or_else(|p| panic!("tls: {p:#?}"));
        let built = run::build(cfg, self.clock.as_clock())
            .await
            .unwrap_or_else(|p| panic!("build problems: {p:#?}"));
        let bound = run::bind(&built.state.cfg).expect("bind");
        let addr = bound.local_addr().expect("addr");
        let redirect = bound.redirect_addr();
        run::start_revocation(
            &built.crl_stores,
            Duration::from_secs(3600),
            self.clock.now(),
        )
        .await;
        let state = built.state.clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(run::serve_bound(built.state, bound, opts, async move {
            let _ = rx.await;
        }));
        TlsGw {
            addr,
            redirect,
            state,
            dir: self.dir.clone(),
            ca_file: self.ca_file.clone(),
            stop: Some(tx),
            task: Some(task),
        }
    }
}

/// Logs in over HTTPS as the login page's script does; returns the `Cookie` header value.
async fn login(gw: &TlsGw, http: &reqwest::Client, key: &TestKey) -> String {
    let r = http
        .get(gw.url("/eds/login"))
        .send()
        .await
        .expect("GET /eds/login");
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["strict-transport-security"], HSTS);
    let mut cookies: Vec<String> = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .filter_map(|s| s.split(';').next())
        .map(str::to_string)
        .collect();
    let html = r.text().await.expect("login page");
    let csrf = eds_gateway::gateway::client::meta(&html, "eds-csrf").expect("csrf meta");
    let post = |path: &str, cookies: &[String], csrf: &str, body: Value| {
        http.post(gw.url(path))
            .header("cookie", cookies.join("; "))
            .header("origin", ORIGIN)
            .header("x-eds-csrf", csrf)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    let ch: Value = post("/eds/challenge", &cookies, &csrf, json!({}))
        .await
        .expect("POST challenge")
        .bytes()
        .await
        .map(|b| serde_json::from_slice(&b).expect("challenge JSON"))
        .expect("challenge body");
    let data = base64::engine::general_purpose::STANDARD
        .decode(ch["data"].as_str().expect("challenge data"))
        .expect("base64");
    let cms = sign_cms(
        &key.signer.key,
        &key.signer.certificate,
        &data,
        SignOptions {
            detached: false,
            signing_time: eds_gateway::clock::now(),
        },
    )
    .expect("sign");
    let body = json!({"challenge_id": ch["challenge_id"], "next": "/",
                      "cms": base64::engine::general_purpose::STANDARD.encode(cms)});
    let r = post("/eds/login", &cookies, &csrf, body)
        .await
        .expect("POST login");
    if r.status() != 200 {
        // The refusal's code and detail say which check failed (e.g. revocation under load).
        let status = r.status();
        panic!(
            "login over HTTPS: {status} {}",
            r.text().await.unwrap_or_default()
        );
    }
    assert_eq!(r.headers()["strict-transport-security"], HSTS);
    for s in r
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
    {
        if let Some(c) = s.split(';').next() {
            cookies.push(c.to_string());
        }
    }
    let v: Value = serde_json::from_slice(&r.bytes().await.expect("body")).expect("login JSON");
    assert_eq!(v["ok"], json!(true), "{v}");
    cookies.join("; ")
}

/// Raw HTTP/1.1 over TCP: the status line and headers of the answer.
async fn raw_http(addr: SocketAddr, request: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(request.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf)).await;
    String::from_utf8_lossy(&buf).into_owned()
}

/// Polls `f` until it is true (bounded; not a timing assertion).
async fn eventually(what: &str, mut f: impl AsyncFnMut() -> bool) {
    for _ in 0..300 {
        if f().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never happened: {what}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rustls_client_logs_in_over_https_and_reaches_the_mis_with_hsts() {
    let w = world("tls-login").await;
    let mis = echo_mis().await;
    let gw = w.gateway(mis, "", "").await;
    let http = gw.client(false);
    let cookie = login(&gw, &http, &w.key).await;
    let r = http
        .get(gw.url("/ward/7"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("GET through the proxy");
    assert_eq!(r.status(), 200);
    assert_eq!(r.version(), reqwest::Version::HTTP_11);
    assert_eq!(r.headers()["strict-transport-security"], HSTS);
    let seen: Value = serde_json::from_slice(&r.bytes().await.expect("body")).expect("echo JSON");
    assert_eq!(seen["path"], json!("/ward/7"));
    let fwd: Vec<&str> = seen["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .filter(|h| h[0] == "x-forwarded-proto")
        .filter_map(|h| h[1].as_str())
        .collect();
    assert_eq!(fwd, vec!["https"]);
    // Gateway pages: CSP with frame-ancestors 'none', no-store, no referrer; JSON too.
    let r = http.get(gw.url("/eds/login")).send().await.expect("GET");
    let h = r.headers();
    assert!(
        h["content-security-policy"]
            .to_str()
            .expect("csp")
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(h["cache-control"], "no-store");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["x-frame-options"], "DENY");
    let r = http
        .get(gw.url("/eds/session"))
        .header("cookie", &cookie)
        .send()
        .await
        .expect("GET session");
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"
    );
    assert_eq!(r.headers()["strict-transport-security"], HSTS);
    // The handlers saw the real peer address (ConnectInfo): the audit names 127.0.0.1.
    let ok = gw
        .audit()
        .into_iter()
        .rev()
        .find(|r| r["event"] == "login_ok")
        .expect("login_ok audited");
    assert_eq!(ok["ip"], json!("127.0.0.1"), "{ok}");
    assert_eq!(gw.state.cfg.server.workers, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openssl_s_client_sees_the_certificate_and_negotiates_h2_and_tls12() {
    let w = world("tls-openssl").await;
    let mis = echo_mis().await;
    let gw = w.gateway(mis, "", "").await;
    let out = s_client(gw.addr, &gw.ca_file, &[]).await;
    assert!(out.contains("CN = localhost"), "{out}");
    assert!(out.contains("ALPN protocol: h2"), "{out}");
    assert!(out.contains("Verify return code: 0 (ok)"), "{out}");
    assert!(out.contains("TLSv1.3"), "{out}");
    let out = s_client(gw.addr, &gw.ca_file, &["-tls1_2", "-alpn", "http/1.1"]).await;
    assert!(out.contains("ALPN protocol: http/1.1"), "{out}");
    assert!(out.contains("Protocol  : TLSv1.2"), "{out}");
    assert!(out.contains("Verify return code: 0 (ok)"), "{out}");
    // TLS 1.1 is refused by the server (the client is allowed to offer it).
    let out = s_client(
        gw.addr,
        &gw.ca_file,
        &["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"],
    )
    .await;
    assert!(out.contains("no peer certificate available"), "{out}");
    assert!(!out.contains("CN = localhost"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn curl_fetches_through_the_proxy_over_http2() {
    let w = world("tls-h2").await;
    let mis = echo_mis().await;
    let gw = w.gateway(mis, "", "").await;
    let cookie = login(&gw, &gw.client(false), &w.key).await;
    let mut c = Command::new("curl");
    c.args(["-sS", "--http2", "-D", "-", "--cacert"])
        .arg(&gw.ca_file)
        .args([
            "--resolve",
            &format!("localhost:{}:127.0.0.1", gw.addr.port()),
        ])
        .args(["-H", &format!("Cookie: {cookie}")])
        .args(["-w", "\nhttp_version=%{http_version}\n"])
        .arg(gw.url("/ward/h2?x=1"));
    let out = run_cmd(c).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.starts_with("HTTP/2 200"), "{text}");
    assert!(text.contains("http_version=2"), "{text}");
    assert!(
        text.to_ascii_lowercase().contains(&format!(
            "strict-transport-security: {}",
            HSTS.to_ascii_lowercase()
        )),
        "{text}"
    );
    assert!(text.contains("\"path\":\"/ward/h2?x=1\""), "{text}");
    // The MIS got HTTP/1.1 with the identity, whatever the client spoke.
    assert!(text.contains("x-eds-iin"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_listener_answers_308_to_the_public_origin_whatever_the_host() {
    let w = world("tls-redirect").await;
    let mis = echo_mis().await;
    let gw = w
        .gateway(mis, "", "redirect_listen = \"127.0.0.1:0\"")
        .await;
    let r = gw.redirect.expect("redirect listener");
    let head = raw_http(
        r,
        "GET /ward/7?bed=3 HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 308"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("\r\nlocation: https://localhost:8443/ward/7?bed=3\r\n"),
        "{head}"
    );
    assert!(
        !head
            .to_ascii_lowercase()
            .contains("strict-transport-security"),
        "no HSTS over plain HTTP (RFC 6797 §7.2): {head}"
    );
    // POST keeps its method under 308; the gateway's pages are not served in clear.
    let head = raw_http(
        r,
        "POST /eds/login HTTP/1.1\r\nHost: localhost\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}",
    )
    .await;
    assert!(head.starts_with("HTTP/1.1 308"), "{head}");
    assert!(!head.contains("eds-csrf"), "{head}");
    // Plain HTTP on the HTTPS port is not served either.
    let head = raw_http(
        gw.addr,
        "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert!(!head.starts_with("HTTP/1.1 200"), "{head}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn renewed_certificate_is_served_to_new_connections_and_a_bad_one_is_refused() {
    let w = world("tls-reload").await;
    let mis = echo_mis().await;
    let gw = w.gateway(mis, "", "reload_secs = 1").await;
    let first = s_client(gw.addr, &gw.ca_file, &[]).await;
    assert!(first.contains("CN = localhost"), "{first}");
    // A renewal: new key and certificate, written next to the old ones and renamed into place.
    let (c2, k2) = openssl_cert(&w.dir, "renewed", "renewed.localhost");
    std::fs::rename(&k2, &w.tls_key).expect("rename key");
    std::fs::rename(&c2, &w.cert).expect("rename cert");
    eventually("the renewed certificate is served", async || {
        s_client(gw.addr, &gw.ca_file, &[])
            .await
            .contains("CN = renewed.localhost")
    })
    .await;
    let out = s_client(gw.addr, &gw.ca_file, &[]).await;
    assert!(out.contains("Verify return code: 0 (ok)"), "{out}");
    eventually("tls_reloaded audited", async || {
        gw.audit().iter().any(|r| r["event"] == "tls_reloaded")
    })
    .await;
    // A broken key (half-written renewal): refused, logged, and the renewed pair stays.
    std::fs::write(&w.tls_key, "-----BEGIN PRIVATE KEY-----\nAAAA\n").expect("break key");
    eventually("tls_reload_failed audited", async || {
        gw.audit().iter().any(|r| r["event"] == "tls_reload_failed")
    })
    .await;
    let failed = gw
        .audit()
        .into_iter()
        .find(|r| r["event"] == "tls_reload_failed")
        .expect("failure record");
    assert!(
        failed["error"]
            .as_str()
            .unwrap_or("")
            .contains("server.key"),
        "{failed}"
    );
    let out = s_client(gw.addr, &gw.ca_file, &[]).await;
    assert!(out.contains("CN = renewed.localhost"), "{out}");
    assert!(out.contains("Verify return code: 0 (ok)"), "{out}");
    // A key that does not match the certificate: refused as well.
    let (_c3, k3) = openssl_cert(&w.dir, "other", "other.localhost");
    std::fs::rename(&k3, &w.tls_key).expect("mismatched key");
    eventually("mismatch refused", async || {
        gw.audit().iter().any(|r| {
            r["event"] == "tls_reload_failed"
                && r["error"]
                    .as_str()
                    .unwrap_or("")
                    .contains("does not hold the private key")
        })
    })
    .await;
    let out = s_client(gw.addr, &gw.ca_file, &[]).await;
    assert!(out.contains("CN = renewed.localhost"), "{out}");
}

/// In flight → shutdown → new connections refused → the request completes → serve returns.
async fn drain_scenario(server_extra: &str, name: &str) {
    let w = world(name).await;
    let mut mis = slow_mis().await;
    let mut gw = w
        .gateway(mis.addr, &format!("drain_secs = 30\n{server_extra}"), "")
        .await;
    let http = gw.client(false);
    let cookie = login(&gw, &http, &w.key).await;
    let slow = tokio::spawn({
        let (http, url, cookie) = (http.clone(), gw.url("/slow"), cookie.clone());
        async move {
            let r = http.get(url).header("cookie", cookie).send().await?;
            let status = r.status().as_u16();
            let hsts = r.headers().contains_key("strict-transport-security");
            Ok::<_, reqwest::Error>((status, hsts, r.text().await?))
        }
    });
    tokio::time::timeout(Duration::from_secs(30), mis.arrived.recv())
        .await
        .expect("the slow request reached the MIS");
    let serve = gw.shut_down();
    let addr = gw.addr;
    eventually("new connections are refused", async || {
        matches!(
            tokio::net::TcpStream::connect(addr).await,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused
        )
    })
    .await;
    assert!(!slow.is_finished(), "the slow request is still in flight");
    mis.release.notify_one();
    let (status, hsts, body) = slow.await.expect("join").expect("slow request completed");
    assert_eq!((status, hsts, body.as_str()), (200, true, "slow done"));
    tokio::time::timeout(Duration::from_secs(30), serve)
        .await
        .expect("serve returned after the drain")
        .expect("join")
        .expect("serve ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_lets_an_in_flight_request_finish_while_refusing_new_connections() {
    drain_scenario("", "tls-drain").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_reuseport_workers_serve_and_drain_like_one_runtime() {
    let w = world("tls-workers").await;
    let mis = echo_mis().await;
    let gw = w.gateway(mis, "workers = 2", "").await;
    let cookie = login(&gw, &gw.client(false), &w.key).await;
    // Fresh connections: the kernel spreads them over both listeners; every one is served.
    let http = gw.client(true);
    for i in 0..24 {
        let r = http
            .get(gw.url(&format!("/ward/{i}")))
            .header("cookie", &cookie)
            .send()
            .await
            .expect("GET");
        assert_eq!(r.status(), 200);
        let v: Value = serde_json::from_slice(&r.bytes().await.expect("body")).expect("echo");
        assert_eq!(v["path"], json!(format!("/ward/{i}")));
    }
    drop(gw);
    drain_scenario("workers = 2", "tls-workers-drain").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_still_open_after_the_drain_time_are_closed() {
    let w = world("tls-drain-over").await;
    let mut mis = slow_mis().await;
    let mut gw = w.gateway(mis.addr, "drain_secs = 1", "").await;
    let http = gw.client(false);
    let cookie = login(&gw, &http, &w.key).await;
    let slow = tokio::spawn({
        let (http, url) = (http.clone(), gw.url("/slow"));
        async move { http.get(url).header("cookie", cookie).send().await }
    });
    tokio::time::timeout(Duration::from_secs(30), mis.arrived.recv())
        .await
        .expect("arrived");
    let serve = gw.shut_down();
    tokio::time::timeout(Duration::from_secs(30), serve)
        .await
        .expect("serve returned although the MIS never answered")
        .expect("join")
        .expect("serve ok");
    let r = tokio::time::timeout(Duration::from_secs(30), slow)
        .await
        .expect("client saw the end")
        .expect("join");
    assert!(r.is_err(), "the connection was closed: {r:?}");
    drop(mis.release);
}

/// `eds-gateway check-config` on a folder whose `[tls]` files are broken in `break_it`.
async fn check_config(name: &str, break_it: impl FnOnce(&World)) -> (i32, String) {
    let w = world(name).await;
    let mis = echo_mis().await;
    // A working config first (written by `gateway`), then the files are broken.
    drop(w.gateway(mis, "", "").await);
    break_it(&w);
    let mut c = Command::new(env!("CARGO_BIN_EXE_eds-gateway"));
    c.arg("check-config").arg(w.dir.join("gateway.toml"));
    let out = run_cmd(c).await;
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_reports_missing_unreadable_and_mismatched_tls_files() {
    let (code, out) = check_config("tls-check-ok", |_| {}).await;
    assert_eq!(code, 0, "{out}");
    let (code, out) = check_config("tls-check-missing", |w| {
        std::fs::remove_file(&w.cert).expect("rm cert");
    })
    .await;
    assert_eq!(code, 64, "{out}");
    assert!(
        out.contains("tls.cert_file") && out.contains("no such file"),
        "{out}"
    );
    let (code, out) = check_config("tls-check-garbage", |w| {
        std::fs::write(&w.tls_key, "not a key").expect("garbage key");
    })
    .await;
    assert_eq!(code, 64, "{out}");
    assert!(out.contains("no PEM private key"), "{out}");
    let (code, out) = check_config("tls-check-mismatch", |w| {
        let (_c, k) = openssl_cert(&w.dir, "other", "other");
        std::fs::rename(k, &w.tls_key).expect("swap key");
    })
    .await;
    assert_eq!(code, 64, "{out}");
    assert!(out.contains("does not hold the private key"), "{out}");
    // Plain HTTP without saying so: refused with the way out named.
    let (code, out) = check_config("tls-check-plain", |w| {
        let f = w.dir.join("gateway.toml");
        let t = std::fs::read_to_string(&f).expect("config");
        let t = t.replace(
            "[tls]\ncert_file = \"server.crt\"\nkey_file = \"server.key\"\n",
            "",
        );
        std::fs::write(&f, t).expect("write");
    })
    .await;
    assert_eq!(code, 64, "{out}");
    assert!(out.contains("needs a [tls] section"), "{out}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upgraded_connections_reach_the_handler_through_the_accept_loop() {
    use axum::body::Body;
    use axum::http::{Request, Response, StatusCode};
    use eds_gateway::gateway::listener::{self, ListenOptions};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A handler that answers 101 and echoes on the upgraded socket (what the WebSocket
    // pass-through does with `hyper::upgrade::on`).
    let router = axum::Router::new().route(
        "/up",
        axum::routing::get(|mut req: Request<Body>| async move {
            let on = hyper::upgrade::on(&mut req);
            tokio::spawn(async move {
                if let Ok(up) = on.await {
                    let mut io = hyper_util::rt::TokioIo::new(up);
                    let mut buf = [0u8; 4];
                    if io.read_exact(&mut buf).await.is_ok() {
                        let _ = io.write_all(&buf).await;
                    }
                }
            });
            let mut r = Response::new(Body::empty());
            *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
            r.headers_mut()
                .insert("connection", "upgrade".parse().expect("value"));
            r.headers_mut()
                .insert("upgrade", "echo".parse().expect("value"));
            r
        }),
    );
    let bound = listener::bind("127.0.0.1:0".parse().expect("addr"), 0, None).expect("bind");
    let addr = bound.local_addr().expect("addr");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let serve = tokio::spawn(listener::serve(
        router,
        bound,
        ListenOptions::plain(),
        async move {
            let _ = rx.await;
        },
    ));
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"GET /up HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\n")
        .await
        .expect("write");
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut b = [0u8; 1];
        s.read_exact(&mut b).await.expect("read head");
        head.push(b[0]);
    }
    let head = String::from_utf8_lossy(&head);
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    s.write_all(b"ping").await.expect("write ping");
    let mut back = [0u8; 4];
    tokio::time::timeout(Duration::from_secs(10), s.read_exact(&mut back))
        .await
        .expect("echo in time")
        .expect("read echo");
    assert_eq!(&back, b"ping");
    let _ = tx.send(());
    tokio::time::timeout(Duration::from_secs(30), serve)
        .await
        .expect("serve returned")
        .expect("join")
        .expect("serve ok");
}

/// An endless body of 64 KiB zero frames that says when it is dropped.
struct Endless {
    chunk: axum::body::Bytes,
    dropped: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl hyper::body::Body for Endless {
    type Data = axum::body::Bytes;
    type Error = std::convert::Infallible;
    fn poll_frame(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        std::task::Poll::Ready(Some(Ok(hyper::body::Frame::data(self.chunk.clone()))))
    }
}

impl Drop for Endless {
    fn drop(&mut self) {
        self.dropped
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_disconnected_after_the_send_timeout() {
    use axum::body::Body;
    use eds_gateway::gateway::listener::{self, ListenOptions};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = dropped.clone();
    let router = axum::Router::new().route(
        "/endless",
        axum::routing::get(move || {
            let dropped = flag.clone();
            async move {
                Body::new(Endless {
                    chunk: axum::body::Bytes::from(vec![0u8; 64 * 1024]),
                    dropped,
                })
            }
        }),
    );
    let bound = listener::bind("127.0.0.1:0".parse().expect("addr"), 0, None).expect("bind");
    let addr = bound.local_addr().expect("addr");
    let mut opts = ListenOptions::plain();
    opts.send_timeout = Duration::from_secs(1);
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    let serve = tokio::spawn(listener::serve(router, bound, opts, async move {
        let _ = rx.await;
    }));
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"GET /endless HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("write");
    // A client that reads in bursts with pauses shorter than the send timeout is not cut: for
    // 3 s (three send timeouts), every 300 ms it drains what has arrived. (The timeout is
    // between writes that make progress, like nginx's `send_timeout`: the kernel wakes a
    // blocked writer only once a good part of the socket buffer is free.)
    let mut buf = vec![0u8; 64 * 1024];
    let mut got = 0usize;
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        s.readable().await.expect("readable");
        loop {
            match s.try_read(&mut buf) {
                Ok(0) => panic!("connection closed while the client was reading"),
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("read: {e}"),
            }
        }
    }
    assert!(got > 0);
    assert!(
        !dropped.load(Ordering::SeqCst),
        "a reading client was disconnected"
    );
    // Then it stops reading: once the socket buffers are full, the gateway gives up after the
    // send timeout and drops the response body.
    let gone = tokio::time::timeout(Duration::from_secs(20), async {
        while !dropped.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert!(gone.is_ok(), "the stalled response was never dropped");
    // The client then sees the connection end (EOF or reset) after what was buffered.
    let end = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(end.is_ok(), "the connection stayed open");
    let _ = tx.send(());
    tokio::time::timeout(Duration::from_secs(30), serve)
        .await
        .expect("serve returned")
        .expect("join")
        .expect("serve ok");
}

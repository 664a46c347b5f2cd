//! `pki serve`: the test CA's HTTP responder (tokio + hyper 1, HTTP/1.1).
//!
//! Routes (paths match the URLs `pki init --base-url` writes into the certificates):
//! * `GET /crl/ca.crl`, `/crl/ca_delta.crl`, `/crl/root.crl` — the current CRLs (DER,
//!   `application/pkix-crl`), read from the directory on every request, so a `pki revoke` run
//!   while the server runs is served at once;
//! * `GET /cert/root.cer`, `/cert/ca.cer` — the CA certificates (DER);
//! * `POST /ocsp` (body = DER OCSPRequest) and `GET /ocsp/{base64 request}` (RFC 6960 A.1) —
//!   answered from `state.json` as it is at that moment; nonce echoed; delegated responder by
//!   default, CA-signed with `--ca-signed`; `--nca-mode` leaves nextUpdate out like NCA.
//!
//! Fault switches for drills: `--slow-ms N` delays every answer, `--try-later` answers every OCSP
//! request with tryLater, `--stale` signs OCSP answers as of two days ago (nextUpdate long past),
//! `--down` accepts connections and closes them without a word. Bodies are capped at 64 KiB.
//!
//! Webhook (`--webhook http://HOST:PORT/PATH`): the server polls `state.json` every 200 ms and,
//! for every certificate whose status changed (revoked, hold, released), POSTs one JSON object
//! `{"event":"revocation","serial":…,"iin":…,"status":"revoked|hold|good","reason":…,
//! "revoked_at":…}` — drills use it to push evictions. Delivery is best effort (one try, 2 s).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::builder::{self, ResponseStatus};
use super::ca::{self, Ca, OcspOptions};

/// Largest request body read.
pub const MAX_BODY: usize = 64 * 1024;

/// How the responder behaves.
#[derive(Clone, Debug, Default)]
pub struct ServeOptions {
    /// OCSP signing and nextUpdate choices.
    pub ocsp: OcspOptions,
    /// Delay every answer by this much.
    pub slow: Duration,
    /// Answer OCSP with tryLater.
    pub try_later: bool,
    /// Answer OCSP as of two days ago (expired).
    pub stale: bool,
    /// Close every connection at once.
    pub down: bool,
    /// Webhook URL (http only) called on every status change.
    pub webhook: Option<String>,
}

struct Shared {
    dir: PathBuf,
    opts: ServeOptions,
}

fn reply(status: StatusCode, ctype: &str, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = status;
    if let Ok(v) = ctype.parse() {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) =
                u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("zz"), 16)
        {
            out.push(v);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    out
}

fn ocsp_answer(shared: &Shared, request: &[u8]) -> Vec<u8> {
    if shared.opts.try_later {
        return builder::ocsp_error(ResponseStatus::TryLater);
    }
    let at = if shared.opts.stale {
        ca::now().plus_seconds(-2 * 86400)
    } else {
        ca::now()
    };
    match Ca::open(&shared.dir) {
        Ok(ca) => ca.ocsp_respond(request, shared.opts.ocsp, at),
        Err(_) => builder::ocsp_error(ResponseStatus::InternalError),
    }
}

async fn handle(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    if !shared.opts.slow.is_zero() {
        tokio::time::sleep(shared.opts.slow).await;
    }
    let path = req.uri().path().to_string();
    const OCSP_TYPE: &str = "application/ocsp-response";
    let resp = match (req.method().clone(), path.as_str()) {
        (Method::GET, "/crl/ca.crl" | "/crl/ca_delta.crl" | "/crl/root.crl") => {
            match std::fs::read(shared.dir.join(&path[1..])) {
                Ok(b) => reply(StatusCode::OK, "application/pkix-crl", b),
                Err(_) => reply(StatusCode::NOT_FOUND, "text/plain", b"no CRL\n".to_vec()),
            }
        }
        (Method::GET, "/cert/root.cer" | "/cert/ca.cer") => {
            let file = if path.ends_with("root.cer") {
                "root.pem"
            } else {
                "ca.pem"
            };
            match std::fs::read(shared.dir.join(file)) {
                Ok(b) => match crate::pki::der_util::pem_or_der(&b) {
                    Ok((_, der)) => reply(StatusCode::OK, "application/pkix-cert", der),
                    Err(_) => reply(StatusCode::INTERNAL_SERVER_ERROR, "text/plain", vec![]),
                },
                Err(_) => reply(StatusCode::NOT_FOUND, "text/plain", vec![]),
            }
        }
        (Method::POST, "/ocsp" | "/ocsp/") => {
            match Limited::new(req.into_body(), MAX_BODY).collect().await {
                Ok(body) => {
                    let body = body.to_bytes().to_vec();
                    let sh = shared.clone();
                    let out = tokio::task::spawn_blocking(move || ocsp_answer(&sh, &body))
                        .await
                        .unwrap_or_else(|_| builder::ocsp_error(ResponseStatus::InternalError));
                    reply(StatusCode::OK, OCSP_TYPE, out)
                }
                Err(_) => reply(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    OCSP_TYPE,
                    builder::ocsp_error(ResponseStatus::MalformedRequest),
                ),
            }
        }
        (Method::GET, p) if p.starts_with("/ocsp/") => {
            let enc = percent_decode(&p["/ocsp/".len()..]);
            let text: String = String::from_utf8_lossy(&enc)
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            let der = base64::engine::general_purpose::STANDARD
                .decode(&text)
                .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(&text))
                .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(&text));
            let out = match der {
                Ok(der) => {
                    let sh = shared.clone();
                    tokio::task::spawn_blocking(move || ocsp_answer(&sh, &der))
                        .await
                        .unwrap_or_else(|_| builder::ocsp_error(ResponseStatus::InternalError))
                }
                Err(_) => builder::ocsp_error(ResponseStatus::MalformedRequest),
            };
            reply(StatusCode::OK, OCSP_TYPE, out)
        }
        _ => reply(StatusCode::NOT_FOUND, "text/plain", b"not found\n".to_vec()),
    };
    Ok(resp)
}

/// Serves until the process is stopped. Prints `listening on http://ADDR` once bound (tests
/// read it to learn an ephemeral port).
pub async fn serve(dir: PathBuf, listen: SocketAddr, opts: ServeOptions) -> std::io::Result<()> {
    // Fail early when DIR is not a CA.
    Ca::open(&dir).map_err(|e| std::io::Error::other(e.0))?;
    let listener = TcpListener::bind(listen).await?;
    println!("listening on http://{}", listener.local_addr()?);
    if let Some(url) = opts.webhook.clone() {
        tokio::spawn(watch(dir.clone(), url));
    }
    let shared = Arc::new(Shared { dir, opts });
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(x) => x,
            Err(_) => continue,
        };
        if shared.opts.down {
            drop(stream);
            continue;
        }
        let sh = shared.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| handle(sh.clone(), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

fn statuses(dir: &std::path::Path) -> Option<Vec<ca::Issued>> {
    let b = std::fs::read(dir.join("state.json")).ok()?;
    serde_json::from_slice::<ca::State>(&b)
        .ok()
        .map(|s| s.issued)
}

/// Polls state.json and posts every status change to `url`.
async fn watch(dir: PathBuf, url: String) {
    let mut known = statuses(&dir).unwrap_or_default();
    loop {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let Some(now) = statuses(&dir) else { continue };
        for i in &now {
            let before = known.iter().find(|k| k.serial == i.serial);
            let changed = match before {
                Some(b) => b.status != i.status || b.reason != i.reason,
                None => i.status != ca::Status::Good,
            };
            if changed {
                let body = serde_json::json!({
                    "event": "revocation",
                    "serial": i.serial,
                    "iin": i.iin,
                    "status": i.status,
                    "reason": i.reason,
                    "revoked_at": i.revoked_at,
                });
                let _ =
                    tokio::time::timeout(Duration::from_secs(2), post_json(&url, body.to_string()))
                        .await;
            }
        }
        known = now;
    }
}

/// A one-shot HTTP/1.1 POST (http:// only; the drill's own listeners).
async fn post_json(url: &str, body: String) -> std::io::Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| std::io::Error::other("webhook must be http://"))?;
    let (host, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let mut s = tokio::net::TcpStream::connect(host).await?;
    let req = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: eds-gateway-testpki\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await?;
    let mut sink = Vec::new();
    let _ = s.read_to_end(&mut sink).await;
    Ok(())
}

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
//! request with tryLater. Bodies are capped at 64 KiB.

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
    match Ca::open(&shared.dir) {
        Ok(ca) => ca.ocsp_respond(request, shared.opts.ocsp, ca::now()),
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
    let shared = Arc::new(Shared { dir, opts });
    loop {
        let (stream, _) = match listener.accept().await {
            Ok(x) => x,
            Err(_) => continue,
        };
        let sh = shared.clone();
        tokio::spawn(async move {
            let svc = service_fn(move |req| handle(sh.clone(), req));
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
    }
}

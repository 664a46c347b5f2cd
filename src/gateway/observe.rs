//! The request middleware (request id, metrics, the access log line) and the `/eds/metrics` and
//! `/eds/.well-known/jwks.json` endpoints (issue 7 items 2 and 5).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{ConnectInfo, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Request, Response, StatusCode};
use axum::middleware::Next;
use axum::response::IntoResponse;

use super::metrics::CrlGauge;
use super::server::{AppState, SESSION_COOKIE, cookie, public_sid, sha256_hex};

/// The reason code of a response the gateway made itself (set by the error pages): the
/// middleware counts `upstream_*` codes as upstream errors.
#[derive(Clone, Debug)]
pub struct ErrorCode(pub String);

/// How long the live-session count is reused (listing reads every record of the store).
const SESSIONS_LIVE_CACHE_SECS: i64 = 10;

/// A client's X-Request-Id is kept if it is 1–128 characters of `[A-Za-z0-9._:-]` (UUIDs, hex,
/// the ids of common balancers); anything else could smuggle text into logs and is replaced.
pub fn valid_request_id(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 128
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
}

/// A new request id: 32 hex digits, unique per process and unpredictable enough for log
/// correlation (it is not a secret): a per-thread 128-bit random seed from the OS, stepped by a
/// counter and mixed (SplitMix64), so no system call per request.
pub fn new_request_id() -> String {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<(u64, u64)> = Cell::new(seed());
    }
    fn seed() -> (u64, u64) {
        let mut b = [0u8; 16];
        // If the OS random source fails, time still separates threads and restarts.
        if getrandom::fill(&mut b).is_err() {
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            b = t.to_be_bytes();
        }
        let (hi, lo) = b.split_at(8);
        let word = |s: &[u8]| u64::from_be_bytes(s.try_into().unwrap_or([0; 8]));
        (word(hi), word(lo))
    }
    fn mix(mut z: u64) -> u64 {
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    let (a, b) = STATE.with(|s| {
        let (a, b) = s.get();
        let a = a.wrapping_add(0x9e37_79b9_7f4a_7c15);
        s.set((a, b));
        (a, b)
    });
    // `a` walks a full-period sequence (odd step), so ids never repeat within a thread; `b`
    // (different per thread) keeps two threads apart.
    let mut out = String::with_capacity(32);
    let hex = b"0123456789abcdef";
    for w in [mix(a), mix(a ^ b)] {
        for i in (0..16).rev() {
            out.push(char::from(hex[((w >> (i * 4)) & 0xf) as usize]));
        }
    }
    out
}

/// The public sid of the session cookie in `h` (SHA-256("sid" ‖ SHA-256(token)), 16 hex
/// digits: what audit records carry), whether or not the session is live.
pub fn sid_of(h: &HeaderMap) -> Option<String> {
    let token = cookie(h, SESSION_COOKIE).filter(|t| t.len() == 64)?;
    Some(public_sid(&sha256_hex(&[token.as_bytes()])))
}

fn route_of<'a>(s: &'a AppState, path: &str) -> &'a str {
    if path == "/eds" || path.starts_with("/eds/") {
        "eds"
    } else {
        s.upstream.route_name(path)
    }
}

/// What [`begin`] learned about a request, for [`finish`].
pub struct Observed<'s> {
    start: Instant,
    /// The request id (the client's if valid, else a new one; always a valid header value).
    rid: HeaderValue,
    route: &'s str,
    method: axum::http::Method,
    path: String,
    /// The client's IP (see `server::client_ip`).
    pub ip: String,
}

impl Observed<'_> {
    /// The request id.
    pub fn rid(&self) -> &str {
        self.rid.to_str().unwrap_or("-")
    }
}

/// Starts observing `req` from `peer` (the TCP peer, if known): makes sure it carries a valid
/// X-Request-Id.
pub fn begin<'s>(
    s: &'s AppState,
    req: &mut Request<Body>,
    peer: Option<SocketAddr>,
) -> Observed<'s> {
    let start = Instant::now();
    let rid = req
        .headers()
        .get("x-request-id")
        .filter(|v| v.to_str().is_ok_and(valid_request_id))
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&new_request_id()).unwrap_or(HeaderValue::from_static("-"))
        });
    req.headers_mut().insert("x-request-id", rid.clone());
    let p = req.uri().path();
    // At most 512 bytes of the path in the log, cut on a character boundary.
    let mut cut = p.len().min(512);
    while !p.is_char_boundary(cut) {
        cut -= 1;
    }
    let ip = match peer {
        Some(peer) => super::server::client_ip(s, req.headers(), peer),
        None => String::new(),
    };
    Observed {
        start,
        rid,
        route: route_of(s, p),
        method: req.method().clone(),
        path: p[..cut].to_string(),
        ip,
    }
}

/// Counts and logs the answer to an observed request (`sid`: the public sid of its session
/// cookie, live or not) and echoes the request id.
pub fn finish(s: &AppState, o: Observed<'_>, sid: Option<&str>, resp: &mut Response<Body>) {
    let took = o.start.elapsed();
    let status = resp.status().as_u16();
    s.metrics.request(o.route, status, took);
    let code = resp.extensions_mut().remove::<ErrorCode>().map(|c| c.0);
    if let Some(c) = code.as_deref().filter(|c| c.starts_with("upstream_")) {
        s.metrics.upstream_error(o.route, c);
    }
    let rid = o.rid();
    let duration_ms = took.as_secs_f64() * 1000.0;
    tracing::info!(
        target: "eds_gateway::access",
        request_id = %rid,
        method = %o.method,
        path = %o.path,
        route = %o.route,
        status,
        duration_ms,
        code = code.as_deref(),
        sid = sid,
        client_ip = %o.ip,
        "request"
    );
    resp.headers_mut().insert("x-request-id", o.rid);
}

/// Runs around every `/eds/…` handler ([`begin`], the handler, [`finish`]). The proxy path
/// (`server::gate`) calls `begin`/`finish` itself, so a proxied request pays for no middleware
/// and its session's sid is not hashed again.
pub async fn middleware(
    State(s): State<Arc<AppState>>,
    mut req: Request<Body>,
    next: Next,
) -> Response<Body> {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let o = begin(&s, &mut req, peer);
    let sid = sid_of(req.headers());
    let mut resp = next.run(req).await;
    finish(&s, o, sid.as_deref(), &mut resp);
    resp
}

/// `GET /eds/metrics`: allowed client IPs or the bearer token; 403 otherwise.
pub async fn metrics(
    State(s): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response<Body> {
    let ip = super::server::client_ip(&s, &headers, peer);
    let auth = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if !super::metrics::allowed(&s.cfg.metrics, &ip, auth) {
        tracing::warn!(target: "eds_gateway::metrics", client_ip = %ip, "metrics refused");
        let mut r = (StatusCode::FORBIDDEN, "forbidden\n").into_response();
        r.extensions_mut().insert(ErrorCode("forbidden".into()));
        return r;
    }
    let now = s.clock_now().0;
    let live = match s
        .metrics
        .sessions_live_cached(now, SESSIONS_LIVE_CACHE_SECS)
    {
        Some(n) => Some(n),
        None => match s.store.list_sessions().await {
            Ok(v) => {
                let n = u64::try_from(v.len()).unwrap_or(u64::MAX);
                s.metrics.set_sessions_live(now, n);
                Some(n)
            }
            Err(_) => None,
        },
    };
    let crls: Vec<CrlGauge> = s
        .crl_stores()
        .iter()
        .map(|c| {
            let snap = c.snapshot();
            CrlGauge {
                issuer: c.issuer().subject.to_display_string(),
                age_secs: snap.full.as_ref().map(|f| now - f.this_update.0),
                next_update_in_secs: snap.full.as_ref().map(|f| f.next_update.0 - now),
                refresh_failing: snap.full_error.is_some(),
            }
        })
        .collect();
    let ocsp = s
        .verifier
        .checker()
        .and_then(|c| c.ocsp.as_ref())
        .map(|c| c.stats());
    let body = s.metrics.render(live, &crls, ocsp.as_ref(), now);
    let mut r = body.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    r.headers_mut()
        .insert("cache-control", HeaderValue::from_static("no-store"));
    r
}

/// `GET /eds/.well-known/jwks.json`: the assertion's public key (404 when assertions are off).
pub async fn jwks(State(s): State<Arc<AppState>>) -> Response<Body> {
    match &s.assertions {
        Some(a) => {
            let mut r = axum::Json(a.key().jwks()).into_response();
            r.headers_mut().insert(
                "cache-control",
                HeaderValue::from_static("public, max-age=300"),
            );
            r
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_that_could_inject_text_are_replaced() {
        assert!(valid_request_id("3f2a9c1e-7b4d-4e0a-9c55-0a1b2c3d4e5f"));
        for bad in ["", "a b", "a\"b", "x\u{7f}", &"a".repeat(129)] {
            assert!(!valid_request_id(bad), "{bad:?}");
        }
        let id = new_request_id();
        assert_eq!(id.len(), 32);
        assert!(valid_request_id(&id));
    }
}

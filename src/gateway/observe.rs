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
use sha2::{Digest, Sha256};

use super::metrics::CrlGauge;
use super::server::{AppState, SESSION_COOKIE};

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

/// A new request id: 128 random bits, hex.
pub fn new_request_id() -> String {
    let mut b = [0u8; 16];
    // If the OS random source fails, a time-based id still correlates the log lines.
    if getrandom::fill(&mut b).is_err() {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        b = t.to_be_bytes();
    }
    hex::encode(b)
}

/// The public sid of the session cookie in `h` (SHA-256("sid" ‖ SHA-256(token)), 16 hex
/// digits: what audit records carry), whether or not the session is live.
fn sid_of(h: &HeaderMap) -> Option<String> {
    let token = h
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|s| s.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v)
        .filter(|t| t.len() == 64)?;
    let token_hash = hex::encode(Sha256::digest(token.as_bytes()));
    let mut s = Sha256::new();
    s.update(b"sid");
    s.update(token_hash.as_bytes());
    Some(hex::encode(s.finalize())[..16].to_string())
}

fn route_of<'a>(s: &'a AppState, path: &str) -> &'a str {
    if path == "/eds" || path.starts_with("/eds/") {
        "eds"
    } else {
        s.upstream.route_name(path)
    }
}

/// Runs before every handler: makes sure the request carries a valid X-Request-Id (echoed in
/// the response), then counts and logs the answer.
pub async fn middleware(
    State(s): State<Arc<AppState>>,
    mut req: Request<Body>,
    next: Next,
) -> Response<Body> {
    let start = Instant::now();
    let rid = match req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| valid_request_id(v))
    {
        Some(v) => v.to_string(),
        None => new_request_id(),
    };
    let rid_value = HeaderValue::from_str(&rid).ok();
    if let Some(v) = &rid_value {
        req.headers_mut().insert("x-request-id", v.clone());
    }
    let route = route_of(&s, req.uri().path());
    let method = req.method().clone();
    let path: String = req.uri().path().chars().take(512).collect();
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let ip = peer
        .map(|p| super::server::client_ip(&s, req.headers(), p))
        .unwrap_or_default();
    let sid = sid_of(req.headers());
    let mut resp = next.run(req).await;
    let took = start.elapsed();
    let status = resp.status().as_u16();
    s.metrics.request(route, status, took);
    let code = resp.extensions_mut().remove::<ErrorCode>().map(|c| c.0);
    if let Some(c) = code.as_deref().filter(|c| c.starts_with("upstream_")) {
        s.metrics.upstream_error(route, c);
    }
    if let Some(v) = rid_value {
        resp.headers_mut().insert("x-request-id", v);
    }
    let duration_ms = took.as_secs_f64() * 1000.0;
    tracing::info!(
        target: "eds_gateway::access",
        request_id = %rid,
        method = %method,
        path = %path,
        route = %route,
        status,
        duration_ms,
        code = code.as_deref(),
        sid = sid.as_deref(),
        client_ip = %ip,
        "request"
    );
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
    let body = s.metrics.render(live, &crls);
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

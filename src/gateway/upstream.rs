//! The hand-off to the MIS: routes by path prefix (each with its own pooled client, plain or
//! TLS with its own CA, see `routes.rs`), bodies streamed both ways with idle limits
//! (`stream.rs`), WebSocket pass-through (`websocket.rs`), header hygiene, and the identity
//! headers.
//!
//! Header hygiene, in this order (RFC 9110 §7.6.1 and DESIGN.md step 7):
//! 1. hop-by-hop headers go, with every header named in `Connection` (a WebSocket upgrade gets
//!    its `Connection: upgrade` / `Upgrade: websocket` back afterwards, nothing else);
//! 2. every client header that could pass for an identity header goes: any name that, lowercased
//!    and with `_` read as `-`, starts with the configured prefix (`x-eds-`), in any case and any
//!    number of copies — `{prefix}Assertion` included;
//! 3. the gateway's own cookies are cut out of `Cookie` (the MIS never sees a session token);
//! 4. X-Forwarded-For/-Proto/-Host, Forwarded and X-Request-Id are set;
//! 5. the identity headers of the session are added (names and organisations, which are
//!    Cyrillic, percent-encoded as UTF-8: RFC 8187's value encoding without the charset prefix).
//!
//! Faults: refused, reset or TLS-refused → 502 `upstream_unavailable`; no response headers within
//! `first_byte` after the request body was sent (or a connect timeout) → 504 `upstream_timeout`;
//! a body silent for `idle` (either way) → the stream is cut.

use std::sync::Arc;

use axum::body::Body;
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{Request, Response, StatusCode};

use super::config::{Config, RouteSpec};
use super::routes::Route;
use super::stream::{IdleBody, Progress};
use crate::session::Session;

/// Hop-by-hop headers (RFC 9110 §7.6.1; Proxy-Connection and Keep-Alive as deployed).
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("proxy-connection"),
    HeaderName::from_static("keep-alive"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

/// Why the upstream gave no response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamError {
    /// Refused, reset, TLS refused, or an unusable answer: 502.
    Unavailable,
    /// No connection or no response headers in time: 504.
    Timeout,
}

impl UpstreamError {
    /// Reason code.
    pub fn code(self) -> &'static str {
        match self {
            UpstreamError::Unavailable => "upstream_unavailable",
            UpstreamError::Timeout => "upstream_timeout",
        }
    }
    /// HTTP status.
    pub fn status(self) -> StatusCode {
        match self {
            UpstreamError::Unavailable => StatusCode::BAD_GATEWAY,
            UpstreamError::Timeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }
}

/// The upstreams and how identity is passed to them.
#[derive(Clone)]
pub struct Upstream {
    /// Longest prefix first; the default route (`/`) last.
    routes: Arc<[Route]>,
    prefix_lower: String,
    /// `(field, {prefix}{field})` for every configured identity field, names parsed once.
    fields: Arc<[(Field, HeaderName)]>,
    /// `{prefix}Assertion`.
    assertion_name: Option<HeaderName>,
    cookie_names: Vec<String>,
    /// Key of this instance in the per-thread identity-header cache.
    id: u64,
}

/// An identity field the gateway can send.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Field {
    Iin,
    Name,
    Bin,
    Org,
    Roles,
    Serial,
    Sid,
}

impl Field {
    fn parse(f: &str) -> Option<Field> {
        Some(match f {
            "iin" => Field::Iin,
            "name" => Field::Name,
            "bin" => Field::Bin,
            "org" => Field::Org,
            "roles" => Field::Roles,
            "serial" => Field::Serial,
            "sid" => Field::Sid,
            _ => return None,
        })
    }
}

/// A session's identity headers, encoded once and reused while the session's identity is the
/// same (it never changes within a session; the comparison makes a stale entry harmless).
struct Encoded {
    identity: crate::session::Identity,
    headers: Vec<(HeaderName, HeaderValue)>,
}

/// Entries per thread and `Upstream` before the cache is emptied (a worker sees at most the
/// live population; this only bounds memory).
const IDENTITY_CACHE_MAX: usize = 8192;

thread_local! {
    /// Upstream id → sid → encoded headers. Per thread: no lock on the request path.
    static IDENTITY_CACHE: std::cell::RefCell<
        std::collections::HashMap<u64, std::collections::HashMap<String, Arc<Encoded>>>,
    > = std::cell::RefCell::new(std::collections::HashMap::new());
}

static NEXT_UPSTREAM_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// Per-request facts the gateway adds.
pub struct Forwarding<'a> {
    /// The client's address.
    pub client_ip: &'a str,
    /// `https` or `http`, as the client reached the gateway.
    pub proto: &'a str,
    /// The Host the client asked for.
    pub host: Option<&'a str>,
    /// The request id.
    pub request_id: &'a str,
    /// The signed identity assertion (a compact JWT) for `{prefix}Assertion`, if one is made.
    pub assertion: Option<&'a str>,
}

impl Upstream {
    /// One default route to `url` (`http://host:port[/base]`) with default timeouts.
    /// `cookie_names` are the gateway's own cookies, never forwarded.
    pub fn new(
        url: &str,
        header_prefix: &str,
        fields: &[String],
        cookie_names: &[&str],
    ) -> Result<Upstream, String> {
        let spec = RouteSpec {
            prefix: "/".into(),
            name: "default".into(),
            url: url.to_string(),
            preserve_host: false,
            ca_file: None,
            connect_timeout_secs: super::config::DEFAULT_CONNECT_TIMEOUT_SECS,
            first_byte_timeout_secs: super::config::DEFAULT_FIRST_BYTE_TIMEOUT_SECS,
            idle_timeout_secs: super::config::DEFAULT_IDLE_TIMEOUT_SECS,
            websocket: false,
        };
        Upstream::with_routes(&[spec], header_prefix, fields, cookie_names)
    }

    /// Every route of `cfg` (`[[route]]` tables and `[upstream]` as the default).
    pub fn from_config(cfg: &Config, cookie_names: &[&str]) -> Result<Upstream, String> {
        Upstream::with_routes(
            &cfg.routes(),
            &cfg.upstream.header_prefix,
            &cfg.upstream.identity_headers,
            cookie_names,
        )
    }

    /// The given routes (one must have prefix `/`).
    pub fn with_routes(
        specs: &[RouteSpec],
        header_prefix: &str,
        fields: &[String],
        cookie_names: &[&str],
    ) -> Result<Upstream, String> {
        let mut routes = specs
            .iter()
            .map(Route::build)
            .collect::<Result<Vec<_>, _>>()?;
        if !routes.iter().any(|r| r.prefix == "/") {
            return Err("no default route (prefix /)".into());
        }
        routes.sort_by_key(|r| std::cmp::Reverse(r.prefix.len()));
        let fields = fields
            .iter()
            .filter_map(|f| {
                let name = HeaderName::from_bytes(format!("{header_prefix}{f}").as_bytes()).ok()?;
                Some((Field::parse(f)?, name))
            })
            .collect::<Vec<_>>();
        Ok(Upstream {
            routes: routes.into(),
            prefix_lower: header_prefix.to_ascii_lowercase().replace('_', "-"),
            fields: fields.into(),
            assertion_name: HeaderName::from_bytes(format!("{header_prefix}Assertion").as_bytes())
                .ok(),
            cookie_names: cookie_names.iter().map(|s| s.to_string()).collect(),
            id: NEXT_UPSTREAM_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
        })
    }

    fn route(&self, path: &str) -> &Route {
        let i = super::routes::pick(self.routes.iter().map(|r| r.prefix.as_str()), path)
            .unwrap_or(self.routes.len() - 1);
        &self.routes[i]
    }

    /// The name of the route `path` goes to (metrics label; `default` for `[upstream]`).
    pub fn route_name(&self, path: &str) -> &str {
        &self.route(path).name
    }

    /// Forwards `req` (already allowed) with the identity of `session`, streaming both bodies.
    /// A WebSocket upgrade on a route that allows them is joined to the upstream's on 101.
    pub async fn forward(
        &self,
        mut req: Request<Body>,
        session: Option<&Session>,
        fwd: &Forwarding<'_>,
    ) -> Result<Response<Body>, UpstreamError> {
        let route = self.route(req.uri().path());
        let ws = route.websocket && super::websocket::is_upgrade(req.headers());
        let client_upgrade = ws.then(|| hyper::upgrade::on(&mut req));
        let (mut parts, body) = req.into_parts();
        parts.uri = route.target(&parts.uri)?;
        parts.version = axum::http::Version::HTTP_11;
        let h = &mut parts.headers;
        strip_hop_by_hop(h);
        self.strip_identity(h);
        self.strip_own_cookies(h);
        set_forwarded(h, fwd);
        if let Some(s) = session {
            self.add_identity(h, s);
        }
        if let (Some(a), Some(name), Some(_)) = (fwd.assertion, &self.assertion_name, session)
            && let Ok(v) = HeaderValue::from_str(a)
        {
            h.insert(name.clone(), v);
        }
        let host = match (route.preserve_host, fwd.host) {
            (true, Some(client_host)) => client_host,
            _ => route.authority.as_str(),
        };
        if let Ok(v) = HeaderValue::from_str(host) {
            h.insert(header::HOST, v);
        }
        if ws {
            h.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        }
        let progress = Progress::new();
        // Most requests have no body: nothing to watch, no extra allocation.
        let body = if hyper::body::Body::is_end_stream(&body) {
            body
        } else {
            Body::new(IdleBody::new(body, route.idle, Some(progress.clone())))
        };
        let req = Request::from_parts(parts, body);
        let resp = first_byte(route, req, &progress, fwd.request_id).await?;
        if let Some(client_upgrade) = client_upgrade
            && resp.status() == StatusCode::SWITCHING_PROTOCOLS
        {
            let mut resp = resp;
            let upstream_upgrade = hyper::upgrade::on(&mut resp);
            let (mut parts, _) = resp.into_parts();
            strip_hop_by_hop(&mut parts.headers);
            parts
                .headers
                .insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            parts
                .headers
                .insert(header::UPGRADE, HeaderValue::from_static("websocket"));
            tokio::spawn(super::websocket::join(
                client_upgrade,
                upstream_upgrade,
                route.idle,
            ));
            return Ok(Response::from_parts(parts, Body::empty()));
        }
        let (mut parts, body) = resp.into_parts();
        strip_hop_by_hop(&mut parts.headers);
        Ok(Response::from_parts(
            parts,
            Body::new(IdleBody::new(body, route.idle, None)),
        ))
    }

    /// Removes every header a client could use to pass for an identity header.
    pub fn strip_identity(&self, h: &mut HeaderMap) {
        let p = self.prefix_lower.as_bytes();
        // Header names are lowercase already; `_` is read as `-`. No allocation when nothing
        // matches (the common case).
        let forged = |k: &HeaderName| {
            let n = k.as_str().as_bytes();
            n.len() >= p.len()
                && n.iter().zip(p).all(|(a, b)| {
                    let a = if *a == b'_' {
                        b'-'
                    } else {
                        a.to_ascii_lowercase()
                    };
                    a == *b
                })
        };
        if !h.keys().any(forged) {
            return;
        }
        let doomed: Vec<HeaderName> = h.keys().filter(|k| forged(k)).cloned().collect();
        for k in doomed {
            h.remove(&k);
        }
    }

    fn strip_own_cookies(&self, h: &mut HeaderMap) {
        if !h.contains_key(header::COOKIE) {
            return;
        }
        let mut kept = Vec::new();
        for v in h.get_all(header::COOKIE) {
            let Ok(s) = v.to_str() else { continue };
            for c in s.split(';') {
                let name = c.split('=').next().unwrap_or("").trim();
                if !self.cookie_names.iter().any(|n| n == name) && !c.trim().is_empty() {
                    kept.push(c.trim().to_string());
                }
            }
        }
        h.remove(header::COOKIE);
        if !kept.is_empty()
            && let Ok(v) = HeaderValue::from_str(&kept.join("; "))
        {
            h.insert(header::COOKIE, v);
        }
    }

    fn add_identity(&self, h: &mut HeaderMap, s: &Session) {
        let enc = self.encoded(s);
        for (name, value) in &enc.headers {
            h.insert(name.clone(), value.clone());
        }
    }

    /// The identity headers of `s`, from this thread's cache or encoded now.
    fn encoded(&self, s: &Session) -> Arc<Encoded> {
        let hit = IDENTITY_CACHE.with(|c| {
            c.borrow()
                .get(&self.id)
                .and_then(|m| m.get(&s.sid))
                .filter(|e| e.identity == s.identity)
                .cloned()
        });
        if let Some(e) = hit {
            return e;
        }
        let e = Arc::new(Encoded {
            identity: s.identity.clone(),
            headers: self.encode(s),
        });
        IDENTITY_CACHE.with(|c| {
            let mut c = c.borrow_mut();
            let m = c.entry(self.id).or_default();
            if m.len() >= IDENTITY_CACHE_MAX {
                m.clear();
            }
            m.insert(s.sid.clone(), e.clone());
        });
        e
    }

    fn encode(&self, s: &Session) -> Vec<(HeaderName, HeaderValue)> {
        let id = &s.identity;
        let mut out = Vec::with_capacity(self.fields.len());
        for (f, name) in self.fields.iter() {
            let value = match f {
                Field::Iin => HeaderValue::from_str(&id.iin),
                Field::Name => HeaderValue::from_str(&pct_encode(&id.name)),
                Field::Bin => match &id.bin {
                    Some(b) => HeaderValue::from_str(b),
                    None => continue,
                },
                Field::Org => match &id.org {
                    Some(o) => HeaderValue::from_str(&pct_encode(o)),
                    None => continue,
                },
                Field::Roles => HeaderValue::from_str(&id.roles.join(",")),
                Field::Serial => HeaderValue::from_str(&id.cert_serial),
                Field::Sid => HeaderValue::from_str(&s.sid),
            };
            if let Ok(v) = value {
                out.push((name.clone(), v));
            }
        }
        out
    }
}

/// Sends `req` on `route` and waits for the response headers: at most `route.first_byte` after
/// the last progress of the request body (a long upload is not a slow upstream).
async fn first_byte(
    route: &Route,
    req: Request<Body>,
    progress: &Progress,
    request_id: &str,
) -> Result<Response<super::pool::PooledBody>, UpstreamError> {
    let fut = route.pool.send(req);
    tokio::pin!(fut);
    let limit = route.first_byte;
    let r = loop {
        let deadline = progress.last() + limit;
        tokio::select! {
            r = &mut fut => break r,
            _ = tokio::time::sleep_until(deadline) => {
                if progress.last() + limit <= tokio::time::Instant::now() {
                    log_fault(route, request_id, UpstreamError::Timeout, "no response headers in time");
                    return Err(UpstreamError::Timeout);
                }
            }
        }
    };
    r.map_err(|e| {
        let kind = classify(&e);
        log_fault(route, request_id, kind, &chain(&e));
        kind
    })
}

/// A connect timeout is a 504 like a slow answer; everything else (refused, reset, TLS) a 502.
fn classify(e: &super::pool::PoolError) -> UpstreamError {
    let mut src: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = src {
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::TimedOut
        {
            return UpstreamError::Timeout;
        }
        src = s.source();
    }
    UpstreamError::Unavailable
}

fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        out.push_str(": ");
        out.push_str(&s.to_string());
        src = s.source();
    }
    out
}

fn log_fault(route: &Route, request_id: &str, kind: UpstreamError, detail: &str) {
    eprintln!(
        "eds-gateway: upstream {} route={:?} request_id={request_id}: {}",
        kind.code(),
        route.name,
        detail.chars().take(300).collect::<String>()
    );
}

fn strip_hop_by_hop(h: &mut HeaderMap) {
    // Headers named in Connection first (parsed only when there is one).
    if h.contains_key(header::CONNECTION) {
        let named: Vec<HeaderName> = h
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|s| s.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .filter_map(|s| HeaderName::from_bytes(s.to_ascii_lowercase().as_bytes()).ok())
            .collect();
        for n in named {
            h.remove(n);
        }
    }
    // One pass over the names present (compared, not hashed) instead of nine hashed removals:
    // most requests carry none of them, most responses one (`Connection`).
    let present: Vec<HeaderName> = h
        .keys()
        .filter(|k| HOP_BY_HOP.contains(k))
        .cloned()
        .collect();
    for n in present {
        h.remove(n);
    }
}

fn set_forwarded(h: &mut HeaderMap, f: &Forwarding<'_>) {
    const XFF: HeaderName = HeaderName::from_static("x-forwarded-for");
    const XFP: HeaderName = HeaderName::from_static("x-forwarded-proto");
    const XFH: HeaderName = HeaderName::from_static("x-forwarded-host");
    const RID: HeaderName = HeaderName::from_static("x-request-id");
    let xff = match h.get(&XFF).and_then(|v| v.to_str().ok()) {
        Some(prev) => HeaderValue::from_str(&format!("{prev}, {}", f.client_ip)).ok(),
        None if f.client_ip.is_empty() => None,
        None => HeaderValue::from_str(f.client_ip).ok(),
    };
    set_or_remove(h, XFF, xff);
    let proto = match f.proto {
        "https" => Some(HeaderValue::from_static("https")),
        "http" => Some(HeaderValue::from_static("http")),
        p => HeaderValue::from_str(p).ok().filter(|_| !p.is_empty()),
    };
    set_or_remove(h, XFP, proto);
    let host = f.host.filter(|v| !v.is_empty());
    set_or_remove(h, XFH, host.and_then(|v| HeaderValue::from_str(v).ok()));
    let rid = Some(f.request_id)
        .filter(|v| !v.is_empty())
        .and_then(|v| HeaderValue::from_str(v).ok());
    set_or_remove(h, RID, rid);
    let mut fwd = String::with_capacity(64);
    fwd.push_str("for=\"");
    fwd.push_str(f.client_ip);
    fwd.push_str("\";proto=");
    fwd.push_str(f.proto);
    if let Some(host) = f.host {
        fwd.push_str(";host=\"");
        fwd.extend(host.chars().filter(|c| *c != '"'));
        fwd.push('"');
    }
    set_or_remove(h, header::FORWARDED, HeaderValue::from_str(&fwd).ok());
}

/// Replaces every `name` header with `value` (or just removes them).
fn set_or_remove(h: &mut HeaderMap, name: HeaderName, value: Option<HeaderValue>) {
    match value {
        Some(v) => {
            h.insert(name, v);
        }
        None => {
            h.remove(name);
        }
    }
}

/// Percent-encodes everything outside unreserved ASCII (RFC 3986 §2.3), as UTF-8.
pub fn pct_encode(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 15)]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up() -> Upstream {
        Upstream::new(
            "http://127.0.0.1:9",
            "X-EDS-",
            &["iin".to_string()],
            &["__Host-eds-session"],
        )
        .expect("upstream")
    }

    #[test]
    fn client_identity_headers_are_removed_in_every_spelling() {
        let mut h = HeaderMap::new();
        for n in [
            "x-eds-iin",
            "X-EDS-IIN",
            "x_eds_iin",
            "X_Eds-Roles",
            "x-eds-anything",
        ] {
            h.append(
                HeaderName::from_bytes(n.as_bytes()).expect("name"),
                HeaderValue::from_static("forged"),
            );
        }
        h.insert("x-other", HeaderValue::from_static("kept"));
        up().strip_identity(&mut h);
        assert_eq!(h.len(), 1, "{h:?}");
    }

    #[test]
    fn own_cookies_are_cut_out_and_others_kept() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; __Host-eds-session=secret; b=2"),
        );
        up().strip_own_cookies(&mut h);
        assert_eq!(h.get(header::COOKIE).expect("cookie"), "a=1; b=2");
    }

    #[test]
    fn hop_by_hop_and_connection_named_headers_go() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("close, x-secret"),
        );
        h.insert("x-secret", HeaderValue::from_static("1"));
        h.insert("keep-alive", HeaderValue::from_static("1"));
        for n in [
            "Proxy-Connection",
            "TE",
            "Trailer",
            "Transfer-Encoding",
            "Upgrade",
        ] {
            h.append(
                HeaderName::from_bytes(n.as_bytes()).expect("name"),
                HeaderValue::from_static("x"),
            );
        }
        h.append("keep-alive", HeaderValue::from_static("2"));
        h.insert("x-fine", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut h);
        assert_eq!(h.len(), 1);
        assert!(h.contains_key("x-fine"));
    }

    #[test]
    fn cyrillic_names_are_percent_encoded() {
        assert_eq!(pct_encode("Ә b"), "%D3%98%20b");
    }
}

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
use axum::http::{Request, Response, StatusCode, Uri};
use hyper::body::Incoming;

use super::config::{Config, RouteSpec};
use super::routes::Route;
use super::stream::{IdleBody, Progress};
use crate::session::Session;

/// Hop-by-hop headers (RFC 9110 §7.6.1; Proxy-Connection and Keep-Alive as deployed).
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "proxy-connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
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
    prefix: String,
    fields: Vec<String>,
    cookie_names: Vec<String>,
}

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
        Ok(Upstream {
            routes: routes.into(),
            prefix_lower: header_prefix.to_ascii_lowercase().replace('_', "-"),
            prefix: header_prefix.to_string(),
            fields: fields.to_vec(),
            cookie_names: cookie_names.iter().map(|s| s.to_string()).collect(),
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
        let path_q = parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/");
        let uri: Uri = format!(
            "{}://{}{}{}",
            route.scheme, route.authority, route.base_path, path_q
        )
        .parse()
        .map_err(|_| UpstreamError::Unavailable)?;
        parts.uri = uri;
        parts.version = axum::http::Version::HTTP_11;
        let h = &mut parts.headers;
        strip_hop_by_hop(h);
        self.strip_identity(h);
        self.strip_own_cookies(h);
        set_forwarded(h, fwd);
        if let Some(s) = session {
            self.add_identity(h, s);
        }
        if let (Some(a), Ok(name), Some(_)) = (
            fwd.assertion,
            HeaderName::from_bytes(format!("{}Assertion", self.prefix).as_bytes()),
            session,
        ) && let Ok(v) = HeaderValue::from_str(a)
        {
            h.insert(name, v);
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
        let doomed: Vec<HeaderName> = h
            .keys()
            .filter(|k| {
                k.as_str()
                    .to_ascii_lowercase()
                    .replace('_', "-")
                    .starts_with(&self.prefix_lower)
            })
            .cloned()
            .collect();
        for k in doomed {
            h.remove(&k);
        }
    }

    fn strip_own_cookies(&self, h: &mut HeaderMap) {
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
        let id = &s.identity;
        for f in &self.fields {
            let value = match f.as_str() {
                "iin" => Some(id.iin.clone()),
                "name" => Some(pct_encode(&id.name)),
                "bin" => id.bin.clone(),
                "org" => id.org.as_deref().map(pct_encode),
                "roles" => Some(id.roles.join(",")),
                "serial" => Some(id.cert_serial.clone()),
                "sid" => Some(s.sid.clone()),
                _ => None,
            };
            let (Some(value), Ok(name)) = (
                value,
                HeaderName::from_bytes(format!("{}{}", self.prefix, f).as_bytes()),
            ) else {
                continue;
            };
            if let Ok(v) = HeaderValue::from_str(&value) {
                h.insert(name, v);
            }
        }
    }
}

/// Sends `req` on `route` and waits for the response headers: at most `route.first_byte` after
/// the last progress of the request body (a long upload is not a slow upstream).
async fn first_byte(
    route: &Route,
    req: Request<Body>,
    progress: &Progress,
    request_id: &str,
) -> Result<Response<Incoming>, UpstreamError> {
    let fut = route.client.request(req);
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
fn classify(e: &hyper_util::client::legacy::Error) -> UpstreamError {
    let mut src: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
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
    let named: Vec<String> = h
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|s| s.split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    for n in HOP_BY_HOP.iter().map(|s| s.to_string()).chain(named) {
        if let Ok(name) = HeaderName::from_bytes(n.as_bytes()) {
            h.remove(name);
        }
    }
}

fn set_forwarded(h: &mut HeaderMap, f: &Forwarding<'_>) {
    let xff = match h.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(prev) => format!("{prev}, {}", f.client_ip),
        None => f.client_ip.to_string(),
    };
    let pairs = [
        ("x-forwarded-for", xff),
        ("x-forwarded-proto", f.proto.to_string()),
        ("x-forwarded-host", f.host.unwrap_or("").to_string()),
        ("x-request-id", f.request_id.to_string()),
        (
            "forwarded",
            format!(
                "for=\"{}\";proto={}{}",
                f.client_ip,
                f.proto,
                f.host
                    .map(|h| format!(";host=\"{}\"", h.replace('"', "")))
                    .unwrap_or_default()
            ),
        ),
    ];
    for (k, v) in pairs {
        h.remove(k);
        if v.is_empty() {
            continue;
        }
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(HeaderName::from_static(k), v);
        }
    }
}

/// Percent-encodes everything outside unreserved ASCII (RFC 3986 §2.3), as UTF-8.
pub fn pct_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
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

//! Routes: which upstream a path goes to (longest prefix wins), and the pooled client of each
//! route — plain HTTP/1.1, or TLS with rustls against the route's own CA file only (no system
//! roots: the MIS is inside the hospital, its CA is named in the config).

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::Uri;
use axum::http::uri::{Authority, PathAndQuery, Scheme};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio_rustls::rustls;

use super::config::RouteSpec;

/// The client every route uses: hyper-util's pooled legacy client over hyper-rustls.
pub type UpstreamClient = Client<HttpsConnector<HttpConnector>, Body>;

/// One route, ready to forward.
#[derive(Clone)]
pub struct Route {
    /// Metrics label.
    pub name: String,
    /// Path prefix.
    pub prefix: String,
    /// Pooled connections to this route's upstream (one pool per route), used on a
    /// multi-threaded runtime; each single-threaded worker runtime (`server.workers` ≥ 1) gets
    /// its own pool from [`Route::client`].
    pub client: UpstreamClient,
    connector: HttpsConnector<HttpConnector>,
    /// Key of this route in the per-thread client table.
    id: u64,
    /// `http` or `https`.
    pub scheme: String,
    scheme_parsed: Scheme,
    /// `host:port` of the upstream.
    pub authority: String,
    authority_parsed: Authority,
    /// The upstream URL's path, without a trailing `/`.
    pub base_path: String,
    /// Send the client's Host (else the upstream's authority).
    pub preserve_host: bool,
    /// Connect + TLS handshake limit (also inside `first_byte`).
    pub connect: Duration,
    /// Response headers must come within this after the request body was sent.
    pub first_byte: Duration,
    /// Longest silence while a body streams, or on a WebSocket.
    pub idle: Duration,
    /// Pass WebSocket upgrades through.
    pub websocket: bool,
}

impl Route {
    /// Builds the route and its client. `Err` says what is wrong, naming the route.
    pub fn build(spec: &RouteSpec) -> Result<Route, String> {
        let what = format!("route {:?} ({})", spec.name, spec.url);
        let uri: Uri = spec
            .url
            .parse()
            .map_err(|e| format!("{what}: bad URL: {e}"))?;
        let scheme = uri.scheme_str().unwrap_or("http").to_string();
        let authority = uri
            .authority()
            .map(|a| a.to_string())
            .ok_or_else(|| format!("{what}: no host"))?;
        let tls = match (scheme.as_str(), &spec.ca_file) {
            ("https", Some(ca)) => tls_config(ca).map_err(|e| format!("{what}: {e}"))?,
            ("https", None) => return Err(format!("{what}: https needs ca_file")),
            ("http", _) => tls_config_empty()?,
            (s, _) => return Err(format!("{what}: scheme {s:?}: http or https")),
        };
        let connect = Duration::from_secs(spec.connect_timeout_secs);
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(connect));
        http.set_nodelay(true);
        let builder = hyper_rustls::HttpsConnectorBuilder::new().with_tls_config(tls);
        let connector = if scheme == "https" {
            builder.https_only().enable_http1().wrap_connector(http)
        } else {
            builder.https_or_http().enable_http1().wrap_connector(http)
        };
        let client = new_client(connector.clone());
        let scheme_parsed = uri.scheme().cloned().unwrap_or(Scheme::HTTP);
        let authority_parsed = uri
            .authority()
            .cloned()
            .ok_or_else(|| format!("{what}: no host"))?;
        Ok(Route {
            name: spec.name.clone(),
            prefix: spec.prefix.clone(),
            client,
            connector,
            id: NEXT_ROUTE_ID.fetch_add(1, Ordering::Relaxed),
            scheme,
            scheme_parsed,
            authority,
            authority_parsed,
            base_path: uri.path().trim_end_matches('/').to_string(),
            preserve_host: spec.preserve_host,
            connect,
            first_byte: Duration::from_secs(spec.first_byte_timeout_secs),
            idle: Duration::from_secs(spec.idle_timeout_secs),
            websocket: spec.websocket,
        })
    }
}

fn new_client(connector: HttpsConnector<HttpConnector>) -> UpstreamClient {
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(256)
        .build(connector)
}

static NEXT_ROUTE_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// Route id → this thread's client (single-threaded runtimes only).
    static WORKER_CLIENTS: RefCell<HashMap<u64, UpstreamClient>> = RefCell::new(HashMap::new());
}

impl Route {
    /// The client to use from here: on a single-threaded runtime (one per worker thread, see
    /// `listener.rs`) a pool of this thread's own, so a pooled upstream connection is always
    /// driven by the runtime that uses it (no cross-thread wake-ups, and no pooled connection
    /// whose task died with another worker's runtime); elsewhere the route's shared pool.
    pub fn client(&self) -> UpstreamClient {
        let current_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread);
        if !current_thread {
            return self.client.clone();
        }
        WORKER_CLIENTS.with(|c| {
            c.borrow_mut()
                .entry(self.id)
                .or_insert_with(|| new_client(self.connector.clone()))
                .clone()
        })
    }

    /// The upstream URI for a request to `uri` (its path and query under the route's base).
    pub fn target(&self, uri: &Uri) -> Result<Uri, super::upstream::UpstreamError> {
        let pq = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
        let mut parts = axum::http::uri::Parts::default();
        parts.scheme = Some(self.scheme_parsed.clone());
        parts.authority = Some(self.authority_parsed.clone());
        parts.path_and_query = Some(if self.base_path.is_empty() {
            match uri.path_and_query() {
                Some(p) => p.clone(),
                None => PathAndQuery::from_static("/"),
            }
        } else {
            let mut s = String::with_capacity(self.base_path.len() + pq.len());
            s.push_str(&self.base_path);
            s.push_str(pq);
            PathAndQuery::try_from(s).map_err(|_| super::upstream::UpstreamError::Unavailable)?
        });
        Uri::from_parts(parts).map_err(|_| super::upstream::UpstreamError::Unavailable)
    }
}

/// Does `prefix` cover `path`? `/lab/` covers `/lab/x`; `/lab` covers `/lab`, `/lab/x` and
/// `/lab?q`, not `/laboratory`.
pub fn covers(prefix: &str, path: &str) -> bool {
    match path.strip_prefix(prefix) {
        None => false,
        Some(rest) => prefix.ends_with('/') || rest.is_empty() || rest.starts_with('/'),
    }
}

/// The index of the route for `path` among `prefixes` (sorted longest first, `/` last).
pub fn pick<'a>(prefixes: impl Iterator<Item = &'a str>, path: &str) -> Option<usize> {
    prefixes.into_iter().position(|p| covers(p, path))
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Client TLS trusting exactly the certificates in `ca` (PEM), TLS 1.2/1.3, HTTP/1.1 by ALPN.
fn tls_config(ca: &Path) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    let iter =
        CertificateDer::pem_file_iter(ca).map_err(|e| format!("ca_file {}: {e}", ca.display()))?;
    for c in iter {
        let c = c.map_err(|e| format!("ca_file {}: {e}", ca.display()))?;
        roots
            .add(c)
            .map_err(|e| format!("ca_file {}: {e}", ca.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("ca_file {}: no certificate in it", ca.display()));
    }
    Ok(rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// For plain-http routes (the connector type is shared; this config is never used).
fn tls_config_empty() -> Result<rustls::ClientConfig, String> {
    Ok(rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_cover_whole_segments_only() {
        assert!(covers("/lab/", "/lab/x"));
        assert!(!covers("/lab/", "/lab"));
        assert!(covers("/lab", "/lab"));
        assert!(covers("/lab", "/lab/x"));
        assert!(!covers("/lab", "/laboratory"));
        assert!(covers("/", "/anything"));
    }

    #[test]
    fn the_longest_prefix_wins() {
        let prefixes = ["/lab/results/", "/lab/", "/"];
        assert_eq!(pick(prefixes.into_iter(), "/lab/results/7"), Some(0));
        assert_eq!(pick(prefixes.into_iter(), "/lab/orders"), Some(1));
        assert_eq!(pick(prefixes.into_iter(), "/ward"), Some(2));
    }
}

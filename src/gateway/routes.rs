//! Routes: which upstream a path goes to (longest prefix wins), and the connection pool of each
//! route (`pool.rs`) — plain HTTP/1.1, or TLS with rustls against the route's own CA file only
//! (no system roots: the MIS is inside the hospital, its CA is named in the config).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::http::Uri;
use axum::http::uri::PathAndQuery;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject;
use tokio_rustls::rustls;

use super::config::RouteSpec;
use super::pool::Connector;

/// One route, ready to forward.
#[derive(Clone)]
pub struct Route {
    /// Metrics label.
    pub name: String,
    /// Path prefix.
    pub prefix: String,
    /// Connections to this route's upstream, pooled per thread.
    pub pool: Connector,
    /// `http` or `https`.
    pub scheme: String,
    /// `host:port` of the upstream.
    pub authority: String,
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
        let (tls, default_port) = match (scheme.as_str(), &spec.ca_file) {
            ("https", Some(ca)) => (
                Some(tls_config(ca).map_err(|e| format!("{what}: {e}"))?),
                443,
            ),
            ("https", None) => return Err(format!("{what}: https needs ca_file")),
            ("http", _) => (None, 80),
            (s, _) => return Err(format!("{what}: scheme {s:?}: http or https")),
        };
        let connect = Duration::from_secs(spec.connect_timeout_secs);
        let host = uri.host().ok_or_else(|| format!("{what}: no host"))?;
        let port = uri.port_u16().unwrap_or(default_port);
        let pool = Connector::new(host, port, tls, connect).map_err(|e| format!("{what}: {e}"))?;
        Ok(Route {
            name: spec.name.clone(),
            prefix: spec.prefix.clone(),
            pool,
            scheme,
            authority,
            base_path: uri.path().trim_end_matches('/').to_string(),
            preserve_host: spec.preserve_host,
            connect,
            first_byte: Duration::from_secs(spec.first_byte_timeout_secs),
            idle: Duration::from_secs(spec.idle_timeout_secs),
            websocket: spec.websocket,
        })
    }
}

impl Route {
    /// The upstream request target for a request to `uri`: its path and query under the
    /// route's base, in origin form (`/base/path?query`; the upstream's authority goes in Host).
    pub fn target(&self, uri: &Uri) -> Result<Uri, super::upstream::UpstreamError> {
        let pq = if self.base_path.is_empty() {
            match uri.path_and_query() {
                Some(p) => p.clone(),
                None => PathAndQuery::from_static("/"),
            }
        } else {
            let pq = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
            let mut s = String::with_capacity(self.base_path.len() + pq.len());
            s.push_str(&self.base_path);
            s.push_str(pq);
            PathAndQuery::try_from(s).map_err(|_| super::upstream::UpstreamError::Unavailable)?
        };
        Ok(Uri::from(pq))
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

//! The HTTP side of the online layer: one `reqwest` client with a non-empty User-Agent, connect
//! and total timeouts, bounded redirects, and size-capped, streaming bodies. Errors are named
//! (stable codes) so the policy can say *why* a source was unusable.
//!
//! NCA quirk (../shared/NCA.md §1.6): an empty User-Agent gets a 303 to a captive portal on the
//! way to test.pki.gov.kz, so the User-Agent is never empty (an empty configured value falls back
//! to the default).

use std::fmt;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::header::{
    CONTENT_TYPE, ETAG, HeaderMap, HeaderValue, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED,
};

/// Default User-Agent.
pub const DEFAULT_USER_AGENT: &str = concat!("eds-gateway/", env!("CARGO_PKG_VERSION"));

/// HTTP settings shared by OCSP and CRL fetches.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// User-Agent (never sent empty).
    pub user_agent: String,
    /// TCP (and TLS) connect timeout.
    pub connect_timeout: Duration,
    /// Whole-request timeout for OCSP (headers and body).
    pub total_timeout: Duration,
    /// Whole-request timeout for CRL downloads (a 21 MB CRL on a slow link needs more).
    pub download_timeout: Duration,
    /// Most redirects followed.
    pub max_redirects: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            user_agent: DEFAULT_USER_AGENT.to_string(),
            connect_timeout: Duration::from_secs(3),
            total_timeout: Duration::from_secs(5),
            download_timeout: Duration::from_secs(120),
            max_redirects: 3,
        }
    }
}

/// Why a fetch failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchError {
    /// Could not connect (refused, DNS, TLS).
    Connect(String),
    /// The connect or total timeout passed.
    Timeout,
    /// A non-success HTTP status.
    Status(u16),
    /// The body is larger than the cap.
    TooLarge {
        /// The cap, bytes.
        limit: usize,
    },
    /// The body ended early or broke off.
    Body(String),
    /// Anything else reqwest reports (bad URL, redirect loop...).
    Other(String),
}

impl FetchError {
    /// Stable reason code (without the source prefix).
    pub fn code(&self) -> &'static str {
        match self {
            FetchError::Connect(_) => "unreachable",
            FetchError::Timeout => "timeout",
            FetchError::Status(s) if *s >= 500 => "http_5xx",
            FetchError::Status(404) => "http_404",
            FetchError::Status(_) => "http_status",
            FetchError::TooLarge { .. } => "too_large",
            FetchError::Body(_) => "truncated",
            FetchError::Other(_) => "fetch_failed",
        }
    }

    /// True for failures worth retrying (5xx, connect errors).
    pub fn retryable(&self) -> bool {
        matches!(self, FetchError::Connect(_)) || matches!(self, FetchError::Status(s) if *s >= 500)
    }
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::Connect(e) => write!(f, "cannot connect: {e}"),
            FetchError::Timeout => f.write_str("timed out"),
            FetchError::Status(s) => write!(f, "HTTP status {s}"),
            FetchError::TooLarge { limit } => write!(f, "body larger than {limit} bytes"),
            FetchError::Body(e) => write!(f, "body broke off: {e}"),
            FetchError::Other(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for FetchError {}

fn classify(e: &reqwest::Error) -> FetchError {
    // The full chain: reqwest's own Display hides the cause ("error sending request").
    let mut detail = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        detail.push_str(": ");
        detail.push_str(&s.to_string());
        src = s.source();
    }
    if e.is_timeout() {
        FetchError::Timeout
    } else if e.is_connect() {
        FetchError::Connect(detail)
    } else if e.is_body() || e.is_decode() {
        FetchError::Body(detail)
    } else {
        FetchError::Other(detail)
    }
}

/// Validators for a conditional GET (RFC 9110 §13).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Validators {
    /// ETag of the last 200.
    pub etag: Option<String>,
    /// Last-Modified of the last 200.
    pub last_modified: Option<String>,
}

/// What a GET gave.
#[derive(Debug)]
pub enum GetOutcome {
    /// 304: what we have is current.
    NotModified,
    /// 200 with the whole body.
    Body {
        /// The bytes.
        bytes: Vec<u8>,
        /// Validators for next time.
        validators: Validators,
    },
}

/// The client. Cheap to clone (reqwest's client is an `Arc` inside).
#[derive(Clone, Debug)]
pub struct Http {
    client: reqwest::Client,
    config: HttpConfig,
}

impl Http {
    /// Builds the client.
    pub fn new(config: HttpConfig) -> Result<Http, FetchError> {
        let ua = if config.user_agent.trim().is_empty() {
            DEFAULT_USER_AGENT.to_string()
        } else {
            config.user_agent.clone()
        };
        let client = reqwest::Client::builder()
            .user_agent(ua)
            .connect_timeout(config.connect_timeout)
            .redirect(reqwest::redirect::Policy::limited(config.max_redirects))
            .build()
            .map_err(|e| FetchError::Other(e.to_string()))?;
        Ok(Http { client, config })
    }

    /// The settings.
    pub fn config(&self) -> &HttpConfig {
        &self.config
    }

    /// POSTs an OCSP request; returns the body (at most `limit` bytes) of a 200.
    pub async fn post_ocsp(
        &self,
        url: &str,
        body: Vec<u8>,
        limit: usize,
    ) -> Result<Vec<u8>, FetchError> {
        let fut = async {
            let resp = self
                .client
                .post(url)
                .header(CONTENT_TYPE, "application/ocsp-request")
                .header(reqwest::header::ACCEPT, "application/ocsp-response")
                .body(body)
                .send()
                .await
                .map_err(|e| classify(&e))?;
            if resp.status() != StatusCode::OK {
                return Err(FetchError::Status(resp.status().as_u16()));
            }
            read_capped(resp, limit, &mut |_, _| {}).await
        };
        tokio::time::timeout(self.config.total_timeout, fut)
            .await
            .map_err(|_| FetchError::Timeout)?
    }

    /// GETs `url` (conditionally when validators are given), streaming the body with a size cap
    /// and reporting progress as (received, expected total) to `progress`.
    pub async fn get(
        &self,
        url: &str,
        validators: Option<&Validators>,
        limit: usize,
        progress: &mut (dyn FnMut(u64, Option<u64>) + Send),
    ) -> Result<GetOutcome, FetchError> {
        let fut = async {
            let mut req = self.client.get(url);
            if let Some(v) = validators {
                if let Some(e) = &v.etag {
                    req = req.header(IF_NONE_MATCH, e.as_str());
                }
                if let Some(m) = &v.last_modified {
                    req = req.header(IF_MODIFIED_SINCE, m.as_str());
                }
            }
            let resp = req.send().await.map_err(|e| classify(&e))?;
            if resp.status() == StatusCode::NOT_MODIFIED {
                return Ok(GetOutcome::NotModified);
            }
            if resp.status() != StatusCode::OK {
                return Err(FetchError::Status(resp.status().as_u16()));
            }
            let validators = Validators {
                etag: header(resp.headers(), ETAG),
                last_modified: header(resp.headers(), LAST_MODIFIED),
            };
            let bytes = read_capped(resp, limit, progress).await?;
            Ok(GetOutcome::Body { bytes, validators })
        };
        tokio::time::timeout(self.config.download_timeout, fut)
            .await
            .map_err(|_| FetchError::Timeout)?
    }
}

fn header(h: &HeaderMap<HeaderValue>, name: reqwest::header::HeaderName) -> Option<String> {
    h.get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn read_capped(
    mut resp: reqwest::Response,
    limit: usize,
    progress: &mut (dyn FnMut(u64, Option<u64>) + Send),
) -> Result<Vec<u8>, FetchError> {
    let expected = resp.content_length();
    if expected.is_some_and(|n| n > limit as u64) {
        return Err(FetchError::TooLarge { limit });
    }
    let mut out = Vec::with_capacity(expected.map_or(0, |n| n as usize));
    while let Some(chunk) = resp.chunk().await.map_err(|e| classify(&e))? {
        if out.len() + chunk.len() > limit {
            return Err(FetchError::TooLarge { limit });
        }
        out.extend_from_slice(&chunk);
        progress(out.len() as u64, expected);
    }
    if let Some(n) = expected
        && n != out.len() as u64
    {
        return Err(FetchError::Body(format!(
            "{} of {n} bytes received",
            out.len()
        )));
    }
    Ok(out)
}

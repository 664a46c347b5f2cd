//! OCSP client: builds the request ([`super::ocsp_request`]), POSTs it with retries, has the core
//! ([`crate::pki::ocsp::check`]) judge the response, and caches the judgement.
//!
//! - URL: the configured per-issuer override, else the global override, else the certificate's
//!   AIA id-ad-ocsp URL (NCA's own NCANode ignores AIA and uses a configured URL; both work here).
//! - Retries: at most `retries` more attempts after tryLater, an HTTP 5xx, responder
//!   internalError, or a connect error, with exponential backoff from `backoff`. A timeout is not
//!   retried: the time budget is spent.
//! - Cache, keyed by the DER CertID: a judged answer is kept until nextUpdate, or `max_age` past
//!   thisUpdate when the responder gives none (NCA); "unknown" and failures are kept for
//!   `negative_ttl` so a flood of logins does not hammer a failing responder.
//! - Single-flight: one request per CertID in flight; concurrent callers wait for it and read
//!   the cache it filled.
//! - The last time a "good" was received is kept per certificate: the soft-fail anchor.
//! - Counters for `/eds/metrics` ([`OcspStats`]): lookups answered by the cache or the
//!   responder, the outcome of every responder lookup, the time spent on them, and per responder
//!   URL when it last gave a usable answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::pki::cert::Certificate;
use crate::pki::ocsp::{self, OcspCheckOptions, OcspError, OcspResponse, OcspStatus};
use crate::pki::signature::SignaturePolicy;
use crate::pki::time::UnixTime;

use super::http::{FetchError, Http};
use super::ocsp_request::{self, CertIdHash};
use super::policy::{Answer, Condition, Freshness, Outcome, Report, Source};

/// Per-issuer OCSP settings (NCA: SHA-256 CertID, configured URL).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IssuerOcsp {
    /// CertID hash for this issuer.
    pub hash: Option<CertIdHash>,
    /// Responder URL for this issuer.
    pub url: Option<String>,
}

/// OCSP client settings.
#[derive(Clone, Debug)]
pub struct OcspConfig {
    /// Responder URL used for every issuer without its own (instead of AIA).
    pub url_override: Option<String>,
    /// Default CertID hash.
    pub hash: CertIdHash,
    /// Per issuer, keyed by the issuer's subject as `DistinguishedName::to_display_string`.
    pub per_issuer: HashMap<String, IssuerOcsp>,
    /// Send a nonce (and require it echoed).
    pub nonce: bool,
    /// Cache lifetime (and largest accepted age) of a response without nextUpdate.
    pub max_age: Duration,
    /// Lifetime of cached failures and "unknown".
    pub negative_ttl: Duration,
    /// Extra attempts after a retryable failure.
    pub retries: u32,
    /// First backoff; doubles per attempt.
    pub backoff: Duration,
    /// Signature policy for responses.
    pub signature: SignaturePolicy,
}

impl Default for OcspConfig {
    fn default() -> Self {
        OcspConfig {
            url_override: None,
            hash: CertIdHash::Sha1,
            per_issuer: HashMap::new(),
            nonce: true,
            max_age: Duration::from_secs(300),
            negative_ttl: Duration::from_secs(30),
            retries: 2,
            backoff: Duration::from_millis(200),
            signature: SignaturePolicy::default(),
        }
    }
}

/// A judged answer.
#[derive(Clone, Debug)]
pub struct OcspAnswer {
    /// The core's verdict on the response.
    pub status: OcspStatus,
    /// thisUpdate of the SingleResponse.
    pub this_update: UnixTime,
    /// nextUpdate, if any.
    pub next_update: Option<UnixTime>,
    /// When we received it.
    pub fetched_at: UnixTime,
    /// Until when the cache serves it.
    pub expires_at: UnixTime,
    /// Responder URL.
    pub url: String,
    /// The DER response (for `verify --online` evidence and `revocation status`).
    pub der: Arc<Vec<u8>>,
    /// The nonce we sent, if any.
    pub nonce: Option<Vec<u8>>,
}

/// Why no answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OcspFailure {
    /// Policy condition.
    pub condition: Condition,
    /// Stable code.
    pub code: &'static str,
    /// Detail.
    pub detail: String,
}

/// What [`OcspClient::status`] returns.
#[derive(Clone, Debug)]
pub struct OcspResult {
    /// The answer or the failure.
    pub result: Result<OcspAnswer, OcspFailure>,
    /// From the cache?
    pub freshness: Freshness,
    /// Last time a "good" was received for this certificate.
    pub last_good: Option<UnixTime>,
}

impl OcspResult {
    /// As a policy report at `now`.
    pub fn report(&self, now: UnixTime) -> Report {
        let (outcome, age) = match &self.result {
            Ok(a) => {
                let age = Some(now.0 - a.this_update.0);
                let outcome = match &a.status {
                    OcspStatus::Good { .. } => Outcome::Answer(Answer::Good),
                    OcspStatus::Revoked { time, reason } => Outcome::Answer(Answer::Revoked {
                        time: *time,
                        reason: reason.map(|r| r.name()),
                    }),
                    OcspStatus::Unknown => Outcome::Condition {
                        condition: Condition::UnknownStatus,
                        code: "ocsp_status_unknown",
                        detail: format!("the responder at {} does not know the certificate", a.url),
                    },
                };
                (outcome, age)
            }
            Err(f) => (
                Outcome::Condition {
                    condition: f.condition,
                    code: f.code,
                    detail: f.detail.clone(),
                },
                None,
            ),
        };
        Report {
            source: Source::Ocsp,
            outcome,
            freshness: self.freshness,
            age_secs: age,
            last_good: self.last_good,
        }
    }
}

#[derive(Default)]
struct Slot {
    answer: Option<OcspAnswer>,
    failure: Option<(OcspFailure, UnixTime)>,
    last_good: Option<UnixTime>,
}

/// The client. Share it behind an `Arc`.
pub struct OcspClient {
    http: Http,
    config: OcspConfig,
    cache: Mutex<HashMap<Vec<u8>, Slot>>,
    inflight: Mutex<HashMap<Vec<u8>, Arc<tokio::sync::Mutex<()>>>>,
    requests: std::sync::atomic::AtomicU64,
    stats: Arc<Mutex<OcspStats>>,
}

/// Responder URLs remembered in [`OcspStats::last_answer`] at most (URLs come from certificates
/// of trusted issuers or the config; the bound only keeps the map small whatever they hold).
const MAX_TRACKED_RESPONDERS: usize = 64;

/// What the client has done since it started (shared by clients made with
/// [`OcspClient::fresh_cache`]).
#[derive(Clone, Debug, Default)]
pub struct OcspStats {
    /// Lookups answered from the cache (a judged answer or a remembered failure).
    pub cache_hits: u64,
    /// Lookups that went to the responder, by outcome: `good`, `revoked`, `unknown`, or the
    /// failure's reason code (`ocsp_timeout`, `ocsp_unreachable`, …).
    pub responder: HashMap<&'static str, u64>,
    /// Seconds spent on responder lookups (retries and backoff included), and their number.
    pub responder_seconds: f64,
    /// Responder URL → when it last gave a judged answer (good, revoked or unknown).
    pub last_answer: HashMap<String, UnixTime>,
}

impl OcspStats {
    /// Responder lookups in all.
    pub fn responder_lookups(&self) -> u64 {
        self.responder.values().sum()
    }
}

fn fail(condition: Condition, code: &'static str, detail: impl Into<String>) -> OcspFailure {
    OcspFailure {
        condition,
        code,
        detail: detail.into(),
    }
}

fn fetch_failure(e: &FetchError, url: &str) -> OcspFailure {
    let code = match e {
        FetchError::Connect(_) => "ocsp_unreachable",
        FetchError::Timeout => "ocsp_timeout",
        FetchError::Status(s) if *s >= 500 => "ocsp_http_5xx",
        FetchError::Status(_) => "ocsp_http_status",
        FetchError::TooLarge { .. } => "ocsp_too_large",
        FetchError::Body(_) => "ocsp_truncated",
        FetchError::Other(_) => "ocsp_fetch_failed",
    };
    fail(Condition::Unreachable, code, format!("{url}: {e}"))
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl OcspClient {
    /// A client over `http`.
    pub fn new(http: Http, config: OcspConfig) -> OcspClient {
        OcspClient {
            http,
            config,
            cache: Mutex::new(HashMap::new()),
            inflight: Mutex::new(HashMap::new()),
            requests: std::sync::atomic::AtomicU64::new(0),
            stats: Arc::new(Mutex::new(OcspStats::default())),
        }
    }

    /// A client with the same settings and counters but an empty cache, over `http` (the
    /// re-check pass that must ask the responders again).
    pub fn fresh_cache(&self, http: Http) -> OcspClient {
        let mut c = OcspClient::new(http, self.config.clone());
        c.stats = self.stats.clone();
        c
    }

    /// A copy of the counters.
    pub fn stats(&self) -> OcspStats {
        lock(&self.stats).clone()
    }

    /// The settings.
    pub fn config(&self) -> &OcspConfig {
        &self.config
    }

    /// How many HTTP requests were sent so far (for tests and metrics).
    pub fn requests_sent(&self) -> u64 {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The responder URL and CertID hash for `cert` issued by `issuer`.
    pub fn target(&self, cert: &Certificate, issuer: &Certificate) -> (Option<String>, CertIdHash) {
        let per = self
            .config
            .per_issuer
            .get(&issuer.subject.to_display_string());
        let hash = per.and_then(|p| p.hash).unwrap_or(self.config.hash);
        let url = per
            .and_then(|p| p.url.clone())
            .or_else(|| self.config.url_override.clone())
            .or_else(|| cert.extensions.ocsp_urls.first().cloned());
        (url, hash)
    }

    /// The status of `cert` issued by `issuer` (which the caller trusts) at `now`: from the
    /// cache, or from the responder (one request in flight per certificate).
    pub async fn status(
        &self,
        cert: &Certificate,
        issuer: &Certificate,
        now: UnixTime,
    ) -> OcspResult {
        let (url, hash) = self.target(cert, issuer);
        let Some(url) = url else {
            return OcspResult {
                result: Err(fail(
                    Condition::NoUrl,
                    "ocsp_no_url",
                    "the certificate names no OCSP responder and none is configured",
                )),
                freshness: Freshness::Fresh,
                last_good: None,
            };
        };
        let key = match ocsp_request::cert_id_der(cert, issuer, hash) {
            Ok(k) => k,
            Err(e) => {
                return OcspResult {
                    result: Err(fail(Condition::InvalidResponse, e.code(), e.to_string())),
                    freshness: Freshness::Fresh,
                    last_good: None,
                };
            }
        };
        if let Some(hit) = self.cached(&key, now) {
            lock(&self.stats).cache_hits += 1;
            return hit;
        }
        // Single-flight: the first caller fetches, the others wait here and then hit the cache.
        let gate = {
            let mut map = lock(&self.inflight);
            map.entry(key.clone())
                .or_insert_with(|| Arc::new(tokio::sync::Mutex::new(())))
                .clone()
        };
        let out = {
            let _held = gate.lock().await;
            match self.cached(&key, now) {
                Some(hit) => {
                    lock(&self.stats).cache_hits += 1;
                    hit
                }
                None => {
                    let started = std::time::Instant::now();
                    let result = self.fetch(cert, issuer, &url, hash, now).await;
                    self.count(&url, &result, started.elapsed(), now);
                    self.store(&key, result, now)
                }
            }
        };
        {
            let mut map = lock(&self.inflight);
            // Ours and the map's: nobody else is waiting on this gate.
            if Arc::strong_count(&gate) <= 2 {
                map.remove(&key);
            }
        }
        out
    }

    fn count(
        &self,
        url: &str,
        result: &Result<OcspAnswer, OcspFailure>,
        took: Duration,
        now: UnixTime,
    ) {
        let outcome = match result {
            Ok(a) => match a.status {
                OcspStatus::Good { .. } => "good",
                OcspStatus::Revoked { .. } => "revoked",
                OcspStatus::Unknown => "unknown",
            },
            Err(f) => f.code,
        };
        let mut st = lock(&self.stats);
        *st.responder.entry(outcome).or_default() += 1;
        st.responder_seconds += took.as_secs_f64();
        if result.is_ok()
            && (st.last_answer.len() < MAX_TRACKED_RESPONDERS || st.last_answer.contains_key(url))
        {
            st.last_answer.insert(url.to_string(), now);
        }
    }

    fn cached(&self, key: &[u8], now: UnixTime) -> Option<OcspResult> {
        let cache = lock(&self.cache);
        let slot = cache.get(key)?;
        if let Some(a) = &slot.answer
            && now < a.expires_at
            && now.0 >= a.fetched_at.0
        {
            return Some(OcspResult {
                result: Ok(a.clone()),
                freshness: Freshness::Cached,
                last_good: slot.last_good,
            });
        }
        if let Some((f, until)) = &slot.failure
            && now < *until
        {
            return Some(OcspResult {
                result: Err(f.clone()),
                freshness: Freshness::Cached,
                last_good: slot.last_good,
            });
        }
        None
    }

    fn store(
        &self,
        key: &[u8],
        result: Result<OcspAnswer, OcspFailure>,
        now: UnixTime,
    ) -> OcspResult {
        let negative = i64::try_from(self.config.negative_ttl.as_secs()).unwrap_or(i64::MAX);
        let mut cache = lock(&self.cache);
        let slot = cache.entry(key.to_vec()).or_default();
        match &result {
            Ok(a) => {
                if matches!(a.status, OcspStatus::Good { .. }) {
                    slot.last_good = Some(a.fetched_at);
                }
                let mut a = a.clone();
                if matches!(a.status, OcspStatus::Unknown) {
                    a.expires_at = a.expires_at.min(now.plus_seconds(negative));
                }
                slot.answer = Some(a);
                slot.failure = None;
            }
            Err(f) => {
                slot.failure = Some((f.clone(), now.plus_seconds(negative)));
            }
        }
        OcspResult {
            result,
            freshness: Freshness::Fresh,
            last_good: slot.last_good,
        }
    }

    async fn fetch(
        &self,
        cert: &Certificate,
        issuer: &Certificate,
        url: &str,
        hash: CertIdHash,
        now: UnixTime,
    ) -> Result<OcspAnswer, OcspFailure> {
        let mut last: Option<OcspFailure> = None;
        for attempt in 0..=self.config.retries {
            if attempt > 0 {
                let factor = 1u32 << (attempt - 1).min(10);
                tokio::time::sleep(self.config.backoff.saturating_mul(factor)).await;
            }
            let nonce = if self.config.nonce {
                let mut n = [0u8; 16];
                getrandom::fill(&mut n).map_err(|e| {
                    fail(Condition::Unreachable, "ocsp_no_randomness", e.to_string())
                })?;
                Some(n.to_vec())
            } else {
                None
            };
            let request = ocsp_request::build(cert, issuer, hash, nonce.as_deref())
                .map_err(|e| fail(Condition::InvalidResponse, e.code(), e.to_string()))?;
            self.requests
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let body = match self
                .http
                .post_ocsp(url, request, ocsp::MAX_RESPONSE_SIZE)
                .await
            {
                Ok(b) => b,
                Err(e) => {
                    let retry = e.retryable();
                    let f = fetch_failure(&e, url);
                    if retry {
                        last = Some(f);
                        continue;
                    }
                    return Err(f);
                }
            };
            let resp = match OcspResponse::parse(&body) {
                Ok(r) => r,
                Err(OcspError::TryLater) => {
                    last = Some(fail(
                        Condition::TryLater,
                        "ocsp_try_later",
                        format!("{url}: the responder asks to try later"),
                    ));
                    continue;
                }
                Err(OcspError::InternalError) => {
                    last = Some(fail(
                        Condition::Unreachable,
                        "ocsp_internal_error",
                        format!("{url}: the responder reported an internal error"),
                    ));
                    continue;
                }
                Err(e) => {
                    return Err(fail(
                        Condition::Unreachable,
                        e.code(),
                        format!("{url}: {e}"),
                    ));
                }
            };
            let opts = OcspCheckOptions {
                policy: self.config.signature,
                max_age_secs: Some(self.config.max_age.as_secs()),
                expected_nonce: nonce.clone(),
                ..OcspCheckOptions::default()
            };
            let status = ocsp::check(&resp, cert, issuer, now, &opts)
                .map_err(|e| fail(Condition::InvalidResponse, e.code(), format!("{url}: {e}")))?;
            let single = resp
                .find(cert, issuer)
                .map_err(|e| fail(Condition::InvalidResponse, e.code(), e.to_string()))?;
            let max_age = i64::try_from(self.config.max_age.as_secs()).unwrap_or(i64::MAX);
            let expires_at = single
                .next_update
                .unwrap_or_else(|| single.this_update.plus_seconds(max_age));
            return Ok(OcspAnswer {
                status,
                this_update: single.this_update,
                next_update: single.next_update,
                fetched_at: now,
                expires_at,
                url: url.to_string(),
                der: Arc::new(body),
                nonce,
            });
        }
        Err(last
            .unwrap_or_else(|| fail(Condition::Unreachable, "ocsp_unreachable", url.to_string())))
    }
}

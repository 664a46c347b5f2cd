//! The `/eds/` endpoints and the session gate in front of the MIS (DESIGN.md "The flow of one
//! login"). `fn app(state) -> Router` so tests run it in-process or on port 0 (STYLE.md).
//!
//! | endpoint | what |
//! |---|---|
//! | `GET /eds/login` | login page (kk/ru/en); sets the pre-login cookie |
//! | `POST /eds/challenge` | a one-time challenge bound to the pre-login cookie |
//! | `POST /eds/login` | CMS over the challenge → session cookie |
//! | `GET /eds/logout` | a page with a logout button (for MIS links) |
//! | `POST /eds/logout` | ends the session everywhere |
//! | `GET /eds/session` | who am I (JSON) |
//! | `GET /eds/healthz` | liveness |
//! | `GET /eds/metrics` | Prometheus metrics (allowed IPs or token; observe.rs) |
//! | `GET /eds/.well-known/jwks.json` | the assertion's public key (assertion.rs) |
//! | `GET /eds/static/…` | the page's script and style |
//! | anything else | session check → the MIS |
//!
//! CSRF (issue 6 item 5): every POST must come with `Origin` equal to `server.public_origin`
//! and the token in `X-EDS-CSRF` (or a `csrf` form field): before login the token is
//! SHA-256("eds-csrf" ‖ pre-login cookie), after login the session's own random token. Both are
//! unguessable without the HttpOnly cookie, so a cross-site page can neither read nor forge them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::{Method, Request, Response, StatusCode};
use axum::response::IntoResponse;
use axum::routing::get;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::audit::AuditLog;
use crate::auth::challenge;
use crate::auth::login::LoginVerifier;
use crate::auth::refusal::Refusal;
use crate::pki::time::UnixTime;
use crate::session::{Session, Store, StoreEvent};
use crate::web::i18n::{self, Lang};
use crate::web::pages;

use super::config::Config;
use super::upstream::{Forwarding, Upstream};

/// The session cookie.
pub const SESSION_COOKIE: &str = "__Host-eds-session";
/// The pre-login cookie that binds a challenge to one browser.
pub const PRELOGIN_COOKIE: &str = "__Host-eds-pre";
/// The language cookie.
pub const LANG_COOKIE: &str = "eds_lang";
/// How long a gateway instance trusts its cached copy of a session before asking the store
/// again. Logout and kill reach every instance at once through the store's events; this bounds
/// the damage if an event is lost.
const SESSION_CACHE_SECS: i64 = 5;
/// How often abandoned sessions are swept (and their expiry audited).
const SWEEP_SECS: u64 = 300;

/// The gateway's clock (injectable: tests pin it).
pub type Clock = Arc<dyn Fn() -> UnixTime + Send + Sync>;

/// Everything the handlers share.
pub struct AppState {
    /// The validated configuration.
    pub cfg: Config,
    /// Sessions, challenges, counters, events.
    pub store: Arc<dyn Store>,
    /// The login check.
    pub verifier: Arc<LoginVerifier>,
    /// The audit log.
    pub audit: AuditLog,
    /// The MIS.
    pub upstream: Upstream,
    /// Now.
    pub clock: Clock,
    /// Sessions seen recently on this instance: token hash → (session, when fetched).
    cache: Mutex<HashMap<String, (Arc<Session>, i64)>>,
    origin: String,
    access: crate::auth::access::AccessPolicy,
    /// The CRL stores, for `/eds/readyz`.
    crl_stores: Vec<Arc<crate::revocation::crl_store::CrlStore>>,
    /// Counters and histograms for `/eds/metrics`.
    pub metrics: super::metrics::Metrics,
    /// The signed assertion to the MIS (`None`: `[assertion] enabled = false`, or no key).
    pub assertions: Option<super::assertion::Assertions>,
    /// Why the assertion key could not be loaded or made (`run::build` refuses to start).
    pub assertion_problem: Option<String>,
    /// Live-session re-checks, block list, eviction tombstones (issue 8).
    pub recheck: super::recheck::Recheck,
}

impl AppState {
    /// Assembles the state.
    pub fn new(
        cfg: Config,
        store: Arc<dyn Store>,
        verifier: Arc<LoginVerifier>,
        audit: AuditLog,
        upstream: Upstream,
        clock: Clock,
        crl_stores: Vec<Arc<crate::revocation::crl_store::CrlStore>>,
    ) -> Arc<AppState> {
        let origin = super::config::parse_origin(&cfg.server.public_origin)
            .unwrap_or_else(|| cfg.server.public_origin.clone());
        let access = cfg.access.policy();
        let (assertions, assertion_problem) = match super::assertion::Assertions::from_config(
            &cfg.assertion,
            &cfg.resolve(&cfg.assertion.key_file),
            &origin,
        ) {
            Ok(a) => (a, None),
            Err(e) => (None, Some(e.to_string())),
        };
        Arc::new(AppState {
            cfg,
            store,
            verifier,
            audit,
            upstream,
            clock,
            cache: Mutex::new(HashMap::new()),
            origin,
            access,
            crl_stores,
            metrics: super::metrics::Metrics::new(),
            assertions,
            assertion_problem,
            recheck: super::recheck::Recheck::default(),
        })
    }

    /// Writes an audit record (see [`AppState::audit`]).
    pub(super) async fn audit_event(&self, event: &str, fields: Value) {
        self.audit(event, fields).await;
    }

    pub(super) fn now(&self) -> UnixTime {
        (self.clock)()
    }

    /// Writes an audit record (and counts it for `/eds/metrics`); a failure to audit is logged
    /// as an error event (the request already happened).
    async fn audit(&self, event: &str, fields: Value) {
        self.metrics.audit_event(event, &fields);
        if let Err(e) = self.audit.append_async(event, self.now(), fields).await {
            tracing::error!(target: "eds_gateway::audit", event, error = %e, "AUDIT WRITE FAILED");
        }
    }

    /// Now, by the gateway's clock.
    pub fn clock_now(&self) -> UnixTime {
        self.now()
    }

    /// The CRL stores.
    pub fn crl_stores(&self) -> &[Arc<crate::revocation::crl_store::CrlStore>] {
        &self.crl_stores
    }

    /// The signed assertion for `sess` (reused per session until close to expiry).
    pub fn assertion_for(&self, sess: Option<&Session>) -> Option<Arc<str>> {
        self.assertions.as_ref()?.token_for(sess?, self.now().0)
    }

    pub(super) fn forget(&self, token_hash: &str) {
        if let Ok(mut c) = self.cache.lock() {
            c.remove(token_hash);
        }
    }
}

/// The router.
pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/eds/login", get(login_page).post(login))
        .route("/eds/challenge", axum::routing::post(new_challenge))
        .route("/eds/logout", get(logout_page).post(logout))
        .route("/eds/session", get(whoami))
        .route("/eds/healthz", get(|| async { "ok" }))
        .route("/eds/readyz", get(readyz))
        .route("/eds/static/{*file}", get(static_file))
        .route("/eds/metrics", get(super::observe::metrics))
        .route("/eds/.well-known/jwks.json", get(super::observe::jwks))
        .merge(super::admin::routes())
        // The observing middleware wraps the `/eds/…` routes only: the fallback (`gate`, every
        // proxied request) observes itself, with less work (see `observe::middleware`).
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            super::observe::middleware,
        ))
        .fallback(gate)
        .with_state(state)
}

/// Starts the background work: store events → cache eviction, expiry sweeps. The caller aborts
/// the returned tasks at shutdown (they hold the state, and with it the store's lock).
pub fn spawn_background(state: &Arc<AppState>) -> Vec<tokio::task::JoinHandle<()>> {
    let s = state.clone();
    let mut rx = s.store.subscribe();
    let events = tokio::spawn(async move {
        loop {
            match rx.recv().await {
                Ok(StoreEvent::SessionEnded { token_hash, reason }) => {
                    // An eviction on any instance: this one answers that cookie with the reason.
                    if reason == super::recheck::REVOKED || reason == super::recheck::BLOCKED {
                        let until = s.now().0 + s.cfg.session.absolute_lifetime_secs;
                        s.recheck.tombstone(&token_hash, &reason, until);
                    }
                    s.forget(&token_hash)
                }
                // The Redis store lost its event connection for a while (`events_gap`), or
                // something asks for a re-check: cached copies may be stale.
                Ok(StoreEvent::Recheck { kind, payload }) => {
                    if let Ok(mut c) = s.cache.lock() {
                        c.clear();
                    }
                    let s2 = s.clone();
                    tokio::spawn(async move {
                        super::recheck::on_event(&s2, &kind, &payload).await;
                    });
                }
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                    // Missed events: drop the whole cache rather than serve a dead session.
                    if let Ok(mut c) = s.cache.lock() {
                        c.clear();
                    }
                }
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            }
        }
    });
    let s = state.clone();
    // Expiry is enforced on every request; the sweep only ends (and audits) sessions that never
    // come back. Listing reads every record (from the embedded journal, or Redis), so not often.
    let sweeps = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(SWEEP_SECS));
        loop {
            tick.tick().await;
            sweep_expired(&s).await;
        }
    });
    let mut all = vec![events, sweeps];
    all.extend(super::recheck::spawn(state));
    all
}

/// Ends every session past its idle or absolute limit, with an audit record each.
pub async fn sweep_expired(s: &Arc<AppState>) {
    let now = s.now().0;
    let Ok(all) = s.store.list_sessions().await else {
        return;
    };
    for sess in all {
        if let Some(code) = expiry_code(&sess, now) {
            end_session(s, &sess, code, "sweep").await;
        }
    }
}

fn expiry_code(s: &Session, now: i64) -> Option<&'static str> {
    if now >= s.absolute_expiry {
        Some("session_expired_absolute")
    } else if now >= s.last_seen.saturating_add(s.idle_timeout_secs) {
        Some("session_expired_idle")
    } else {
        None
    }
}

pub(super) async fn end_session(s: &Arc<AppState>, sess: &Session, reason: &'static str, by: &str) {
    s.forget(&sess.token_hash);
    match s.store.remove_session(&sess.token_hash).await {
        Ok(Some(_)) => {
            let _ = s
                .store
                .publish(&StoreEvent::SessionEnded {
                    token_hash: sess.token_hash.clone(),
                    reason: reason.to_string(),
                })
                .await;
            let event = match reason {
                "session_expired_idle" => "session_expired_idle",
                "session_expired_absolute" => "session_expired_absolute",
                "session_replaced" => "session_replaced",
                "logout" => "logout",
                _ => "session_ended",
            };
            s.audit(
                event,
                json!({"sid": sess.sid, "iin": sess.identity.iin, "serial": sess.identity.cert_serial,
                       "reason": reason, "by": by}),
            )
            .await;
        }
        Ok(None) => {}
        Err(e) => eprintln!("eds-gateway: cannot end session {}: {e}", sess.sid),
    }
}

// ---------------------------------------------------------------------------------------------
// Request helpers

pub(super) fn cookie<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|s| s.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The public id of the session whose token hashes to `token_hash`: the first 16 hex digits of
/// SHA-256("sid" ‖ token_hash), what audit records and logs carry (never the token).
pub(super) fn public_sid(token_hash: &str) -> String {
    sha256_hex(&[b"sid", token_hash.as_bytes()])[..16].to_string()
}

pub(super) fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    // On every proxied request (the cookie's hash): a table lookup per nibble rather than
    // `hex::encode`'s char-by-char collect.
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(64);
    for b in h.finalize() {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
    out
}

fn random_token() -> Result<String, Refusal> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b)
        .map_err(|e| Refusal::new("internal_error", 500, format!("OS random: {e}")))?;
    Ok(hex::encode(b))
}

fn prelogin_csrf(pre: &str) -> String {
    sha256_hex(&[b"eds-csrf", pre.as_bytes()])
}

pub(super) fn lang_of(h: &HeaderMap, query: Option<&str>) -> Lang {
    let cookie_lang = cookie(h, LANG_COOKIE);
    let accept = h.get(header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok());
    Lang::negotiate(query, cookie_lang, accept)
}

pub(super) fn client_ip(s: &AppState, h: &HeaderMap, peer: SocketAddr) -> String {
    if s.cfg.server.trust_forwarded_for
        && let Some(last) = h
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
    {
        let t = last.trim();
        if t.parse::<std::net::IpAddr>().is_ok() {
            return t.to_string();
        }
    }
    peer.ip().to_string()
}

fn user_agent(h: &HeaderMap) -> String {
    h.get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .chars()
        .take(256)
        .collect()
}

pub(super) fn wants_html(h: &HeaderMap) -> bool {
    h.get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("text/html"))
}

/// `next` only as a same-origin absolute path (no scheme, no `//host`, no backslashes).
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(|c| c.is_control())
                && !n.starts_with("/eds/")
                && n.len() <= 2048 =>
        {
            n.to_string()
        }
        _ => "/".to_string(),
    }
}

/// The gateway's own responses (pages, JSON, redirects): never cached (login responses carry
/// cookies and tokens), never framed (clickjacking a login or logout button), no Referer with
/// the session's URLs, and a CSP — the page's own, or for anything that is not a page one that
/// allows nothing. HSTS is added by the listener on HTTPS (it knows the transport).
pub(super) fn security_headers(h: &mut HeaderMap, csp: Option<String>) {
    let pairs = [
        ("cache-control", "no-store"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
        // No window opened from elsewhere keeps a handle on a gateway page.
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-resource-policy", "same-origin"),
    ];
    for (k, v) in pairs {
        h.insert(k, HeaderValue::from_static(v));
    }
    let csp = csp
        .and_then(|c| HeaderValue::from_str(&c).ok())
        .unwrap_or(HeaderValue::from_static(
            "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
        ));
    h.insert("content-security-policy", csp);
}

fn set_cookie(h: &mut HeaderMap, value: String) {
    if let Ok(v) = HeaderValue::from_str(&value) {
        h.append(header::SET_COOKIE, v);
    }
}

pub(super) fn json_response(status: StatusCode, v: Value) -> Response<Body> {
    let mut r = (status, axum::Json(v)).into_response();
    security_headers(r.headers_mut(), None);
    r
}

pub(super) fn refusal_json(r: &Refusal, lang: Lang) -> Response<Body> {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::BAD_REQUEST);
    json_response(
        status,
        json!({"ok": false, "code": r.code, "message": i18n::message(r.code, lang)}),
    )
}

pub(super) fn error_page(status: StatusCode, code: &str, lang: Lang) -> Response<Body> {
    let mut r = (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        pages::error_page(lang, status.as_u16(), code),
    )
        .into_response();
    security_headers(r.headers_mut(), Some(pages::csp("")));
    // The metrics count upstream failures by code (whatever codes upstream.rs defines).
    if code.starts_with("upstream_") {
        r.extensions_mut()
            .insert(super::observe::ErrorCode(code.to_string()));
    }
    r
}

/// Checks the POST preconditions shared by every endpoint: JSON or form content type, the
/// Origin, the body size. Returns the body.
pub(super) async fn post_body(
    s: &AppState,
    req: Request<Body>,
    allow_form: bool,
) -> Result<(HeaderMap, Bytes), Refusal> {
    let (parts, body) = req.into_parts();
    let h = parts.headers;
    let origin = h.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    match origin.and_then(super::config::parse_origin) {
        Some(o) if o == s.origin => {}
        _ => {
            return Err(Refusal::new(
                "origin_mismatch",
                403,
                format!("Origin {origin:?} is not {}", s.origin),
            ));
        }
    }
    let ct = h
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let is_json = ct.starts_with("application/json");
    let is_form = ct.starts_with("application/x-www-form-urlencoded");
    if !(is_json || (allow_form && is_form)) {
        return Err(Refusal::new(
            "unsupported_media_type",
            415,
            format!("content type {ct:?}"),
        ));
    }
    let max = s.cfg.server.max_body_bytes;
    if let Some(len) = h
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok())
        && len > max
    {
        return Err(Refusal::new(
            "body_too_large",
            413,
            format!("{len} bytes > {max}"),
        ));
    }
    let bytes = axum::body::to_bytes(body, max)
        .await
        .map_err(|_| Refusal::new("body_too_large", 413, format!("body over {max} bytes")))?;
    Ok((h, bytes))
}

pub(super) fn csrf_from(h: &HeaderMap, form: Option<&HashMap<String, String>>) -> Option<String> {
    h.get("x-eds-csrf")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| form.and_then(|f| f.get("csrf").cloned()))
}

/// The pre-login cookie of a challenge or login POST, after its CSRF token matched.
/// A store failure as a refusal: deny (503) and say which.
pub(super) fn store_err(e: crate::session::StoreError) -> Refusal {
    Refusal::new(e.code(), 503, e.to_string())
}

fn prelogin(h: &HeaderMap) -> Result<String, Refusal> {
    let pre = cookie(h, PRELOGIN_COOKIE)
        .ok_or_else(|| Refusal::new("csrf_failed", 403, "no pre-login cookie"))?;
    let token = csrf_from(h, None).unwrap_or_default();
    if !ct_eq(&token, &prelogin_csrf(pre)) {
        return Err(Refusal::new(
            "csrf_failed",
            403,
            "CSRF token does not match",
        ));
    }
    Ok(pre.to_string())
}

pub(super) fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

// ---------------------------------------------------------------------------------------------
// Handlers

#[derive(Deserialize)]
struct PageQuery {
    next: Option<String>,
    lang: Option<String>,
}

async fn login_page(
    State(s): State<Arc<AppState>>,
    Query(q): Query<PageQuery>,
    headers: HeaderMap,
) -> Response<Body> {
    let lang = lang_of(&headers, q.lang.as_deref());
    let pre = match cookie(&headers, PRELOGIN_COOKIE) {
        Some(p) if p.len() == 64 && p.bytes().all(|b| b.is_ascii_hexdigit()) => p.to_string(),
        _ => match random_token() {
            Ok(t) => t,
            Err(_) => return error_page(StatusCode::INTERNAL_SERVER_ERROR, "internal_error", lang),
        },
    };
    let html = pages::login_page(&pages::LoginPage {
        lang,
        next: safe_next(q.next.as_deref()),
        csrf: prelogin_csrf(&pre),
        ncalayer_url: s.cfg.login_page.ncalayer_url.clone(),
        gateway_name: s.cfg.login_page.gateway_name.clone(),
    });
    let mut r = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    security_headers(
        r.headers_mut(),
        Some(pages::csp(&s.cfg.login_page.ncalayer_url)),
    );
    set_cookie(
        r.headers_mut(),
        format!("{PRELOGIN_COOKIE}={pre}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=3600"),
    );
    if let Some(l) = q.lang.as_deref().filter(|l| ["kk", "ru", "en"].contains(l))
        && let Some(lang) = Lang::from_tag(l)
    {
        set_cookie(r.headers_mut(), i18n::lang_cookie(lang, true));
    }
    r
}

async fn new_challenge(
    State(s): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request<Body>,
) -> Response<Body> {
    let lang = lang_of(req.headers(), None);
    let ip = client_ip(&s, req.headers(), peer);
    let ua = user_agent(req.headers());
    match issue_challenge(&s, req, &ip).await {
        Ok(v) => json_response(StatusCode::OK, v),
        Err(r) => {
            s.audit(
                "challenge_refused",
                json!({"code": r.code, "detail": r.detail, "ip": ip, "user_agent": ua}),
            )
            .await;
            refusal_json(&r, lang)
        }
    }
}

async fn issue_challenge(
    s: &Arc<AppState>,
    req: Request<Body>,
    ip: &str,
) -> Result<Value, Refusal> {
    let (h, _body) = post_body(s, req, false).await?;
    let pre = prelogin(&h)?;
    let rl = &s.cfg.rate_limit;
    let n = s
        .store
        .rate_hit(&format!("ch:ip:{ip}"), Duration::from_secs(60))
        .await
        .map_err(store_err)?;
    if n > rl.challenges_per_ip_per_minute {
        return Err(Refusal::new(
            "challenge_rate_limited",
            429,
            format!("{n} challenges from {ip} this minute"),
        ));
    }
    let pre_hash = sha256_hex(&[b"eds-pre", pre.as_bytes()]);
    let ttl = s.cfg.challenge.ttl_secs;
    let pending = s
        .store
        .rate_hit(
            &format!("ch:pre:{pre_hash}"),
            Duration::from_secs(u64::try_from(ttl).unwrap_or(120)),
        )
        .await
        .map_err(store_err)?;
    if pending > s.cfg.challenge.max_pending_per_client {
        return Err(Refusal::new(
            "challenge_rate_limited",
            429,
            format!("{pending} challenges pending for one browser"),
        ));
    }
    let now = s.now();
    let c = challenge::new_challenge(&s.origin, now, ttl, &pre_hash, ip)?;
    s.store.put_challenge(&c).await.map_err(store_err)?;
    s.audit(
        "challenge_issued",
        json!({"challenge": &c.id[..8.min(c.id.len())], "ip": ip, "expires": UnixTime(c.expires).to_rfc3339()}),
    )
    .await;
    use base64::Engine;
    Ok(json!({
        "challenge_id": c.id,
        "data": base64::engine::general_purpose::STANDARD.encode(&c.data),
        "expires_at": UnixTime(c.expires).to_rfc3339(),
    }))
}

#[derive(Deserialize)]
struct LoginBody {
    challenge_id: String,
    cms: String,
    #[serde(default)]
    next: Option<String>,
}

async fn login(
    State(s): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request<Body>,
) -> Response<Body> {
    let lang = lang_of(req.headers(), None);
    let ip = client_ip(&s, req.headers(), peer);
    let ua = user_agent(req.headers());
    match do_login(&s, req, &ip, &ua).await {
        Ok(r) => r,
        Err(r) => {
            let subj = r.subject.clone().unwrap_or_default();
            // Count failures for the rate limits (per IP, and per IIN when known).
            let window = Duration::from_secs(15 * 60);
            let _ = s.store.rate_hit(&format!("fail:ip:{ip}"), window).await;
            if let Some(iin) = &subj.iin {
                let _ = s.store.rate_hit(&format!("fail:iin:{iin}"), window).await;
            }
            s.audit(
                "login_refused",
                json!({"code": r.code, "detail": r.detail, "iin": subj.iin,
                       "serial": if subj.serial.is_empty() { None } else { Some(&subj.serial) },
                       "issuer": if subj.issuer.is_empty() { None } else { Some(&subj.issuer) },
                       "ip": ip, "user_agent": ua}),
            )
            .await;
            refusal_json(&r, lang)
        }
    }
}

async fn do_login(
    s: &Arc<AppState>,
    req: Request<Body>,
    ip: &str,
    ua: &str,
) -> Result<Response<Body>, Refusal> {
    let (h, body) = post_body(s, req, false).await?;
    let pre = prelogin(&h)?;
    let fails = s
        .store
        .rate_peek(&format!("fail:ip:{ip}"))
        .await
        .map_err(store_err)?;
    if fails >= s.cfg.rate_limit.failed_logins_per_ip {
        return Err(Refusal::new(
            "login_rate_limited",
            429,
            format!("{fails} failed logins from {ip} in 15 min"),
        ));
    }
    let lb: LoginBody = serde_json::from_slice(&body)
        .map_err(|e| Refusal::new("bad_request", 400, format!("login body: {e}")))?;
    if lb.challenge_id.len() > 128 {
        return Err(Refusal::new(
            "challenge_unknown",
            400,
            "challenge id too long",
        ));
    }
    let now = s.now();
    let pre_hash = sha256_hex(&[b"eds-pre", pre.as_bytes()]);
    let taken = s
        .store
        .take_challenge(&lb.challenge_id)
        .await
        .map_err(store_err)?;
    let ch = challenge::accept_taken(taken, &pre_hash, now)?;
    let proof = s.verifier.verify(&ch, lb.cms.as_bytes(), now).await?;
    let id = proof.identity().clone();
    // The emergency block list (issue 8): refused whatever OCSP and the CRL say.
    let subject = || crate::auth::refusal::RefusedSubject {
        iin: Some(id.iin.clone()),
        serial: id.cert_serial.clone(),
        issuer: id.cert_issuer.clone(),
    };
    s.recheck
        .blocks
        .ensure_loaded(s.store.as_ref())
        .await
        .map_err(|e| store_err(e).with_subject(subject()))?;
    if let Some(b) = s.recheck.blocks.find(&id) {
        return Err(Refusal::new(
            "key_blocked",
            403,
            format!(
                "{} is on the block list: {} (by {})",
                b.key(),
                b.reason,
                b.by
            ),
        )
        .with_subject(subject()));
    }
    let iin_fails = s
        .store
        .rate_peek(&format!("fail:iin:{}", id.iin))
        .await
        .map_err(store_err)?;
    if iin_fails >= s.cfg.rate_limit.failed_logins_per_iin {
        return Err(Refusal::new(
            "login_rate_limited",
            429,
            format!("{iin_fails} failed logins for this IIN in 15 min"),
        )
        .with_subject(crate::auth::refusal::RefusedSubject {
            iin: Some(id.iin.clone()),
            serial: id.cert_serial.clone(),
            issuer: id.cert_issuer.clone(),
        }));
    }
    // One key, at most max_sessions_per_key live sessions: the oldest give way (audited).
    let existing = s
        .store
        .sessions_for_key(&id.key_id)
        .await
        .map_err(store_err)?;
    let max = s.cfg.session.max_sessions_per_key;
    if existing.len() >= max {
        let excess = existing.len() + 1 - max;
        for old in existing.iter().take(excess) {
            end_session(s, old, "session_replaced", "newer_login").await;
        }
    }
    let token = random_token()?;
    let token_hash = sha256_hex(&[token.as_bytes()]);
    let sid = public_sid(&token_hash);
    let csrf = random_token()?;
    let new = proof.into_session(
        token_hash,
        sid.clone(),
        now.0,
        s.cfg.session.idle_timeout_secs,
        s.cfg.session.absolute_lifetime_secs,
        ip.to_string(),
        ua.to_string(),
        csrf,
    );
    s.store.create_session(&new).await.map_err(store_err)?;
    let sess = new.session();
    s.audit(
        "login_ok",
        json!({"sid": sid, "iin": id.iin, "name": id.name, "roles": id.roles,
               "serial": id.cert_serial, "issuer": id.cert_issuer, "ip": ip, "user_agent": ua}),
    )
    .await;
    let next = safe_next(lb.next.as_deref());
    let mut r = json_response(
        StatusCode::OK,
        json!({"ok": true, "redirect": next, "session": session_json(sess)}),
    );
    set_cookie(
        r.headers_mut(),
        format!(
            "{SESSION_COOKIE}={token}; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age={}",
            s.cfg.session.absolute_lifetime_secs
        ),
    );
    set_cookie(
        r.headers_mut(),
        format!("{PRELOGIN_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    Ok(r)
}

fn session_json(s: &Session) -> Value {
    let id = &s.identity;
    json!({
        "sid": s.sid,
        "iin": id.iin,
        "name": id.name,
        "bin": id.bin,
        "org": id.org,
        "roles": id.roles,
        "cert_serial": id.cert_serial,
        "cert_issuer": id.cert_issuer,
        "cert_not_after": UnixTime(id.cert_not_after).to_rfc3339(),
        "created": UnixTime(s.created).to_rfc3339(),
        "expires_at": UnixTime(s.expires_at()).to_rfc3339(),
        "absolute_expiry": UnixTime(s.absolute_expiry).to_rfc3339(),
        "idle_timeout_secs": s.idle_timeout_secs,
        "csrf": s.csrf,
    })
}

/// The live session of this request, after the expiry checks (which end and audit expired
/// ones). `Err` carries the code for the refusal page.
pub(super) async fn current_session(
    s: &Arc<AppState>,
    h: &HeaderMap,
) -> Result<Arc<Session>, &'static str> {
    let Some(token) = cookie(h, SESSION_COOKIE) else {
        return Err("not_authenticated");
    };
    if token.len() != 64 {
        return Err("not_authenticated");
    }
    let token_hash = sha256_hex(&[token.as_bytes()]);
    let now = s.now().0;
    // Evicted (issue 8): checked before the cache, so nothing is served after an eviction.
    if let Some(code) = s.recheck.tombstoned(&token_hash, now) {
        return Err(tombstone_code(&code));
    }
    let cached = s
        .cache
        .lock()
        .ok()
        .and_then(|c| c.get(&token_hash).cloned())
        .filter(|(_, at)| now - at < SESSION_CACHE_SECS);
    // `fetched`: when this copy was read from the store. A cache hit keeps its original time,
    // so a copy is never trusted for more than SESSION_CACHE_SECS however busy the session is.
    let (mut sess, fetched, from_cache) = match cached {
        Some((sess, at)) => (sess, at, true),
        None => match s.store.get_session(&token_hash).await {
            Ok(Some(sess)) => (Arc::new(sess), now, false),
            Ok(None) => {
                return Err(match s.store.tombstone(&token_hash, now).await {
                    Ok(Some(code)) => tombstone_code(&code),
                    _ => "session_ended",
                });
            }
            Err(_) => return Err("store_unavailable"),
        },
    };
    if let Some(code) = expiry_code(&sess, now) {
        end_session(s, &sess, code, "request").await;
        return Err(code);
    }
    let mut changed = !from_cache;
    if now - sess.last_seen >= 15 {
        // Copy-on-write: the cached value is shared with requests in flight.
        Arc::make_mut(&mut sess).last_seen = now;
        if s.store.touch_session(&token_hash, now).await.is_err() {
            return Err("store_unavailable");
        }
        changed = true;
    }
    if !changed {
        return Ok(sess);
    }
    if let Ok(mut c) = s.cache.lock() {
        // Bounded: a flood of distinct valid tokens cannot exist (each needs a login), but keep
        // the map from growing past the live population anyway.
        if c.len() > 200_000 {
            c.clear();
        }
        c.insert(token_hash, (Arc::clone(&sess), fetched));
    }
    Ok(sess)
}

fn tombstone_code(code: &str) -> &'static str {
    if code == super::recheck::BLOCKED {
        super::recheck::BLOCKED
    } else {
        super::recheck::REVOKED
    }
}

async fn whoami(State(s): State<Arc<AppState>>, headers: HeaderMap) -> Response<Body> {
    match current_session(&s, &headers).await {
        Ok(sess) => {
            let mut v = session_json(&sess);
            if let Value::Object(m) = &mut v {
                m.insert("authenticated".into(), Value::Bool(true));
            }
            json_response(StatusCode::OK, v)
        }
        Err(code) => {
            let lang = lang_of(&headers, None);
            json_response(
                StatusCode::UNAUTHORIZED,
                json!({"ok": false, "authenticated": false, "code": code, "message": i18n::message(code, lang)}),
            )
        }
    }
}

async fn logout_page(State(s): State<Arc<AppState>>, headers: HeaderMap) -> Response<Body> {
    let lang = lang_of(&headers, None);
    match current_session(&s, &headers).await {
        Ok(sess) => {
            let mut r = (
                [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
                pages::logout_page(lang, &sess.identity.name, &sess.csrf),
            )
                .into_response();
            security_headers(r.headers_mut(), Some(pages::csp("")));
            r
        }
        Err(_) => redirect("/eds/login"),
    }
}

pub(super) fn redirect(to: &str) -> Response<Body> {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    security_headers(r.headers_mut(), None);
    r
}

async fn logout(State(s): State<Arc<AppState>>, req: Request<Body>) -> Response<Body> {
    let lang = lang_of(req.headers(), None);
    let html = wants_html(req.headers());
    let (h, body) = match post_body(&s, req, true).await {
        Ok(x) => x,
        Err(r) => return refusal_json(&r, lang),
    };
    let form = form_fields(&h, &body);
    let sess = match current_session(&s, &h).await {
        Ok(sess) => sess,
        Err(code) => {
            return if html {
                redirect("/eds/login")
            } else {
                refusal_json(&Refusal::new(code, 401, "no live session"), lang)
            };
        }
    };
    let token = csrf_from(&h, form.as_ref()).unwrap_or_default();
    if !ct_eq(&token, &sess.csrf) {
        let r = Refusal::new("csrf_failed", 403, "logout CSRF token does not match");
        s.audit("logout_refused", json!({"sid": sess.sid, "code": r.code}))
            .await;
        return refusal_json(&r, lang);
    }
    end_session(&s, &sess, "logout", "user").await;
    let mut r = if html {
        redirect("/eds/login?logged_out=1")
    } else {
        json_response(StatusCode::OK, json!({"ok": true}))
    };
    set_cookie(
        r.headers_mut(),
        format!("{SESSION_COOKIE}=; Path=/; Secure; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    r
}

/// The fields of a form body (`application/x-www-form-urlencoded`, percent-decoded); `None`
/// for JSON or an undecodable body.
fn form_fields(h: &HeaderMap, body: &[u8]) -> Option<HashMap<String, String>> {
    let ct = h.get(header::CONTENT_TYPE)?.to_str().ok()?;
    if !ct
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded")
    {
        return None;
    }
    serde_urlencoded::from_bytes::<Vec<(String, String)>>(body)
        .ok()
        .map(|v| v.into_iter().collect())
}

/// Ready when the session store answers and every configured CRL is held and current (a
/// load balancer then stops sending logins to an instance that would refuse them all). The
/// trust store and staff file were loaded before the port was bound.
async fn readyz(State(s): State<Arc<AppState>>) -> Response<Body> {
    let now = s.now();
    let mut problems = Vec::new();
    if let Err(e) = s.store.rate_peek("readyz").await {
        problems.push(json!({"check": "session_store", "code": e.code()}));
    }
    let crls: Vec<Value> = s
        .crl_stores
        .iter()
        .map(|c| {
            let snap = c.snapshot();
            let (fresh, next) = match &snap.full {
                Some(f) => (now < f.next_update, Some(f.next_update.to_rfc3339())),
                None => (false, None),
            };
            if !fresh {
                problems.push(json!({"check": "crl", "url": c.config().full_url,
                                     "code": "revocation_crl_stale"}));
            }
            json!({"url": c.config().full_url, "fresh": fresh, "next_update": next})
        })
        .collect();
    let ready = problems.is_empty();
    json_response(
        if ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        json!({"ready": ready, "store": s.store.backend(), "crls": crls, "problems": problems}),
    )
}

async fn static_file(axum::extract::Path(file): axum::extract::Path<String>) -> Response<Body> {
    match crate::web::static_asset(&format!("/eds/static/{file}")) {
        Some((bytes, ct)) => {
            let mut r = ([(header::CONTENT_TYPE, ct)], bytes).into_response();
            r.headers_mut()
                .insert("cache-control", HeaderValue::from_static("no-cache"));
            r.headers_mut().insert(
                "x-content-type-options",
                HeaderValue::from_static("nosniff"),
            );
            r
        }
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The router's fallback: [`proxy`] for requests that reach the router (in-process tests, and
/// unknown `/eds/…` paths, which it answers 404).
async fn gate(State(s): State<Arc<AppState>>, req: Request<Body>) -> Response<Body> {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    proxy(&s, req, peer).await
}

/// Is `path` one of the gateway's own (`/eds/…`, served by the router) rather than the MIS's?
pub fn is_gateway_path(path: &str) -> bool {
    path.starts_with("/eds/")
}

/// Everything outside `/eds/`: a live session, then the MIS; observed (request id, metrics,
/// access log) here rather than by the middleware. The listener calls this straight for every
/// path that is not [`is_gateway_path`] — no router, no boxed handler future, no extensions
/// map for the peer address (measured: BENCHMARKS.md) — and the router's fallback calls it
/// for the rest.
pub async fn proxy(
    s: &Arc<AppState>,
    mut req: Request<Body>,
    peer: Option<SocketAddr>,
) -> Response<Body> {
    let o = super::observe::begin(s, &mut req, peer);
    // `sid`: the live session's, else the public sid of whatever session cookie came.
    let (mut resp, sid) = gate_inner(s, req, &o.ip, o.rid()).await;
    super::observe::finish(s, o, sid.as_deref(), &mut resp);
    resp
}

/// `gate` without the observation: the response, and the sid of the live session if the
/// request had one.
async fn gate_inner(
    s: &Arc<AppState>,
    req: Request<Body>,
    ip: &str,
    rid: &str,
) -> (Response<Body>, Option<String>) {
    use super::observe::sid_of;
    let lang = lang_of(req.headers(), None);
    let path = req.uri().path();
    if is_gateway_path(path) {
        let sid = sid_of(req.headers());
        return (error_page(StatusCode::NOT_FOUND, "not_found", lang), sid);
    }
    if crate::auth::access::canonical(path).is_err() {
        s.audit(
            "access_denied",
            json!({"method": req.method().as_str(), "path": path.chars().take(256).collect::<String>(),
                   "reason": "non_canonical_path", "ip": ip}),
        )
        .await;
        let sid = sid_of(req.headers());
        return (
            error_page(StatusCode::BAD_REQUEST, "bad_request", lang),
            sid,
        );
    }
    if s.access.is_public(path) {
        let sid = sid_of(req.headers());
        return (forward(s, req, None, ip, rid, lang).await, sid);
    }
    let sess = match current_session(s, req.headers()).await {
        Ok(sess) => sess,
        Err(code) => {
            let sid = sid_of(req.headers());
            return (refuse_unauthenticated(&req, code, lang), sid);
        }
    };
    if let crate::auth::access::Decision::Deny { rule } =
        s.access
            .decide(req.method().as_str(), path, &sess.identity.roles)
    {
        let rule_path = rule
            .and_then(|i| s.access.rules.get(i))
            .map(|r| r.path.clone());
        s.audit(
            "access_denied",
            json!({"sid": sess.sid, "iin": sess.identity.iin, "roles": sess.identity.roles,
                   "method": req.method().as_str(), "path": path.chars().take(256).collect::<String>(),
                   "rule": rule, "rule_path": rule_path, "ip": ip}),
        )
        .await;
        return (
            error_page(StatusCode::FORBIDDEN, "forbidden", lang),
            Some(sess.sid.clone()),
        );
    }
    let sid = sess.sid.clone();
    (forward(s, req, Some(&sess), ip, rid, lang).await, Some(sid))
}

/// The answer to a request without a live session (`code` says why): the refusal page for an
/// evicted session, the login page for other HTML GETs, JSON for API calls.
fn refuse_unauthenticated(req: &Request<Body>, code: &'static str, lang: Lang) -> Response<Body> {
    if (code == super::recheck::REVOKED || code == super::recheck::BLOCKED)
        && wants_html(req.headers())
    {
        return error_page(StatusCode::UNAUTHORIZED, code, lang);
    }
    if req.method() == Method::GET && wants_html(req.headers()) {
        let next = req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_string())
            .unwrap_or_else(|| "/".into());
        return redirect(&format!(
            "/eds/login?next={}",
            super::upstream::pct_encode(&safe_next(Some(&next)))
        ));
    }
    let status = if code == "store_unavailable" {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::UNAUTHORIZED
    };
    json_response(
        status,
        json!({"ok": false, "code": code, "message": i18n::message(code, lang),
               "login": "/eds/login"}),
    )
}

/// Hands the request to the MIS with the identity of `sess` (none for public paths).
async fn forward(
    s: &Arc<AppState>,
    req: Request<Body>,
    sess: Option<&Session>,
    ip: &str,
    request_id: &str,
    lang: Lang,
) -> Response<Body> {
    // HTTP/2 clients name the host in :authority, not Host.
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.to_string()));
    let html = wants_html(req.headers());
    let mut req = req;
    if !s.cfg.server.trust_forwarded_for {
        // The gateway is the edge: what a client says about earlier hops is forged by
        // definition, so the MIS gets only what the gateway saw.
        req.headers_mut().remove("x-forwarded-for");
        req.headers_mut().remove(header::FORWARDED);
    }
    let proto = if s.origin.starts_with("https://") {
        "https"
    } else {
        "http"
    };
    let assertion = s.assertion_for(sess);
    let fwd = Forwarding {
        client_ip: ip,
        proto,
        host: host.as_deref(),
        request_id,
        assertion: assertion.as_deref(),
    };
    match s.upstream.forward(req, sess, &fwd).await {
        Ok(r) => r,
        // Browsers get the kk/ru/en page; API calls the same code as JSON.
        Err(e) if html => error_page(e.status(), e.code(), lang),
        Err(e) => {
            let mut r = json_response(
                e.status(),
                json!({"ok": false, "code": e.code(), "message": i18n::message(e.code(), lang)}),
            );
            // Counted as an upstream error by the middleware, as the HTML page is.
            r.extensions_mut()
                .insert(super::observe::ErrorCode(e.code().to_string()));
            r
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_is_only_a_same_origin_path() {
        assert_eq!(safe_next(Some("/ward/7?x=1")), "/ward/7?x=1");
        for bad in [
            "//evil.example/",
            "https://evil.example/",
            "/\\evil",
            "javascript:alert(1)",
            "/eds/logout",
            "",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn logout_form_is_percent_decoded_and_json_is_not_a_form() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        let f = form_fields(&h, b"csrf=ab%63&next=%2Fward+7").expect("form");
        assert_eq!(f.get("csrf").map(String::as_str), Some("abc"));
        assert_eq!(f.get("next").map(String::as_str), Some("/ward 7"));
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        assert!(form_fields(&h, b"csrf=abc").is_none());
    }

    #[test]
    fn the_token_hash_is_lowercase_hex_sha256_of_the_parts_in_order() {
        let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
        assert_eq!(sha256_hex(&[b"abc"]), abc);
        assert_eq!(sha256_hex(&[b"a", b"", b"bc"]), abc);
    }

    #[test]
    fn cookies_are_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; __Host-eds-session=abc; b=2"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("abc"));
        assert_eq!(cookie(&h, "c"), None);
    }
}

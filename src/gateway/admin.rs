//! The admin page and API (issue 8 items 2–3) and the revocation webhook (item 1c).
//!
//! | endpoint | what |
//! |---|---|
//! | `GET /eds/admin` | the page (role `admin`; others get a 403 page) |
//! | `GET /eds/admin/api/sessions` | `{"ok":true,"sessions":[…]}` |
//! | `GET /eds/admin/api/blocks` | `{"ok":true,"blocks":[…]}` |
//! | `GET /eds/admin/api/health` | CRLs, OCSP, re-check passes |
//! | `GET /eds/admin/api/audit?event=&iin=&n=` | recent audit records, newest first |
//! | `POST /eds/admin/api/block` | `{"iin"|"serial", "reason"}` → `{"ok":true,"entry":…,"evicted":N}` |
//! | `POST /eds/admin/api/unblock` | `{"iin"|"serial"}` → `{"ok":true,"removed":bool}` |
//! | `POST /eds/admin/api/kill` | `{"sid"}` → `{"ok":true}` |
//! | `POST /eds/revocation/webhook` | responder news (`pki serve --webhook`) |
//!
//! Who may: an admin session (role `admin`); its POSTs carry `Origin: <public_origin>` and
//! `X-EDS-CSRF: <session csrf>` like every other POST. Or the operator token
//! (`[admin] api_token_file`) as `Authorization: Bearer …`, accepted only from a loopback peer
//! (what `eds-gateway block …` uses; no cookie, so no CSRF exposure). Every change is audited
//! with who did it.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Query, State};
use axum::http::header::{self, HeaderMap};
use axum::http::{Request, Response, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::refusal::Refusal;
use crate::pki::time::UnixTime;
use crate::session::{Session, StoreEvent};
use crate::web::admin::{AdminView, admin_page};
use crate::web::i18n::Lang;

use super::blocklist;
use super::recheck;
use super::server::{
    AppState, ct_eq, current_session, end_session, error_page, json_response, lang_of, post_body,
    redirect, refusal_json, security_headers, store_err,
};

/// The role that opens the admin page.
pub const ADMIN_ROLE: &str = "admin";
/// Largest admin API or webhook body.
const MAX_BODY: usize = 16 * 1024;

/// The routes (merged into [`super::server::app`]).
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/eds/admin", get(page))
        .route("/eds/admin/api/sessions", get(api_sessions))
        .route("/eds/admin/api/blocks", get(api_blocks))
        .route("/eds/admin/api/health", get(api_health))
        .route("/eds/admin/api/audit", get(api_audit))
        .route("/eds/admin/api/block", post(api_block))
        .route("/eds/admin/api/unblock", post(api_unblock))
        .route("/eds/admin/api/kill", post(api_kill))
        .route("/eds/revocation/webhook", post(webhook))
}

/// Who is acting.
enum Actor {
    Admin(Arc<Session>),
    Operator,
}

impl Actor {
    fn by(&self) -> String {
        match self {
            Actor::Admin(s) => format!("{} {} (sid {})", s.identity.iin, s.identity.name, s.sid),
            Actor::Operator => "operator-token".into(),
        }
    }
}

fn bearer(h: &HeaderMap) -> Option<&str> {
    h.get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

async fn denied(s: &Arc<AppState>, sess: &Session, what: &str) -> Refusal {
    s.audit_event(
        "admin_denied",
        json!({"sid": sess.sid, "iin": sess.identity.iin, "roles": sess.identity.roles, "what": what}),
    )
    .await;
    Refusal::new("admin_only", 403, "the admin role is required")
}

/// A GET's actor: the operator token (loopback only) or an admin session.
async fn reader(
    s: &Arc<AppState>,
    h: &HeaderMap,
    peer: SocketAddr,
    what: &str,
) -> Result<Actor, Refusal> {
    if let Some(tok) = bearer(h) {
        return operator(s, tok, peer);
    }
    let sess = current_session(s, h)
        .await
        .map_err(|code| Refusal::new(code, 401, "no live session"))?;
    if !sess.identity.roles.iter().any(|r| r == ADMIN_ROLE) {
        return Err(denied(s, &sess, what).await);
    }
    Ok(Actor::Admin(sess))
}

fn operator(s: &AppState, tok: &str, peer: SocketAddr) -> Result<Actor, Refusal> {
    let want = s.cfg.admin.token(&s.cfg);
    match want {
        Some(w) if peer.ip().is_loopback() && ct_eq(tok, &w) => Ok(Actor::Operator),
        _ => Err(Refusal::new(
            "admin_only",
            403,
            "operator token not configured, wrong, or not from loopback",
        )),
    }
}

/// A POST's actor and body: operator token (loopback), or admin session + Origin + CSRF.
async fn writer(
    s: &Arc<AppState>,
    peer: SocketAddr,
    req: Request<Body>,
    what: &str,
) -> Result<(Actor, Bytes), Refusal> {
    if let Some(tok) = bearer(req.headers()) {
        let actor = operator(s, tok, peer)?;
        let body = axum::body::to_bytes(req.into_body(), MAX_BODY)
            .await
            .map_err(|_| Refusal::new("body_too_large", 413, "admin body over 16 KiB"))?;
        return Ok((actor, body));
    }
    let (h, body) = post_body(s, req, false).await?;
    let sess = current_session(s, &h)
        .await
        .map_err(|code| Refusal::new(code, 401, "no live session"))?;
    if !sess.identity.roles.iter().any(|r| r == ADMIN_ROLE) {
        return Err(denied(s, &sess, what).await);
    }
    let token = h
        .get("x-eds-csrf")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ct_eq(token, &sess.csrf) {
        return Err(Refusal::new(
            "csrf_failed",
            403,
            "admin CSRF token does not match",
        ));
    }
    Ok((Actor::Admin(sess), body))
}

fn rfc(t: i64) -> String {
    UnixTime(t).to_rfc3339()
}

fn session_row(x: &Session) -> Value {
    let id = &x.identity;
    json!({
        "sid": x.sid, "iin": id.iin, "name": id.name, "roles": id.roles, "org": id.org,
        "ip": x.ip, "user_agent": x.user_agent,
        "created": rfc(x.created), "last_seen": rfc(x.last_seen),
        "expires_at": rfc(x.expires_at()), "absolute_expiry": rfc(x.absolute_expiry),
        "cert_serial": id.cert_serial, "cert_issuer": id.cert_issuer,
        "cert_not_after": rfc(id.cert_not_after),
    })
}

fn block_row(e: &crate::session::BlockEntry) -> Value {
    json!({"kind": e.kind, "value": e.value, "reason": e.reason, "by": e.by, "at": e.at,
           "when": rfc(e.at)})
}

async fn sessions_json(s: &Arc<AppState>) -> Result<Vec<Value>, Refusal> {
    let mut all = s.store.list_sessions().await.map_err(store_err)?;
    all.sort_by_key(|x| std::cmp::Reverse(x.last_seen));
    Ok(all.iter().map(session_row).collect())
}

async fn blocks_json(s: &Arc<AppState>) -> Result<Vec<Value>, Refusal> {
    let list = s.store.block_list().await.map_err(store_err)?;
    Ok(list.iter().map(block_row).collect())
}

fn health_json(s: &AppState) -> Value {
    let now = s.now();
    let crls: Vec<Value> = s
        .crl_stores()
        .iter()
        .map(|c| {
            let snap = c.snapshot();
            let full = snap.full.as_ref();
            json!({
                "url": c.config().full_url,
                "crl_number": full.map(|f| f.crl_number.to_string()),
                "this_update": full.map(|f| f.this_update.to_rfc3339()),
                "next_update": full.map(|f| f.next_update.to_rfc3339()),
                "age_secs": full.map(|f| now.0 - f.this_update.0),
                "fresh": full.is_some_and(|f| now < f.next_update),
                "entries": full.map(|f| f.entries),
                "delta_entries": snap.delta.as_ref().map(|d| d.entries),
                "delta_next_update": snap.delta.as_ref().map(|d| d.next_update.to_rfc3339()),
                "error": snap.full_error.as_ref().or(snap.delta_error.as_ref()).map(|e| e.code()),
            })
        })
        .collect();
    let oc = s.recheck.ocsp_health();
    let ocsp_client = s.verifier.checker().and_then(|c| c.ocsp.clone());
    let passes: Vec<Value> = s
        .recheck
        .last_passes()
        .into_iter()
        .map(|p| {
            let mut v = serde_json::to_value(&p).unwrap_or(Value::Null);
            if let Value::Object(m) = &mut v {
                m.insert("when".into(), Value::String(rfc(p.at)));
            }
            v
        })
        .collect();
    json!({
        "ok": true,
        "revocation_mode": s.cfg.revocation.mode,
        "crls": crls,
        "ocsp": {
            "configured": ocsp_client.is_some(),
            "requests_sent": ocsp_client.map(|c| c.requests_sent()),
            "last_success": oc.last_success.map(rfc),
            "last_latency_ms": oc.last_latency_ms,
            "errors": oc.errors,
            "last_error": oc.last_error,
        },
        "recheck": {
            "ocsp_interval_secs": s.cfg.recheck.ocsp_interval_secs,
            "evicted": s.recheck.evicted.load(std::sync::atomic::Ordering::Relaxed),
            "inconclusive": s.recheck.inconclusive.load(std::sync::atomic::Ordering::Relaxed),
        },
        "passes": passes,
    })
}

#[derive(Deserialize, Default)]
struct AuditQuery {
    event: Option<String>,
    iin: Option<String>,
    n: Option<usize>,
    lang: Option<String>,
}

fn audit_rows(s: &AppState, q: &AuditQuery) -> Vec<Value> {
    let n = q.n.unwrap_or(100).clamp(1, 500);
    let event = q.event.as_deref().map(str::trim).filter(|e| !e.is_empty());
    let iin = q.iin.as_deref().map(str::trim).filter(|e| !e.is_empty());
    let mut rows: Vec<Value> = s
        .audit
        .recent(usize::MAX)
        .into_iter()
        .rev()
        .filter(|r| event.is_none_or(|e| r["event"].as_str() == Some(e)))
        .filter(|r| {
            iin.is_none_or(|i| {
                r["iin"].as_str() == Some(i)
                    || r.get("fields").and_then(|f| f["iin"].as_str()) == Some(i)
            })
        })
        .take(n)
        .collect();
    rows.shrink_to_fit();
    rows
}

fn fail(r: Refusal, lang: Lang) -> Response<Body> {
    refusal_json(&r, lang)
}

async fn page(
    State(s): State<Arc<AppState>>,
    Query(q): Query<AuditQuery>,
    headers: HeaderMap,
) -> Response<Body> {
    let lang = lang_of(&headers, q.lang.as_deref());
    let sess = match current_session(&s, &headers).await {
        Ok(x) => x,
        Err(code) if code == recheck::REVOKED || code == recheck::BLOCKED => {
            return error_page(StatusCode::UNAUTHORIZED, code, lang);
        }
        Err(_) => return redirect("/eds/login"),
    };
    if !sess.identity.roles.iter().any(|r| r == ADMIN_ROLE) {
        denied(&s, &sess, "page").await;
        return error_page(StatusCode::FORBIDDEN, "admin_only", lang);
    }
    let (sessions, blocks) = match (sessions_json(&s).await, blocks_json(&s).await) {
        (Ok(a), Ok(b)) => (a, b),
        _ => return error_page(StatusCode::SERVICE_UNAVAILABLE, "store_unavailable", lang),
    };
    let health = health_json(&s);
    let audit = audit_rows(&s, &q);
    let html = admin_page(&AdminView {
        lang,
        admin: &sess.identity.name,
        csrf: &sess.csrf,
        sessions: &sessions,
        blocks: &blocks,
        health: &health,
        audit: &audit,
        filter_event: q.event.as_deref().unwrap_or(""),
        filter_iin: q.iin.as_deref().unwrap_or(""),
    });
    let mut r = ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response();
    security_headers(r.headers_mut(), Some(crate::web::csp("")));
    r
}

/// The shape every read-only API call shares: the reader is authorised (and audited as
/// `what`), then `answer` gives the JSON body; a refusal either way is JSON in the reader's
/// language.
async fn read_only<Fut>(
    s: &Arc<AppState>,
    headers: &HeaderMap,
    peer: SocketAddr,
    what: &'static str,
    answer: Fut,
) -> Response<Body>
where
    Fut: std::future::Future<Output = Result<Value, Refusal>>,
{
    let lang = lang_of(headers, None);
    if let Err(r) = reader(s, headers, peer, what).await {
        return fail(r, lang);
    }
    match answer.await {
        Ok(v) => json_response(StatusCode::OK, v),
        Err(r) => fail(r, lang),
    }
}

async fn api_sessions(
    State(s): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response<Body> {
    let answer = async { Ok(json!({"ok": true, "sessions": sessions_json(&s).await?})) };
    read_only(&s, &headers, peer, "sessions", answer).await
}

async fn api_blocks(
    State(s): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response<Body> {
    let answer = async { Ok(json!({"ok": true, "blocks": blocks_json(&s).await?})) };
    read_only(&s, &headers, peer, "blocks", answer).await
}

async fn api_health(
    State(s): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response<Body> {
    let answer = async { Ok(health_json(&s)) };
    read_only(&s, &headers, peer, "health", answer).await
}

async fn api_audit(
    State(s): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Query<AuditQuery>,
    headers: HeaderMap,
) -> Response<Body> {
    let answer = async { Ok(json!({"ok": true, "records": audit_rows(&s, &q)})) };
    read_only(&s, &headers, peer, "audit", answer).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BlockBody {
    #[serde(default)]
    iin: Option<String>,
    #[serde(default)]
    serial: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

fn parse<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Refusal> {
    serde_json::from_slice(body).map_err(|e| Refusal::new("admin_bad_input", 400, e.to_string()))
}

async fn api_block(
    State(s): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request<Body>,
) -> Response<Body> {
    let lang = lang_of(req.headers(), None);
    let r = async {
        let (actor, body) = writer(&s, peer, req, "block").await?;
        let b: BlockBody = parse(&body)?;
        let e = blocklist::new_entry(
            b.iin.as_deref(),
            b.serial.as_deref(),
            b.reason.as_deref().unwrap_or(""),
            &actor.by(),
            s.now().0,
        )
        .map_err(|e| Refusal::new(e.code(), 400, e.detail()))?;
        let evicted = recheck::apply_block(&s, &e).await.map_err(store_err)?;
        s.audit_event(
            "block_added",
            json!({"key": e.key(), "kind": e.kind, "value": e.value, "reason": e.reason,
                   "by": e.by, "evicted": evicted}),
        )
        .await;
        Ok::<_, Refusal>(json!({"ok": true, "entry": block_row(&e), "evicted": evicted}))
    }
    .await;
    match r {
        Ok(v) => json_response(StatusCode::OK, v),
        Err(r) => fail(r, lang),
    }
}

async fn api_unblock(
    State(s): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request<Body>,
) -> Response<Body> {
    let lang = lang_of(req.headers(), None);
    let r = async {
        let (actor, body) = writer(&s, peer, req, "unblock").await?;
        let b: BlockBody = parse(&body)?;
        let (kind, value) = blocklist::key_of(b.iin.as_deref(), b.serial.as_deref())
            .map_err(|e| Refusal::new(e.code(), 400, e.detail()))?;
        let key = format!("{kind}:{value}");
        let removed = s.store.block_remove(&key).await.map_err(store_err)?;
        s.recheck.blocks.remove(&key);
        let _ = s
            .store
            .publish(&StoreEvent::Recheck {
                kind: "block_removed".into(),
                payload: json!({"key": key, "origin": s.recheck.instance_id}),
            })
            .await;
        s.audit_event(
            "block_removed",
            json!({"key": key, "existed": removed.is_some(), "by": actor.by(),
                   "reason": b.reason}),
        )
        .await;
        Ok::<_, Refusal>(json!({"ok": true, "removed": removed.is_some()}))
    }
    .await;
    match r {
        Ok(v) => json_response(StatusCode::OK, v),
        Err(r) => fail(r, lang),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KillBody {
    sid: String,
}

async fn api_kill(
    State(s): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request<Body>,
) -> Response<Body> {
    let lang = lang_of(req.headers(), None);
    let r = async {
        let (actor, body) = writer(&s, peer, req, "kill").await?;
        let b: KillBody = parse(&body)?;
        let all = s.store.list_sessions().await.map_err(store_err)?;
        let Some(sess) = all.into_iter().find(|x| x.sid == b.sid) else {
            return Err(Refusal::new(
                "session_not_found",
                404,
                "no live session with that sid",
            ));
        };
        end_session(&s, &sess, "killed", &actor.by()).await;
        Ok(json!({"ok": true, "sid": sess.sid}))
    }
    .await;
    match r {
        Ok(v) => json_response(StatusCode::OK, v),
        Err(r) => fail(r, lang),
    }
}

/// The responder's news: `{"event":"revocation","serial":…,"iin":…,"status":…}`. Accepted from
/// `[recheck] webhook_allow` peers or with `webhook_token`; it only *triggers* a fresh re-check of
/// the sessions with that serial (the answer of OCSP/CRL decides, not the message).
async fn webhook(
    State(s): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Query(q): Query<HashMap<String, String>>,
    req: Request<Body>,
) -> Response<Body> {
    let lang = Lang::En;
    let ip = peer.ip();
    let rc = &s.cfg.recheck;
    let by_peer = rc
        .webhook_allow
        .iter()
        .filter_map(|a| a.parse::<std::net::IpAddr>().ok())
        .any(|a| a == ip);
    let token = bearer(req.headers())
        .map(str::to_string)
        .or_else(|| q.get("token").cloned());
    let by_token = match (&rc.webhook_token, &token) {
        (Some(want), Some(got)) => ct_eq(got, want),
        _ => false,
    };
    if !(by_peer || by_token) {
        s.audit_event(
            "webhook_refused",
            json!({"ip": ip.to_string(), "code": "webhook_forbidden"}),
        )
        .await;
        return fail(
            Refusal::new("webhook_forbidden", 403, "peer not allowed"),
            lang,
        );
    }
    let body = match axum::body::to_bytes(req.into_body(), MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return fail(Refusal::new("body_too_large", 413, "webhook body"), lang),
    };
    let v: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return fail(Refusal::new("bad_request", 400, e.to_string()), lang),
    };
    let Some(serial) = v["serial"].as_str().and_then(blocklist::normalize_serial) else {
        return fail(Refusal::new("bad_request", 400, "no serial"), lang);
    };
    s.audit_event(
        "revocation_webhook",
        json!({"serial": serial, "iin": v["iin"].as_str(), "status": v["status"],
               "kind": v["event"].as_str(), "ip": ip.to_string()}),
    )
    .await;
    let _ = s
        .store
        .publish(&StoreEvent::Recheck {
            kind: "revocation_news".into(),
            payload: json!({"serial": serial, "origin": s.recheck.instance_id}),
        })
        .await;
    let s2 = s.clone();
    let serial2 = serial.clone();
    tokio::spawn(async move {
        recheck::fresh_check(&s2, &serial2, "webhook").await;
    });
    json_response(
        StatusCode::ACCEPTED,
        json!({"ok": true, "serial": serial, "recheck": "started"}),
    )
}

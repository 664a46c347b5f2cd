//! Live sessions re-checked against revocation news (issue 8 item 1), and eviction.
//!
//! Every session keeps its login certificate ([`Session::cert_der`]). It is checked again:
//!
//! - **on every CRL swap** ([`crl_pass`]): when a CRL store installs a new full or delta CRL,
//!   every live session whose issuer that store serves is looked up in the new index (local
//!   lookups, no I/O);
//! - **by OCSP every `[recheck] ocsp_interval_secs`** ([`ocsp_pass`]): through the login OCSP
//!   client and its cache, at most `ocsp_concurrency` requests at once;
//! - **on push**: an admin block ([`block_pass`], immediate), the responder's webhook
//!   ([`fresh_check`]: news, not authority — a fresh OCSP request bypassing the cache and a
//!   forced CRL download decide), and the same news from another instance (`StoreEvent::Recheck`).
//!
//! **Only a definite answer evicts.** A session is evicted when OCSP or a verified CRL says
//! *revoked*, or the block list covers it. "unknown", an unreachable or failing responder, or a
//! stale CRL during a re-check keep the session (it was valid at login, and a hospital must not
//! lose every open session because a responder blinked); each such pass is audited once as
//! `recheck_inconclusive` with the count and the codes, and counted for the admin page. New
//! logins still follow the configured deny-by-default revocation policy.
//!
//! **Eviction** ([`evict`]): the token hash gets a tombstone on this instance *first* (the
//! request path checks it before its session cache), then in the store until the session's
//! absolute end; the session is removed from the store; `SessionEnded` (reason
//! `session_revoked`/`session_blocked`) tells every instance to drop its cached copy and keep a
//! tombstone; and only then is `session_evicted` audited. So no request is served on the evicting
//! instance after the audit record, and the next request of that cookie anywhere gets 401
//! `session_revoked`/`session_blocked` (a kk/ru/en page for browsers).

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};

use crate::pki::cert::Certificate;
use crate::pki::ocsp::OcspStatus;
use crate::revocation::crl_store::{CrlLookup, Kind};
use crate::revocation::http::{Http, HttpConfig};
use crate::session::{BlockEntry, Session, StoreEvent};

use super::blocklist::{self, BlockList};
use super::server::AppState;

/// Eviction code: the certificate was revoked (OCSP or CRL).
pub const REVOKED: &str = "session_revoked";
/// Eviction code: the IIN or key is on the block list.
pub const BLOCKED: &str = "session_blocked";

/// What one re-check pass did (admin page).
#[derive(Clone, Debug, Default, Serialize)]
pub struct PassStats {
    /// `crl`, `ocsp`, `webhook`, `peer`, `block`.
    pub source: String,
    /// When it started (Unix seconds).
    pub at: i64,
    /// Sessions looked at.
    pub sessions: usize,
    /// Definite "good" answers.
    pub good: usize,
    /// Evicted.
    pub evicted: usize,
    /// No definite answer (kept).
    pub inconclusive: usize,
    /// Reason codes of the inconclusive answers, counted.
    pub codes: BTreeMap<String, usize>,
    /// How long the pass took (ms).
    pub took_ms: u64,
}

/// OCSP health as the re-checks saw it.
#[derive(Clone, Debug, Default, Serialize)]
pub struct OcspHealth {
    /// Last definite answer received from a responder (Unix seconds).
    pub last_success: Option<i64>,
    /// Latency of that request (ms).
    pub last_latency_ms: Option<u64>,
    /// Failed requests since start.
    pub errors: u64,
    /// The last failure's code.
    pub last_error: Option<String>,
}

/// Re-check state of one gateway instance.
pub struct Recheck {
    /// The block list copy.
    pub blocks: BlockList,
    /// Random id of this process (events it published itself are not acted on twice).
    pub instance_id: String,
    tombstones: Mutex<HashMap<String, (String, i64)>>,
    last: Mutex<BTreeMap<String, PassStats>>,
    ocsp: Mutex<OcspHealth>,
    forced_crl: Mutex<Option<Instant>>,
    /// Sessions evicted by this instance since start.
    pub evicted: AtomicU64,
    /// Inconclusive re-check answers since start.
    pub inconclusive: AtomicU64,
}

impl Default for Recheck {
    fn default() -> Self {
        let mut b = [0u8; 8];
        let _ = getrandom::fill(&mut b);
        Recheck {
            blocks: BlockList::default(),
            instance_id: hex::encode(b),
            tombstones: Mutex::new(HashMap::new()),
            last: Mutex::new(BTreeMap::new()),
            ocsp: Mutex::new(OcspHealth::default()),
            forced_crl: Mutex::new(None),
            evicted: AtomicU64::new(0),
            inconclusive: AtomicU64::new(0),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Recheck {
    /// Records a tombstone on this instance.
    pub fn tombstone(&self, token_hash: &str, code: &str, until: i64) {
        let mut t = lock(&self.tombstones);
        if t.len() > 100_000 {
            let now = crate::clock::now().0;
            t.retain(|_, (_, u)| *u > now);
        }
        t.insert(token_hash.to_string(), (code.to_string(), until));
    }

    /// The eviction code of `token_hash` if this instance holds a live tombstone.
    pub fn tombstoned(&self, token_hash: &str, now: i64) -> Option<String> {
        let t = lock(&self.tombstones);
        t.get(token_hash)
            .filter(|(_, until)| *until > now)
            .map(|(c, _)| c.clone())
    }

    /// The last pass of each source.
    pub fn last_passes(&self) -> Vec<PassStats> {
        lock(&self.last).values().cloned().collect()
    }

    /// OCSP health.
    pub fn ocsp_health(&self) -> OcspHealth {
        lock(&self.ocsp).clone()
    }

    fn record(&self, p: PassStats) {
        self.inconclusive
            .fetch_add(p.inconclusive as u64, Ordering::Relaxed);
        lock(&self.last).insert(p.source.clone(), p);
    }
}

/// Evicts `sess` with `code` ([`REVOKED`] or [`BLOCKED`]) because `source` said so. Returns
/// whether this call removed it (false if it was already gone).
pub async fn evict(
    s: &Arc<AppState>,
    sess: &Session,
    code: &'static str,
    source: &str,
    detail: Value,
) -> bool {
    let now = s.now().0;
    let until = sess.absolute_expiry.max(now + 1);
    // Order matters: the tombstone first, so the request path refuses from here on.
    s.recheck.tombstone(&sess.token_hash, code, until);
    s.forget(&sess.token_hash);
    if let Err(e) = s.store.put_tombstone(&sess.token_hash, code, until).await {
        eprintln!("eds-gateway: eviction tombstone for {}: {e}", sess.sid);
    }
    match s.store.remove_session(&sess.token_hash).await {
        Ok(Some(_)) => {}
        Ok(None) => return false,
        Err(e) => {
            s.audit_event(
                "session_evict_failed",
                json!({"sid": sess.sid, "iin": sess.identity.iin, "serial": sess.identity.cert_serial,
                       "reason": code, "source": source, "error": e.to_string()}),
            )
            .await;
            return false;
        }
    }
    if let Err(e) = s
        .store
        .publish(&StoreEvent::SessionEnded {
            token_hash: sess.token_hash.clone(),
            reason: code.to_string(),
        })
        .await
    {
        eprintln!("eds-gateway: eviction event for {}: {e}", sess.sid);
    }
    s.recheck.evicted.fetch_add(1, Ordering::Relaxed);
    s.audit_event(
        "session_evicted",
        json!({"sid": sess.sid, "iin": sess.identity.iin, "serial": sess.identity.cert_serial,
               "reason": code, "source": source, "detail": detail}),
    )
    .await;
    true
}

/// The issuing CA of `cert` among the CRL stores' issuers and the trust store.
fn issuer_of(s: &AppState, cert: &Certificate) -> Option<Certificate> {
    let fits = |c: &Certificate| {
        c.subject.matches(&cert.issuer)
            && match (
                &cert.extensions.authority_key_id,
                &c.extensions.subject_key_id,
            ) {
                (Some(a), Some(k)) => a == k,
                _ => true,
            }
    };
    s.crl_stores()
        .iter()
        .map(|st| st.issuer())
        .chain(s.verifier.trust.intermediates().iter())
        .chain(s.verifier.trust.anchors().iter())
        .find(|c| fits(c))
        .cloned()
}

fn cert_of(sess: &Session) -> Option<Certificate> {
    Certificate::from_der(sess.cert_der.clone()).ok()
}

async fn sessions(s: &Arc<AppState>, serial: Option<&str>, p: &mut PassStats) -> Vec<Session> {
    match s.store.list_sessions().await {
        Ok(v) => v
            .into_iter()
            .filter(|x| {
                serial.is_none_or(|want| {
                    blocklist::normalize_serial(&x.identity.cert_serial).as_deref() == Some(want)
                })
            })
            .collect(),
        Err(e) => {
            *p.codes.entry(e.code().to_string()).or_default() += 1;
            Vec::new()
        }
    }
}

async fn finish(s: &Arc<AppState>, mut p: PassStats, started: Instant) -> PassStats {
    p.took_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    if p.inconclusive > 0 {
        s.audit_event(
            "recheck_inconclusive",
            json!({"source": p.source, "sessions": p.sessions, "inconclusive": p.inconclusive,
                   "codes": p.codes, "kept": true}),
        )
        .await;
    }
    s.recheck.record(p.clone());
    p
}

/// Checks live sessions (all, or those of `serial`) against the CRLs held now.
pub async fn crl_pass(s: &Arc<AppState>, serial: Option<&str>, source: &str) -> PassStats {
    let started = Instant::now();
    let now = s.now();
    let mut p = PassStats {
        source: source.to_string(),
        at: now.0,
        ..PassStats::default()
    };
    if s.crl_stores().is_empty() {
        return p;
    }
    for sess in sessions(s, serial, &mut p).await {
        let Some(cert) = cert_of(&sess) else {
            p.inconclusive += 1;
            *p.codes.entry("cert_unreadable".into()).or_default() += 1;
            continue;
        };
        let Some(store) = s.crl_stores().iter().find(|st| {
            st.issuer().subject.matches(&cert.issuer)
                && match (
                    &cert.extensions.authority_key_id,
                    &st.issuer().extensions.subject_key_id,
                ) {
                    (Some(a), Some(k)) => a == k,
                    _ => true,
                }
        }) else {
            continue;
        };
        p.sessions += 1;
        match store.lookup(&cert.serial, now) {
            CrlLookup::Revoked {
                date,
                reason,
                crl_number,
            } => {
                let detail = json!({"crl_number": crl_number, "revoked_at": date.to_rfc3339(),
                                    "crl_reason": reason.map(|r| r.code())});
                if evict(s, &sess, REVOKED, source, detail).await {
                    p.evicted += 1;
                }
            }
            CrlLookup::Good { .. } => p.good += 1,
            CrlLookup::Condition { code, .. } => {
                p.inconclusive += 1;
                *p.codes.entry(code.to_string()).or_default() += 1;
            }
        }
    }
    finish(s, p, started).await
}

/// Checks live sessions (all, or those of `serial`) by OCSP: through the login client's cache,
/// or `fresh` (a new client: no cache). At most `[recheck] ocsp_concurrency` at once.
pub async fn ocsp_pass(
    s: &Arc<AppState>,
    serial: Option<&str>,
    fresh: bool,
    source: &str,
) -> PassStats {
    let started = Instant::now();
    let now = s.now();
    let mut p = PassStats {
        source: source.to_string(),
        at: now.0,
        ..PassStats::default()
    };
    let Some(login_client) = s.verifier.checker().and_then(|c| c.ocsp.clone()) else {
        return p;
    };
    let client = if fresh {
        match Http::new(HttpConfig::default()) {
            Ok(h) => Arc::new(login_client.fresh_cache(h)),
            Err(_) => login_client,
        }
    } else {
        login_client
    };
    let limit = Arc::new(tokio::sync::Semaphore::new(
        s.cfg.recheck.ocsp_concurrency.max(1),
    ));
    let mut tasks = tokio::task::JoinSet::new();
    for sess in sessions(s, serial, &mut p).await {
        let Some(cert) = cert_of(&sess) else {
            p.inconclusive += 1;
            *p.codes.entry("cert_unreadable".into()).or_default() += 1;
            continue;
        };
        let Some(issuer) = issuer_of(s, &cert) else {
            p.inconclusive += 1;
            *p.codes.entry("issuer_unknown".into()).or_default() += 1;
            continue;
        };
        p.sessions += 1;
        let client = client.clone();
        let limit = limit.clone();
        tasks.spawn(async move {
            let _permit = limit.acquire_owned().await;
            let t = Instant::now();
            let r = client.status(&cert, &issuer, now).await;
            (sess, r, t.elapsed())
        });
    }
    while let Some(joined) = tasks.join_next().await {
        let Ok((sess, r, took)) = joined else {
            continue;
        };
        let from_responder = r.freshness == crate::revocation::policy::Freshness::Fresh;
        match &r.result {
            Ok(a) => {
                if from_responder {
                    let mut h = lock(&s.recheck.ocsp);
                    h.last_success = Some(a.fetched_at.0);
                    h.last_latency_ms = Some(u64::try_from(took.as_millis()).unwrap_or(u64::MAX));
                }
                match &a.status {
                    OcspStatus::Revoked { time, reason } => {
                        let detail = json!({"revoked_at": time.to_rfc3339(),
                                            "ocsp_reason": reason.map(|r| r.name()),
                                            "responder": a.url, "fresh": from_responder});
                        if evict(s, &sess, REVOKED, source, detail).await {
                            p.evicted += 1;
                        }
                    }
                    OcspStatus::Good { .. } => p.good += 1,
                    _ => {
                        p.inconclusive += 1;
                        *p.codes.entry("ocsp_unknown".into()).or_default() += 1;
                    }
                }
            }
            Err(f) => {
                if from_responder {
                    let mut h = lock(&s.recheck.ocsp);
                    h.errors += 1;
                    h.last_error = Some(f.code.to_string());
                }
                p.inconclusive += 1;
                *p.codes.entry(f.code.to_string()).or_default() += 1;
            }
        }
    }
    finish(s, p, started).await
}

/// Evicts every live session `e` covers.
pub async fn block_pass(s: &Arc<AppState>, e: &BlockEntry, source: &str) -> usize {
    let started = Instant::now();
    let mut p = PassStats {
        source: source.to_string(),
        at: s.now().0,
        ..PassStats::default()
    };
    for sess in sessions(s, None, &mut p).await {
        if blocklist::covers(e, &sess.identity) {
            p.sessions += 1;
            let detail = json!({"block": e.key(), "block_reason": e.reason, "blocked_by": e.by});
            if evict(s, &sess, BLOCKED, source, detail).await {
                p.evicted += 1;
            }
        }
    }
    finish(s, p, started).await.evicted
}

/// Revocation news about `serial` (webhook or a peer): a fresh OCSP request (bypassing the
/// cache) decides for the live sessions of that serial; where OCSP is not configured or gives
/// no definite answer, a forced CRL download (at most every 5 s) and a CRL lookup do.
pub async fn fresh_check(s: &Arc<AppState>, serial: &str, source: &str) -> usize {
    let Some(serial) = blocklist::normalize_serial(serial) else {
        return 0;
    };
    let o = ocsp_pass(s, Some(&serial), true, source).await;
    if o.sessions > 0 && o.inconclusive == 0 {
        return o.evicted;
    }
    let force = {
        let mut f = lock(&s.recheck.forced_crl);
        let due = f.is_none_or(|t| t.elapsed() >= Duration::from_secs(5));
        if due {
            *f = Some(Instant::now());
        }
        due
    };
    if force {
        let now = s.now();
        for st in s.crl_stores() {
            let _ = st.refresh(Kind::Full, now, &mut |_, _| {}).await;
            if st.config().delta_url.is_some() {
                let _ = st.refresh(Kind::Delta, now, &mut |_, _| {}).await;
            }
        }
    }
    let c = crl_pass(s, Some(&serial), source).await;
    c.evicted + o.evicted
}

/// Blocks everything a fresh block entry covers on every instance: the store takes it, this
/// instance's copy takes it, its sessions are evicted, and the other instances hear of it.
pub async fn apply_block(
    s: &Arc<AppState>,
    e: &BlockEntry,
) -> Result<usize, crate::session::StoreError> {
    s.store.block_put(e).await?;
    s.recheck.blocks.insert(e.clone());
    // Evict here first, then tell the others: with a shared store, a peer that heard first
    // would race this instance for the same sessions (each is evicted once, by whoever removes
    // it), and the operator's "evicted N" would undercount.
    let evicted = block_pass(s, e, "block").await;
    let _ = s
        .store
        .publish(&StoreEvent::Recheck {
            kind: "block_added".into(),
            payload: json!({"entry": e, "origin": s.recheck.instance_id}),
        })
        .await;
    Ok(evicted)
}

/// Handles a `StoreEvent::Recheck` (from any instance, this one included).
pub async fn on_event(s: &Arc<AppState>, kind: &str, payload: &Value) {
    let own = payload["origin"].as_str() == Some(s.recheck.instance_id.as_str());
    match kind {
        "block_added" | "block_removed" => {
            if let Err(e) = s.recheck.blocks.reload(s.store.as_ref()).await {
                eprintln!("eds-gateway: block list reload: {e}");
            }
            if kind == "block_added"
                && !own
                && let Ok(e) = serde_json::from_value::<BlockEntry>(payload["entry"].clone())
            {
                block_pass(s, &e, "peer").await;
            }
        }
        "revocation_news" if !own => {
            if let Some(serial) = payload["serial"].as_str() {
                fresh_check(s, serial, "peer").await;
            }
        }
        _ => {}
    }
}

/// The background re-check tasks: one per CRL store (waiting for swaps), the OCSP interval,
/// and the block list's periodic reload.
pub fn spawn(state: &Arc<AppState>) -> Vec<tokio::task::JoinHandle<()>> {
    let mut out = Vec::new();
    for st in state.crl_stores() {
        let mut rx = st.subscribe_swaps();
        let s = state.clone();
        out.push(tokio::spawn(async move {
            // Whatever was installed before we started counts as seen.
            rx.mark_unchanged();
            while rx.changed().await.is_ok() {
                crl_pass(&s, None, "crl").await;
            }
        }));
    }
    let s = state.clone();
    out.push(tokio::spawn(async move {
        let every = Duration::from_secs(s.cfg.recheck.ocsp_interval_secs.max(1));
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            ocsp_pass(&s, None, false, "ocsp").await;
        }
    }));
    let s = state.clone();
    out.push(tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(30));
        loop {
            tick.tick().await;
            let _ = s.recheck.blocks.reload(s.store.as_ref()).await;
        }
    }));
    out
}

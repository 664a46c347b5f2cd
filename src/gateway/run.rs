//! Assembles a running gateway from a validated [`Config`]: trust store, purpose policy, online
//! revocation (OCSP client, CRL stores with their refresher), staff directory with its watcher,
//! session store, audit log, upstream; then serves until shutdown, draining in-flight requests.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderValue;
use serde_json::json;

use crate::audit::{AuditConfig, AuditLog, FsyncMode};
use crate::auth::login::LoginVerifier;
use crate::auth::purpose::PurposePolicy;
use crate::auth::staff::{MappingRule, StaffDirectory};
use crate::auth::trust::TrustStore;
use crate::pki::cert::Certificate;
use crate::pki::time::UnixTime;
use crate::revocation::checker::Checker;
use crate::revocation::crl_store::{CrlStore, CrlStoreConfig};
use crate::revocation::http::{Http, HttpConfig};
use crate::revocation::ocsp_client::{OcspClient, OcspConfig};
use crate::revocation::ocsp_request::CertIdHash;
use crate::revocation::policy::{Mode, Policy};
use crate::session::Store;

use super::config::Config;
use super::listener::{self, Bound, ListenOptions};
use super::server::{self, AppState, Clock, PRELOGIN_COOKIE, SESSION_COOKIE};
use super::tls::{ReloadOutcome, Reloader};
use super::upstream::Upstream;

/// What [`build`] made, besides the state: handles for tests and the demo.
pub struct Built {
    /// Shared handler state.
    pub state: Arc<AppState>,
    /// The CRL stores (one per configured issuer).
    pub crl_stores: Vec<Arc<CrlStore>>,
    /// The trust store (for `check-config` and logs).
    pub trust: Arc<TrustStore>,
    /// The staff directory.
    pub staff: Arc<StaffDirectory>,
}

/// What `check-config` reports.
pub struct Checked {
    /// The trust store.
    pub trust: Arc<TrustStore>,
    /// The staff directory.
    pub staff: Arc<StaffDirectory>,
    /// Configured CRL sources.
    pub crl_sources: usize,
}

/// The stateless parts: trust store, purpose policy, staff directory.
fn parts(
    cfg: &Config,
    problems: &mut Vec<String>,
) -> (
    Option<Arc<TrustStore>>,
    Option<PurposePolicy>,
    Option<Arc<StaffDirectory>>,
) {
    let trust = match TrustStore::load_dir(&cfg.resolve(&cfg.trust.dir)) {
        Ok(t) => Some(Arc::new(t)),
        Err(e) => {
            problems.push(format!("trust store: {e}"));
            None
        }
    };
    let purpose = match PurposePolicy::from_names(&cfg.purpose.allow_profiles) {
        Ok(p) => Some(p),
        Err(e) => {
            problems.push(format!("purpose: {e}"));
            None
        }
    };
    let mut rules = Vec::new();
    for (i, m) in cfg.staff.mapping.iter().enumerate() {
        let nca_role = match m.nca_role.as_deref() {
            None => None,
            Some(n) => match MappingRule::nca_role_from_name(n) {
                Some(r) => Some(r),
                None => {
                    problems.push(format!(
                        "staff.mapping[{i}].nca_role {n:?}: unknown NCA role"
                    ));
                    continue;
                }
            },
        };
        rules.push(MappingRule {
            bin: m.bin.clone(),
            nca_role,
            profile: None,
            grant: m.grant.clone(),
        });
    }
    let staff = match StaffDirectory::load(&cfg.resolve(&cfg.staff.file), rules) {
        Ok(s) => Some(Arc::new(s)),
        Err(e) => {
            problems.push(format!("staff file: {e}"));
            None
        }
    };
    (trust, purpose, staff)
}

/// Checks everything `serve` would load, without taking the session store's lock or writing
/// to the audit log (safe while the gateway runs). `Err` lists every problem.
pub async fn check(cfg: &Config) -> Result<Checked, Vec<String>> {
    let mut problems = Vec::new();
    let (trust, _purpose, staff) = parts(cfg, &mut problems);
    let crl_sources = match revocation(cfg, &mut problems).await {
        Some((_, s)) => s.len(),
        None => 0,
    };
    let audit = cfg.resolve(&cfg.audit.file);
    if let Some(d) = audit.parent().filter(|d| !d.as_os_str().is_empty())
        && std::fs::create_dir_all(d).is_err()
    {
        problems.push(format!("audit.file: cannot create {}", d.display()));
    }
    if cfg.session.store == "redis"
        && let Err(e) = open_store(cfg).await
    {
        problems.push(e);
    }
    if let Err(p) = listen_options(cfg) {
        problems.extend(p);
    }
    match (trust, staff) {
        (Some(trust), Some(staff)) if problems.is_empty() => Ok(Checked {
            trust,
            staff,
            crl_sources,
        }),
        _ => Err(problems),
    }
}

/// Builds everything from `cfg` (no port bound yet). `Err` lists every problem.
pub async fn build(cfg: Config, clock: Clock) -> Result<Built, Vec<String>> {
    let mut problems = Vec::new();
    let (trust, purpose, staff) = parts(&cfg, &mut problems);
    let (checker, crl_stores) = match revocation(&cfg, &mut problems).await {
        Some((c, s)) => (c, s),
        None => (None, Vec::new()),
    };
    let store: Option<Arc<dyn Store>> = match open_store(&cfg).await {
        Ok(s) => Some(s),
        Err(e) => {
            problems.push(e);
            None
        }
    };
    let audit = match AuditLog::open(AuditConfig {
        path: cfg.resolve(&cfg.audit.file),
        instance: cfg.instance(),
        fsync: if cfg.audit.fsync == "batch" {
            FsyncMode::Batch {
                max_records: 64,
                max_delay: Duration::from_millis(200),
            }
        } else {
            FsyncMode::PerRecord
        },
        rotate_bytes: cfg.audit.rotate_bytes,
    }) {
        Ok(a) => Some(a),
        Err(e) => {
            problems.push(format!("audit: {e}"));
            None
        }
    };
    let upstream = match Upstream::from_config(&cfg, &[SESSION_COOKIE, PRELOGIN_COOKIE]) {
        Ok(u) => Some(u),
        Err(e) => {
            problems.push(e);
            None
        }
    };
    let (Some(trust), Some(purpose), Some(staff), Some(store), Some(audit), Some(upstream)) =
        (trust, purpose, staff, store, audit, upstream)
    else {
        return Err(problems);
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    let verifier = match checker {
        Some(c) => LoginVerifier::new(trust.clone(), purpose, c, staff.clone()),
        None => LoginVerifier::danger_no_revocation(trust.clone(), purpose, staff.clone()),
    };
    // The staff file is re-read when it changes; every reload (or failed reload) is audited.
    let reload_audit = audit.clone();
    let reload_clock = clock.clone();
    staff.spawn_watcher(
        Duration::from_secs(cfg.staff.reload_secs.max(1)),
        move |r| {
            let (event, fields) = match r {
                Ok(s) => (
                    "staff_reloaded",
                    json!({"records": s.records, "added": s.added, "removed": s.removed, "changed": s.changed}),
                ),
                Err(e) => ("staff_reload_failed", json!({"error": e.to_string()})),
            };
            if let Err(e) = reload_audit.append(event, reload_clock(), fields) {
                tracing::error!(target: "eds_gateway::audit", event, error = %e, "AUDIT WRITE FAILED");
            }
        },
    );
    let state = AppState::new(
        cfg,
        store,
        Arc::new(verifier),
        audit,
        upstream,
        clock,
        crl_stores.clone(),
    );
    if let Some(p) = &state.assertion_problem {
        return Err(vec![p.clone()]);
    }
    Ok(Built {
        state,
        crl_stores,
        trust,
        staff,
    })
}

async fn open_store(cfg: &Config) -> Result<Arc<dyn Store>, String> {
    match cfg.session.store.as_str() {
        "redis" => {
            let url = cfg.session.redis_url.clone().unwrap_or_default();
            crate::session::redis_store::RedisStore::connect(&url, &cfg.session.redis_prefix)
                .await
                .map(|s| Arc::new(s) as Arc<dyn Store>)
                .map_err(|e| format!("session store: {e}"))
        }
        _ => crate::session::embedded::EmbeddedStore::open(&cfg.resolve(&cfg.session.dir))
            .map(|s| Arc::new(s) as Arc<dyn Store>)
            .map_err(|e| format!("session store: {e}")),
    }
}

type Revocation = (Option<Arc<Checker>>, Vec<Arc<CrlStore>>);

async fn revocation(cfg: &Config, problems: &mut Vec<String>) -> Option<Revocation> {
    let r = &cfg.revocation;
    if r.mode == "danger-none" {
        eprintln!(
            "eds-gateway: WARNING revocation.mode = \"danger-none\": revoked keys can log in (demo only)"
        );
        return Some((None, Vec::new()));
    }
    let mode = Mode::from_name(&r.mode)?;
    let http = match Http::new(HttpConfig::default()) {
        Ok(h) => h,
        Err(e) => {
            problems.push(format!("revocation HTTP client: {e}"));
            return None;
        }
    };
    let ocsp = if mode == Mode::Crl {
        None
    } else {
        Some(Arc::new(OcspClient::new(
            http.clone(),
            OcspConfig {
                url_override: r.ocsp_url.clone(),
                hash: CertIdHash::from_name(&r.ocsp_hash).unwrap_or(CertIdHash::Sha256),
                nonce: r.ocsp_nonce,
                max_age: Duration::from_secs(r.ocsp_max_age_secs),
                ..OcspConfig::default()
            },
        )))
    };
    let mut stores = Vec::new();
    for (i, c) in r.crl.iter().enumerate() {
        let path = cfg.resolve(&c.issuer);
        let issuer = match std::fs::read(&path)
            .map_err(|e| e.to_string())
            .and_then(|b| Certificate::parse(&b).map_err(|e| e.to_string()))
        {
            Ok(c) => c,
            Err(e) => {
                problems.push(format!(
                    "revocation.crl[{i}].issuer {}: {e}",
                    path.display()
                ));
                continue;
            }
        };
        let mut sc = CrlStoreConfig::new(c.url.clone());
        sc.delta_url = c.delta_url.clone();
        sc.dir = r
            .crl_dir
            .as_ref()
            .map(|d| cfg.resolve(d).join(format!("issuer{i}")));
        let store = Arc::new(CrlStore::new(http.clone(), Arc::new(issuer), sc));
        let _ = store.load_persisted().await;
        stores.push(store);
    }
    let checker = Checker {
        policy: Policy::new(mode),
        ocsp,
        crls: stores.clone(),
    };
    Some((Some(Arc::new(checker)), stores))
}

/// Fetches what the CRL stores lack (bounded wait), then starts their refreshers.
pub async fn start_revocation(stores: &[Arc<CrlStore>], every: Duration, now: UnixTime) {
    for s in stores {
        let _ = tokio::time::timeout(Duration::from_secs(10), s.refresh_if_due(now)).await;
        s.spawn_refresher(every, crate::clock::now);
    }
}

/// Serves `state` on `listener` (plain HTTP, on the caller's runtime) until `shutdown`
/// resolves, then drains in-flight requests for `server.drain_secs`.
pub async fn serve(
    state: Arc<AppState>,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut opts = ListenOptions::plain();
    opts.drain = Duration::from_secs(state.cfg.server.drain_secs);
    opts.max_connections = state.cfg.server.max_connections;
    opts.send_timeout = Duration::from_secs(state.cfg.server.send_timeout_secs);
    let bound = Bound {
        main: vec![listener.into_std()?],
        redirect: None,
    };
    serve_bound(state, bound, opts, shutdown).await
}

/// The listener options `cfg` asks for: loads the TLS certificate and key (`Err` names every
/// problem with them).
pub fn listen_options(cfg: &Config) -> Result<ListenOptions, Vec<String>> {
    let s = &cfg.server;
    let mut opts = ListenOptions {
        workers: s.workers,
        drain: Duration::from_secs(s.drain_secs),
        max_connections: s.max_connections,
        send_timeout: Duration::from_secs(s.send_timeout_secs),
        tls: None,
        hsts: None,
        redirect_origin: super::config::parse_origin(&s.public_origin)
            .unwrap_or_else(|| s.public_origin.clone()),
    };
    if let Some(t) = &cfg.tls {
        let r = Reloader::new(&cfg.resolve(&t.cert_file), &cfg.resolve(&t.key_file))
            .map_err(|e| vec![format!("tls: {e}")])?;
        opts.tls = Some(Arc::new(r));
        if !t.hsts.is_empty() {
            opts.hsts = Some(
                HeaderValue::from_str(&t.hsts)
                    .map_err(|_| vec![format!("tls.hsts {:?}", t.hsts)])?,
            );
        }
    }
    Ok(opts)
}

/// Binds what `cfg` names: `server.listen` (once per worker) and `tls.redirect_listen`.
pub fn bind(cfg: &Config) -> Result<Bound, String> {
    let listen: SocketAddr = cfg
        .server
        .listen
        .parse()
        .map_err(|_| format!("server.listen {:?}", cfg.server.listen))?;
    let redirect = match cfg.tls.as_ref().and_then(|t| t.redirect_listen.as_ref()) {
        Some(r) => Some(
            r.parse::<SocketAddr>()
                .map_err(|_| format!("tls.redirect_listen {r:?}"))?,
        ),
        None => None,
    };
    listener::bind(listen, cfg.server.workers, redirect).map_err(|e| {
        format!(
            "cannot listen on {}{}: {e}",
            cfg.server.listen,
            redirect.map(|r| format!(" / {r}")).unwrap_or_default()
        )
    })
}

/// Serves `state` on `bound` with `opts` until `shutdown` resolves, then drains. Background
/// work (store events, sweeps, the certificate watcher) runs on the caller's runtime.
pub async fn serve_bound(
    state: Arc<AppState>,
    bound: Bound,
    opts: ListenOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut background = server::spawn_background(&state);
    if let (Some(reloader), Some(t)) = (&opts.tls, &state.cfg.tls) {
        let audit = state.audit.clone();
        let clock = state.clock.clone();
        background.push(reloader.spawn_watcher(
            Duration::from_secs(t.reload_secs.max(1)),
            move |r| {
                let (event, fields) = match r {
                    ReloadOutcome::Reloaded => ("tls_reloaded", json!({})),
                    ReloadOutcome::Failed(e) => {
                        ("tls_reload_failed", json!({"error": e.to_string()}))
                    }
                    ReloadOutcome::Unchanged => return,
                };
                eprintln!("eds-gateway: {event} {fields}");
                if let Err(e) = audit.append(event, clock(), fields) {
                    eprintln!("eds-gateway: AUDIT WRITE FAILED for {event}: {e}");
                }
            },
        ));
    }
    let r = listener::serve_gateway(state, bound, opts, shutdown).await;
    for t in background {
        t.abort();
    }
    r
}

//! The drill's own loopback world (like `demo`): a GOST-512 test CA with its `pki serve`
//! responder, switchable relays for OCSP, CRL and the webhook, a demo MIS, a staff file, and one
//! freshly configured gateway per scenario (built by [`crate::gateway::run::build`] from a real
//! `gateway.toml`).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::fault::FaultProxy;
use super::scenario::{KeyType, User};
use crate::drill::ca::{self, Ca, InitOptions, IssueRequest, OcspOptions, Profile};
use crate::drill::keys::KeyKind;
use crate::drill::responder::{self, ServeOptions};
use crate::drill::sign::Signer;
use crate::gateway::config::Config;
use crate::gateway::run;
use crate::pki::cert::Certificate;
use crate::pki::time::UnixTime;

/// The hospital BIN written into drill certificates and the staff mapping.
pub const BIN: &str = crate::gateway::demo::DEMO_BIN;

/// A key issued for the drill.
pub struct Key {
    /// Key and certificate.
    pub signer: Arc<Signer>,
    /// Serial hex.
    pub serial: String,
}

/// How one scenario's gateway is configured.
#[derive(Clone, Debug)]
pub struct GatewaySettings {
    /// `revocation.mode`.
    pub mode: String,
    /// `[recheck] ocsp_interval_secs`.
    pub ocsp_interval_secs: u64,
    /// `revocation.crl_refresh_secs` (and the refresher period).
    pub crl_refresh_secs: u64,
    /// `revocation.ocsp_max_age_secs`.
    pub ocsp_max_age_secs: u64,
    /// Accept the responder's webhook.
    pub webhook: bool,
}

impl GatewaySettings {
    /// For the report.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "revocation.mode": self.mode,
            "recheck.ocsp_interval_secs": self.ocsp_interval_secs,
            "revocation.crl_refresh_secs": self.crl_refresh_secs,
            "revocation.ocsp_max_age_secs": self.ocsp_max_age_secs,
            "webhook": self.webhook,
        })
    }
}

/// A gateway serving one scenario.
pub struct RunningGateway {
    /// Its address.
    pub addr: SocketAddr,
    /// Its public origin.
    pub origin: String,
    /// Its audit log.
    pub audit: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
}

impl RunningGateway {
    /// Stops it and waits for the drain (bounded).
    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), &mut self.task).await;
        self.task.abort();
    }
}

/// Everything the drill started.
pub struct Env {
    /// Working folder.
    pub dir: PathBuf,
    /// The CA folder.
    pub pki: PathBuf,
    /// The responder itself.
    pub responder: SocketAddr,
    /// OCSP relay (the gateway's `ocsp_url`).
    pub ocsp: FaultProxy,
    /// CRL relay (the gateway's CRL URLs).
    pub crl: FaultProxy,
    /// Webhook relay (the responder's `--webhook`), pointed at the push-enabled gateway.
    pub webhook: FaultProxy,
    /// The demo MIS.
    pub mis: SocketAddr,
    tasks: Vec<JoinHandle<()>>,
    counter: std::sync::atomic::AtomicU32,
}

impl Drop for Env {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

fn free_port() -> Result<SocketAddr, String> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| format!("bind: {e}"))?;
    l.local_addr().map_err(|e| format!("bind: {e}"))
}

fn io(what: &str) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

impl Env {
    /// Makes the CA and starts the responder, the relays and the demo MIS.
    pub async fn start(dir: &Path) -> Result<Env, String> {
        std::fs::create_dir_all(dir).map_err(io("drill folder"))?;
        let dir = dir.canonicalize().map_err(io("drill folder"))?;
        let pki = dir.join("pki");
        let _ = std::fs::remove_dir_all(&pki);
        let responder = free_port()?;
        Ca::init(
            &pki,
            &InitOptions {
                algorithm: KeyKind::Gost512,
                base_url: format!("http://{responder}"),
                crl_lifetime_secs: 24 * 3600,
                delta_lifetime_secs: 3600,
            },
        )
        .map_err(|e| format!("pki init: {}", e.0))?;
        let ocsp = FaultProxy::start(Some(responder))
            .await
            .map_err(io("OCSP relay"))?;
        let crl = FaultProxy::start(Some(responder))
            .await
            .map_err(io("CRL relay"))?;
        let webhook = FaultProxy::start(None).await.map_err(io("webhook relay"))?;
        let mut tasks = Vec::new();
        let opts = ServeOptions {
            // NCA-like answers (no nextUpdate): the gateway caches them for ocsp_max_age_secs.
            ocsp: OcspOptions {
                no_next_update: true,
                ..OcspOptions::default()
            },
            webhook: Some(format!("http://{}/eds/revocation/webhook", webhook.addr)),
            ..ServeOptions::default()
        };
        let p = pki.clone();
        tasks.push(tokio::spawn(async move {
            if let Err(e) = responder::serve(p, responder, opts).await {
                eprintln!("eds-gateway drill: responder stopped: {e}");
            }
        }));
        wait_for(responder).await?;
        let mis_l = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(io("demo MIS"))?;
        let mis = mis_l.local_addr().map_err(io("demo MIS"))?;
        tasks.push(tokio::spawn(async move {
            let _ = axum::serve(mis_l, crate::gateway::demo::demo_mis()).await;
        }));
        let certs = dir.join("certs");
        std::fs::create_dir_all(&certs).map_err(io("certs"))?;
        for (name, src) in [("drill_root.pem", "root.pem"), ("drill_ca.pem", "ca.pem")] {
            std::fs::copy(pki.join(src), certs.join(name)).map_err(io("certs"))?;
        }
        Ok(Env {
            dir,
            pki,
            responder,
            ocsp,
            crl,
            webhook,
            mis,
            tasks,
            counter: std::sync::atomic::AtomicU32::new(0),
        })
    }

    /// Writes the staff file: the people (staff) and the operator (admin).
    pub fn write_staff(&self, users: &[User], operator: &User) -> Result<(), String> {
        let mut s = String::from("iin,name,roles,enabled,valid_until,bin\n");
        for u in users {
            s.push_str(&format!("{},{},staff,true,,\n", u.iin, u.name));
        }
        s.push_str(&format!(
            "{},{},admin;staff,true,,\n",
            operator.iin, operator.name
        ));
        std::fs::write(self.dir.join("staff.csv"), s).map_err(io("staff file"))
    }

    /// Issues a key for `u`.
    pub fn issue(&self, u: &User) -> Result<Key, String> {
        issue_in(&self.pki, u)
    }

    /// Revokes `serial` (keyCompromise) now; the responder answers it at once and its webhook
    /// fires within 200 ms.
    pub fn revoke(&self, serial: &str) -> Result<(), String> {
        revoke_in(&self.pki, serial)
    }

    /// Publishes a full and delta CRL valid for `lifetime` seconds from now (the outage).
    pub fn publish_crl(&self, lifetime: i64) -> Result<UnixTime, String> {
        publish_crl_in(&self.pki, lifetime)
    }

    /// Writes a `gateway.toml` for `s`, builds the gateway and serves it on 127.0.0.1:0. The
    /// webhook relay points at it when `s.webhook`, at nothing otherwise.
    pub async fn start_gateway(
        &self,
        name: &str,
        s: &GatewaySettings,
        notes: &mut Vec<String>,
    ) -> Result<RunningGateway, String> {
        let n = self
            .counter
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let gdir = self.dir.join(format!("gw-{n}-{name}"));
        let _ = std::fs::remove_dir_all(&gdir);
        std::fs::create_dir_all(&gdir).map_err(io("gateway folder"))?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(io("gateway listener"))?;
        let addr = listener.local_addr().map_err(io("gateway listener"))?;
        let text = config_text(self, addr, s, true);
        let path = gdir.join("gateway.toml");
        std::fs::write(&path, &text).map_err(io("gateway.toml"))?;
        let cfg = match Config::load(&path) {
            Ok(c) => c,
            Err(p) if p.iter().any(|x| x.contains("recheck")) => {
                // A gateway without the live-session re-check: run anyway (nothing will be
                // evicted, and the report says so).
                notes.push(format!(
                    "{name}: this gateway build has no [recheck] section ({}); live sessions cannot be re-checked",
                    p.join("; ")
                ));
                std::fs::write(&path, config_text(self, addr, s, false))
                    .map_err(io("gateway.toml"))?;
                Config::load(&path).map_err(|p| format!("gateway.toml: {}", p.join("; ")))?
            }
            Err(p) => return Err(format!("gateway.toml: {}", p.join("; "))),
        };
        let built = run::build(cfg, Arc::new(crate::clock::now))
            .await
            .map_err(|p| format!("gateway: {}", p.join("; ")))?;
        run::start_revocation(
            &built.crl_stores,
            Duration::from_secs(s.crl_refresh_secs.max(1)),
            crate::clock::now(),
        )
        .await;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(run::serve(built.state, listener, async move {
            let _ = rx.await;
        }));
        self.webhook
            .set_target(if s.webhook { Some(addr) } else { None });
        Ok(RunningGateway {
            addr,
            origin: format!("http://{addr}"),
            audit: gdir.join("audit.jsonl"),
            stop: Some(tx),
            task,
        })
    }
}

fn config_text(env: &Env, addr: SocketAddr, s: &GatewaySettings, recheck: bool) -> String {
    let crl = env.crl.addr;
    let certs = env.dir.join("certs");
    let staff = env.dir.join("staff.csv");
    let recheck = if recheck {
        let allow = if s.webhook {
            "webhook_allow = [\"127.0.0.1\"]\n"
        } else {
            ""
        };
        format!(
            "\n[recheck]\nocsp_interval_secs = {}\n{allow}",
            s.ocsp_interval_secs
        )
    } else {
        String::new()
    };
    format!(
        r#"# Written by `eds-gateway drill run` (TEST keys only).
[server]
listen = "{addr}"
public_origin = "http://{addr}"
plain_http = true
instance = "drill"

[trust]
dir = "{certs}"

[revocation]
mode = "{mode}"
ocsp_url = "http://{ocsp}/ocsp"
ocsp_hash = "sha256"
ocsp_max_age_secs = {max_age}
crl_refresh_secs = {refresh}
crl_dir = "crl"

[[revocation.crl]]
issuer = "{certs}/drill_ca.pem"
url = "http://{crl}/crl/ca.crl"
delta_url = "http://{crl}/crl/ca_delta.crl"

[session]
store = "embedded"
dir = "sessions"
# Probe logins and the operator's second browser must not end the sessions under watch.
max_sessions_per_key = 16

[staff]
file = "{staff}"

[[staff.mapping]]
bin = "{BIN}"
nca_role = "employee"
grant = ["employee_of_drill_hospital"]

[audit]
file = "audit.jsonl"

[upstream]
url = "http://{mis}"
{recheck}"#,
        certs = certs.display(),
        staff = staff.display(),
        mode = s.mode,
        ocsp = env.ocsp.addr,
        max_age = s.ocsp_max_age_secs,
        refresh = s.crl_refresh_secs,
        mis = env.mis,
    )
}

/// Issues a key for `u` in the CA at `pki`.
pub fn issue_in(pki: &Path, u: &User) -> Result<Key, String> {
    let _lock = ca::Lock::take(pki).map_err(|e| e.0)?;
    let mut ca = Ca::open(pki).map_err(|e| e.0)?;
    let mut parts = u.name.splitn(2, ' ');
    let surname = parts.next().unwrap_or("ТЕСТ").to_string();
    let given = parts.next().unwrap_or("ТЕСТ").to_string();
    let issued = ca
        .issue(&IssueRequest {
            iin: u.iin.clone(),
            surname,
            given_name: given,
            patronymic: None,
            bin: Some(BIN.into()),
            org: Some("ТЕСТ АУРУХАНАСЫ".into()),
            role: "employee".into(),
            profile: match u.key {
                KeyType::Gost2015 => Profile::Gost2015,
                KeyType::RsaAuth => Profile::RsaAuth,
            },
            not_before: UnixTime(ca::now().0 - 300),
            days: 30,
        })
        .map_err(|e| format!("issue for {}: {}", u.iin, e.0))?;
    ca.save().map_err(|e| e.0)?;
    let certificate = Certificate::parse(&issued.cert_der).map_err(|e| e.to_string())?;
    Ok(Key {
        signer: Arc::new(Signer {
            key: issued.key,
            certificate,
        }),
        serial: issued.serial,
    })
}

/// Publishes a full and delta CRL valid for `lifetime` seconds from now in the CA at `pki`
/// (the CA's own lifetimes stay as they were); returns their nextUpdate.
pub fn publish_crl_in(pki: &Path, lifetime: i64) -> Result<UnixTime, String> {
    let _lock = ca::Lock::take(pki).map_err(|e| e.0)?;
    let mut ca = Ca::open(pki).map_err(|e| e.0)?;
    let (full, delta) = (ca.state.crl_lifetime_secs, ca.state.delta_lifetime_secs);
    ca.state.crl_lifetime_secs = lifetime;
    ca.state.delta_lifetime_secs = lifetime;
    let now = ca::now();
    ca.write_full_crl(now).map_err(|e| e.0)?;
    ca.state.crl_lifetime_secs = full;
    ca.state.delta_lifetime_secs = delta;
    ca.save().map_err(|e| e.0)?;
    Ok(now.plus_seconds(lifetime))
}

/// Revokes `serial` in the CA at `pki` (keyCompromise).
pub fn revoke_in(pki: &Path, serial: &str) -> Result<(), String> {
    let _lock = ca::Lock::take(pki).map_err(|e| e.0)?;
    let mut ca = Ca::open(pki).map_err(|e| e.0)?;
    ca.revoke(serial, 1, ca::now())
        .map(|_| ())
        .map_err(|e| format!("revoke {serial}: {}", e.0))
}

async fn wait_for(addr: SocketAddr) -> Result<(), String> {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Err(format!("{addr} did not start"))
}

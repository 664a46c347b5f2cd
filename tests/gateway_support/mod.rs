//! End-to-end harness for the gateway (STYLE.md §11): a test PKI with its live CRL/OCSP
//! responder, an echo MIS that reports what it received, and gateways built from a real
//! `gateway.toml` through `Config::load` and `run::build`, each on 127.0.0.1:0 with an
//! injectable clock.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use axum::body::Body;
use axum::http::Request;
use serde_json::{Value, json};

use eds_gateway::drill::ca::{self, Ca, InitOptions, IssueRequest, Profile};
use eds_gateway::drill::keys::KeyKind;
use eds_gateway::drill::p12out;
use eds_gateway::drill::sign::{Signer, load_p12};
use eds_gateway::gateway::config::Config;
use eds_gateway::gateway::run;
use eds_gateway::gateway::server::AppState;
use eds_gateway::pki::time::UnixTime;

/// A fresh folder under target/.
pub fn tmp(name: &str) -> PathBuf {
    let d = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!(
        "{name}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("tmp dir");
    d
}

static COUNTER: AtomicI64 = AtomicI64::new(0);

fn free_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind :0");
    l.local_addr().expect("addr")
}

/// The injectable clock: real time, or a pinned time, plus an offset tests can move.
#[derive(Clone, Default)]
pub struct TestClock {
    pinned: Arc<AtomicI64>,
    offset: Arc<AtomicI64>,
}

impl TestClock {
    /// Pins the clock at `t` (0 = follow real time).
    pub fn pin(&self, t: UnixTime) {
        self.pinned.store(t.0, Ordering::SeqCst);
    }
    /// Moves the clock forward by `secs`.
    pub fn advance(&self, secs: i64) {
        self.offset.fetch_add(secs, Ordering::SeqCst);
    }
    /// Now.
    pub fn now(&self) -> UnixTime {
        let p = self.pinned.load(Ordering::SeqCst);
        let base = if p == 0 {
            eds_gateway::clock::now().0
        } else {
            p
        };
        UnixTime(base + self.offset.load(Ordering::SeqCst))
    }
    /// As the gateway's clock type.
    pub fn as_clock(&self) -> eds_gateway::gateway::server::Clock {
        let c = self.clone();
        Arc::new(move || c.now())
    }
}

/// A test CA with its responder running.
pub struct TestPki {
    /// CA folder.
    pub dir: PathBuf,
    /// Responder address.
    pub responder: SocketAddr,
}

/// A key made for a test.
pub struct TestKey {
    /// The .p12.
    pub p12: PathBuf,
    /// Loaded signer.
    pub signer: Signer,
    /// Serial hex.
    pub serial: String,
    /// IIN.
    pub iin: String,
}

impl TestPki {
    /// `pki init` (GOST-512 or RSA) and `pki serve` on a free port.
    pub async fn start(dir: &Path, kind: KeyKind) -> TestPki {
        let responder = free_port();
        Ca::init(
            dir,
            &InitOptions {
                algorithm: kind,
                base_url: format!("http://{responder}"),
                crl_lifetime_secs: 24 * 3600,
                delta_lifetime_secs: 3600,
            },
        )
        .expect("pki init");
        tokio::spawn(eds_gateway::drill::responder::serve(
            dir.to_path_buf(),
            responder,
            eds_gateway::drill::responder::ServeOptions::default(),
        ));
        wait_for(responder).await;
        TestPki {
            dir: dir.to_path_buf(),
            responder,
        }
    }

    /// Issues a key for `iin` with `profile` and NCA role `role`.
    pub fn issue(&self, iin: &str, surname: &str, profile: Profile, role: &str) -> TestKey {
        self.issue_at(
            iin,
            surname,
            profile,
            role,
            UnixTime(ca::now().0 - 300),
            365,
        )
    }

    /// Issues with an explicit validity.
    pub fn issue_at(
        &self,
        iin: &str,
        surname: &str,
        profile: Profile,
        role: &str,
        not_before: UnixTime,
        days: i64,
    ) -> TestKey {
        let _lock = ca::Lock::take(&self.dir).expect("lock");
        let mut ca = Ca::open(&self.dir).expect("open CA");
        let issued = ca
            .issue(&IssueRequest {
                iin: iin.into(),
                surname: surname.into(),
                given_name: "ТЕСТ".into(),
                patronymic: None,
                bin: Some(BIN.into()),
                org: Some("ТЕСТ АУРУХАНАСЫ".into()),
                role: role.into(),
                profile,
                not_before,
                days,
            })
            .expect("issue");
        let key_id =
            eds_gateway::drill::keys::key_id(&issued.key.public_key_bits().expect("public key"));
        let p12 = p12out::write(
            &issued.key.to_pkcs8(),
            &[issued.cert_der.clone(), ca.ca.der().to_vec()],
            "key",
            &key_id,
            "pw",
        )
        .expect("p12");
        let path = self.dir.join(format!("{iin}-{}.p12", issued.serial));
        std::fs::write(&path, &p12).expect("write p12");
        TestKey {
            signer: load_p12(&p12, "pw").expect("load p12"),
            p12: path,
            serial: issued.serial,
            iin: iin.into(),
        }
    }

    /// Revokes a serial (keyCompromise) at once.
    pub fn revoke(&self, serial: &str) {
        let _lock = ca::Lock::take(&self.dir).expect("lock");
        let mut ca = Ca::open(&self.dir).expect("open CA");
        ca.revoke(serial, 1, ca::now()).expect("revoke");
    }

    /// Copies the root and issuing CA into `certs`.
    pub fn trust_into(&self, certs: &Path, tag: &str) {
        std::fs::create_dir_all(certs).expect("certs dir");
        for f in ["root.pem", "ca.pem"] {
            std::fs::copy(self.dir.join(f), certs.join(format!("{tag}_{f}"))).expect("copy");
        }
    }

    /// The `[[revocation.crl]]` block for this CA, with the issuer copied as `{tag}_ca.pem`.
    pub fn crl_toml(&self, tag: &str) -> String {
        format!(
            "[[revocation.crl]]\nissuer = \"certs/{tag}_ca.pem\"\nurl = \"http://{r}/crl/ca.crl\"\ndelta_url = \"http://{r}/crl/ca_delta.crl\"\n",
            r = self.responder
        )
    }
}

/// The hospital BIN used by test keys (valid checksum).
pub const BIN: &str = "990340001230";

/// Waits until something accepts on `addr`.
pub async fn wait_for(addr: SocketAddr) {
    for _ in 0..200 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("nothing listens on {addr}");
}

/// The echo MIS: answers every request with JSON of what it received.
pub async fn echo_mis() -> SocketAddr {
    let app = axum::Router::new().fallback(|req: Request<Body>| async move {
        let (parts, body) = req.into_parts();
        let len = axum::body::to_bytes(body, 1 << 20)
            .await
            .map(|b| b.len())
            .unwrap_or(0);
        let headers: Vec<Value> = parts
            .headers
            .iter()
            .map(|(k, v)| json!([k.as_str(), String::from_utf8_lossy(v.as_bytes())]))
            .collect();
        axum::Json(
            json!({"method": parts.method.as_str(), "path": parts.uri.to_string(),
                          "headers": headers, "body_len": len}),
        )
    });
    let l = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind MIS");
    let a = l.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(l, app).await });
    a
}

/// One gateway under test.
pub struct Gw {
    /// Its address.
    pub addr: SocketAddr,
    /// Its public origin.
    pub origin: String,
    /// Its state (store, audit, config).
    pub state: Arc<AppState>,
    /// The config folder.
    pub dir: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Drop for Gw {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

impl Gw {
    /// A scripted browser for this gateway.
    pub fn browser(&self) -> eds_gateway::gateway::client::Browser {
        eds_gateway::gateway::client::Browser::new(self.addr, &self.origin).expect("browser")
    }

    /// The audit records so far.
    pub fn audit(&self) -> Vec<Value> {
        let text = std::fs::read_to_string(self.dir.join("audit.jsonl")).unwrap_or_default();
        text.lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The last audit record of `event`.
    #[track_caller]
    pub fn last_audit(&self, event: &str) -> Value {
        self.audit()
            .into_iter()
            .rev()
            .find(|r| r["event"] == event)
            .unwrap_or_else(|| panic!("no audit record {event}: {:?}", self.audit()))
    }
}

/// Writes `gateway.toml` into `dir` (which must hold `certs/` and `staff.csv`) with `extra`
/// appended, and starts a gateway on 127.0.0.1:0 in front of `mis`.
pub async fn gateway(
    dir: &Path,
    mis: SocketAddr,
    revocation: &str,
    extra: &str,
    clock: &TestClock,
) -> Gw {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind gateway");
    let addr = listener.local_addr().expect("addr");
    let origin = format!("http://{addr}");
    let store = if extra.contains("[session]") {
        String::new()
    } else {
        "[session]\nstore = \"embedded\"\ndir = \"sessions\"\n".to_string()
    };
    let toml = format!(
        "[server]\nlisten = \"{addr}\"\npublic_origin = \"{origin}\"\nplain_http = true\ninstance = \"test\"\n\n\
         [trust]\ndir = \"certs\"\n\n{revocation}\n{store}\n[staff]\nfile = \"staff.csv\"\nreload_secs = 1\n\n\
         [audit]\nfile = \"audit.jsonl\"\n\n[upstream]\nurl = \"http://{mis}\"\n\n{extra}\n"
    );
    let file = dir.join("gateway.toml");
    std::fs::write(&file, toml).expect("write config");
    let cfg = Config::load(&file).unwrap_or_else(|p| panic!("config problems: {p:#?}"));
    let built = run::build(cfg, clock.as_clock())
        .await
        .unwrap_or_else(|p| panic!("build problems: {p:#?}"));
    run::start_revocation(
        &built.crl_stores,
        std::time::Duration::from_secs(3600),
        clock.now(),
    )
    .await;
    let state = built.state.clone();
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(run::serve(state.clone(), listener, async move {
        let _ = rx.await;
    }));
    Gw {
        addr,
        origin,
        state,
        dir: dir.to_path_buf(),
        stop: Some(tx),
    }
}

/// Staff file rows: (iin, name, roles `a;b`, enabled).
pub fn write_staff(dir: &Path, rows: &[(&str, &str, &str, bool)]) {
    let mut s = String::from("iin,name,roles,enabled,valid_until,bin\n");
    for (iin, name, roles, en) in rows {
        s.push_str(&format!("{iin},{name},{roles},{en},,\n"));
    }
    std::fs::write(dir.join("staff.csv"), s).expect("staff");
}

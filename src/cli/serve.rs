//! `serve --config F`, `check-config F` and `demo`.
//!
//! Exit codes: 0 clean shutdown (or a passing `demo --smoke`), 1 runtime failure (or a failing
//! smoke login), 64 bad configuration (every problem listed), 70 the listener could not be bound.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use crate::gateway::config::Config;
use crate::gateway::{demo, run};

/// `serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The configuration file.
    #[arg(long, default_value = "gateway.toml")]
    pub config: PathBuf,
}

/// `check-config`.
#[derive(Args, Debug)]
pub struct CheckConfigArgs {
    /// The configuration file.
    pub file: PathBuf,
}

/// `demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Data folder (made if missing; reused if present).
    #[arg(long, default_value = "eds-demo")]
    pub dir: PathBuf,
    /// Gateway port on 127.0.0.1; the responder uses PORT+1 and the demo MIS PORT+2.
    #[arg(long, default_value_t = 8080)]
    pub port: u16,
    /// Where the login page looks for NCALayer (`ws://` for `eds-gateway ncalayer-sim`).
    #[arg(long = "ncalayer-url", default_value = "ws://127.0.0.1:13579")]
    pub ncalayer_url: String,
    /// Log in once with the doctor's key and once with the revoked key over HTTP, print the
    /// results and exit (0 if the doctor got in and the revoked key was refused).
    #[arg(long)]
    pub smoke: bool,
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            eprintln!("eds-gateway: cannot start the runtime: {e}");
            ExitCode::from(1)
        })
}

fn bad_config(file: &std::path::Path, problems: &[String]) -> ExitCode {
    eprintln!(
        "eds-gateway: {} has {} problem(s):",
        file.display(),
        problems.len()
    );
    for p in problems {
        eprintln!("  - {p}");
    }
    ExitCode::from(64)
}

/// `check-config F`: parse, validate, and build everything that needs no network (trust store,
/// staff file, stores); prints a summary or every problem.
pub fn check_config(a: CheckConfigArgs) -> ExitCode {
    let cfg = match Config::load(&a.file) {
        Ok(c) => c,
        Err(p) => return bad_config(&a.file, &p),
    };
    let rt = match runtime() {
        Ok(r) => r,
        Err(c) => return c,
    };
    rt.block_on(async {
        match run::check(&cfg).await {
            Ok(b) => {
                println!(
                    "{}: OK (listen {}, origin {}, store {}, {} CRL source(s))",
                    a.file.display(),
                    cfg.server.listen,
                    cfg.server.public_origin,
                    cfg.session.store,
                    b.crl_sources
                );
                println!("trust store ({} certificates):", b.trust.summary().len());
                for e in b.trust.summary() {
                    println!(
                        "  {:<12} {}  until {}  sha256 {}  ({})",
                        format!("{:?}", e.role).to_lowercase(),
                        e.subject,
                        e.not_after.to_rfc3339(),
                        e.sha256,
                        e.file
                    );
                }
                println!("staff directory: {} record(s)", b.staff.len());
                ExitCode::SUCCESS
            }
            Err(p) => bad_config(&a.file, &p),
        }
    })
}

/// `serve --config F`.
pub fn serve(a: ServeArgs) -> ExitCode {
    let cfg = match Config::load(&a.config) {
        Ok(c) => c,
        Err(p) => return bad_config(&a.config, &p),
    };
    // With per-core workers the main runtime only runs background work (store events, sweeps,
    // CRL refreshers, the certificate watcher) and the redirect listener: one thread is enough.
    let rt = if cfg.server.workers > 0 {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .map_err(|e| {
                eprintln!("eds-gateway: cannot start the runtime: {e}");
                ExitCode::from(1)
            })
    } else {
        runtime()
    };
    let rt = match rt {
        Ok(r) => r,
        Err(c) => return c,
    };
    rt.block_on(async { serve_config(cfg, &a.config).await })
}

async fn serve_config(cfg: Config, file: &std::path::Path) -> ExitCode {
    let every = Duration::from_secs(cfg.revocation.crl_refresh_secs.max(5));
    // JSON (or text) log lines on stderr, one per request, from here on.
    if let Err(e) = crate::gateway::logging::init_logging(&cfg.log) {
        eprintln!("eds-gateway: {e}");
    }
    let instance = cfg.instance();
    // Certificates load (and are checked against their key) before any port is bound.
    let opts = match run::listen_options(&cfg) {
        Ok(o) => o,
        Err(p) => return bad_config(file, &p),
    };
    let built = match run::build(cfg, Arc::new(crate::clock::now)).await {
        Ok(b) => b,
        Err(p) => return bad_config(file, &p),
    };
    let bound = match run::bind(&built.state.cfg) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("eds-gateway: {e}");
            return ExitCode::from(70);
        }
    };
    run::start_revocation(&built.crl_stores, every, crate::clock::now()).await;
    if let Ok(a) = bound.local_addr() {
        let scheme = if opts.tls.is_some() { "https" } else { "http" };
        let workers = match opts.workers {
            0 => "one multi-threaded runtime".to_string(),
            n => format!("{n} single-threaded worker runtime(s)"),
        };
        println!("eds-gateway listening on {scheme}://{a} ({workers})");
    }
    if let Some(r) = bound.redirect_addr() {
        println!(
            "eds-gateway redirecting http://{r} to {}",
            opts.redirect_origin
        );
    }
    crate::gateway::logging::log_started(
        &instance,
        &built.state.cfg.server.listen,
        built.state.store.backend(),
        built.state.assertions.as_ref().map(|a| a.key().kid()),
    );
    let served = run::serve_bound(built.state, bound, opts, shutdown_signal()).await;
    crate::gateway::logging::log_stopped(&instance);
    match served {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("eds-gateway: server error: {e}");
            ExitCode::from(1)
        }
    }
}

/// SIGINT (Ctrl-C) or SIGTERM (systemd, Kubernetes): stop accepting and drain.
async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
    eprintln!("eds-gateway: shutting down, draining in-flight requests");
}

/// `demo`.
pub fn demo(a: DemoArgs) -> ExitCode {
    let rt = match runtime() {
        Ok(r) => r,
        Err(c) => return c,
    };
    rt.block_on(run_demo(a))
}

async fn run_demo(a: DemoArgs) -> ExitCode {
    let fail = |m: String| {
        eprintln!("eds-gateway demo: {m}");
        ExitCode::from(1)
    };
    if let Err(e) = std::fs::create_dir_all(&a.dir) {
        return fail(format!("{}: {e}", a.dir.display()));
    }
    let dir = match a.dir.canonicalize() {
        Ok(d) => d,
        Err(e) => return fail(format!("{}: {e}", a.dir.display())),
    };
    // The responder's address is written into every certificate (AIA, CDP): reuse it.
    let responder: SocketAddr = match crate::drill::ca::Ca::open(&dir.join("pki")) {
        Ok(ca) => ca
            .state
            .base_url
            .trim_start_matches("http://")
            .parse()
            .unwrap_or(SocketAddr::from(([127, 0, 0, 1], a.port.wrapping_add(1)))),
        Err(_) => SocketAddr::from(([127, 0, 0, 1], a.port.wrapping_add(1))),
    };
    let gateway = SocketAddr::from(([127, 0, 0, 1], a.port));
    let mis = SocketAddr::from(([127, 0, 0, 1], a.port.wrapping_add(2)));
    let prepared = match demo::prepare(&dir, responder, gateway, mis, &a.ncalayer_url) {
        Ok(p) => p,
        Err(e) => return fail(e),
    };
    // The responder.
    let pki = dir.join("pki");
    let resp_listener = match tokio::net::TcpListener::bind(responder).await {
        Ok(l) => l,
        Err(e) => return fail(format!("responder {responder}: {e}")),
    };
    drop(resp_listener);
    tokio::spawn(crate::drill::responder::serve(
        pki,
        responder,
        crate::drill::responder::ServeOptions::default(),
    ));
    // The demo MIS.
    let mis_listener = match tokio::net::TcpListener::bind(mis).await {
        Ok(l) => l,
        Err(e) => return fail(format!("demo MIS {mis}: {e}")),
    };
    tokio::spawn(async move { axum::serve(mis_listener, demo::demo_mis()).await });
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The gateway, through the same config path as `serve`.
    let cfg = match Config::load(&prepared.config) {
        Ok(c) => c,
        Err(p) => return bad_config(&prepared.config, &p),
    };
    let built = match run::build(cfg, Arc::new(crate::clock::now)).await {
        Ok(b) => b,
        Err(p) => return bad_config(&prepared.config, &p),
    };
    let listener = match tokio::net::TcpListener::bind(gateway).await {
        Ok(l) => l,
        Err(e) => return fail(format!("gateway {gateway}: {e}")),
    };
    run::start_revocation(
        &built.crl_stores,
        Duration::from_secs(10),
        crate::clock::now(),
    )
    .await;
    let state = built.state.clone();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(run::serve(state, listener, async move {
        tokio::select! {
            _ = stop_rx => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }));
    println!(
        "eds-gateway demo is running (TEST keys only, data in {})",
        dir.display()
    );
    println!();
    println!("  open          http://{gateway}/   (the demo MIS behind the gateway)");
    println!("  config        {}", prepared.config.display());
    println!("  keys          password {}", demo::DEMO_PASSWORD);
    for (name, path) in &prepared.keys {
        println!("    {name:<8} {}", path.display());
    }
    println!();
    println!("  to log in, start NCALayer's stand-in with one of the keys in another terminal:");
    println!(
        "    EDS_P12_PASSWORD={} eds-gateway ncalayer-sim --p12 {} --password-env EDS_P12_PASSWORD --listen 127.0.0.1:13579",
        demo::DEMO_PASSWORD,
        prepared
            .keys
            .first()
            .map(|(_, p)| p.display().to_string())
            .unwrap_or_default()
    );
    println!(
        "  (or real NCALayer set up for NCA test keys: start with --ncalayer-url wss://127.0.0.1:13579)"
    );
    println!("  the 'revoked' key is refused; Ctrl-C stops everything");
    if a.smoke {
        let code = smoke(&dir, gateway, &prepared).await;
        let _ = stop_tx.send(());
        let _ = server.await;
        return code;
    }
    match server.await {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => fail(format!("gateway: {e}")),
        Err(e) => fail(format!("gateway task: {e}")),
    }
}

async fn smoke(dir: &std::path::Path, gateway: SocketAddr, p: &demo::Prepared) -> ExitCode {
    let mut ok = true;
    for (name, path) in &p.keys {
        if name != "doctor" && name != "revoked" {
            continue;
        }
        let r = demo::http_login(gateway, path, demo::DEMO_PASSWORD).await;
        let expect_in = name == "doctor";
        let passed = match &r {
            Ok(page) => expect_in && page.contains("850101300015"),
            Err(code) => !expect_in && code == "cert_revoked",
        };
        ok &= passed;
        println!(
            "smoke: {name}: {} ({})",
            match &r {
                Ok(_) => "logged in, the demo MIS saw the identity".to_string(),
                Err(c) => format!("refused: {c}"),
            },
            if passed { "as expected" } else { "UNEXPECTED" }
        );
    }
    println!(
        "smoke: audit log at {}",
        dir.join("data/audit/audit.jsonl").display()
    );
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

//! `drill run`: the revocation drill (issue 8), see docs/drills.md.
//!
//! Exit codes: 0 every expectation held, 1 an expectation failed or the drill could not run,
//! 64 usage errors (bad scenario file, incomplete `--gateway` options, unwritable `--out`).

use std::io::IsTerminal;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::drill::report;
use crate::drill::run::{self, External, Options, scenario};

/// `drill …`.
#[derive(Subcommand, Debug)]
pub enum DrillCommand {
    /// Run a revocation drill and write report.json and report.html.
    Run(DrillRunArgs),
}

/// `drill run`.
#[derive(Args, Debug)]
pub struct DrillRunArgs {
    /// Scenario file (TOML; see docs/drills.md). Default: every scenario, 4 people.
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Where report.json, report.html and the drill's working files go.
    #[arg(long, default_value = "drill-report")]
    pub out: PathBuf,
    /// Drill a running gateway (`http://HOST:PORT`) instead of an in-process one; needs
    /// --pki-dir and --responder.
    #[arg(long)]
    pub gateway: Option<String>,
    /// The test CA folder (`pki init`) the external gateway trusts.
    #[arg(long = "pki-dir")]
    pub pki_dir: Option<PathBuf>,
    /// The `pki serve` URL of that CA (recorded in the report).
    #[arg(long)]
    pub responder: Option<String>,
    /// No progress bar even on a terminal.
    #[arg(long)]
    pub quiet: bool,
}

fn usage(msg: &str) -> ExitCode {
    eprintln!("eds-gateway drill run: {msg}");
    ExitCode::from(64)
}

fn parse_gateway(url: &str) -> Result<SocketAddr, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("--gateway {url:?}: an http:// URL (loopback drills)"))?;
    let host = rest.trim_end_matches('/');
    if host.contains('/') {
        return Err(format!("--gateway {url:?}: no path, just http://HOST:PORT"));
    }
    host.to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .ok_or_else(|| format!("--gateway {url:?}: cannot resolve HOST:PORT"))
}

/// `drill …`.
pub fn run(c: DrillCommand) -> ExitCode {
    match c {
        DrillCommand::Run(a) => drill_run(a),
    }
}

fn write_reports(out: &Path, r: &report::Report) -> Result<(), String> {
    let json = serde_json::to_vec_pretty(r).map_err(|e| e.to_string())?;
    std::fs::write(out.join("report.json"), json)
        .map_err(|e| format!("{}: {e}", out.join("report.json").display()))?;
    std::fs::write(out.join("report.html"), report::html(r))
        .map_err(|e| format!("{}: {e}", out.join("report.html").display()))
}

fn drill_run(a: DrillRunArgs) -> ExitCode {
    let plan = match &a.scenario {
        None => scenario::default_plan(),
        Some(f) => {
            let text = match std::fs::read_to_string(f) {
                Ok(t) => t,
                Err(e) => return usage(&format!("{}: {e}", f.display())),
            };
            match scenario::parse(&text) {
                Ok(p) => p,
                Err(problems) => {
                    eprintln!(
                        "eds-gateway drill run: {} has {} problem(s):",
                        f.display(),
                        problems.len()
                    );
                    for p in problems {
                        eprintln!("  - {p}");
                    }
                    return ExitCode::from(64);
                }
            }
        }
    };
    let external = match (&a.gateway, &a.pki_dir, &a.responder) {
        (None, None, None) => None,
        (Some(g), Some(p), Some(r)) => {
            let addr = match parse_gateway(g) {
                Ok(a) => a,
                Err(e) => return usage(&e),
            };
            if !p.join("state.json").exists() {
                return usage(&format!(
                    "--pki-dir {}: not a test CA folder (no state.json)",
                    p.display()
                ));
            }
            if plan.scenarios.contains(&scenario::Kind::Outage) {
                return usage(
                    "the outage scenario needs the in-process responder: leave \"outage\" out of `scenarios` with --gateway",
                );
            }
            Some(External {
                gateway: addr,
                origin: g.trim_end_matches('/').to_string(),
                pki_dir: p.clone(),
                responder: r.clone(),
            })
        }
        _ => return usage("--gateway, --pki-dir and --responder go together"),
    };
    if let Err(e) = std::fs::create_dir_all(&a.out) {
        return usage(&format!("--out {}: {e}", a.out.display()));
    }
    let opts = Options {
        plan,
        work_dir: a.out.join("work"),
        external,
        progress: !a.quiet && std::io::stderr().is_terminal(),
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("eds-gateway drill run: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let r = match rt.block_on(run::run(&opts)) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("eds-gateway drill run: could not set up the drill: {e}");
            return ExitCode::from(1);
        }
    };
    rt.shutdown_timeout(std::time::Duration::from_secs(2));
    if let Err(e) = write_reports(&a.out, &r) {
        eprintln!("eds-gateway drill run: {e}");
        return ExitCode::from(1);
    }
    for s in &r.scenarios {
        println!(
            "{:<4} {:<12} {}",
            if s.passed() { "PASS" } else { "FAIL" },
            s.name,
            s.measurements
                .iter()
                .filter(|(k, _)| k.ends_with("_ms") || k.starts_with("requests_after"))
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        );
        if let Some(e) = &s.error {
            println!("     error: {e}");
        }
        for x in s.expectations.iter().filter(|x| !x.passed) {
            println!(
                "     failed: {} (goal {}, measured {})",
                x.name, x.goal, x.measured
            );
        }
    }
    println!(
        "report: {} and {}",
        a.out.join("report.json").display(),
        a.out.join("report.html").display()
    );
    if r.passed {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

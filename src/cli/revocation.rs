//! `eds-gateway revocation status CERT [--issuer F]` and `eds-gateway crl fetch URL --out F`:
//! the online revocation layer from the command line (issue 4).
//! Exit codes: 0 good / fetched, 1 revoked or no usable answer, 2 usage or unreadable input.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use super::inputs;
use crate::pki::cert::Certificate;
use crate::pki::crl::Crl;
use crate::pki::ocsp::OcspStatus;
use crate::pki::time::UnixTime;
use crate::revocation::crl_store::{CrlLookup, CrlStore, CrlStoreConfig, Kind};
use crate::revocation::evidence::now;
use crate::revocation::http::{GetOutcome, Http, HttpConfig};
use crate::revocation::ocsp_client::{OcspClient, OcspConfig};
use crate::revocation::ocsp_request::CertIdHash;

/// `revocation` subcommands.
#[derive(Subcommand, Debug)]
pub enum RevocationCommand {
    /// Ask the OCSP responder and the CRL for one certificate; print both answers and their ages.
    Status(StatusArgs),
}

/// `crl` subcommands.
#[derive(Subcommand, Debug)]
pub enum CrlCommand {
    /// Download a CRL with a progress bar (size-capped); verify it when --issuer is given.
    Fetch(FetchArgs),
}

/// `revocation status CERT`
#[derive(Args, Debug)]
pub struct StatusArgs {
    /// The certificate.
    pub cert: PathBuf,
    /// Its issuer (default: downloaded from the certificate's AIA caIssuers URL).
    #[arg(long)]
    pub issuer: Option<PathBuf>,
    /// OCSP responder instead of AIA.
    #[arg(long = "ocsp-url")]
    pub ocsp_url: Option<String>,
    /// CRL URL instead of the CDP.
    #[arg(long = "crl-url")]
    pub crl_url: Option<String>,
    /// Delta CRL URL instead of Freshest CRL.
    #[arg(long = "delta-url")]
    pub delta_url: Option<String>,
    /// CertID hash: sha1 (default) or sha256 (NCA).
    #[arg(long, default_value = "sha1")]
    pub hash: String,
    /// Send no nonce.
    #[arg(long = "no-nonce")]
    pub no_nonce: bool,
    /// Accept SHA-1 signatures.
    #[arg(long = "allow-sha1")]
    pub allow_sha1: bool,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
}

/// `crl fetch URL --out F`
#[derive(Args, Debug)]
pub struct FetchArgs {
    /// The CRL URL.
    pub url: String,
    /// Where to write it (DER as received).
    #[arg(long)]
    pub out: PathBuf,
    /// Verify it against this CA certificate.
    #[arg(long)]
    pub issuer: Option<PathBuf>,
    /// Size cap in bytes.
    #[arg(long = "max-size", default_value_t = crate::pki::crl::MAX_CRL_SIZE)]
    pub max_size: usize,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}

fn usage(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(2)
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| usage(format!("cannot start the runtime: {e}")))
}

fn read_cert(p: &std::path::Path) -> Result<Certificate, ExitCode> {
    let bytes = inputs::read(p).map_err(usage)?;
    match inputs::certificates(&bytes).into_iter().next() {
        Some(Ok(c)) => Ok(c),
        Some(Err(e)) => Err(usage(format!("{}: {e}", p.display()))),
        None => Err(usage(format!("{} holds no certificate", p.display()))),
    }
}

/// Runs a `revocation` subcommand.
pub fn run_revocation(cmd: RevocationCommand) -> ExitCode {
    match cmd {
        RevocationCommand::Status(a) => status(&a),
    }
}

/// Runs a `crl` subcommand.
pub fn run_crl(cmd: CrlCommand) -> ExitCode {
    match cmd {
        CrlCommand::Fetch(a) => fetch(&a),
    }
}

fn age(now: UnixTime, t: UnixTime) -> String {
    let s = now.0 - t.0;
    if s.abs() < 120 {
        format!("{s} s")
    } else if s.abs() < 7200 {
        format!("{} min", s / 60)
    } else {
        format!("{:.1} h", s as f64 / 3600.0)
    }
}

fn status(a: &StatusArgs) -> ExitCode {
    let cert = match read_cert(&a.cert) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let Some(hash) = CertIdHash::from_name(&a.hash) else {
        return usage(format!("--hash {:?}: use sha1 or sha256", a.hash));
    };
    let rt = match runtime() {
        Ok(r) => r,
        Err(e) => return e,
    };
    let http = match Http::new(HttpConfig::default()) {
        Ok(h) => h,
        Err(e) => return usage(e),
    };
    rt.block_on(async {
        let issuer = match &a.issuer {
            Some(p) => match read_cert(p) {
                Ok(c) => c,
                Err(e) => return e,
            },
            None => {
                let Some(url) = cert.extensions.ca_issuers_urls.first() else {
                    return usage("no --issuer and the certificate names no caIssuers URL");
                };
                match http.get(url, None, 1 << 20, &mut |_, _| {}).await {
                    Ok(GetOutcome::Body { bytes, .. }) => match Certificate::parse(&bytes) {
                        Ok(c) => c,
                        Err(e) => return usage(format!("issuer from {url}: {e}")),
                    },
                    Ok(GetOutcome::NotModified) => return usage("issuer: unexpected 304"),
                    Err(e) => return usage(format!("issuer from {url}: {e}")),
                }
            }
        };
        let t = now();
        let signature = crate::pki::signature::SignaturePolicy {
            allow_sha1: a.allow_sha1,
            ..Default::default()
        };
        let client = OcspClient::new(
            http.clone(),
            OcspConfig {
                url_override: a.ocsp_url.clone(),
                hash,
                nonce: !a.no_nonce,
                retries: 1,
                signature,
                // A status report shows old answers rather than refusing them.
                max_age: std::time::Duration::from_secs(365 * 86400),
                ..OcspConfig::default()
            },
        );
        let r = client.status(&cert, &issuer, t).await;
        let (ocsp_json, ocsp_line, ocsp_ok) = match &r.result {
            Ok(ans) => {
                let (st, ok) = match &ans.status {
                    OcspStatus::Good { .. } => ("good".to_string(), Some(true)),
                    OcspStatus::Revoked { time, reason } => (
                        format!(
                            "revoked at {time} ({})",
                            reason.map_or("unspecified", |r| r.name())
                        ),
                        Some(false),
                    ),
                    OcspStatus::Unknown => ("unknown".to_string(), None),
                };
                let next = ans
                    .next_update
                    .map_or("none".to_string(), |n| n.to_rfc3339());
                (
                    json!({"url": ans.url, "status": st, "this_update": ans.this_update.to_rfc3339(),
                           "next_update": ans.next_update.map(|n| n.to_rfc3339()),
                           "age_secs": t.0 - ans.this_update.0}),
                    format!(
                        "OCSP {}: {st}; thisUpdate {} ({} ago), nextUpdate {next}",
                        ans.url,
                        ans.this_update,
                        age(t, ans.this_update)
                    ),
                    ok,
                )
            }
            Err(f) => (
                json!({"status": "error", "code": f.code, "detail": f.detail}),
                format!("OCSP: {} ({})", f.detail, f.code),
                None,
            ),
        };
        let full_url = a.crl_url.clone().or_else(|| {
            cert.extensions
                .crl_distribution_points
                .iter()
                .flat_map(|d| d.urls.iter())
                .find(|u| u.starts_with("http"))
                .cloned()
        });
        let (crl_json, crl_line, crl_ok) = match full_url {
            None => (
                json!({"status": "error", "code": "crl_no_url"}),
                "CRL: the certificate names no CRL and none was given (crl_no_url)".to_string(),
                None,
            ),
            Some(url) => {
                let mut cfg = CrlStoreConfig::new(url.clone());
                cfg.signature = signature;
                cfg.delta_url = a.delta_url.clone().or_else(|| {
                    cert.extensions
                        .freshest_crl
                        .iter()
                        .flat_map(|d| d.urls.iter())
                        .find(|u| u.starts_with("http"))
                        .cloned()
                });
                let store = Arc::new(CrlStore::new(http.clone(), Arc::new(issuer.clone()), cfg));
                let _ = store.refresh(Kind::Full, t, &mut |_, _| {}).await;
                if store.config().delta_url.is_some() {
                    let _ = store.refresh(Kind::Delta, t, &mut |_, _| {}).await;
                }
                let snap = store.snapshot();
                let crl_age = snap
                    .full
                    .as_ref()
                    .map(|f| format!("; CRL #{} thisUpdate {} ({} ago), nextUpdate {}, {} entries",
                        f.crl_number, f.this_update, age(t, f.this_update), f.next_update, f.entries))
                    .unwrap_or_default();
                match store.lookup(&cert.serial, t) {
                    CrlLookup::Good { crl_number, .. } => (
                        json!({"url": url, "status": "good", "crl_number": crl_number}),
                        format!("CRL {url}: good{crl_age}"),
                        Some(true),
                    ),
                    CrlLookup::Revoked { date, reason, crl_number } => (
                        json!({"url": url, "status": "revoked", "crl_number": crl_number,
                               "revocation_time": date.to_rfc3339(), "reason": reason.map(|r| r.code())}),
                        format!("CRL {url}: revoked at {date} ({}){crl_age}",
                            reason.map_or("unspecified", |r| r.code())),
                        Some(false),
                    ),
                    CrlLookup::Condition { code, detail, .. } => (
                        json!({"url": url, "status": "error", "code": code, "detail": detail}),
                        format!("CRL: {detail} ({code}){crl_age}"),
                        None,
                    ),
                }
            }
        };
        let revoked = ocsp_ok == Some(false) || crl_ok == Some(false);
        let good = !revoked && (ocsp_ok == Some(true) || crl_ok == Some(true));
        if a.json {
            let v: Value = json!({"serial": cert.serial_hex(), "ocsp": ocsp_json, "crl": crl_json,
                                  "revoked": revoked, "good": good});
            println!("{v}");
        } else {
            println!("certificate serial {}", cert.serial_hex());
            println!("  {ocsp_line}");
            println!("  {crl_line}");
            println!("{}", if revoked { "REVOKED" } else if good { "GOOD" } else { "UNKNOWN" });
        }
        if good { ExitCode::SUCCESS } else { ExitCode::from(1) }
    })
}

fn fetch(a: &FetchArgs) -> ExitCode {
    let rt = match runtime() {
        Ok(r) => r,
        Err(e) => return e,
    };
    let issuer = match &a.issuer {
        Some(p) => match read_cert(p) {
            Ok(c) => Some(c),
            Err(e) => return e,
        },
        None => None,
    };
    let http = match Http::new(HttpConfig::default()) {
        Ok(h) => h,
        Err(e) => return usage(e),
    };
    let bar = if a.quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new(0)
    };
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bytes}/{total_bytes} [{wide_bar}] {bytes_per_sec} {eta}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let got = rt.block_on(http.get(&a.url, None, a.max_size, &mut |n, total| {
        if let Some(t) = total {
            bar.set_length(t);
        }
        bar.set_position(n);
    }));
    bar.finish_and_clear();
    let bytes = match got {
        Ok(GetOutcome::Body { bytes, .. }) => bytes,
        Ok(GetOutcome::NotModified) => return usage("unexpected 304"),
        Err(e) => {
            eprintln!("error: {}: {e}", a.url);
            println!("crl_{}", e.code());
            return ExitCode::from(1);
        }
    };
    let crl = match Crl::parse(&bytes) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {}: {e}", a.url);
            println!("{}", e.code());
            return ExitCode::from(1);
        }
    };
    if let Some(issuer) = &issuer {
        let cfg_policy = crate::pki::signature::SignaturePolicy::default();
        if let Err(e) = crate::revocation::crl_store::CrlIndex::from_crl(&crl, issuer, &cfg_policy)
        {
            eprintln!("error: {}: {e}", a.url);
            println!("{}", e.code());
            return ExitCode::from(1);
        }
    }
    let tmp = a.out.with_extension("part");
    if let Err(e) = std::fs::write(&tmp, &bytes).and_then(|()| std::fs::rename(&tmp, &a.out)) {
        return usage(format!("{}: {e}", a.out.display()));
    }
    println!(
        "{} bytes, CRL #{}, {} entries, thisUpdate {}, nextUpdate {}{}",
        bytes.len(),
        crl.crl_number
            .as_ref()
            .map_or("-".to_string(), |n| n.to_string()),
        crl.entries().len(),
        crl.this_update,
        crl.next_update.map_or("-".to_string(), |n| n.to_string()),
        if crl.is_delta() { ", delta" } else { "" },
    );
    ExitCode::SUCCESS
}

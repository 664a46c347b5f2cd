//! `eds-gateway sign`: a CMS SignedData with a .p12, like NCALayer would produce it.
//! Exit 0 with the CMS on stdout (DER, or PEM with `--pem`); 2 on usage or unreadable input;
//! 1 when the container cannot be opened (wrong password, no matching key).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use base64::Engine;
use clap::Args;

use super::inputs;
use crate::clock::now;
use crate::drill::der::pem;
use crate::drill::sign::{self, SignOptions};
use crate::pki::time::UnixTime;

/// `sign --p12 F (--password-file F | --password-env VAR) (--data F | --data-base64 S)`
#[derive(Args, Debug)]
pub struct SignArgs {
    /// The key container (.p12, NCA's or the test PKI's).
    #[arg(long)]
    pub p12: PathBuf,
    /// File whose first line is the container password.
    #[arg(
        long = "password-file",
        conflicts_with = "password_env",
        required_unless_present = "password_env"
    )]
    pub password_file: Option<PathBuf>,
    /// Environment variable holding the container password.
    #[arg(long = "password-env")]
    pub password_env: Option<String>,
    /// The content to sign.
    #[arg(
        long,
        conflicts_with = "data_base64",
        required_unless_present = "data_base64"
    )]
    pub data: Option<PathBuf>,
    /// The content to sign, base64.
    #[arg(long = "data-base64")]
    pub data_base64: Option<String>,
    /// Leave the content out of the CMS.
    #[arg(long)]
    pub detached: bool,
    /// PEM output (`-----BEGIN CMS-----`) instead of DER.
    #[arg(long)]
    pub pem: bool,
    /// Write to this file instead of stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// signingTime (RFC 3339); default now.
    #[arg(long = "signing-time")]
    pub signing_time: Option<String>,
}

fn usage(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(2)
}

/// Reads a password from `--password-file` (first line) or `--password-env`.
pub fn password(file: &Option<PathBuf>, env: &Option<String>) -> Result<String, String> {
    if let Some(f) = file {
        let bytes = inputs::read(f).map_err(|e| e.to_string())?;
        let text =
            String::from_utf8(bytes).map_err(|_| "password file is not UTF-8".to_string())?;
        return Ok(text.lines().next().unwrap_or("").to_string());
    }
    if let Some(v) = env {
        return std::env::var(v).map_err(|_| format!("environment variable {v} is not set"));
    }
    Err("give --password-file or --password-env".into())
}

/// Runs `sign`.
pub fn run(a: SignArgs) -> ExitCode {
    let pass = match password(&a.password_file, &a.password_env) {
        Ok(p) => p,
        Err(e) => return usage(e),
    };
    let data = match (&a.data, &a.data_base64) {
        (Some(p), _) => match inputs::read(p) {
            Ok(b) => b,
            Err(e) => return usage(e),
        },
        (None, Some(s)) => match base64::engine::general_purpose::STANDARD.decode(s.trim()) {
            Ok(b) => b,
            Err(e) => return usage(format!("--data-base64: {e}")),
        },
        (None, None) => return usage("give --data or --data-base64"),
    };
    let signing_time = match &a.signing_time {
        Some(s) => match UnixTime::parse_rfc3339(s) {
            Some(t) => t,
            None => return usage(format!("--signing-time: not RFC 3339: {s}")),
        },
        None => now(),
    };
    let p12 = match inputs::read(&a.p12) {
        Ok(b) => b,
        Err(e) => return usage(e),
    };
    let signer = match sign::load_p12(&p12, &pass) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {}: {e}", a.p12.display());
            return ExitCode::from(1);
        }
    };
    let cms = match sign::sign_cms(
        &signer.key,
        &signer.certificate,
        &data,
        SignOptions {
            detached: a.detached,
            signing_time,
        },
    ) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: signing: {e}");
            return ExitCode::from(1);
        }
    };
    let out = if a.pem {
        pem("CMS", &cms).into_bytes()
    } else {
        cms
    };
    let written = match &a.out {
        Some(p) => std::fs::write(p, &out).map_err(|e| e.to_string()),
        None => std::io::stdout().write_all(&out).map_err(|e| e.to_string()),
    };
    match written {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => usage(format!("writing output: {e}")),
    }
}

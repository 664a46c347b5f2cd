//! `eds-gateway audit verify FILE... [--json] [--allow-partial]`: checks hash-chained audit files
//! (issue 6 item 6; the checks are in [`crate::audit::verify`]).
//!
//! Exit codes: 0 intact (records, seq range and last hash printed), 1 any problem (each with
//! file, line, seq, kind and explanation), 64 usage errors (bad flags, no files, a path that is
//! not a readable file). `verify`'s own arguments are parsed here rather than by the top-level
//! parser so that a usage error gets 64 (sysexits `EX_USAGE`), as documented for this command.

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::audit::{VerifyOptions, verify_files_with};

/// Exit code for usage errors (sysexits.h `EX_USAGE`).
const EX_USAGE: u8 = 64;

/// `audit` subcommands.
#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Verify hash-chained audit files: FILE... [--json] [--allow-partial]. Exit 0 intact, 1
    /// problems found, 64 usage error.
    Verify(RawArgs),
}

/// The raw arguments of `audit verify`, parsed by [`VerifyArgs`].
#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct RawArgs {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    args: Vec<OsString>,
}

/// `audit verify` arguments.
#[derive(Parser, Debug)]
#[command(
    name = "eds-gateway audit verify",
    about = "Verify hash-chained audit files: finds edited, deleted, reordered and truncated records.",
    long_about = "Verify hash-chained audit files: finds edited, deleted, reordered and truncated records.\n\nFiles may be given in any order: they are checked in order of their first seq (rotated files and the live one together). Exit codes: 0 intact, 1 problems found, 64 usage error."
)]
pub struct VerifyArgs {
    /// Audit files (rotated ones and the live one).
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// JSON output.
    #[arg(long)]
    pub json: bool,
    /// Accept a set that starts mid-chain (its first file is a rotated-out continuation).
    #[arg(long = "allow-partial")]
    pub allow_partial: bool,
}

/// Runs an `audit` subcommand.
pub fn run(cmd: AuditCommand) -> ExitCode {
    match cmd {
        AuditCommand::Verify(raw) => {
            let argv = std::iter::once(OsString::from("eds-gateway audit verify")).chain(raw.args);
            match VerifyArgs::try_parse_from(argv) {
                Ok(a) => verify(&a),
                Err(e) => {
                    let _ = e.print();
                    if e.use_stderr() {
                        ExitCode::from(EX_USAGE)
                    } else {
                        ExitCode::SUCCESS
                    }
                }
            }
        }
    }
}

fn verify(a: &VerifyArgs) -> ExitCode {
    let mut usage = Vec::new();
    for f in &a.files {
        match std::fs::metadata(f) {
            Ok(m) if m.is_file() => {}
            Ok(_) => usage.push(format!("{}: not a regular file", f.display())),
            Err(e) => usage.push(format!("{}: {e}", f.display())),
        }
    }
    if !usage.is_empty() {
        for u in usage {
            eprintln!("error: {u}");
        }
        return ExitCode::from(EX_USAGE);
    }
    let report = verify_files_with(
        &a.files,
        VerifyOptions {
            allow_partial: a.allow_partial,
        },
    );
    if a.json {
        println!("{}", report.to_json());
    } else if report.is_intact() {
        let range = match (report.first_seq, report.last_seq) {
            (Some(f), Some(l)) => format!("seq {f}..{l}"),
            _ => "no records".to_owned(),
        };
        println!(
            "intact: {} records in {} file(s), {range}, last hash {}",
            report.records,
            report.files.len(),
            report.last_hash.as_deref().unwrap_or("-")
        );
    } else {
        for p in &report.problems {
            let line = p.line.map_or_else(|| "-".to_owned(), |l| l.to_string());
            let seq = p.seq.map_or_else(|| "-".to_owned(), |s| s.to_string());
            println!(
                "{}:{line}: seq {seq}: {}: {}",
                p.file.display(),
                p.kind.code(),
                p.explanation
            );
        }
        if report.problems_suppressed > 0 {
            println!("… and {} more problems", report.problems_suppressed);
        }
        println!(
            "NOT intact: {} problem(s) in {} records across {} file(s)",
            report.problems.len() as u64 + report.problems_suppressed,
            report.records,
            report.files.len()
        );
    }
    if report.is_intact() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

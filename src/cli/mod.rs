//! Command line: argument parsing into subcommands. Each subcommand lives in its own file and
//! returns an [`ExitCode`]; nothing here panics on bad input.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub mod audit;
pub mod block;
pub mod drill;
pub mod inputs;
pub mod ncalayer;
pub mod pki;
pub mod revocation;
pub mod serve;
pub mod sign;
pub mod verify;

/// eds-gateway: NCA RK electronic-signature login in front of a hospital MIS.
#[derive(Parser, Debug)]
#[command(name = "eds-gateway", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Offline checks of certificates, CMS signatures, CRLs and OCSP responses.
    #[command(subcommand)]
    Verify(verify::VerifyCommand),
    /// Online revocation status of one certificate (OCSP and CRL, with ages).
    #[command(subcommand)]
    Revocation(revocation::RevocationCommand),
    /// CRL downloads.
    #[command(subcommand)]
    Crl(revocation::CrlCommand),
    /// Sign data into a CMS SignedData with a .p12, like NCALayer (issue 5).
    Sign(sign::SignArgs),
    /// NCA-like test PKI: init, issue, revoke, release, list, crl, ocsp (issue 5).
    #[command(subcommand)]
    Pki(pki::PkiCommand),
    /// A stand-in for the NCALayer desktop app (WebSocket, one .p12 key) (issue 5).
    NcalayerSim(ncalayer::NcaLayerSimArgs),
    /// Run the gateway: login service and proxy to the MIS.
    Serve(serve::ServeArgs),
    /// Check a gateway.toml: every problem listed (exit 64), or a summary.
    CheckConfig(serve::CheckConfigArgs),
    /// A localhost demo: test PKI, staff keys, responder, gateway and a demo MIS page.
    Demo(serve::DemoArgs),
    /// Audit log: verify a hash-chained audit file.
    #[command(subcommand)]
    Audit(audit::AuditCommand),
    /// Emergency block list (through the running gateway's admin API).
    #[command(subcommand)]
    Block(block::BlockCommand),
    /// Revocation drills: revoke or block a key during live sessions and measure (issue 8).
    #[command(subcommand)]
    Drill(drill::DrillCommand),
}

/// Parses `args` and runs the chosen subcommand.
pub fn run<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli.command {
        Command::Verify(v) => verify::run(v),
        Command::Revocation(c) => revocation::run_revocation(c),
        Command::Crl(c) => revocation::run_crl(c),
        Command::Sign(a) => sign::run(a),
        Command::Pki(c) => pki::run(c),
        Command::NcalayerSim(a) => ncalayer::run(a),
        Command::Serve(a) => serve::serve(a),
        Command::CheckConfig(a) => serve::check_config(a),
        Command::Demo(a) => serve::demo(a),
        Command::Audit(c) => audit::run(c),
        Command::Block(c) => block::run(c),
        Command::Drill(c) => drill::run(c),
    }
}

//! `eds-gateway ncalayer-sim`: the NCALayer simulator ([`crate::drill::ncalayer`]) on a socket.
//! Prints `listening on ws://ADDR` (or `wss://`) on stdout once bound, then serves until killed.
//! Exit 2 on usage or unreadable input, 1 when the container cannot be opened or the address
//! cannot be bound.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{inputs, sign::password};
use crate::drill::ncalayer::{Behaviour, Flavor, SimConfig, Simulator, tls_acceptor};
use crate::drill::sign::load_p12;

/// `ncalayer-sim --p12 F (--password-file F | --password-env VAR) [--listen ADDR] …`
#[derive(Args, Debug)]
pub struct NcaLayerSimArgs {
    /// The key container offered to clients (.p12, NCA's or the test PKI's).
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
    /// Address to listen on (port 0 = any free port; the bound address is printed).
    #[arg(long, default_value = "127.0.0.1:13579")]
    pub listen: SocketAddr,
    /// PEM certificate chain for wss:// (with --tls-key); plain ws:// without.
    #[arg(long = "tls-cert", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key for --tls-cert.
    #[arg(long = "tls-key", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Simulate the user closing every dialog.
    #[arg(long)]
    pub cancel: bool,
    /// Simulate a wrong key password typed in the dialog.
    #[arg(long = "wrong-password")]
    pub wrong_password: bool,
    /// Simulate a storage with no key matching the request.
    #[arg(long = "no-matching-key")]
    pub no_matching_key: bool,
    /// Imitate KAZTOKEN desktop 1.2 (the captured pairs) instead of NCALayer 1.4.
    #[arg(long)]
    pub kaztoken: bool,
}

fn usage(msg: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {msg}");
    ExitCode::from(2)
}

/// Runs `ncalayer-sim`.
pub fn run(a: NcaLayerSimArgs) -> ExitCode {
    let pass = match password(&a.password_file, &a.password_env) {
        Ok(p) => p,
        Err(e) => return usage(e),
    };
    let p12 = match inputs::read(&a.p12) {
        Ok(b) => b,
        Err(e) => return usage(e),
    };
    let signer = match load_p12(&p12, &pass) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {}: {e}", a.p12.display());
            return ExitCode::from(1);
        }
    };
    let tls = match (&a.tls_cert, &a.tls_key) {
        (Some(c), Some(k)) => match tls_acceptor(c, k) {
            Ok(t) => Some(t),
            Err(e) => return usage(e),
        },
        _ => None,
    };
    let scheme = if tls.is_some() { "wss" } else { "ws" };
    let cfg = SimConfig {
        signer,
        behaviour: Behaviour {
            cancel: a.cancel,
            wrong_password: a.wrong_password,
            no_matching_key: a.no_matching_key,
        },
        flavor: if a.kaztoken {
            Flavor::Kaztoken
        } else {
            Flavor::NcaLayer
        },
        tls,
    };
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: runtime: {e}");
            return ExitCode::from(1);
        }
    };
    rt.block_on(async move {
        let sim = match Simulator::bind(a.listen, cfg).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: binding {}: {e}", a.listen);
                return ExitCode::from(1);
            }
        };
        match sim.local_addr() {
            Ok(addr) => {
                use std::io::Write;
                println!("listening on {scheme}://{addr}");
                let _ = std::io::stdout().flush();
            }
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::from(1);
            }
        }
        match sim.run().await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(1)
            }
        }
    })
}

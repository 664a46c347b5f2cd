//! `eds-gateway block add|remove|list`: the emergency block list (issue 8 item 2) from the
//! command line.
//!
//! The command talks to the *running* gateway's admin API on its own listen address (loopback)
//! with the operator token of `[admin] api_token_file`, for both store backends: the gateway
//! takes the entry into its store (the embedded store belongs to one process; Redis is shared),
//! evicts the covered sessions at once, tells the other instances, and writes the audit record
//! (`block_added`/`block_removed`, `by: operator-token`) into its own hash-chained log — a second
//! writer on that log would break the chain.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use serde_json::{Value, json};

use crate::gateway::config::Config;

/// `block …`.
#[derive(Subcommand, Debug)]
pub enum BlockCommand {
    /// Block an IIN or a certificate serial: new logins are refused (`key_blocked`) and live
    /// sessions are evicted at once on every instance.
    Add(AddArgs),
    /// Lift a block.
    Remove(KeyArgs),
    /// Show the block list.
    List(ListArgs),
}

/// Which gateway.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// The gateway's gateway.toml (its listen address and `[admin] api_token_file`).
    #[arg(long)]
    pub config: PathBuf,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// An IIN or a serial.
#[derive(Args, Debug)]
pub struct KeyArgs {
    /// The gateway's gateway.toml.
    #[arg(long)]
    pub config: PathBuf,
    /// 12-digit IIN.
    #[arg(long, conflicts_with = "serial", required_unless_present = "serial")]
    pub iin: Option<String>,
    /// Certificate serial (hex; colons allowed).
    #[arg(long)]
    pub serial: Option<String>,
}

/// `block add`.
#[derive(Args, Debug)]
pub struct AddArgs {
    #[command(flatten)]
    key: KeyArgs,
    /// Why (kept with the entry and audited).
    #[arg(long)]
    pub reason: String,
}

fn fail(msg: impl std::fmt::Display, code: u8) -> ExitCode {
    eprintln!("eds-gateway block: {msg}");
    ExitCode::from(code)
}

/// The admin API base URL and token from the config.
fn target(config: &std::path::Path) -> Result<(String, String), ExitCode> {
    let cfg = Config::load(config).map_err(|p| {
        for x in &p {
            eprintln!("{}: {x}", config.display());
        }
        ExitCode::from(64)
    })?;
    let token = cfg.admin.token(&cfg).ok_or_else(|| {
        fail(
            "set [admin] api_token_file (a file holding a token of 32+ characters) in the gateway config and restart the gateway",
            64,
        )
    })?;
    let addr: std::net::SocketAddr = cfg
        .server
        .listen
        .parse()
        .map_err(|_| fail("server.listen is not an address", 64))?;
    let host = match addr.ip() {
        std::net::IpAddr::V4(v) if v.is_unspecified() => "127.0.0.1".to_string(),
        std::net::IpAddr::V6(v) if v.is_unspecified() => "[::1]".to_string(),
        std::net::IpAddr::V6(v) => format!("[{v}]"),
        ip => ip.to_string(),
    };
    Ok((format!("http://{host}:{}", addr.port()), token))
}

async fn call(base: &str, token: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .no_proxy()
        .build()
        .map_err(|e| e.to_string())?;
    let url = format!("{base}{path}");
    let req = match &body {
        Some(b) => client
            .post(&url)
            .header("content-type", "application/json")
            .body(b.to_string()),
        None => client.get(&url),
    };
    let resp = req
        .bearer_auth(token)
        .send()
        .await
        .map_err(|e| format!("{url}: is the gateway running? {e}"))?;
    let status = resp.status();
    let text = resp.text().await.map_err(|e| e.to_string())?;
    let v: Value =
        serde_json::from_str(&text).map_err(|_| format!("{url}: HTTP {status}: {text}"))?;
    if v["ok"] != Value::Bool(true) {
        return Err(format!(
            "{url}: HTTP {status}: {} ({})",
            v["code"].as_str().unwrap_or("?"),
            v["message"].as_str().unwrap_or("")
        ));
    }
    Ok(v)
}

fn key_json(k: &KeyArgs) -> Value {
    match (&k.iin, &k.serial) {
        (Some(i), _) => json!({"iin": i}),
        (None, Some(s)) => json!({"serial": s}),
        (None, None) => json!({}),
    }
}

/// Runs a `block` subcommand.
pub fn run(cmd: BlockCommand) -> ExitCode {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return fail(format!("cannot start the runtime: {e}"), 70),
    };
    rt.block_on(async move {
        match cmd {
            BlockCommand::Add(a) => {
                let (base, token) = match target(&a.key.config) {
                    Ok(x) => x,
                    Err(c) => return c,
                };
                let mut body = key_json(&a.key);
                body["reason"] = Value::String(a.reason.clone());
                match call(&base, &token, "/eds/admin/api/block", Some(body)).await {
                    Ok(v) => {
                        println!(
                            "blocked {}:{} — {} live session(s) evicted",
                            v["entry"]["kind"].as_str().unwrap_or(""),
                            v["entry"]["value"].as_str().unwrap_or(""),
                            v["evicted"]
                        );
                        ExitCode::SUCCESS
                    }
                    Err(e) => fail(e, 1),
                }
            }
            BlockCommand::Remove(k) => {
                let (base, token) = match target(&k.config) {
                    Ok(x) => x,
                    Err(c) => return c,
                };
                match call(&base, &token, "/eds/admin/api/unblock", Some(key_json(&k))).await {
                    Ok(v) if v["removed"] == Value::Bool(true) => {
                        println!("block removed");
                        ExitCode::SUCCESS
                    }
                    Ok(_) => fail("no such block", 1),
                    Err(e) => fail(e, 1),
                }
            }
            BlockCommand::List(l) => {
                let (base, token) = match target(&l.config) {
                    Ok(x) => x,
                    Err(c) => return c,
                };
                match call(&base, &token, "/eds/admin/api/blocks", None).await {
                    Ok(v) => {
                        let empty = Vec::new();
                        let list = v["blocks"].as_array().unwrap_or(&empty);
                        if l.json {
                            println!("{}", Value::Array(list.clone()));
                        } else if list.is_empty() {
                            println!("(the block list is empty)");
                        } else {
                            for e in list {
                                println!(
                                    "{}:{}\t{}\tby {}\t{}",
                                    e["kind"].as_str().unwrap_or(""),
                                    e["value"].as_str().unwrap_or(""),
                                    e["when"].as_str().unwrap_or(""),
                                    e["by"].as_str().unwrap_or(""),
                                    e["reason"].as_str().unwrap_or("")
                                );
                            }
                        }
                        ExitCode::SUCCESS
                    }
                    Err(e) => fail(e, 1),
                }
            }
        }
    })
}

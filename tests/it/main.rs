//! One test binary for the integration suites (each file in this folder was its own
//! `tests/<name>.rs` binary): linking the crate once instead of 32 times is most of the build
//! time of `cargo test --release`. Run one suite with `cargo test --release --test it <name>::`.
//!
//! Three suites keep their own binary because they need their process to themselves:
//! `tests/gateway_observability.rs` (installs the process-wide tracing subscriber),
//! `tests/gateway_proxy.rs` (peak RSS of the 1 GiB streaming test) and `tests/gateway_soak.rs`
//! (RSS stays flat). A new suite goes here as a module, unless it needs the same.

// Support modules, shared with the three binaries above and the benches (each
// `#![allow(dead_code)]`: every suite uses only part of them).
#[path = "../browser_support/mod.rs"]
mod browser_support;
#[path = "../common/mod.rs"]
mod common;
#[path = "../gateway_support/mod.rs"]
mod gateway_support;
#[path = "../online_support/mod.rs"]
mod online_support;
#[path = "../pki_gen/mod.rs"]
mod pki_gen;

mod admin_page;
mod audit_log;
mod auth_login;
mod cli_gateway;
mod cli_verify;
mod cms_fixtures;
mod crl_fixtures;
mod drill_run;
mod gateway_browser;
mod gateway_e2e;
mod gateway_recheck;
mod gateway_tls;
mod gost_end_to_end;
mod gost_fixtures;
mod gost_negatives;
mod gost_p12;
mod hostile_certificates;
mod hostile_inputs;
mod login_page;
mod nca_identity;
mod nca_identity_all;
mod ncalayer_sim;
mod ocsp_fixtures;
mod online_cli;
mod online_crl;
mod online_ocsp;
mod online_own_responder;
mod path_scenarios;
mod staff_directory;
mod testpki_ca;
mod testpki_serve;
mod testpki_sign;

//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::PathBuf;

/// The read-only shared folder (`../shared` beside the repository, or `$EDS_SHARED_DIR`).
/// Panics with a clear message when it is absent: these tests must not pass silently.
#[track_caller]
pub fn shared_dir() -> PathBuf {
    let dir = std::env::var_os("EDS_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"));
    assert!(
        dir.join("fixtures/nca").is_dir(),
        "shared fixtures not found at {} (set EDS_SHARED_DIR to the folder holding fixtures/ and conformance/)",
        dir.display()
    );
    dir
}

/// A file under shared/fixtures/nca.
#[track_caller]
pub fn nca(rel: &str) -> PathBuf {
    let p = shared_dir().join("fixtures/nca").join(rel);
    assert!(p.exists(), "fixture missing: {}", p.display());
    p
}

/// Reads a file under shared/fixtures/nca.
#[track_caller]
pub fn nca_bytes(rel: &str) -> Vec<u8> {
    std::fs::read(nca(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
}

/// Every file in a fixtures folder, sorted.
#[track_caller]
pub fn nca_files(rel_dir: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(nca(rel_dir))
        .expect("fixture folder")
        .map(|e| e.expect("dir entry").path())
        .collect();
    v.sort();
    v
}

/// Parses an RFC 3339 time for tests.
#[track_caller]
pub fn at(s: &str) -> eds_gateway::pki::time::UnixTime {
    eds_gateway::pki::time::UnixTime::parse_rfc3339(s).expect("valid RFC 3339 time")
}

/// The fixture folders that hold end-entity and responder certificates.
pub const LEAF_CERT_DIRS: [&str; 6] = [
    "certs/gost2004",
    "certs/gost2015-2022",
    "certs/gost2015-2026",
    "certs/ocsp-responders",
    "certs/rsa-2020",
    "certs/rsa-2021-2022",
];

/// The fixture folders that hold CA certificates.
pub const CA_CERT_DIRS: [&str; 2] = ["ca/prod", "ca/test"];

/// A fixture path as a string, for command lines.
#[track_caller]
pub fn nca_arg(rel: &str) -> String {
    nca(rel).display().to_string()
}

/// What one run of the `eds-gateway` binary printed.
pub struct CliRun {
    /// Exit code (-1 if killed by a signal).
    pub code: i32,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl CliRun {
    /// The last line of standard output (`VALID` or `INVALID <code>: ...`).
    pub fn last_line(&self) -> &str {
        self.stdout.lines().last().unwrap_or("")
    }

    /// Standard output parsed as one JSON value.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", self.stdout, self.stderr))
    }
}

/// Runs the real binary (`CARGO_BIN_EXE_eds-gateway`) with `args`.
#[track_caller]
pub fn run_cli(args: &[&str]) -> CliRun {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_eds-gateway"))
        .args(args)
        .output()
        .expect("run eds-gateway");
    CliRun {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

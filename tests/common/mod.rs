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

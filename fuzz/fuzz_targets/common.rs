//! Shared by the fuzz targets: the NCA test certificates the checks need (a leaf and its issuer),
//! read once at run time from `$EDS_SHARED_DIR` or `../../shared` beside the fuzz crate. Never
//! copied into this repository. Absent fixtures only skip the downstream checks (parsing is
//! still fuzzed) and say so once on stderr.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

use eds_gateway::pki::cert::Certificate;
use eds_gateway::pki::time::UnixTime;

/// A leaf, its issuer, and a time inside the leaf's validity.
pub struct Pair {
    pub leaf: Certificate,
    pub issuer: Certificate,
    pub at: UnixTime,
}

fn shared_dir() -> PathBuf {
    std::env::var_os("EDS_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"))
}

fn load(rel: &str) -> Option<Certificate> {
    let p = shared_dir().join("fixtures/nca").join(rel);
    let bytes = std::fs::read(&p).ok()?;
    Certificate::parse(&bytes).ok()
}

/// The RSA and GOST 2015 test pairs (empty if the fixtures are absent).
pub fn pairs() -> &'static [Pair] {
    static P: OnceLock<Vec<Pair>> = OnceLock::new();
    P.get_or_init(|| {
        let want = [
            (
                "certs/rsa-2021-2022/individual_sign_rsa_2021.pem",
                "ca/test/nca_rsa_test_2019.pem",
                1_651_363_200, // 2022-05-01
            ),
            (
                "certs/gost2015-2026/individual_valid.pem",
                "ca/test/nca_gost2022_test.cer",
                1_659_312_000, // 2022-08-01
            ),
        ];
        let v: Vec<Pair> = want
            .iter()
            .filter_map(|(l, i, t)| {
                Some(Pair {
                    leaf: load(l)?,
                    issuer: load(i)?,
                    at: UnixTime(*t),
                })
            })
            .collect();
        if v.is_empty() {
            eprintln!(
                "fuzz: NCA fixtures not found under {} (set EDS_SHARED_DIR): parsing only",
                shared_dir().display()
            );
        }
        v
    })
}

/// Reason codes are non-empty snake_case.
pub fn assert_named(code: &str) {
    assert!(
        !code.is_empty()
            && code
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
        "bad reason code {code:?}"
    );
}

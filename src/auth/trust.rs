//! The trust store: the CA certificates an operator put in the `certs/` folder (DESIGN.md "Trust
//! and revocation defaults"). Self-signed CA certificates are the trust anchors; every other CA
//! certificate is an intermediate that path building may use (RFC 5280 §6.1: anchors are
//! trusted by key and name, intermediates only through a verified chain to an anchor — a
//! certificate that merely *names* an NCA CA is never trusted for its name).
//!
//! [`TrustStore::load_dir`] reads every `.pem`, `.crt`, `.cer` and `.der` file (case-insensitive;
//! other files such as the folder's README are skipped). A PEM file may hold several
//! certificates. Identical certificates are kept once. Every problem (unreadable file, not a
//! certificate, not a CA, a self-signed certificate whose signature does not verify) is collected
//! and reported together in one [`TrustError`], so `check-config` lists them all. A store without
//! an anchor is an error.
//!
//! Budgets: at most [`MAX_FILES`] files, [`MAX_FILE_BYTES`] per file and
//! [`MAX_CERTS_PER_FILE`] certificates per file (an NCA chain is 2–3 certificates; production
//! needs the RSA 2020/2022 and GOST 2022 pairs).

use std::collections::HashSet;
use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::pki::cert::Certificate;
use crate::pki::der_util;
use crate::pki::signature::{self, SignaturePolicy};
use crate::pki::time::UnixTime;

/// Most files read from the folder.
pub const MAX_FILES: usize = 256;

/// Largest file read (a CA certificate is 1–2 KB; a bundle of every NCA CA is under 64 KB).
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// Most certificates in one PEM file.
pub const MAX_CERTS_PER_FILE: usize = 64;

/// File name endings read as certificates.
pub const EXTENSIONS: [&str; 4] = ["pem", "crt", "cer", "der"];

/// What a CA certificate is for in the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TrustRole {
    /// A trust anchor (self-signed, or given as an anchor programmatically).
    Anchor,
    /// An intermediate CA, trusted only through a chain to an anchor.
    Intermediate,
}

impl TrustRole {
    /// `anchor` or `intermediate`.
    pub fn as_str(self) -> &'static str {
        match self {
            TrustRole::Anchor => "anchor",
            TrustRole::Intermediate => "intermediate",
        }
    }
}

/// One certificate of the store, for `check-config` and the start-up log.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TrustEntry {
    /// The file it came from (`#N` appended for the N-th certificate of a bundle, from 1).
    pub file: String,
    /// Subject, display form.
    pub subject: String,
    /// Anchor or intermediate.
    pub role: TrustRole,
    /// SHA-256 of the DER, lowercase hex (compare with the fingerprints the README lists).
    pub sha256: String,
    /// notAfter (serialised as RFC 3339).
    #[serde(serialize_with = "rfc3339")]
    pub not_after: UnixTime,
}

fn rfc3339<S: serde::Serializer>(t: &UnixTime, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339())
}

/// One problem found while loading.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustProblem {
    /// The file concerned (or the folder).
    pub file: String,
    /// What is wrong.
    pub reason: String,
}

/// Everything wrong with a trust-store folder (all problems, not just the first).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrustError {
    /// Each problem.
    pub problems: Vec<TrustProblem>,
}

impl TrustError {
    fn one(file: impl Into<String>, reason: impl Into<String>) -> TrustError {
        TrustError {
            problems: vec![TrustProblem {
                file: file.into(),
                reason: reason.into(),
            }],
        }
    }

    /// Stable reason code.
    pub fn code(&self) -> &'static str {
        "trust_store_invalid"
    }
}

impl fmt::Display for TrustError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "trust store: {} problem(s)", self.problems.len())?;
        for p in &self.problems {
            write!(f, "\n  {}: {}", p.file, p.reason)?;
        }
        Ok(())
    }
}

impl std::error::Error for TrustError {}

/// The anchors and intermediates logins are verified against.
#[derive(Clone, Debug)]
pub struct TrustStore {
    anchors: Vec<Certificate>,
    intermediates: Vec<Certificate>,
    entries: Vec<TrustEntry>,
}

fn has_cert_extension(p: &Path) -> bool {
    p.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| EXTENSIONS.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// Splits a file into certificate DERs: binary DER as is, else every PEM block (label
/// `CERTIFICATE` or `X509 CERTIFICATE`).
fn certificates_in(bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    if bytes.first() == Some(&0x30) {
        return Ok(vec![bytes.to_vec()]);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| "neither DER nor PEM text".to_string())?;
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let block = &rest[start..];
        let label_end = block
            .get(11..)
            .and_then(|b| b.find("-----"))
            .ok_or("unterminated PEM header")?;
        let label = block
            .get(11..11 + label_end)
            .unwrap_or_default()
            .to_string();
        let end_marker = format!("-----END {label}-----");
        let end = block
            .find(&end_marker)
            .ok_or_else(|| format!("PEM block {label:?} has no END line"))?;
        let whole = &block[..end + end_marker.len()];
        if label != "CERTIFICATE" && label != "X509 CERTIFICATE" {
            return Err(format!("PEM block {label:?} is not a certificate"));
        }
        if out.len() == MAX_CERTS_PER_FILE {
            return Err(format!("more than {MAX_CERTS_PER_FILE} certificates"));
        }
        let (_, der) = der_util::pem_or_der(whole.as_bytes())
            .map_err(|_| format!("PEM block #{} is not valid base64", out.len() + 1))?;
        out.push(der);
        rest = &block[end + end_marker.len()..];
    }
    if out.is_empty() {
        return Err("no certificate in the file (neither DER nor PEM)".into());
    }
    Ok(out)
}

/// True if `cert` signs itself: same name as issuer, and its signature verifies with its own key.
fn self_signed(cert: &Certificate) -> Result<bool, String> {
    if !cert.is_self_issued() {
        return Ok(false);
    }
    // The anchor's own signature carries no trust (RFC 5280 §6.1.1 (d): an anchor is a name and
    // a key), so SHA-1 is fine here; a signature that does not verify means a damaged file.
    let policy = SignaturePolicy {
        allow_sha1: true,
        ..SignaturePolicy::default()
    };
    match signature::verify(
        &cert.signature_algorithm,
        &cert.spki_der,
        cert.tbs_der(),
        &cert.signature,
        &policy,
    ) {
        Ok(()) => Ok(true),
        Err(e) if e.is_forged() => Err("self-issued, but its signature does not verify".into()),
        Err(e) => Err(format!("self-issued, its signature cannot be checked: {e}")),
    }
}

impl TrustStore {
    /// Reads every certificate file in `dir` (see the module documentation).
    pub fn load_dir(dir: &Path) -> Result<TrustStore, TrustError> {
        let shown = dir.display().to_string();
        let rd = std::fs::read_dir(dir)
            .map_err(|e| TrustError::one(&shown, format!("cannot read the folder: {e}")))?;
        let mut files: Vec<PathBuf> = Vec::new();
        for entry in rd {
            let entry = entry.map_err(|e| TrustError::one(&shown, e.to_string()))?;
            let p = entry.path();
            if p.is_file() && has_cert_extension(&p) {
                files.push(p);
            }
            if files.len() > MAX_FILES {
                return Err(TrustError::one(
                    &shown,
                    format!("more than {MAX_FILES} certificate files"),
                ));
            }
        }
        files.sort();
        let mut problems = Vec::new();
        let mut found: Vec<(String, Certificate, TrustRole)> = Vec::new();
        for f in &files {
            let name = f.display().to_string();
            let mut problem = |reason: String| {
                problems.push(TrustProblem {
                    file: name.clone(),
                    reason,
                })
            };
            match std::fs::metadata(f) {
                Ok(m) if m.len() > MAX_FILE_BYTES => {
                    problem(format!("larger than {MAX_FILE_BYTES} bytes"));
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    problem(e.to_string());
                    continue;
                }
            }
            let bytes = match std::fs::read(f) {
                Ok(b) => b,
                Err(e) => {
                    problem(e.to_string());
                    continue;
                }
            };
            let ders = match certificates_in(&bytes) {
                Ok(d) => d,
                Err(e) => {
                    problem(e);
                    continue;
                }
            };
            let several = ders.len() > 1;
            for (i, der) in ders.into_iter().enumerate() {
                let label = if several {
                    format!("{name}#{}", i + 1)
                } else {
                    name.clone()
                };
                let mut problem = |reason: String| {
                    problems.push(TrustProblem {
                        file: label.clone(),
                        reason,
                    })
                };
                let cert = match Certificate::from_der(der) {
                    Ok(c) => c,
                    Err(e) => {
                        problem(format!("not a certificate: {e}"));
                        continue;
                    }
                };
                if !cert.is_ca() {
                    problem(format!(
                        "\"{}\" is not a CA certificate (basicConstraints cA is not set)",
                        cert.subject.to_display_string()
                    ));
                    continue;
                }
                match self_signed(&cert) {
                    Ok(true) => found.push((label, cert, TrustRole::Anchor)),
                    Ok(false) => found.push((label, cert, TrustRole::Intermediate)),
                    Err(e) => problem(e),
                }
            }
        }
        if !problems.is_empty() {
            return Err(TrustError { problems });
        }
        Self::build(found, &shown)
    }

    /// A store from certificates already in memory: `anchors` are trusted as given (also when not
    /// self-signed: RFC 5280 allows any CA as an anchor, e.g. a pinned issuing CA whose root is
    /// not published), `intermediates` only through a chain. Every certificate must be a CA.
    pub fn from_certificates(
        anchors: Vec<Certificate>,
        intermediates: Vec<Certificate>,
    ) -> Result<TrustStore, TrustError> {
        let mut problems = Vec::new();
        let mut found = Vec::new();
        let all = anchors.into_iter().map(|c| (c, TrustRole::Anchor)).chain(
            intermediates
                .into_iter()
                .map(|c| (c, TrustRole::Intermediate)),
        );
        for (i, (cert, role)) in all.enumerate() {
            let label = format!("(memory)#{}", i + 1);
            if cert.is_ca() {
                found.push((label, cert, role));
            } else {
                problems.push(TrustProblem {
                    file: label,
                    reason: format!(
                        "\"{}\" is not a CA certificate",
                        cert.subject.to_display_string()
                    ),
                });
            }
        }
        if !problems.is_empty() {
            return Err(TrustError { problems });
        }
        Self::build(found, "(memory)")
    }

    fn build(
        found: Vec<(String, Certificate, TrustRole)>,
        origin: &str,
    ) -> Result<TrustStore, TrustError> {
        let mut seen = HashSet::new();
        let mut store = TrustStore {
            anchors: Vec::new(),
            intermediates: Vec::new(),
            entries: Vec::new(),
        };
        for (file, cert, role) in found {
            if !seen.insert(cert.der().to_vec()) {
                continue;
            }
            store.entries.push(TrustEntry {
                file,
                subject: cert.subject.to_display_string(),
                role,
                sha256: cert.sha256_fingerprint(),
                not_after: cert.not_after,
            });
            match role {
                TrustRole::Anchor => store.anchors.push(cert),
                TrustRole::Intermediate => store.intermediates.push(cert),
            }
        }
        if store.anchors.is_empty() {
            return Err(TrustError::one(
                origin,
                "no trust anchor (no self-signed CA certificate): every login would be refused",
            ));
        }
        Ok(store)
    }

    /// The trust anchors.
    pub fn anchors(&self) -> &[Certificate] {
        &self.anchors
    }

    /// The intermediates (added to each login's certificate pool).
    pub fn intermediates(&self) -> &[Certificate] {
        &self.intermediates
    }

    /// One line per certificate: file, subject, role, SHA-256, notAfter.
    pub fn summary(&self) -> &[TrustEntry] {
        &self.entries
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_certificate_pem_blocks_are_named() {
        let pem = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        assert_eq!(
            certificates_in(pem),
            Err("PEM block \"PRIVATE KEY\" is not a certificate".to_string())
        );
        assert!(certificates_in(b"hello").is_err());
        assert!(certificates_in(&[0xff, 0xfe]).is_err());
        assert!(certificates_in(b"-----BEGIN CERTIFICATE-----\nAAAA\n").is_err());
    }

    #[test]
    fn extension_match_ignores_case() {
        assert!(has_cert_extension(Path::new("a/ROOT.CER")));
        assert!(has_cert_extension(Path::new("b.pem")));
        assert!(!has_cert_extension(Path::new("README.md")));
        assert!(!has_cert_extension(Path::new("cer")));
    }
}

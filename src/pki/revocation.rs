//! Revocation evidence combined: for each certificate of a validated path (the leaf, or every
//! certificate but the trust anchor), CRL and/or OCSP evidence is judged by [`super::crl`] and
//! [`super::ocsp`] and combined per [`RevocationMode`]. Deny by default: a revoked status from
//! any consulted source refuses; a status the evidence does not establish refuses unless the
//! caller allows unknown status; evidence that is about the certificate but broken (bad
//! signature, stale, unauthorised responder) refuses.
//!
//! Pure: the evidence is bytes the caller fetched (the online layer lives in `src/revocation/`).

use serde_json::{Value, json};

use super::cert::Certificate;
use super::crl::{self, Crl, CrlError, CrlStatus};
use super::ocsp::{self, OcspCheckOptions, OcspError, OcspResponse, OcspStatus};
use super::path::PathError;
use super::signature::SignaturePolicy;
use super::time::UnixTime;

/// Which sources are consulted and how they combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevocationMode {
    /// No revocation check.
    None,
    /// CRLs only.
    Crl,
    /// OCSP only.
    Ocsp,
    /// Either source may establish the status; revoked from either refuses.
    CrlOrOcsp,
    /// Both must establish "good".
    CrlAndOcsp,
}

/// Which certificates need a status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The end entity only.
    Leaf,
    /// Every certificate but the trust anchor.
    Chain,
}

/// Revocation inputs besides the evidence.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RevocationOptions {
    /// Sources and combination.
    pub mode: RevocationMode,
    /// Leaf or chain.
    pub scope: Scope,
    /// Accept an unknown status (`--allow-unknown-status`). Default false.
    pub allow_unknown: bool,
    /// OCSP max age when nextUpdate is absent (and extra bound when set).
    pub ocsp_max_age_secs: Option<u64>,
    /// Expected OCSP nonce.
    pub ocsp_nonce: Option<Vec<u8>>,
    /// Signature policy for CRLs and responses.
    pub signature: SignaturePolicy,
}

impl RevocationOptions {
    /// Deny-by-default options for `mode` and `scope`.
    pub fn new(mode: RevocationMode, scope: Scope) -> Self {
        RevocationOptions {
            mode,
            scope,
            allow_unknown: false,
            ocsp_max_age_secs: None,
            ocsp_nonce: None,
            signature: SignaturePolicy::default(),
        }
    }
}

/// CRLs and OCSP responses, parsed once.
#[derive(Debug, Default)]
pub struct Evidence {
    /// CRLs (complete and delta).
    pub crls: Vec<Crl>,
    /// OCSP responses.
    pub ocsp: Vec<OcspResponse>,
}

impl Evidence {
    /// Parses and adds a CRL (DER or PEM).
    pub fn add_crl(&mut self, bytes: &[u8]) -> Result<(), CrlError> {
        self.crls.push(Crl::parse(bytes)?);
        Ok(())
    }

    /// Parses and adds an OCSP response (DER).
    pub fn add_ocsp_response(&mut self, bytes: &[u8]) -> Result<(), OcspError> {
        self.ocsp.push(OcspResponse::parse(bytes)?);
        Ok(())
    }
}

/// The source of a status, for audit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// A CRL.
    Crl,
    /// An OCSP response.
    Ocsp,
}

impl Source {
    fn as_str(self) -> &'static str {
        match self {
            Source::Crl => "crl",
            Source::Ocsp => "ocsp",
        }
    }
}

/// What one source said about one certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SourceStatus {
    /// Not revoked.
    Good,
    /// Revoked at `time` for `reason`.
    Revoked {
        /// Revocation time.
        time: UnixTime,
        /// Reason name (RFC 5280 §5.3.1 spelling), if given.
        reason: Option<&'static str>,
    },
    /// The evidence does not establish a status.
    Unknown,
    /// Evidence about the certificate exists but cannot be used.
    Error {
        /// Reason code.
        code: &'static str,
        /// Detail.
        detail: String,
    },
}

/// The status of one certificate of the path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CertRevocation {
    /// Subject of the certificate.
    pub subject: String,
    /// Its serial (hex).
    pub serial: String,
    /// Per source.
    pub sources: Vec<(Source, SourceStatus)>,
}

impl CertRevocation {
    /// JSON for `--json` and audit.
    pub fn to_json(&self) -> Value {
        let sources: Vec<Value> = self
            .sources
            .iter()
            .map(|(src, st)| {
                let mut v = json!({"source": src.as_str()});
                let (status, extra) = match st {
                    SourceStatus::Good => ("good", json!({})),
                    SourceStatus::Revoked { time, reason } => (
                        "revoked",
                        json!({"revocation_time": time.to_rfc3339(), "reason": reason}),
                    ),
                    SourceStatus::Unknown => ("unknown", json!({})),
                    SourceStatus::Error { code, detail } => {
                        ("error", json!({"code": code, "detail": detail}))
                    }
                };
                if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
                    m.insert("status".into(), json!(status));
                    m.extend(e);
                }
                v
            })
            .collect();
        json!({"subject": self.subject, "serial": self.serial, "sources": sources})
    }
}

/// The revocation outcome for a whole path.
#[derive(Clone, Debug)]
pub struct PathRevocation {
    /// One entry per checked certificate.
    pub statuses: Vec<CertRevocation>,
    /// The verdict.
    pub result: Result<(), PathError>,
}

/// Checks `path` (leaf first, anchor last) against the evidence.
pub fn check_path(
    path: &[&Certificate],
    evidence: &Evidence,
    opts: &RevocationOptions,
    at: UnixTime,
) -> PathRevocation {
    let mut statuses = Vec::new();
    if opts.mode == RevocationMode::None {
        return PathRevocation {
            statuses,
            result: Ok(()),
        };
    }
    let count = match opts.scope {
        Scope::Leaf => 1,
        Scope::Chain => path.len().saturating_sub(1),
    };
    for i in 0..count {
        let (Some(cert), Some(issuer)) = (path.get(i), path.get(i + 1)) else {
            break;
        };
        let mut sources = Vec::new();
        if matches!(
            opts.mode,
            RevocationMode::Crl | RevocationMode::CrlOrOcsp | RevocationMode::CrlAndOcsp
        ) {
            sources.push((Source::Crl, crl_status(cert, issuer, evidence, opts, at)));
        }
        if matches!(
            opts.mode,
            RevocationMode::Ocsp | RevocationMode::CrlOrOcsp | RevocationMode::CrlAndOcsp
        ) {
            sources.push((Source::Ocsp, ocsp_status(cert, issuer, evidence, opts, at)));
        }
        let entry = CertRevocation {
            subject: cert.subject.to_display_string(),
            serial: cert.serial_hex(),
            sources,
        };
        let verdict = combine(&entry, opts);
        statuses.push(entry);
        if let Err(e) = verdict {
            return PathRevocation {
                statuses,
                result: Err(e),
            };
        }
    }
    PathRevocation {
        statuses,
        result: Ok(()),
    }
}

fn crl_status(
    cert: &Certificate,
    issuer: &Certificate,
    evidence: &Evidence,
    opts: &RevocationOptions,
    at: UnixTime,
) -> SourceStatus {
    match crl::check(cert, issuer, &evidence.crls, at, &opts.signature) {
        Ok(CrlStatus::Good { .. }) => SourceStatus::Good,
        Ok(CrlStatus::Revoked { date, reason, .. }) => SourceStatus::Revoked {
            time: date,
            reason: reason.map(|r| r.code()),
        },
        Ok(_) => SourceStatus::Unknown,
        Err(e) => SourceStatus::Error {
            code: e.code(),
            detail: e.to_string(),
        },
    }
}

fn ocsp_status(
    cert: &Certificate,
    issuer: &Certificate,
    evidence: &Evidence,
    opts: &RevocationOptions,
    at: UnixTime,
) -> SourceStatus {
    let check_opts = OcspCheckOptions {
        policy: opts.signature,
        max_age_secs: opts.ocsp_max_age_secs,
        expected_nonce: opts.ocsp_nonce.clone(),
        ..OcspCheckOptions::default()
    };
    // A response that is about this certificate but unusable refuses; "unknown" answers and
    // the absence of a response both leave the status unknown.
    let mut first_error: Option<SourceStatus> = None;
    for resp in &evidence.ocsp {
        // Responses about other certificates (other links of the chain) are not evidence here.
        if resp.find(cert, issuer).is_err() {
            continue;
        }
        match ocsp::check(resp, cert, issuer, at, &check_opts) {
            Ok(OcspStatus::Good { .. }) => return SourceStatus::Good,
            Ok(OcspStatus::Revoked { time, reason }) => {
                return SourceStatus::Revoked {
                    time,
                    reason: reason.map(|r| r.name()),
                };
            }
            Ok(OcspStatus::Unknown) => {}
            Err(e) => {
                if first_error.is_none() {
                    first_error = Some(SourceStatus::Error {
                        code: e.code(),
                        detail: e.to_string(),
                    });
                }
            }
        }
    }
    first_error.unwrap_or(SourceStatus::Unknown)
}

fn combine(entry: &CertRevocation, opts: &RevocationOptions) -> Result<(), PathError> {
    let who = || format!("\"{}\" (serial {})", entry.subject, entry.serial);
    // Revoked from any source refuses.
    for (src, st) in &entry.sources {
        if let SourceStatus::Revoked { time, reason } = st {
            return Err(PathError::Revocation {
                code: "cert_revoked",
                detail: format!(
                    "{} was revoked at {} ({}) according to {}",
                    who(),
                    time,
                    reason.unwrap_or("unspecified"),
                    src.as_str().to_uppercase()
                ),
            });
        }
    }
    // Broken evidence about the certificate refuses.
    for (src, st) in &entry.sources {
        if let SourceStatus::Error { code, detail } = st {
            return Err(PathError::Revocation {
                code,
                detail: format!(
                    "{} evidence for {}: {detail}",
                    src.as_str().to_uppercase(),
                    who()
                ),
            });
        }
    }
    let good = entry
        .sources
        .iter()
        .filter(|(_, s)| *s == SourceStatus::Good)
        .count();
    let established = match opts.mode {
        RevocationMode::CrlAndOcsp => good == entry.sources.len(),
        _ => good > 0,
    };
    if established || opts.allow_unknown {
        Ok(())
    } else {
        Err(PathError::Revocation {
            code: "revocation_status_unknown",
            detail: format!("no revocation status established for {}", who()),
        })
    }
}

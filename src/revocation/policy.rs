//! The online revocation policy: which sources, in which order, and what to do when a source
//! cannot give an answer. The decision and where it came from go into the [`Verdict`] for audit.
//!
//! Modes: `ocsp`, `crl`, `ocsp-then-crl` (default), `crl-and-ocsp`.
//!
//! A *condition* is a reason a source gave no usable answer: responder unreachable (connect
//! error, timeout, HTTP error, garbage body), tryLater, status unknown, no URL, CRL stale (past
//! nextUpdate, or no usable CRL at all), invalid response (bad signature, wrong signer, nonce
//! mismatch, stale OCSP response). For each condition the operator picks an [`Action`]:
//! - `refuse` (the default for every condition in every mode but the ones `ocsp-then-crl`
//!   falls back on): the login is refused with `revocation_<condition>`;
//! - `fallback`: the other source decides alone (in `crl-and-ocsp`: the other source's answer
//!   is enough). `ocsp-then-crl` falls back by default on unreachable, tryLater and no URL;
//! - `soft-fail N`: accept if this source's last good answer for the certificate is at most N
//!   seconds old (OCSP: when the last "good" was received; CRL: the stale CRL's nextUpdate, and
//!   the stale CRL must not list the certificate). Past N, refuse with
//!   `revocation_soft_fail_expired`.
//!
//! A revoked answer from any consulted source always refuses (`cert_revoked`).

use std::fmt;

use serde_json::{Value, json};

use crate::pki::time::UnixTime;

/// Which sources and how they combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Mode {
    /// OCSP only.
    Ocsp,
    /// CRL only.
    Crl,
    /// OCSP; the CRL where the policy says fall back.
    #[default]
    OcspThenCrl,
    /// Both must say good.
    CrlAndOcsp,
}

impl Mode {
    /// Configuration name.
    pub fn name(self) -> &'static str {
        match self {
            Mode::Ocsp => "ocsp",
            Mode::Crl => "crl",
            Mode::OcspThenCrl => "ocsp-then-crl",
            Mode::CrlAndOcsp => "crl-and-ocsp",
        }
    }

    /// From a configuration name.
    pub fn from_name(s: &str) -> Option<Mode> {
        [Mode::Ocsp, Mode::Crl, Mode::OcspThenCrl, Mode::CrlAndOcsp]
            .into_iter()
            .find(|m| m.name() == s)
    }
}

/// A reason a source gave no usable answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Condition {
    /// Connect error, timeout, HTTP error status, malformed body, responder internal error; for
    /// CRLs: the download failed and no CRL is held.
    Unreachable,
    /// OCSP tryLater (after the bounded retries).
    TryLater,
    /// OCSP said "unknown"; or no CRL covers the certificate.
    UnknownStatus,
    /// The certificate names no OCSP responder / CRL and none is configured.
    NoUrl,
    /// The CRL is past its nextUpdate (or a configured delta is missing or unusable).
    CrlStale,
    /// The answer is not authentic or not current: bad signature, unauthorised signer, nonce
    /// mismatch, expired or too old OCSP response, CRL with a bad signature.
    InvalidResponse,
}

impl Condition {
    /// Stable name (used in `revocation_<name>` codes and configuration).
    pub fn name(self) -> &'static str {
        match self {
            Condition::Unreachable => "unreachable",
            Condition::TryLater => "try_later",
            Condition::UnknownStatus => "status_unknown",
            Condition::NoUrl => "no_url",
            Condition::CrlStale => "crl_stale",
            Condition::InvalidResponse => "invalid_response",
        }
    }

    /// The verdict code when this condition refuses.
    pub fn refusal_code(self) -> &'static str {
        match self {
            Condition::Unreachable => "revocation_unreachable",
            Condition::TryLater => "revocation_try_later",
            Condition::UnknownStatus => "revocation_status_unknown",
            Condition::NoUrl => "revocation_no_url",
            Condition::CrlStale => "revocation_crl_stale",
            Condition::InvalidResponse => "revocation_invalid_response",
        }
    }
}

/// What to do on a condition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Refuse the login.
    Refuse,
    /// Let the other source decide.
    Fallback,
    /// Accept while the last good answer of this source is at most this many seconds old.
    SoftFail {
        /// The bound, seconds.
        max_secs: u64,
    },
}

impl Action {
    fn to_json(self) -> Value {
        match self {
            Action::Refuse => json!("refuse"),
            Action::Fallback => json!("fallback"),
            Action::SoftFail { max_secs } => json!({"soft_fail_max_secs": max_secs}),
        }
    }
}

/// The per-condition decisions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Actions {
    /// Responder unreachable.
    pub unreachable: Action,
    /// tryLater.
    pub try_later: Action,
    /// Status unknown.
    pub unknown_status: Action,
    /// No URL.
    pub no_url: Action,
    /// CRL stale.
    pub crl_stale: Action,
    /// Invalid response.
    pub invalid_response: Action,
}

impl Actions {
    /// Refuse on everything.
    pub const REFUSE_ALL: Actions = Actions {
        unreachable: Action::Refuse,
        try_later: Action::Refuse,
        unknown_status: Action::Refuse,
        no_url: Action::Refuse,
        crl_stale: Action::Refuse,
        invalid_response: Action::Refuse,
    };

    /// The action for `c`.
    pub fn get(&self, c: Condition) -> Action {
        match c {
            Condition::Unreachable => self.unreachable,
            Condition::TryLater => self.try_later,
            Condition::UnknownStatus => self.unknown_status,
            Condition::NoUrl => self.no_url,
            Condition::CrlStale => self.crl_stale,
            Condition::InvalidResponse => self.invalid_response,
        }
    }

    /// Sets the action for `c`.
    pub fn set(&mut self, c: Condition, a: Action) {
        let slot = match c {
            Condition::Unreachable => &mut self.unreachable,
            Condition::TryLater => &mut self.try_later,
            Condition::UnknownStatus => &mut self.unknown_status,
            Condition::NoUrl => &mut self.no_url,
            Condition::CrlStale => &mut self.crl_stale,
            Condition::InvalidResponse => &mut self.invalid_response,
        };
        *slot = a;
    }
}

/// Mode plus decisions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Policy {
    /// Sources.
    pub mode: Mode,
    /// Decisions on OCSP conditions.
    pub ocsp: Actions,
    /// Decisions on CRL conditions.
    pub crl: Actions,
}

impl Policy {
    /// The defaults for `mode`: refuse on every condition, except that `ocsp-then-crl` falls
    /// back to the CRL when the responder is unreachable, says tryLater, or there is no OCSP
    /// URL (DESIGN.md "Trust and revocation defaults").
    pub fn new(mode: Mode) -> Policy {
        let mut ocsp = Actions::REFUSE_ALL;
        if mode == Mode::OcspThenCrl {
            ocsp.unreachable = Action::Fallback;
            ocsp.try_later = Action::Fallback;
            ocsp.no_url = Action::Fallback;
        }
        Policy {
            mode,
            ocsp,
            crl: Actions::REFUSE_ALL,
        }
    }
}

impl Default for Policy {
    fn default() -> Self {
        Policy::new(Mode::OcspThenCrl)
    }
}

/// A source of revocation information.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// OCSP.
    Ocsp,
    /// CRL.
    Crl,
}

impl Source {
    /// Name.
    pub fn name(self) -> &'static str {
        match self {
            Source::Ocsp => "ocsp",
            Source::Crl => "crl",
        }
    }
}

/// Where an answer came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Freshness {
    /// Fetched for this request.
    Fresh,
    /// From the cache (OCSP) or the held index (CRL).
    Cached,
}

impl Freshness {
    /// Name.
    pub fn name(self) -> &'static str {
        match self {
            Freshness::Fresh => "fresh",
            Freshness::Cached => "cached",
        }
    }
}

/// A usable answer from one source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Answer {
    /// Not revoked.
    Good,
    /// Revoked.
    Revoked {
        /// When.
        time: UnixTime,
        /// Reason name, if given.
        reason: Option<&'static str>,
    },
}

/// What one source said: an answer, or a condition with its detailed code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// An answer.
    Answer(Answer),
    /// No usable answer.
    Condition {
        /// The condition.
        condition: Condition,
        /// Detailed, stable code (e.g. `ocsp_timeout`, `crl_http_404`).
        code: &'static str,
        /// Human detail.
        detail: String,
    },
}

/// One source's report, as the checker feeds it to [`decide`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Report {
    /// Which source.
    pub source: Source,
    /// What it said.
    pub outcome: Outcome,
    /// Fresh or cached.
    pub freshness: Freshness,
    /// Age of the answer (seconds since thisUpdate), when there is one.
    pub age_secs: Option<i64>,
    /// When this source last gave a good answer for the certificate (OCSP), or until when its
    /// last CRL was current (CRL): the soft-fail anchor.
    pub last_good: Option<UnixTime>,
}

impl Report {
    /// JSON for audit.
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "source": self.source.name(),
            "freshness": self.freshness.name(),
            "age_secs": self.age_secs,
        });
        let extra = match &self.outcome {
            Outcome::Answer(Answer::Good) => json!({"status": "good"}),
            Outcome::Answer(Answer::Revoked { time, reason }) => json!({
                "status": "revoked", "revocation_time": time.to_rfc3339(), "reason": reason
            }),
            Outcome::Condition {
                condition,
                code,
                detail,
            } => json!({
                "status": "condition", "condition": condition.name(), "code": code, "detail": detail
            }),
        };
        if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
            m.extend(e);
        }
        v
    }
}

/// The decision for one certificate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Accepted or not.
    pub accepted: bool,
    /// Stable code: `ok`, `ok_soft_fail`, `cert_revoked`, `revocation_<condition>`,
    /// `revocation_soft_fail_expired`.
    pub code: &'static str,
    /// The source whose answer (or condition) decided.
    pub decided_by: Option<Source>,
    /// Fresh or cached, for that source.
    pub freshness: Option<Freshness>,
    /// The action taken on a condition, if one was.
    pub action: Option<Action>,
    /// Every source consulted, in order.
    pub reports: Vec<Report>,
}

impl Verdict {
    /// JSON for audit and `--json`.
    pub fn to_json(&self) -> Value {
        json!({
            "accepted": self.accepted,
            "code": self.code,
            "decided_by": self.decided_by.map(Source::name),
            "freshness": self.freshness.map(Freshness::name),
            "action": self.action.map(Action::to_json),
            "reports": self.reports.iter().map(Report::to_json).collect::<Vec<_>>(),
        })
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({})",
            if self.accepted { "accepted" } else { "refused" },
            self.code
        )?;
        for r in &self.reports {
            let what = match &r.outcome {
                Outcome::Answer(Answer::Good) => "good".to_string(),
                Outcome::Answer(Answer::Revoked { time, reason }) => {
                    format!("revoked at {time} ({})", reason.unwrap_or("unspecified"))
                }
                Outcome::Condition { code, detail, .. } => format!("{code}: {detail}"),
            };
            write!(f, "; {} {}: {what}", r.source.name(), r.freshness.name())?;
        }
        Ok(())
    }
}

/// What [`step`] says after one source.
#[derive(Debug, PartialEq, Eq)]
pub enum Step {
    /// Final.
    Done(Verdict),
    /// Ask the other source (fallback, or the second source of `crl-and-ocsp`).
    Next,
}

fn verdict(
    accepted: bool,
    code: &'static str,
    r: &Report,
    action: Option<Action>,
    reports: &[Report],
) -> Verdict {
    Verdict {
        accepted,
        code,
        decided_by: Some(r.source),
        freshness: Some(r.freshness),
        action,
        reports: reports.to_vec(),
    }
}

/// Judges the latest report (`reports` last) given the ones before. `is_last` says whether
/// another source remains to be asked. Pure: the clock is `now`.
pub fn step(policy: &Policy, reports: &[Report], is_last: bool, now: UnixTime) -> Step {
    let Some(r) = reports.last() else {
        return Step::Next;
    };
    let both_required = policy.mode == Mode::CrlAndOcsp;
    let actions = actions_for(policy, r.source);
    match &r.outcome {
        Outcome::Answer(Answer::Revoked { .. }) => {
            Step::Done(verdict(false, "cert_revoked", r, None, reports))
        }
        Outcome::Answer(Answer::Good) => {
            if both_required && !is_last {
                Step::Next
            } else {
                let earlier_soft = reports.iter().any(|e| match &e.outcome {
                    Outcome::Condition { condition, .. } => matches!(
                        actions_for(policy, e.source).get(*condition),
                        Action::SoftFail { .. }
                    ),
                    Outcome::Answer(_) => false,
                });
                let code = if earlier_soft { "ok_soft_fail" } else { "ok" };
                Step::Done(verdict(true, code, r, None, reports))
            }
        }
        Outcome::Condition { condition, .. } => {
            let action = actions.get(*condition);
            match action {
                Action::Refuse => Step::Done(verdict(
                    false,
                    condition.refusal_code(),
                    r,
                    Some(action),
                    reports,
                )),
                Action::Fallback => {
                    let earlier_good = reports
                        .iter()
                        .rev()
                        .skip(1)
                        .find(|e| e.outcome == Outcome::Answer(Answer::Good));
                    if is_last
                        && both_required
                        && let Some(g) = earlier_good
                    {
                        // crl-and-ocsp: the other source's good answer is enough.
                        Step::Done(verdict(true, "ok", g, Some(action), reports))
                    } else if is_last {
                        // Nothing left to fall back on (single-source mode, or the other source
                        // was already asked): refuse.
                        Step::Done(verdict(
                            false,
                            condition.refusal_code(),
                            r,
                            Some(action),
                            reports,
                        ))
                    } else {
                        Step::Next
                    }
                }
                Action::SoftFail { max_secs } => {
                    let fresh_enough = r.last_good.is_some_and(|t| {
                        let age = i128::from(now.0) - i128::from(t.0);
                        age <= i128::from(max_secs)
                    });
                    if !fresh_enough {
                        Step::Done(verdict(
                            false,
                            "revocation_soft_fail_expired",
                            r,
                            Some(action),
                            reports,
                        ))
                    } else if both_required && !is_last {
                        Step::Next
                    } else {
                        Step::Done(verdict(true, "ok_soft_fail", r, Some(action), reports))
                    }
                }
            }
        }
    }
}

fn actions_for(policy: &Policy, source: Source) -> &Actions {
    match source {
        Source::Ocsp => &policy.ocsp,
        Source::Crl => &policy.crl,
    }
}

/// The sources to ask, in order, for `mode`.
pub fn order(mode: Mode) -> &'static [Source] {
    match mode {
        Mode::Ocsp => &[Source::Ocsp],
        Mode::Crl => &[Source::Crl],
        Mode::OcspThenCrl => &[Source::Ocsp, Source::Crl],
        Mode::CrlAndOcsp => &[Source::Crl, Source::Ocsp],
    }
}

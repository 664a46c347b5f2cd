//! Why a login (or a request) was refused: a stable reason code for operators (audit, JSON,
//! metrics), an HTTP status, and detail for the audit log. The nurse-facing text comes from
//! [`crate::web::i18n::message`] by code.

/// A refusal.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// Stable reason code (snake_case), e.g. `challenge_expired`, `cert_revoked`, `staff_unknown`.
    pub code: &'static str,
    /// HTTP status to answer with.
    pub status: u16,
    /// Operator detail (audit log; never shown raw to the user; never holds tokens or CMS).
    pub detail: String,
    /// Who, when known (the certificate was parsed).
    pub subject: Option<RefusedSubject>,
}

/// The certificate a refused login presented, for the audit record.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct RefusedSubject {
    /// IIN, if the certificate carries one.
    pub iin: Option<String>,
    /// Serial, hex.
    pub serial: String,
    /// Issuer, display form.
    pub issuer: String,
}

impl Refusal {
    /// A refusal without a known subject.
    pub fn new(code: &'static str, status: u16, detail: impl Into<String>) -> Refusal {
        Refusal {
            code,
            status,
            detail: detail.into(),
            subject: None,
        }
    }

    /// Adds the subject.
    pub fn with_subject(mut self, s: RefusedSubject) -> Refusal {
        self.subject = Some(s);
        self
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.detail, self.code)
    }
}

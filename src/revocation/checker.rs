//! Runs the policy: asks the sources in the mode's order and returns the [`Verdict`].

use std::sync::Arc;

use crate::pki::cert::Certificate;
use crate::pki::time::UnixTime;

use super::crl_store::CrlStore;
use super::ocsp_client::OcspClient;
use super::policy::{self, Condition, Freshness, Outcome, Policy, Report, Source, Step, Verdict};

/// The online checker: a policy, an OCSP client and CRL stores (one per CA).
pub struct Checker {
    /// The policy.
    pub policy: Policy,
    /// OCSP, if configured.
    pub ocsp: Option<Arc<OcspClient>>,
    /// CRL stores.
    pub crls: Vec<Arc<CrlStore>>,
}

impl Checker {
    /// The store for certificates issued by `issuer` (same key).
    pub fn store_for(&self, issuer: &Certificate) -> Option<&Arc<CrlStore>> {
        self.crls.iter().find(|s| {
            s.issuer().spki_der == issuer.spki_der && s.issuer().subject.matches(&issuer.subject)
        })
    }

    /// One source's report at `now`.
    pub async fn report(
        &self,
        source: Source,
        cert: &Certificate,
        issuer: &Certificate,
        now: UnixTime,
    ) -> Report {
        match source {
            Source::Ocsp => match &self.ocsp {
                Some(c) => c.status(cert, issuer, now).await.report(now),
                None => no_source(Source::Ocsp, "ocsp_not_configured"),
            },
            Source::Crl => match self.store_for(issuer) {
                Some(store) => {
                    let first = store.report(&cert.serial, now, Freshness::Cached);
                    if matches!(first.outcome, Outcome::Condition { .. }) {
                        // Fetch what is missing or stale (rate-limited by the store), then look
                        // again.
                        let did = store.refresh_if_due(now).await;
                        if !did.is_empty() {
                            return store.report(&cert.serial, now, Freshness::Fresh);
                        }
                    }
                    first
                }
                None => no_source(Source::Crl, "crl_not_configured"),
            },
        }
    }

    /// The verdict for `cert` issued by `issuer` (which the caller trusts) at `now`.
    pub async fn check(&self, cert: &Certificate, issuer: &Certificate, now: UnixTime) -> Verdict {
        let order = policy::order(self.policy.mode);
        let mut reports = Vec::new();
        for (i, source) in order.iter().enumerate() {
            reports.push(self.report(*source, cert, issuer, now).await);
            if let Step::Done(v) = policy::step(&self.policy, &reports, i + 1 == order.len(), now) {
                return v;
            }
        }
        // Unreachable in practice: the last step is always Done.
        Verdict {
            accepted: false,
            code: "revocation_status_unknown",
            decided_by: None,
            freshness: None,
            action: None,
            reports,
        }
    }
}

fn no_source(source: Source, code: &'static str) -> Report {
    Report {
        source,
        outcome: Outcome::Condition {
            condition: Condition::NoUrl,
            code,
            detail: format!("no {} source is configured for this issuer", source.name()),
        },
        freshness: Freshness::Fresh,
        age_secs: None,
        last_good: None,
    }
}

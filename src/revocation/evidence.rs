//! `verify cert … --online`: fetch the evidence the command line did not give (an OCSP response
//! from the leaf's responder, CRLs from its CDP and Freshest CRL) and hand it to the core's
//! offline judgement ([`crate::pki::revocation::check_path`]) unchanged.

use std::sync::Arc;

use crate::pki::cert::Certificate;
use crate::pki::revocation::{Evidence, RevocationMode, RevocationOptions};

use super::http::{GetOutcome, Http, HttpConfig};
use super::ocsp_client::{OcspClient, OcspConfig};
use super::ocsp_request::CertIdHash;
pub use crate::clock::now;

/// What `--online` fetches with.
#[derive(Clone, Debug, Default)]
pub struct OnlineOptions {
    /// Responder URL instead of the AIA one.
    pub ocsp_url: Option<String>,
    /// CertID hash (NCA: SHA-256).
    pub hash: CertIdHash,
    /// HTTP settings.
    pub http: HttpConfig,
}

/// Fetches OCSP and CRL evidence for `leaf` (issued by one of `issuers`) into `evidence`,
/// sets the nonce the response must echo and, when no mode was chosen, `crl-or-ocsp`. Returns
/// notes on what could not be fetched (the core then judges what is there).
pub fn fetch_missing(
    leaf: &Certificate,
    issuers: &[&Certificate],
    evidence: &mut Evidence,
    revocation: &mut RevocationOptions,
    opts: &OnlineOptions,
) -> Vec<String> {
    let mut notes = Vec::new();
    if revocation.mode == RevocationMode::None {
        revocation.mode = RevocationMode::CrlOrOcsp;
    }
    let Some(issuer) = issuers
        .iter()
        .find(|i| i.subject.matches(&leaf.issuer))
        .copied()
    else {
        notes.push("online: the leaf's issuer is not among the given certificates".into());
        return notes;
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            notes.push(format!("online: no runtime: {e}"));
            return notes;
        }
    };
    let http = match Http::new(opts.http.clone()) {
        Ok(h) => h,
        Err(e) => {
            notes.push(format!("online: {e}"));
            return notes;
        }
    };
    rt.block_on(async {
        let client = Arc::new(OcspClient::new(
            http.clone(),
            OcspConfig {
                url_override: opts.ocsp_url.clone(),
                hash: opts.hash,
                signature: revocation.signature,
                max_age: std::time::Duration::from_secs(
                    revocation.ocsp_max_age_secs.unwrap_or(300),
                ),
                ..OcspConfig::default()
            },
        ));
        let now = now();
        let r = client.status(leaf, issuer, now).await;
        match r.result {
            Ok(a) => {
                if let Err(e) = evidence.add_ocsp_response(&a.der) {
                    notes.push(format!("online OCSP {}: {e}", a.url));
                } else {
                    revocation.ocsp_nonce = a.nonce.clone();
                }
            }
            Err(f) => notes.push(format!("online OCSP: {} ({})", f.detail, f.code)),
        }
        let urls = leaf
            .extensions
            .crl_distribution_points
            .iter()
            .chain(leaf.extensions.freshest_crl.iter())
            .flat_map(|dp| dp.urls.iter())
            .filter(|u| u.starts_with("http://") || u.starts_with("https://"));
        for url in urls {
            match http
                .get(url, None, crate::pki::crl::MAX_CRL_SIZE, &mut |_, _| {})
                .await
            {
                Ok(GetOutcome::Body { bytes, .. }) => {
                    if let Err(e) = evidence.add_crl(&bytes) {
                        notes.push(format!("online CRL {url}: {e} ({})", e.code()));
                    }
                }
                Ok(GetOutcome::NotModified) => {}
                Err(e) => notes.push(format!("online CRL {url}: {e}")),
            }
        }
    });
    notes
}

//! The login check: a CMS signature over an issued challenge in, a [`LoginProof`] (or a
//! [`Refusal`] with a stable code) out. DESIGN.md "The flow of one login", steps 2–6; the
//! challenge itself (step 1) is judged by [`crate::auth::challenge::accept_taken`] before this.
//!
//! Order of checks, each refusing with the code shown (HTTP status in brackets):
//! 1. size: more than `max_cms_bytes` as received → `cms_too_large` [413];
//! 2. parse (DER, BER, base64, PEM; [`SignedData::parse`]) → the [`CmsError`] code
//!    (`cms_bad_encoding`, `cms_malformed`, …) [400];
//! 3. exactly one signer → `cms_no_signers` / `cms_several_signers` [400];
//! 4. the signed content is exactly the challenge text (attached: equal bytes; detached: verified
//!    over the challenge text: a message-digest mismatch), content type id-data →
//!    `cms_content_mismatch` [400];
//! 5. the signature (RFC 5652 §5.4, [`cms::verify_signers`]): the signer must be the embedded
//!    certificate → `cms_signer_certificate_not_found` [400]; a signature that does not verify
//!    with that certificate's key → `cms_signature_invalid` [401]; other signer problems → the
//!    [`SignerError`] code [400];
//! 6. signingTime (RFC 5652 §11.3), when present, within `signing_time_skew_secs` of now →
//!    `cms_signing_time_skew` [401];
//! 7. a certification path (RFC 5280 §6.1) from the signer certificate to a trust anchor at now,
//!    through the CMS's certificates and the store's intermediates → [`PathError::code`]
//!    (`unknown_issuer`, `cert_expired`, `cert_not_yet_valid`, `bad_signature`, …) [403];
//! 8. the purpose policy → `cert_purpose_not_allowed` [403];
//! 9. online revocation of the signer certificate against its validated issuer → the verdict's
//!    code (`cert_revoked` [403], `revocation_status_unknown` [403], `revocation_unreachable`
//!    and `revocation_try_later` [503], other `revocation_*` [403]); the detail holds the
//!    verdict JSON;
//! 10. identity: the certificate must carry an IIN → `cert_no_iin` [403];
//! 11. the staff directory → `staff_unknown`, `staff_disabled`, `staff_expired`,
//!     `staff_bin_mismatch` [403];
//! 12. the block-list hook (issue 8) → `key_blocked` [403].
//!
//! From step 5 on (once the signer certificate is known) every refusal carries a
//! [`RefusedSubject`] (IIN, serial, issuer) for the audit record. No input panics; the raw CMS
//! and the challenge text never appear in a refusal's detail.
//!
//! Revocation is checked for the signer certificate only (the CA certificates are the
//! operator's configured trust store, re-checked by `check-config`).

use std::sync::Arc;

use crate::auth::proof::LoginProof;
use crate::auth::purpose::{LoginProfile, PurposePolicy};
use crate::auth::refusal::{Refusal, RefusedSubject};
use crate::auth::staff::StaffDirectory;
use crate::auth::trust::TrustStore;
use crate::pki::cert::Certificate;
use crate::pki::cms::{self, CmsError, SignedData, SignerError};
use crate::pki::identity::NcaIdentity;
use crate::pki::path::{self, PathError, ValidationOptions};
use crate::pki::signature::SignaturePolicy;
use crate::pki::time::UnixTime;
use crate::revocation::checker::Checker;
use crate::session::{Identity, PendingChallenge};

/// Default cap on the CMS as received (text or binary). A login CMS is 1.4–3.6 KB (NCA
/// fixtures), 8–10 KB with a chain and a timestamp; 256 KiB leaves a wide margin.
pub const DEFAULT_MAX_CMS_BYTES: usize = 256 * 1024;

/// Default allowed difference between the CMS signingTime and now (5 minutes: workstation
/// clocks in hospitals drift; the challenge's own lifetime bounds replay anyway).
pub const DEFAULT_SIGNING_TIME_SKEW_SECS: i64 = 300;

/// The block-list hook: `Some(reason)` refuses the login with `key_blocked`.
pub type BlockHook = Arc<dyn Fn(&Identity) -> Option<String> + Send + Sync>;

/// What else a successful login established (for the audit record).
#[derive(Clone, Debug, PartialEq)]
pub struct LoginReport {
    /// The key profile.
    pub profile: LoginProfile,
    /// The CMS signingTime, if present.
    pub signing_time: Option<UnixTime>,
    /// The revocation verdict as JSON (`None` only with [`LoginVerifier::danger_no_revocation`]).
    pub revocation: Option<serde_json::Value>,
    /// Trust anchor subject of the validated path.
    pub anchor: String,
}

/// Verifies logins. Built with [`LoginVerifier::new`] (online revocation required) or, for
/// tests and demos that say so, [`LoginVerifier::danger_no_revocation`].
pub struct LoginVerifier {
    /// Trust anchors and intermediates.
    pub trust: Arc<TrustStore>,
    /// Which certificates may log in.
    pub purpose: PurposePolicy,
    revocation: Option<Arc<Checker>>,
    /// The staff directory.
    pub staff: Arc<StaffDirectory>,
    /// Signature algorithm policy (SHA-1, RSA size) for the CMS and the path.
    pub signature: SignaturePolicy,
    /// Largest CMS accepted as received.
    pub max_cms_bytes: usize,
    /// Allowed |signingTime − now|.
    pub signing_time_skew_secs: i64,
    /// Block-list hook (issue 8).
    pub blocked: Option<BlockHook>,
}

impl std::fmt::Debug for LoginVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoginVerifier")
            .field("anchors", &self.trust.anchors().len())
            .field("purpose", &self.purpose)
            .field("revocation", &self.revocation.is_some())
            .field("staff", &self.staff)
            .field("max_cms_bytes", &self.max_cms_bytes)
            .field("signing_time_skew_secs", &self.signing_time_skew_secs)
            .field("blocked", &self.blocked.is_some())
            .finish()
    }
}

/// The audit subject of a certificate: IIN (if any), serial (lowercase hex), issuer.
pub fn subject_of(cert: &Certificate) -> RefusedSubject {
    RefusedSubject {
        iin: NcaIdentity::from_certificate(cert).iin.map(|i| i.value),
        serial: cert.serial_hex().to_lowercase(),
        issuer: cert.issuer.to_display_string(),
    }
}

fn cms_refusal(e: &CmsError) -> Refusal {
    let status = match e {
        CmsError::TooLarge { .. } => 413,
        _ => 400,
    };
    Refusal::new(e.code(), status, e.to_string())
}

fn signer_refusal(e: &SignerError, detached: bool) -> Refusal {
    match e {
        // A detached signature whose digest is not the challenge's signed something else.
        SignerError::MessageDigestMismatch { .. } if detached => Refusal::new(
            "cms_content_mismatch",
            400,
            "the detached signature is not over the challenge text (message digest differs)",
        ),
        SignerError::Signature(s) if s.is_forged() => Refusal::new(
            "cms_signature_invalid",
            401,
            "the CMS signature does not verify with the embedded signer certificate's key",
        ),
        _ => Refusal::new(e.code(), 400, e.to_string()),
    }
}

fn path_refusal(e: &PathError) -> Refusal {
    Refusal::new(e.code(), 403, e.to_string())
}

fn revocation_status(code: &str) -> u16 {
    match code {
        "revocation_unreachable" | "revocation_try_later" => 503,
        _ => 403,
    }
}

impl LoginVerifier {
    /// A verifier with online revocation and the default limits.
    pub fn new(
        trust: Arc<TrustStore>,
        purpose: PurposePolicy,
        revocation: Arc<Checker>,
        staff: Arc<StaffDirectory>,
    ) -> LoginVerifier {
        LoginVerifier {
            trust,
            purpose,
            revocation: Some(revocation),
            staff,
            signature: SignaturePolicy::default(),
            max_cms_bytes: DEFAULT_MAX_CMS_BYTES,
            signing_time_skew_secs: DEFAULT_SIGNING_TIME_SKEW_SECS,
            blocked: None,
        }
    }

    /// A verifier that does NOT check revocation: a revoked key logs in. Only for tests and
    /// offline demos, which must say so where they print or log.
    pub fn danger_no_revocation(
        trust: Arc<TrustStore>,
        purpose: PurposePolicy,
        staff: Arc<StaffDirectory>,
    ) -> LoginVerifier {
        LoginVerifier {
            revocation: None,
            ..LoginVerifier::new(
                trust,
                purpose,
                Arc::new(Checker {
                    policy: Default::default(),
                    ocsp: None,
                    crls: Vec::new(),
                }),
                staff,
            )
        }
    }

    /// Adds the block-list hook.
    pub fn with_block_hook(mut self, hook: BlockHook) -> LoginVerifier {
        self.blocked = Some(hook);
        self
    }

    /// The online revocation checker (`None` with [`LoginVerifier::danger_no_revocation`]):
    /// live-session re-checks (issue 8) use the same OCSP client, cache and CRL stores.
    pub fn checker(&self) -> Option<&Arc<Checker>> {
        self.revocation.as_ref()
    }

    /// True unless built with [`LoginVerifier::danger_no_revocation`].
    pub fn checks_revocation(&self) -> bool {
        self.revocation.is_some()
    }

    /// Verifies `cms` (as the browser sent it) against the taken, accepted `challenge` at `now`.
    pub async fn verify(
        &self,
        challenge: &PendingChallenge,
        cms: &[u8],
        now: UnixTime,
    ) -> Result<LoginProof, Refusal> {
        self.verify_with_report(challenge, cms, now)
            .await
            .map(|(p, _)| p)
    }

    /// [`LoginVerifier::verify`], also returning what the audit record may want to say.
    pub async fn verify_with_report(
        &self,
        challenge: &PendingChallenge,
        cms: &[u8],
        now: UnixTime,
    ) -> Result<(LoginProof, LoginReport), Refusal> {
        if cms.len() > self.max_cms_bytes {
            return Err(Refusal::new(
                "cms_too_large",
                413,
                format!(
                    "CMS of {} bytes exceeds the {}-byte limit",
                    cms.len(),
                    self.max_cms_bytes
                ),
            ));
        }
        let sd = SignedData::parse(cms).map_err(|e| cms_refusal(&e))?;
        match sd.signers.len() {
            0 => return Err(cms_refusal(&CmsError::NoSigners)),
            1 => {}
            n => {
                return Err(Refusal::new(
                    "cms_several_signers",
                    400,
                    format!("a login CMS has exactly one signer; this one has {n}"),
                ));
            }
        }
        if sd.content_type != cms::oids::ID_DATA {
            return Err(Refusal::new(
                "cms_content_mismatch",
                400,
                format!("signed content type {} is not id-data", sd.content_type),
            ));
        }
        let detached = match &sd.content {
            Some(c) if c.as_slice() == challenge.data.as_slice() => None,
            Some(_) => {
                return Err(Refusal::new(
                    "cms_content_mismatch",
                    400,
                    format!(
                        "the signed content is not the text of challenge {}",
                        challenge.id
                    ),
                ));
            }
            None => Some(challenge.data.as_slice()),
        };
        let verdicts = cms::verify_signers(&sd, detached, &[], &self.signature)
            .map_err(|e| cms_refusal(&e))?;
        let Some(v) = verdicts.into_iter().next() else {
            return Err(cms_refusal(&CmsError::NoSigners));
        };
        let Some(leaf) = v.certificate.as_ref() else {
            let e = v.result.err().unwrap_or(SignerError::CertificateNotFound {
                sid: v.sid.to_string(),
            });
            return Err(signer_refusal(&e, detached.is_some()));
        };
        let who = subject_of(leaf);
        let with = |r: Refusal| r.with_subject(who.clone());
        if let Err(e) = &v.result {
            return Err(with(signer_refusal(e, detached.is_some())));
        }
        if let Some(t) = v.signing_time {
            let skew = t.0.saturating_sub(now.0).saturating_abs();
            if skew > self.signing_time_skew_secs {
                return Err(with(Refusal::new(
                    "cms_signing_time_skew",
                    401,
                    format!(
                        "signingTime {t} is {skew} s from now ({now}); at most {} s allowed",
                        self.signing_time_skew_secs
                    ),
                )));
            }
        }

        // RFC 5280 §6.1 at `now`; the pool is what the signer sent plus the configured
        // intermediates (NCALayer embeds the signer certificate only).
        let mut pool: Vec<Certificate> = sd.certificates.clone();
        pool.extend(self.trust.intermediates().iter().cloned());
        let mut opts = ValidationOptions::at(now);
        opts.signature = self.signature;
        let validated = path::build_and_validate(
            leaf,
            self.trust.anchors(),
            &pool,
            &opts,
            &mut |_: &[&Certificate]| Ok(()),
        )
        .map_err(|e| with(path_refusal(&e)))?;
        let issuer: Certificate = match validated.certs.get(1) {
            Some(c) => (*c).clone(),
            None => {
                return Err(with(Refusal::new(
                    "cert_is_trust_anchor",
                    403,
                    "the signer certificate is itself a trust anchor",
                )));
            }
        };
        let anchor = validated.anchor().subject.to_display_string();
        drop(validated);

        let profile = self.purpose.check(leaf).map_err(with)?;

        let revocation = match &self.revocation {
            Some(checker) => {
                let verdict = checker.check(leaf, &issuer, now).await;
                let json = verdict.to_json();
                if !verdict.accepted {
                    return Err(with(Refusal::new(
                        verdict.code,
                        revocation_status(verdict.code),
                        format!("revocation check refused the certificate: {json}"),
                    )));
                }
                Some(json)
            }
            None => None,
        };

        let id = NcaIdentity::from_certificate(leaf);
        let Some(iin) = id.iin.as_ref().map(|i| i.value.clone()) else {
            return Err(with(Refusal::new(
                "cert_no_iin",
                403,
                "the certificate carries no IIN (SERIALNUMBER=IIN…)",
            )));
        };
        let staff = self.staff.lookup(&id, now).map_err(with)?;
        let name = Some(staff.name)
            .filter(|n| !n.trim().is_empty())
            .or_else(|| id.full_name())
            .unwrap_or_default();
        let key_id = hex::encode(ring::digest::digest(&ring::digest::SHA256, &leaf.spki_der));
        let identity = Identity {
            iin,
            name,
            bin: id.bin.as_ref().map(|b| b.value.clone()),
            org: id.organization.clone(),
            roles: staff.roles,
            cert_serial: who.serial.clone(),
            cert_issuer: who.issuer.clone(),
            key_id,
            cert_not_after: leaf.not_after.0,
        };
        if let Some(hook) = &self.blocked
            && let Some(reason) = hook(&identity)
        {
            return Err(with(Refusal::new("key_blocked", 403, reason)));
        }
        let report = LoginReport {
            profile,
            signing_time: v.signing_time,
            revocation,
            anchor,
        };
        Ok((LoginProof::new(identity, leaf.der().to_vec()), report))
    }
}

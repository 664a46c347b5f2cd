//! Certification path building and validation, RFC 5280 §6.1 (with RFC 4158 path building).
//!
//! [`build_and_validate`] searches from the leaf towards the trust anchors, trying every
//! candidate issuer (subject name match, then signature) among the anchors first and then the
//! untrusted pool, depth first with backtracking. Each complete candidate path is validated in
//! full (validity, basic constraints and path length, key usage, name constraints, policies,
//! critical extensions, EKU/KU requirements) and then handed to the caller's revocation check;
//! the first path that passes everything wins. A [`Budget`] caps signature verifications,
//! candidate steps and name-constraint comparisons, so hostile pools (10,000 certificates,
//! cycles, the x509-limbo pathological chains) end in a named error in bounded time.
//!
//! Profile choices beyond the RFC's MUSTs on the verifier, each refused with a named error:
//! certificates issued by a CA must carry authorityKeyIdentifier.keyIdentifier, CA
//! certificates subjectKeyIdentifier (RFC 5280 §4.2.1.1–2 MUSTs on CAs; NCA always has both);
//! AKI/SKI must be non-critical; an end-entity key must be one we accept for signatures (RSA
//! ≥ 2048 bits, P-256/P-384, Ed25519, GOST); an end
//! entity asserting keyCertSign must be a CA (§4.2.1.3); an empty subject needs a critical SAN
//! (§4.2.1.6); an empty issuer is refused (§4.1.2.4).
//!
//! What we do not do, on purpose: DNS/IP peer-name matching (a client-certificate gateway has
//! no peer name) and the CA/Browser Forum server-certificate profile; trust anchors keep their
//! authorityKeyIdentifier issuer/serial fields (NCA's test root has them).

use std::fmt;

use const_oid::ObjectIdentifier;

use super::cert::{Certificate, GeneralName, KeyUsage, oids};
use super::name_constraints::{self, NameConstraintError};
use super::policy::{self, PolicyError, PolicyOptions, ValidPolicies};
use super::signature::{self, SignatureError, SignaturePolicy};
use super::time::UnixTime;

/// Default cap on intermediates in one path (not counting self-issued ones). NCA's paths have
/// one (root → NCA → person); web PKI rarely exceeds three.
pub const DEFAULT_MAX_DEPTH: usize = 8;

/// Work limits for one validation. The numbers follow rustls-webpki (`Budget`): 100 signature
/// checks, 200,000 path-building steps, 250,000 name-constraint comparisons.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Budget {
    /// Signature verifications left.
    pub signatures: usize,
    /// Candidate issuer steps left.
    pub build_steps: usize,
    /// Name constraint comparisons left.
    pub name_comparisons: usize,
}

impl Default for Budget {
    fn default() -> Self {
        Budget {
            signatures: 100,
            build_steps: 200_000,
            name_comparisons: 250_000,
        }
    }
}

/// Required extended key usage of the leaf.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum EkuRequirement {
    /// No requirement (`--eku any`).
    #[default]
    Any,
    /// Each of these must be present, unless the leaf has no EKU extension at all (RFC 5280
    /// §4.2.1.12: absent EKU means any purpose) or lists anyExtendedKeyUsage.
    AllOf(Vec<ObjectIdentifier>),
}

/// Everything the validator needs besides certificates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ValidationOptions {
    /// The validation time.
    pub at: UnixTime,
    /// Leaf EKU requirement.
    pub eku: EkuRequirement,
    /// keyUsage bits the leaf must assert (if it has the extension).
    pub key_usage: u16,
    /// Maximum number of non-self-issued intermediates.
    pub max_depth: usize,
    /// Certificate policy inputs.
    pub policy: PolicyOptions,
    /// Signature algorithm policy (SHA-1, RSA size).
    pub signature: SignaturePolicy,
    /// Work limits.
    pub budget: Budget,
}

impl ValidationOptions {
    /// Defaults that deny: no SHA-1, no EKU requirement, default depth, default budget.
    pub fn at(at: UnixTime) -> Self {
        ValidationOptions {
            at,
            eku: EkuRequirement::Any,
            key_usage: 0,
            max_depth: DEFAULT_MAX_DEPTH,
            policy: PolicyOptions::default(),
            signature: SignaturePolicy::default(),
            budget: Budget::default(),
        }
    }
}

/// Why no valid path was found. Each variant names the certificate (subject) concerned.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PathError {
    /// No chain of issuers leads from the leaf to a trust anchor.
    UnknownIssuer {
        /// Subject of the certificate whose issuer was not found.
        subject: String,
        /// The issuer name that was looked for.
        issuer: String,
    },
    /// A certificate on the path has expired.
    CertExpired {
        /// Subject.
        subject: String,
        /// notAfter.
        not_after: UnixTime,
        /// The validation time.
        at: UnixTime,
    },
    /// A certificate on the path is not valid yet.
    CertNotYetValid {
        /// Subject.
        subject: String,
        /// notBefore.
        not_before: UnixTime,
        /// The validation time.
        at: UnixTime,
    },
    /// A signature on the path does not verify (or uses a refused algorithm).
    BadSignature {
        /// Subject of the signed certificate.
        subject: String,
        /// The signature error.
        error: SignatureError,
    },
    /// tbsCertificate.signature differs from signatureAlgorithm (RFC 5280 §4.1.1.2).
    SignatureAlgorithmMismatch {
        /// Subject.
        subject: String,
    },
    /// A v1 or v2 certificate outside the trust anchors.
    UnsupportedVersion {
        /// Subject.
        subject: String,
        /// Version field (0 = v1, 1 = v2).
        version: u8,
    },
    /// The end entity's public key is not one we accept.
    UnacceptableKey {
        /// Subject.
        subject: String,
        /// Why.
        error: SignatureError,
    },
    /// An issuing certificate is not a CA (basicConstraints absent or cA false; §6.1.4 (k)).
    NotCa {
        /// Subject of the would-be issuer.
        subject: String,
    },
    /// An issuing certificate's keyUsage lacks keyCertSign (§6.1.4 (n)).
    KeyCertSignMissing {
        /// Subject.
        subject: String,
    },
    /// keyCertSign asserted by a certificate that is not a CA (§4.2.1.3).
    KeyCertSignWithoutCa {
        /// Subject.
        subject: String,
    },
    /// pathLenConstraint exceeded (§6.1.4 (l)–(m)).
    PathLenExceeded {
        /// Subject of the certificate that went past the limit.
        subject: String,
    },
    /// More intermediates than the caller allows.
    MaxDepthExceeded {
        /// The limit.
        max: usize,
    },
    /// A critical extension we do not process (§6.1.4 (o), §6.1.5 (e)).
    UnhandledCriticalExtension {
        /// Subject.
        subject: String,
        /// Extension OID.
        oid: ObjectIdentifier,
    },
    /// An extension that must be non-critical is marked critical.
    ExtensionMustNotBeCritical {
        /// Subject.
        subject: String,
        /// Extension OID.
        oid: ObjectIdentifier,
    },
    /// authorityKeyIdentifier.keyIdentifier missing in a CA-issued certificate (§4.2.1.1).
    MissingAuthorityKeyId {
        /// Subject.
        subject: String,
    },
    /// subjectKeyIdentifier missing in a CA certificate (§4.2.1.2).
    MissingSubjectKeyId {
        /// Subject.
        subject: String,
    },
    /// A self-signed trust anchor's authorityKeyIdentifier.keyIdentifier differs from its own
    /// subjectKeyIdentifier.
    AnchorKeyIdMismatch {
        /// Subject.
        subject: String,
    },
    /// Empty issuer name (§4.1.2.4) or an empty CA subject (§4.1.2.6).
    EmptyName {
        /// Subject (may be empty).
        subject: String,
    },
    /// Empty subject without a critical subjectAltName, or a critical subjectAltName beside a
    /// non-empty subject (§4.2.1.6).
    BadSubjectAltName {
        /// Subject.
        subject: String,
    },
    /// nameConstraints in an end-entity certificate (§4.2.1.10: only in CA certificates).
    NameConstraintsInEndEntity {
        /// Subject.
        subject: String,
    },
    /// A name-constraints failure.
    NameConstraints {
        /// Subject of the constrained certificate.
        subject: String,
        /// What failed.
        error: NameConstraintError,
    },
    /// A certificate-policy failure.
    Policy(PolicyError),
    /// The leaf lacks a required extended key usage.
    RequiredEkuMissing {
        /// The missing purpose.
        oid: ObjectIdentifier,
    },
    /// The leaf has an empty extKeyUsage (SIZE (1..MAX), §4.2.1.12).
    EmptyExtendedKeyUsage,
    /// The leaf lacks a required key usage.
    RequiredKeyUsageMissing {
        /// Missing bits.
        missing: Vec<&'static str>,
    },
    /// A work budget ran out.
    BudgetExceeded {
        /// Which budget.
        what: &'static str,
    },
    /// The caller's revocation check refused the path.
    Revocation {
        /// Stable reason code from the revocation layer.
        code: &'static str,
        /// Human detail.
        detail: String,
    },
}

impl PathError {
    /// Stable reason code (audit, JSON, metrics).
    pub fn code(&self) -> &'static str {
        match self {
            PathError::UnknownIssuer { .. } => "unknown_issuer",
            PathError::CertExpired { .. } => "cert_expired",
            PathError::CertNotYetValid { .. } => "cert_not_yet_valid",
            PathError::BadSignature { error, .. } => {
                if error.is_forged() {
                    "bad_signature"
                } else {
                    error.code()
                }
            }
            PathError::SignatureAlgorithmMismatch { .. } => "signature_algorithm_mismatch",
            PathError::UnsupportedVersion { .. } => "unsupported_certificate_version",
            PathError::UnacceptableKey { .. } => "unacceptable_public_key",
            PathError::NotCa { .. } => "issuer_not_ca",
            PathError::KeyCertSignMissing { .. } => "issuer_key_cert_sign_missing",
            PathError::KeyCertSignWithoutCa { .. } => "key_cert_sign_without_ca",
            PathError::PathLenExceeded { .. } => "path_len_exceeded",
            PathError::MaxDepthExceeded { .. } => "max_depth_exceeded",
            PathError::UnhandledCriticalExtension { .. } => "unhandled_critical_extension",
            PathError::ExtensionMustNotBeCritical { .. } => "extension_must_not_be_critical",
            PathError::MissingAuthorityKeyId { .. } => "missing_authority_key_id",
            PathError::MissingSubjectKeyId { .. } => "missing_subject_key_id",
            PathError::AnchorKeyIdMismatch { .. } => "anchor_key_id_mismatch",
            PathError::EmptyName { .. } => "empty_name",
            PathError::BadSubjectAltName { .. } => "bad_subject_alt_name",
            PathError::NameConstraintsInEndEntity { .. } => "name_constraints_in_end_entity",
            PathError::NameConstraints { error, .. } => match error {
                NameConstraintError::Violation { .. } => "name_constraints_violation",
                NameConstraintError::InvalidConstraint { .. } => "name_constraints_invalid",
                NameConstraintError::InvalidName { .. } => "invalid_subject_alt_name",
                NameConstraintError::BudgetExceeded => "budget_exceeded",
            },
            PathError::Policy(p) => match p {
                PolicyError::NoAcceptablePolicy { .. } => "no_acceptable_policy",
                PolicyError::AnyPolicyMapping { .. } => "any_policy_mapping",
                PolicyError::TreeTooLarge => "policy_tree_too_large",
            },
            PathError::RequiredEkuMissing { .. } => "required_eku_missing",
            PathError::EmptyExtendedKeyUsage => "empty_extended_key_usage",
            PathError::RequiredKeyUsageMissing { .. } => "required_key_usage_missing",
            PathError::BudgetExceeded { .. } => "budget_exceeded",
            PathError::Revocation { code, .. } => code,
        }
    }

    /// How far the failed attempt got: used to report the most telling error when several
    /// candidate paths fail (a complete path that failed a check beats "issuer not found").
    fn rank(&self) -> u8 {
        match self {
            PathError::UnknownIssuer { .. } => 0,
            PathError::BudgetExceeded { .. } | PathError::MaxDepthExceeded { .. } => 1,
            PathError::BadSignature { .. } => 2,
            PathError::Revocation { .. } => 4,
            _ => 3,
        }
    }
}

impl fmt::Display for PathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathError::UnknownIssuer { subject, issuer } => {
                write!(f, "no trusted issuer \"{issuer}\" found for \"{subject}\"")
            }
            PathError::CertExpired {
                subject,
                not_after,
                at,
            } => write!(f, "\"{subject}\" expired at {not_after} (checked at {at})"),
            PathError::CertNotYetValid {
                subject,
                not_before,
                at,
            } => write!(
                f,
                "\"{subject}\" is valid only from {not_before} (checked at {at})"
            ),
            PathError::BadSignature { subject, error } => {
                write!(f, "signature on \"{subject}\": {error}")
            }
            PathError::SignatureAlgorithmMismatch { subject } => write!(
                f,
                "\"{subject}\": signatureAlgorithm differs from tbsCertificate.signature"
            ),
            PathError::UnsupportedVersion { subject, version } => write!(
                f,
                "\"{subject}\" is an X.509 v{} certificate; only v3 is accepted",
                u16::from(*version) + 1
            ),
            PathError::UnacceptableKey { subject, error } => {
                write!(f, "\"{subject}\": public key not acceptable: {error}")
            }
            PathError::NotCa { subject } => write!(f, "\"{subject}\" is not a CA"),
            PathError::KeyCertSignMissing { subject } => {
                write!(f, "\"{subject}\" may not sign certificates (keyUsage)")
            }
            PathError::KeyCertSignWithoutCa { subject } => {
                write!(f, "\"{subject}\" asserts keyCertSign but is not a CA")
            }
            PathError::PathLenExceeded { subject } => {
                write!(f, "pathLenConstraint exceeded at \"{subject}\"")
            }
            PathError::MaxDepthExceeded { max } => {
                write!(f, "path longer than {max} intermediates")
            }
            PathError::UnhandledCriticalExtension { subject, oid } => {
                write!(f, "\"{subject}\" has unknown critical extension {oid}")
            }
            PathError::ExtensionMustNotBeCritical { subject, oid } => {
                write!(f, "\"{subject}\": extension {oid} must not be critical")
            }
            PathError::MissingAuthorityKeyId { subject } => {
                write!(f, "\"{subject}\" lacks authorityKeyIdentifier")
            }
            PathError::MissingSubjectKeyId { subject } => {
                write!(f, "CA \"{subject}\" lacks subjectKeyIdentifier")
            }
            PathError::AnchorKeyIdMismatch { subject } => write!(
                f,
                "trust anchor \"{subject}\": authorityKeyIdentifier does not match its own key"
            ),
            PathError::EmptyName { subject } => {
                write!(f, "empty issuer or CA subject name (\"{subject}\")")
            }
            PathError::BadSubjectAltName { subject } => {
                write!(
                    f,
                    "\"{subject}\": subjectAltName criticality does not fit the subject"
                )
            }
            PathError::NameConstraintsInEndEntity { subject } => {
                write!(f, "end-entity \"{subject}\" carries nameConstraints")
            }
            PathError::NameConstraints { subject, error } => match error {
                NameConstraintError::Violation { name } => {
                    write!(f, "\"{subject}\": name {name} violates name constraints")
                }
                NameConstraintError::InvalidConstraint { detail } => {
                    write!(f, "invalid nameConstraints above \"{subject}\": {detail}")
                }
                NameConstraintError::InvalidName { name } => {
                    write!(f, "\"{subject}\": malformed subjectAltName {name}")
                }
                NameConstraintError::BudgetExceeded => {
                    f.write_str("name constraint comparison budget exceeded")
                }
            },
            PathError::Policy(p) => match p {
                PolicyError::NoAcceptablePolicy { subject } => {
                    write!(f, "no acceptable certificate policy at \"{subject}\"")
                }
                PolicyError::AnyPolicyMapping { subject } => {
                    write!(f, "\"{subject}\" maps anyPolicy")
                }
                PolicyError::TreeTooLarge => f.write_str("certificate policy tree too large"),
            },
            PathError::RequiredEkuMissing { oid } => {
                write!(f, "certificate lacks required extended key usage {oid}")
            }
            PathError::EmptyExtendedKeyUsage => f.write_str("empty extendedKeyUsage"),
            PathError::RequiredKeyUsageMissing { missing } => {
                write!(f, "certificate lacks key usage {}", missing.join(", "))
            }
            PathError::BudgetExceeded { what } => write!(f, "work budget exceeded ({what})"),
            PathError::Revocation { detail, .. } => f.write_str(detail),
        }
    }
}

impl std::error::Error for PathError {}

/// A path that passed every check: leaf first, trust anchor last.
#[derive(Clone, Debug)]
pub struct ValidatedPath<'a> {
    /// leaf, intermediates..., trust anchor.
    pub certs: Vec<&'a Certificate>,
    /// The leaf's valid policies.
    pub policies: ValidPolicies,
}

impl<'a> ValidatedPath<'a> {
    /// The leaf.
    pub fn leaf(&self) -> &'a Certificate {
        self.certs[0]
    }
    /// The trust anchor.
    pub fn anchor(&self) -> &'a Certificate {
        self.certs[self.certs.len() - 1]
    }
}

/// A revocation check over a complete candidate path (leaf first, anchor last). Return `Err`
/// to refuse the path; building then backtracks to other candidates.
pub type RevocationCheck<'r> = dyn FnMut(&[&Certificate]) -> Result<(), PathError> + 'r;

/// Builds a path from `leaf` to one of `anchors` through `pool`, validates it at `opts.at` and
/// runs `revocation` on it. Returns the first path that passes, or the most telling error.
pub fn build_and_validate<'a>(
    leaf: &'a Certificate,
    anchors: &'a [Certificate],
    pool: &'a [Certificate],
    opts: &ValidationOptions,
    revocation: &mut RevocationCheck<'_>,
) -> Result<ValidatedPath<'a>, PathError> {
    // Identical copies in the pool are one candidate (a pool padded with copies of a bad issuer
    // must not spend the budget before the good one is tried).
    let mut seen = std::collections::HashSet::new();
    let pool: Vec<&'a Certificate> = pool.iter().filter(|c| seen.insert(c.der())).collect();
    let mut search = Search {
        anchors,
        pool,
        opts,
        budget: opts.budget.clone(),
        best: None,
        revocation,
    };
    let mut path = vec![leaf];
    match search.extend(&mut path)? {
        Some(found) => Ok(found),
        None => Err(search.best.unwrap_or_else(|| PathError::UnknownIssuer {
            subject: leaf.subject.to_display_string(),
            issuer: leaf.issuer.to_display_string(),
        })),
    }
}

struct Search<'a, 'o, 'r, 'c> {
    anchors: &'a [Certificate],
    pool: Vec<&'a Certificate>,
    opts: &'o ValidationOptions,
    budget: Budget,
    best: Option<PathError>,
    revocation: &'r mut RevocationCheck<'c>,
}

impl<'a> Search<'a, '_, '_, '_> {
    fn note(&mut self, e: PathError) {
        let better = match &self.best {
            None => true,
            Some(b) => e.rank() >= b.rank(),
        };
        if better {
            self.best = Some(e);
        }
    }

    fn step(&mut self) -> Result<(), PathError> {
        self.budget.build_steps =
            self.budget
                .build_steps
                .checked_sub(1)
                .ok_or(PathError::BudgetExceeded {
                    what: "path building",
                })?;
        Ok(())
    }

    fn check_signature(
        &mut self,
        child: &Certificate,
        issuer: &Certificate,
    ) -> Result<(), PathError> {
        self.budget.signatures =
            self.budget
                .signatures
                .checked_sub(1)
                .ok_or(PathError::BudgetExceeded {
                    what: "signature checks",
                })?;
        signature::verify(
            &child.signature_algorithm,
            &issuer.spki_der,
            child.tbs_der(),
            &child.signature,
            &self.opts.signature,
        )
        .map_err(|error| PathError::BadSignature {
            subject: child.subject.to_display_string(),
            error,
        })
    }

    /// Depth-first extension of `path` (leaf first). `Ok(None)` = no path down this branch;
    /// `Err` = a budget ran out (stop everything).
    fn extend(
        &mut self,
        path: &mut Vec<&'a Certificate>,
    ) -> Result<Option<ValidatedPath<'a>>, PathError> {
        let Some(current) = path.last().copied() else {
            return Ok(None);
        };
        let mut any_candidate = false;
        // Trust anchors first: the shortest path wins.
        for anchor in self.anchors {
            if !issuer_candidate(current, anchor) {
                continue;
            }
            any_candidate = true;
            self.step()?;
            if let Err(e) = self.check_signature(current, anchor) {
                if matches!(e, PathError::BudgetExceeded { .. }) {
                    return Err(e);
                }
                self.note(e);
                continue;
            }
            path.push(anchor);
            let verdict = validate(path, self.opts, &mut self.budget);
            let verdict = verdict.and_then(|policies| (self.revocation)(path).map(|()| policies));
            match verdict {
                Ok(policies) => {
                    return Ok(Some(ValidatedPath {
                        certs: path.clone(),
                        policies,
                    }));
                }
                Err(e) => {
                    path.pop();
                    if matches!(e, PathError::BudgetExceeded { .. }) {
                        return Err(e);
                    }
                    self.note(e);
                }
            }
        }
        // Then intermediates from the pool, within the depth limit.
        let intermediates = path[1..].iter().filter(|c| !c.is_self_issued()).count();
        for i in 0..self.pool.len() {
            let cand = self.pool[i];
            if !issuer_candidate(current, cand) {
                continue;
            }
            any_candidate = true;
            // Loop detection (RFC 4158 §5.2): same subject and key already on the path.
            if path
                .iter()
                .any(|p| p.subject.matches(&cand.subject) && p.spki_der == cand.spki_der)
            {
                continue;
            }
            self.step()?;
            let adds = usize::from(!cand.is_self_issued());
            if intermediates + adds > self.opts.max_depth {
                self.note(PathError::MaxDepthExceeded {
                    max: self.opts.max_depth,
                });
                continue;
            }
            if let Err(e) = self.check_signature(current, cand) {
                if matches!(e, PathError::BudgetExceeded { .. }) {
                    return Err(e);
                }
                self.note(e);
                continue;
            }
            path.push(cand);
            let found = self.extend(path)?;
            if found.is_some() {
                return Ok(found);
            }
            path.pop();
        }
        if !any_candidate {
            // Name the link that has no issuer at all (deeper links are noted later, and a
            // later note of the same rank wins).
            self.note(PathError::UnknownIssuer {
                subject: current.subject.to_display_string(),
                issuer: current.issuer.to_display_string(),
            });
        }
        Ok(None)
    }
}

/// Could `issuer` have issued `child`? Name chaining (§6.1.3 (a)(4)) plus, when both are
/// present, AKI/SKI agreement (RFC 4158 §3.5.12) to prune candidates early.
fn issuer_candidate(child: &Certificate, issuer: &Certificate) -> bool {
    if !child.issuer.matches(&issuer.subject) {
        return false;
    }
    match (
        &child.extensions.authority_key_id,
        &issuer.extensions.subject_key_id,
    ) {
        (Some(aki), Some(ski)) => aki == ski,
        _ => true,
    }
}

fn subject_of(c: &Certificate) -> String {
    c.subject.to_display_string()
}

/// RFC 5280 §6.1 over a complete path (leaf first, anchor last), signatures already checked.
fn validate(
    path: &[&Certificate],
    opts: &ValidationOptions,
    budget: &mut Budget,
) -> Result<ValidPolicies, PathError> {
    let Some((&anchor, rest)) = path.split_last() else {
        return Err(PathError::BudgetExceeded { what: "empty path" });
    };
    check_anchor(anchor, opts.at)?;
    // Certificates 1..n in RFC order: the one issued by the anchor first, the leaf last.
    let chain: Vec<&Certificate> = rest.iter().rev().copied().collect();
    let n = chain.len();
    // §6.1.2 (k): max_path_length starts at n; the anchor's own pathLenConstraint applies as a
    // trust anchor constraint (RFC 5937 §2).
    let mut max_path_length = match anchor.extensions.basic_constraints {
        Some((true, Some(len))) => usize::try_from(len).unwrap_or(usize::MAX),
        _ => usize::MAX,
    };
    let mut constraints: Vec<&super::cert::NameConstraints> = Vec::new();
    if let Some(nc) = &anchor.extensions.name_constraints {
        name_constraints::validate_constraints(nc).map_err(|error| PathError::NameConstraints {
            subject: subject_of(anchor),
            error,
        })?;
        constraints.push(nc);
    }
    for (idx, cert) in chain.iter().enumerate() {
        let last = idx + 1 == n;
        let subject = || subject_of(cert);
        check_common(cert, opts.at)?;
        // §6.1.3 (b)–(c): name constraints, skipped for self-issued intermediates.
        if last || !cert.is_self_issued() {
            for nc in &constraints {
                name_constraints::check(cert, nc, &mut budget.name_comparisons).map_err(
                    |error| PathError::NameConstraints {
                        subject: subject(),
                        error,
                    },
                )?;
            }
        }
        if last {
            check_leaf(cert, opts)?;
        } else {
            // §6.1.4 (k): must be a CA.
            check_ca(cert)?;
            // §4.2.1.1: a CA certificate issued by another CA carries AKI.keyIdentifier, the
            // link path building follows. (End entities are matched by name and signature;
            // the BSI suite expects leaves without AKI to validate.)
            if !cert.is_self_issued() && cert.extensions.authority_key_id.is_none() {
                return Err(PathError::MissingAuthorityKeyId { subject: subject() });
            }
            // §6.1.4 (l)–(m)
            if !cert.is_self_issued() {
                max_path_length = max_path_length
                    .checked_sub(1)
                    .ok_or(PathError::PathLenExceeded { subject: subject() })?;
            }
            if let Some((true, Some(len))) = cert.extensions.basic_constraints {
                max_path_length = max_path_length.min(usize::try_from(len).unwrap_or(usize::MAX));
            }
            // §6.1.4 (g)
            if let Some(nc) = &cert.extensions.name_constraints {
                name_constraints::validate_constraints(nc).map_err(|error| {
                    PathError::NameConstraints {
                        subject: subject(),
                        error,
                    }
                })?;
                constraints.push(nc);
            }
        }
    }
    policy::process(&chain, &opts.policy).map_err(PathError::Policy)
}

/// Checks applied to every certificate of the path except the anchor.
fn check_common(cert: &Certificate, at: UnixTime) -> Result<(), PathError> {
    let subject = || subject_of(cert);
    // §6.1.3 (a)(2)
    if at < cert.not_before {
        return Err(PathError::CertNotYetValid {
            subject: subject(),
            not_before: cert.not_before,
            at,
        });
    }
    if at > cert.not_after {
        return Err(PathError::CertExpired {
            subject: subject(),
            not_after: cert.not_after,
            at,
        });
    }
    // §4.1.1.2: the two AlgorithmIdentifiers must agree (absent vs NULL parameters are the
    // same algorithm, see AlgorithmId::equivalent).
    if !cert
        .signature_algorithm
        .equivalent(&cert.tbs_signature_algorithm)
    {
        return Err(PathError::SignatureAlgorithmMismatch { subject: subject() });
    }
    if cert.issuer.is_empty() {
        return Err(PathError::EmptyName { subject: subject() });
    }
    // v1/v2 certificates carry no basicConstraints or key usage; they are accepted only as
    // trust anchors (RFC 5280 §6.1.4 (k) refuses them as CAs; as end entities we refuse them
    // too, as rustls-webpki does: NCA has issued v3 only).
    if cert.version != 2 {
        return Err(PathError::UnsupportedVersion {
            subject: subject(),
            version: cert.version,
        });
    }
    check_extension_profile(cert)?;
    Ok(())
}

/// Criticality rules and key-usage consistency shared by all certificates.
fn check_extension_profile(cert: &Certificate) -> Result<(), PathError> {
    let subject = || subject_of(cert);
    // RFC 5280 §4.2.1.1 (AKI), §4.2.1.2 (SKI), §4.2.2.1 (AIA), §5.2.6 (freshestCRL): MUST be
    // non-critical.
    const NON_CRITICAL: [ObjectIdentifier; 4] = [
        oids::AUTHORITY_KEY_ID,
        oids::SUBJECT_KEY_ID,
        oids::AUTHORITY_INFO_ACCESS,
        oids::FRESHEST_CRL,
    ];
    if let Some(e) = cert
        .extensions
        .all
        .iter()
        .find(|e| e.critical && NON_CRITICAL.contains(&e.oid))
    {
        return Err(PathError::ExtensionMustNotBeCritical {
            subject: subject(),
            oid: e.oid,
        });
    }
    // §4.2.1.6: empty subject ⇒ SAN present and critical; non-empty subject ⇒ SAN non-critical
    // (SHOULD; refused as the limbo and webpki profiles do).
    match (
        cert.subject.is_empty(),
        &cert.extensions.subject_alt_names,
        cert.extensions.subject_alt_names_critical,
    ) {
        (true, Some(_), true) | (false, None, _) | (false, Some(_), false) => {}
        _ => return Err(PathError::BadSubjectAltName { subject: subject() }),
    }
    // §4.2.1.3
    if let Some(ku) = cert.extensions.key_usage
        && ku.has(KeyUsage::KEY_CERT_SIGN)
        && !cert.is_ca()
    {
        return Err(PathError::KeyCertSignWithoutCa { subject: subject() });
    }
    Ok(())
}

/// The trust anchor: validity, CA-ness, critical extensions and key identifiers.
fn check_anchor(anchor: &Certificate, at: UnixTime) -> Result<(), PathError> {
    let subject = || subject_of(anchor);
    if at < anchor.not_before {
        return Err(PathError::CertNotYetValid {
            subject: subject(),
            not_before: anchor.not_before,
            at,
        });
    }
    if at > anchor.not_after {
        return Err(PathError::CertExpired {
            subject: subject(),
            not_after: anchor.not_after,
            at,
        });
    }
    check_extension_profile(anchor)?;
    check_ca(anchor)?;
    // A self-signed anchor's AKI, when present, must name its own key (webpki does the same;
    // NCA's roots comply).
    let has_aki = anchor
        .extensions
        .all
        .iter()
        .any(|e| e.oid == oids::AUTHORITY_KEY_ID);
    // An AKI with only issuer+serial (Botan's OCSP test root) has nothing to compare.
    if has_aki
        && anchor.is_self_issued()
        && anchor.extensions.authority_key_id.is_some()
        && anchor.extensions.authority_key_id != anchor.extensions.subject_key_id
    {
        return Err(PathError::AnchorKeyIdMismatch { subject: subject() });
    }
    Ok(())
}

/// An issuing certificate (anchor or intermediate): §6.1.4 (k), (n), (o) and the CA profile.
/// basicConstraints criticality (a MUST on CAs, §4.2.1.9) is not judged: §6.1 does not, and
/// real CAs (Botan's OCSP test hierarchy) mark it non-critical.
fn check_ca(cert: &Certificate) -> Result<(), PathError> {
    let subject = || subject_of(cert);
    if cert.subject.is_empty() {
        return Err(PathError::EmptyName { subject: subject() });
    }
    match cert.extensions.basic_constraints {
        Some((true, _)) => {}
        _ => return Err(PathError::NotCa { subject: subject() }),
    }
    if let Some(ku) = cert.extensions.key_usage
        && !ku.has(KeyUsage::KEY_CERT_SIGN)
    {
        return Err(PathError::KeyCertSignMissing { subject: subject() });
    }
    if cert.extensions.subject_key_id.is_none() {
        return Err(PathError::MissingSubjectKeyId { subject: subject() });
    }
    if let Some(oid) = cert.extensions.unhandled_critical.first() {
        return Err(PathError::UnhandledCriticalExtension {
            subject: subject(),
            oid: *oid,
        });
    }
    Ok(())
}

/// The end entity: §6.1.5 (e) critical extensions, EKU and KU requirements.
fn check_leaf(cert: &Certificate, opts: &ValidationOptions) -> Result<(), PathError> {
    let subject = || subject_of(cert);
    if let Some(oid) = cert.extensions.unhandled_critical.first() {
        return Err(PathError::UnhandledCriticalExtension {
            subject: subject(),
            oid: *oid,
        });
    }
    // §6.1.5 processes no policyMappings: a critical one in the end entity is unprocessed.
    if cert
        .extensions
        .all
        .iter()
        .any(|e| e.critical && e.oid == oids::POLICY_MAPPINGS)
    {
        return Err(PathError::UnhandledCriticalExtension {
            subject: subject(),
            oid: oids::POLICY_MAPPINGS,
        });
    }
    if cert.extensions.name_constraints.is_some() && !cert.is_ca() {
        return Err(PathError::NameConstraintsInEndEntity { subject: subject() });
    }
    if let Some(eku) = &cert.extensions.extended_key_usage
        && eku.is_empty()
    {
        return Err(PathError::EmptyExtendedKeyUsage);
    }
    if let EkuRequirement::AllOf(required) = &opts.eku
        && let Some(eku) = &cert.extensions.extended_key_usage
        && !eku.contains(&oids::ANY_EKU)
        && let Some(missing) = required.iter().find(|r| !eku.contains(r))
    {
        return Err(PathError::RequiredEkuMissing { oid: *missing });
    }
    if opts.key_usage != 0
        && let Some(ku) = cert.extensions.key_usage
        && !ku.has(opts.key_usage)
    {
        let missing = KeyUsage(opts.key_usage & !ku.0).names();
        return Err(PathError::RequiredKeyUsageMissing { missing });
    }
    // The leaf's key will verify the login signature: refuse keys we would never accept
    // there (weak RSA, DSA, P-192, explicit curves) up front, with a clear reason.
    signature::check_public_key(&cert.spki_der, &opts.signature).map_err(|error| {
        PathError::UnacceptableKey {
            subject: subject(),
            error,
        }
    })?;
    // SAN entries must be well-formed even without name constraints above.
    for n in cert.extensions.subject_alt_names.iter().flatten() {
        if let GeneralName::Ip(b) = n
            && b.len() != 4
            && b.len() != 16
        {
            return Err(PathError::BadSubjectAltName { subject: subject() });
        }
    }
    Ok(())
}

/// EKU names as the conformance cases and `--eku` spell them, or a dotted OID.
pub fn eku_from_name(name: &str) -> Option<ObjectIdentifier> {
    Some(match name {
        "serverAuth" => oids::KP_SERVER_AUTH,
        "clientAuth" => oids::KP_CLIENT_AUTH,
        "codeSigning" => oids::KP_CODE_SIGNING,
        "emailProtection" => oids::KP_EMAIL_PROTECTION,
        "timeStamping" => oids::KP_TIME_STAMPING,
        "OCSPSigning" | "ocspSigning" => oids::KP_OCSP_SIGNING,
        "anyExtendedKeyUsage" => oids::ANY_EKU,
        other => ObjectIdentifier::new(other).ok()?,
    })
}

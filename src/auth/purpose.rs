//! Which certificates may log in: the purpose policy (DESIGN.md "Trust and revocation defaults",
//! ../shared/NCA.md §3.3), built deny-by-default.
//!
//! NCA issues four kinds of personal keys ([`crate::pki::identity::profile_of`]):
//! | name | profile | default |
//! |---|---|---|
//! | `gost2015` | GOST 34.10-2015 single key (one key signs and logs in; EKU has no clientAuth) | allowed |
//! | `rsa-auth` | RSA authentication key (clientAuth, keyEncipherment) | allowed |
//! | `rsa-sign` | RSA signing key (emailProtection, nonRepudiation): meant for documents | refused |
//! | `gost2004` | GOST 34.310-2004 (legacy, NCA stopped issuing it) | refused |
//!
//! Anything else (not NCA-shaped, e.g. ECDSA) is always refused. Whatever the profile, the
//! certificate must assert keyUsage digitalSignature when it has a keyUsage extension (RFC 5280
//! §4.2.1.3: the login is a digital signature). An operator may also require that the
//! certificate carries one of a set of NCA role OIDs (e.g. only employees of an organisation).
//!
//! Relaxing is loud: [`PurposePolicy::danger_allow_profile`], or `allow_profiles` by name in the
//! configuration ([`PurposePolicy::from_names`]).

use crate::auth::refusal::Refusal;
use crate::pki::cert::{Certificate, KeyUsage};
use crate::pki::identity::{NcaProfile, NcaRole, profile_of};

/// A login-capable key profile, by its configuration name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LoginProfile {
    /// `gost2015`.
    Gost2015,
    /// `rsa-auth`.
    RsaAuth,
    /// `rsa-sign`.
    RsaSign,
    /// `gost2004`.
    Gost2004,
}

impl LoginProfile {
    /// Every profile.
    pub const ALL: [LoginProfile; 4] = [
        LoginProfile::Gost2015,
        LoginProfile::RsaAuth,
        LoginProfile::RsaSign,
        LoginProfile::Gost2004,
    ];

    /// Configuration name.
    pub fn name(self) -> &'static str {
        match self {
            LoginProfile::Gost2015 => "gost2015",
            LoginProfile::RsaAuth => "rsa-auth",
            LoginProfile::RsaSign => "rsa-sign",
            LoginProfile::Gost2004 => "gost2004",
        }
    }

    /// From a configuration name.
    pub fn from_name(s: &str) -> Option<LoginProfile> {
        Self::ALL.into_iter().find(|p| p.name() == s)
    }

    /// The login profile of an NCA profile (`None` for [`NcaProfile::Other`]).
    pub fn of(p: NcaProfile) -> Option<LoginProfile> {
        match p {
            NcaProfile::Gost2015SingleKey => Some(LoginProfile::Gost2015),
            NcaProfile::RsaAuth => Some(LoginProfile::RsaAuth),
            NcaProfile::RsaSign => Some(LoginProfile::RsaSign),
            NcaProfile::Gost2004 => Some(LoginProfile::Gost2004),
            NcaProfile::Other => None,
        }
    }
}

/// The purpose policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PurposePolicy {
    allowed: Vec<LoginProfile>,
    required_roles: Vec<NcaRole>,
}

impl PurposePolicy {
    /// Accepts nothing.
    pub fn deny_all() -> PurposePolicy {
        PurposePolicy {
            allowed: Vec::new(),
            required_roles: Vec::new(),
        }
    }

    /// NCA's login keys: GOST-2015 single keys and RSA AUTH keys.
    pub fn nca_default() -> PurposePolicy {
        PurposePolicy::deny_all()
            .allow(LoginProfile::Gost2015)
            .allow(LoginProfile::RsaAuth)
    }

    fn allow(mut self, p: LoginProfile) -> PurposePolicy {
        if !self.allowed.contains(&p) {
            self.allowed.push(p);
            self.allowed.sort();
        }
        self
    }

    /// Also accepts `p` (e.g. RSA SIGN keys, which NCA meant for documents, or legacy GOST-2004).
    pub fn danger_allow_profile(self, p: LoginProfile) -> PurposePolicy {
        self.allow(p)
    }

    /// Exactly the profiles named (`allow_profiles = ["gost2015", "rsa-auth", …]` in the
    /// configuration). Unknown names are an error naming them all.
    pub fn from_names<S: AsRef<str>>(names: &[S]) -> Result<PurposePolicy, String> {
        let mut p = PurposePolicy::deny_all();
        let mut unknown = Vec::new();
        for n in names {
            match LoginProfile::from_name(n.as_ref()) {
                Some(lp) => p = p.allow(lp),
                None => unknown.push(format!("{:?}", n.as_ref())),
            }
        }
        if unknown.is_empty() {
            Ok(p)
        } else {
            Err(format!(
                "unknown certificate profile(s) {}; known: gost2015, rsa-auth, rsa-sign, gost2004",
                unknown.join(", ")
            ))
        }
    }

    /// Requires the certificate to carry at least one of `roles` (NCA role OIDs in EKU).
    pub fn require_any_role(mut self, roles: Vec<NcaRole>) -> PurposePolicy {
        self.required_roles = roles;
        self
    }

    /// The allowed profiles, sorted.
    pub fn allowed(&self) -> &[LoginProfile] {
        &self.allowed
    }

    /// The roles of which one is required (empty: none required).
    pub fn required_roles(&self) -> &[NcaRole] {
        &self.required_roles
    }

    /// Checks `cert`; returns its profile. Refusal `cert_purpose_not_allowed` (403) names the
    /// profile found.
    pub fn check(&self, cert: &Certificate) -> Result<LoginProfile, Refusal> {
        let nca = profile_of(cert);
        let refuse = |why: String| Refusal::new("cert_purpose_not_allowed", 403, why);
        let allowed_list = || {
            let v: Vec<&str> = self.allowed.iter().map(|p| p.name()).collect();
            if v.is_empty() {
                "none".to_string()
            } else {
                v.join(", ")
            }
        };
        let Some(profile) = LoginProfile::of(nca).filter(|p| self.allowed.contains(p)) else {
            return Err(refuse(format!(
                "certificate profile {} is not allowed for login (allowed: {})",
                nca.as_str(),
                allowed_list()
            )));
        };
        if let Some(ku) = cert.extensions.key_usage
            && !ku.has(KeyUsage::DIGITAL_SIGNATURE)
        {
            return Err(refuse(format!(
                "certificate profile {} without keyUsage digitalSignature (has: {})",
                nca.as_str(),
                ku.names().join(", ")
            )));
        }
        if !self.required_roles.is_empty() {
            let has = cert
                .extensions
                .extended_key_usage
                .iter()
                .flatten()
                .filter_map(NcaRole::from_oid)
                .any(|r| self.required_roles.contains(&r));
            if !has {
                let want: Vec<&str> = self.required_roles.iter().map(|r| r.as_str()).collect();
                return Err(refuse(format!(
                    "certificate profile {} carries none of the required NCA roles ({})",
                    nca.as_str(),
                    want.join(", ")
                )));
            }
        }
        Ok(profile)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_names_are_listed() {
        for p in LoginProfile::ALL {
            assert_eq!(LoginProfile::from_name(p.name()), Some(p));
        }
        let e = PurposePolicy::from_names(&["gost2015", "rsa", "any"]).expect_err("unknown");
        assert!(e.contains("\"rsa\", \"any\""), "{e}");
        let p = PurposePolicy::from_names(&["rsa-sign", "gost2015"]).expect("known");
        assert_eq!(
            p.allowed(),
            &[LoginProfile::Gost2015, LoginProfile::RsaSign]
        );
        assert_eq!(
            PurposePolicy::nca_default().allowed(),
            &[LoginProfile::Gost2015, LoginProfile::RsaAuth]
        );
    }
}

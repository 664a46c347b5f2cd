//! Access policy: which roles may use which MIS paths (violation 05, "access rights that don't
//! match the job"; issue 7 item 3). Pure: a path, a method and the session's roles in, a
//! decision out.
//!
//! - Rules are tried in order; the first whose path pattern and method match decides: the user
//!   needs at least one of its roles.
//! - A pattern ending in `/` is a prefix (`/admin/` covers `/admin/users`); a pattern with `*`
//!   is a glob where `*` matches within one segment and `**` across segments; anything else must
//!   equal the path. Rules match without regard to ASCII case (an MIS on a case-insensitive
//!   server must not be reachable through `/ADMIN/`).
//! - Public paths (no session needed) match case-sensitively and never by glob across segments,
//!   so they cannot be widened by spelling.
//! - No rule matched: `default = "any-staff"` lets any logged-in person through (everyone with a
//!   session is in the staff file), `default = "deny"` refuses.
//! - Paths that are not in canonical form (`.` or `..` segments, `//`, encoded `/`, `\` or `.`,
//!   control characters) are refused before any rule runs: the upstream might read them as
//!   another path than the one the rules saw.

/// What to do when no rule matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Default {
    /// Any logged-in staff member.
    AnyStaff,
    /// Refuse.
    Deny,
}

/// One rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    /// Path pattern (prefix, glob or exact).
    pub path: String,
    /// Methods (upper case); empty = every method.
    pub methods: Vec<String>,
    /// Roles, any of which admits.
    pub roles: Vec<String>,
}

/// The policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessPolicy {
    /// Rules, in order.
    pub rules: Vec<Rule>,
    /// When none matches.
    pub default: Default,
    /// Paths (exact, or prefixes ending in `/`) served without a session.
    pub public: Vec<String>,
}

impl std::default::Default for AccessPolicy {
    fn default() -> Self {
        AccessPolicy {
            rules: Vec::new(),
            default: Default::AnyStaff,
            public: Vec::new(),
        }
    }
}

/// The decision for one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Let it through; `rule` is the index of the rule that admitted it, if any.
    Allow {
        /// Deciding rule.
        rule: Option<usize>,
    },
    /// Refuse (403 `forbidden`); `rule` is the rule whose roles were missing, `None` for the
    /// default.
    Deny {
        /// Deciding rule.
        rule: Option<usize>,
    },
}

/// Why a path was refused before the rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NonCanonical;

/// Checks that `path` is canonical (see the module doc).
pub fn canonical(path: &str) -> Result<(), NonCanonical> {
    if !path.starts_with('/') || path.contains("//") || path.contains('\\') {
        return Err(NonCanonical);
    }
    if path.chars().any(|c| c.is_control()) {
        return Err(NonCanonical);
    }
    let lower = path.to_ascii_lowercase();
    for enc in ["%2f", "%5c", "%2e", "%00"] {
        if lower.contains(enc) {
            return Err(NonCanonical);
        }
    }
    if path.split('/').any(|seg| seg == "." || seg == "..") {
        return Err(NonCanonical);
    }
    Ok(())
}

fn glob(pattern: &[u8], path: &[u8]) -> bool {
    // Dynamic programming over (pattern position, path position): `ok[j]` = the pattern read so
    // far matches path[..j]. O(pattern × path) time and O(path) memory whatever the stars.
    let n = path.len();
    let mut ok = vec![false; n + 1];
    ok[0] = true;
    let mut i = 0;
    while i < pattern.len() {
        let mut next = vec![false; n + 1];
        if pattern[i] == b'*' {
            let double = pattern.get(i + 1) == Some(&b'*');
            // next[j]: some k <= j matched so far and path[k..j] is all star-matchable (anything
            // for `**`; no '/' for `*`).
            let mut run = false;
            for j in 0..=n {
                run = run || ok[j];
                next[j] = run;
                if !double && j < n && path[j] == b'/' {
                    run = false;
                }
            }
            i += if double { 2 } else { 1 };
        } else {
            for j in 1..=n {
                next[j] = ok[j - 1] && path[j - 1] == pattern[i];
            }
            i += 1;
        }
        ok = next;
    }
    ok[n]
}

/// Longest path or pattern considered (longer paths are refused as non-canonical by the gate
/// through `canonical`'s caller; patterns are configuration).
pub const MAX_PATH: usize = 2048;

fn matches(pattern: &str, path: &str) -> bool {
    let (p, q) = (pattern.to_ascii_lowercase(), path.to_ascii_lowercase());
    if p.contains('*') {
        glob(p.as_bytes(), q.as_bytes())
    } else if p.ends_with('/') {
        q.starts_with(&p) || q == p.trim_end_matches('/')
    } else {
        q == p
    }
}

impl AccessPolicy {
    /// Problems with the configuration (for `check-config`).
    pub fn validate(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (i, r) in self.rules.iter().enumerate() {
            if !r.path.starts_with('/') || r.path.len() > 512 {
                out.push(format!(
                    "access.rule[{i}].path {:?}: must start with '/'",
                    r.path
                ));
            }
            if r.path.matches('*').count() > 4 {
                out.push(format!("access.rule[{i}].path: at most 4 '*'"));
            }
            if r.roles.is_empty() {
                out.push(format!("access.rule[{i}].roles: empty (nobody could pass)"));
            }
            for m in &r.methods {
                if m.is_empty() || !m.bytes().all(|b| b.is_ascii_uppercase()) {
                    out.push(format!(
                        "access.rule[{i}].methods: {m:?} is not an upper-case method"
                    ));
                }
            }
        }
        for p in &self.public {
            if !p.starts_with('/') || p.contains('*') || p.starts_with("/eds/") {
                out.push(format!(
                    "access.public {p:?}: an exact path or a prefix ending in '/', outside /eds/"
                ));
            }
        }
        out
    }

    /// Whether `path` needs no session.
    pub fn is_public(&self, path: &str) -> bool {
        self.public.iter().any(|p| {
            if p.ends_with('/') {
                path.starts_with(p.as_str())
            } else {
                path == p
            }
        })
    }

    /// The decision for `method path` by someone holding `roles`.
    pub fn decide(&self, method: &str, path: &str, roles: &[String]) -> Decision {
        if path.len() > MAX_PATH {
            return Decision::Deny { rule: None };
        }
        for (i, r) in self.rules.iter().enumerate() {
            let method_ok = r.methods.is_empty() || r.methods.iter().any(|m| m == method);
            if method_ok && matches(&r.path, path) {
                return if r.roles.iter().any(|need| roles.contains(need)) {
                    Decision::Allow { rule: Some(i) }
                } else {
                    Decision::Deny { rule: Some(i) }
                };
            }
        }
        match self.default {
            Default::AnyStaff => Decision::Allow { rule: None },
            Default::Deny => Decision::Deny { rule: None },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(default: Default) -> AccessPolicy {
        let rule = |path: &str, methods: &[&str], roles: &[&str]| Rule {
            path: path.into(),
            methods: methods.iter().map(|s| s.to_string()).collect(),
            roles: roles.iter().map(|s| s.to_string()).collect(),
        };
        AccessPolicy {
            rules: vec![
                rule("/admin/", &[], &["admin"]),
                rule("/wards/*/orders", &["POST"], &["doctor"]),
                rule("/wards/", &["GET"], &["doctor", "nurse"]),
                rule("/reports/**.pdf", &[], &["head"]),
            ],
            default,
            public: vec!["/favicon.ico".into(), "/public/".into()],
        }
    }

    fn roles(r: &[&str]) -> Vec<String> {
        r.iter().map(|s| s.to_string()).collect()
    }

    /// The role × path × method matrix.
    #[test]
    fn roles_paths_and_methods_matrix() {
        let p = policy(Default::AnyStaff);
        let allow = |m: &str, path: &str, r: &[&str]| {
            matches!(p.decide(m, path, &roles(r)), Decision::Allow { .. })
        };
        // admin area: admins only, any method, any case.
        assert!(allow("GET", "/admin/users", &["admin"]));
        assert!(allow("DELETE", "/admin/users/7", &["admin", "staff"]));
        assert!(!allow("GET", "/admin/users", &["doctor"]));
        assert!(!allow("GET", "/ADMIN/users", &["doctor"]));
        assert!(!allow("GET", "/admin", &["nurse"]));
        // orders: doctors may POST; nurses may only read the ward.
        assert!(allow("POST", "/wards/7/orders", &["doctor"]));
        assert!(!allow("POST", "/wards/7/orders", &["nurse"]));
        assert!(allow("GET", "/wards/7/orders", &["nurse"]));
        // `*` stays within one segment: this path is no order, so the default decides.
        assert_eq!(
            p.decide("POST", "/wards/7/x/orders", &roles(&["nurse"])),
            Decision::Allow { rule: None }
        );
        // ** crosses segments, * does not.
        assert!(allow("GET", "/reports/2026/q1/summary.pdf", &["head"]));
        assert!(!allow("GET", "/reports/2026/q1/summary.pdf", &["doctor"]));
        // no rule: default.
        assert!(allow("GET", "/home", &["staff"]));
        let d = policy(Default::Deny);
        assert_eq!(
            d.decide("GET", "/home", &roles(&["staff"])),
            Decision::Deny { rule: None }
        );
    }

    #[test]
    fn public_paths_are_exact_or_prefixes_and_case_sensitive() {
        let p = policy(Default::Deny);
        assert!(p.is_public("/favicon.ico"));
        assert!(p.is_public("/public/logo.png"));
        assert!(!p.is_public("/PUBLIC/logo.png"));
        assert!(!p.is_public("/favicon.ico.bak"));
        assert!(!p.is_public("/publicity"));
    }

    #[test]
    fn non_canonical_paths_are_refused_before_rules() {
        for bad in [
            "/admin/../x",
            "/public/../admin/",
            "//admin/",
            "/admin%2fusers",
            "/%2e%2e/admin",
            "/a\\b",
            "/./admin/",
            "relative",
        ] {
            assert_eq!(canonical(bad), Err(NonCanonical), "{bad}");
        }
        for good in ["/", "/admin/users", "/wards/7/orders?x=1", "/a.b/c..d"] {
            assert_eq!(
                canonical(good.split('?').next().unwrap_or("")),
                Ok(()),
                "{good}"
            );
        }
    }

    #[test]
    fn hostile_globs_and_long_paths_terminate() {
        let p = AccessPolicy {
            rules: vec![Rule {
                path: "/**a**a**a**b".into(),
                methods: vec![],
                roles: vec!["x".into()],
            }],
            default: Default::AnyStaff,
            public: vec![],
        };
        let long = format!("/{}", "a".repeat(MAX_PATH - 1));
        let _ = p.decide("GET", &long, &[]);
        assert_eq!(
            p.decide("GET", &format!("{long}aaaa"), &[]),
            Decision::Deny { rule: None }
        );
        assert!(
            !policy(Default::Deny)
                .validate()
                .iter()
                .any(|e| e.contains("rule"))
        );
        assert!(
            !p.validate().is_empty(),
            "five stars are refused by validate"
        );
    }
}

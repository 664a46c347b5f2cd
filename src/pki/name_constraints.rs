//! Name constraints, RFC 5280 §4.2.1.10 and §6.1.3 (b)–(c), §6.1.4 (g).
//!
//! Instead of intersecting permitted subtrees into one state (§6.1.4 (g)), the path validator
//! keeps the constraints of every CA above a certificate and checks the certificate against each
//! of them: a name must lie inside the permitted subtrees of every CA that constrains its name
//! type, and outside every excluded subtree. That is the same set of accepted names, simpler to
//! get right, and bounded by a comparison [`Budget`](super::path::Budget).
//!
//! Name forms: dNSName, rfc822Name (mailbox, host or `.domain`), URI (host part), iPAddress
//! (address + mask), directoryName (RDN prefix, also applied to the subject DN), and
//! emailAddress attributes in the subject DN (legacy form, §4.2.1.10). otherName values are not
//! decoded: an excluded otherName subtree refuses every otherName of the same type, and a
//! permitted one admits none we cannot compare (deny by default).

use super::cert::{Certificate, GeneralName, NameConstraints};
use super::name::oids as name_oids;

/// Why a name-constraints check failed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum NameConstraintError {
    /// A name of the certificate lies outside the permitted subtrees or inside an excluded one.
    Violation {
        /// The offending name, as text.
        name: String,
    },
    /// The nameConstraints extension itself is malformed (empty, bad IP mask, wildcard DNS...).
    InvalidConstraint {
        /// What is wrong.
        detail: String,
    },
    /// A subjectAltName entry is not a valid name of its type, so it cannot be checked.
    InvalidName {
        /// The offending name.
        name: String,
    },
    /// Too many comparisons (hostile certificates with thousands of names or subtrees).
    BudgetExceeded,
}

/// Validates the constraints extension itself (RFC 5280 §4.2.1.10: at least one of the two
/// lists, each non-empty, minimum 0, no maximum; well-formed bases).
pub fn validate_constraints(nc: &NameConstraints) -> Result<(), NameConstraintError> {
    let invalid = |d: &str| NameConstraintError::InvalidConstraint { detail: d.into() };
    if nc.permitted.is_none() && nc.excluded.is_none() {
        return Err(invalid("neither permittedSubtrees nor excludedSubtrees"));
    }
    for list in [&nc.permitted, &nc.excluded].into_iter().flatten() {
        if list.is_empty() {
            return Err(invalid("empty GeneralSubtrees"));
        }
        for st in list {
            if st.minimum != 0 || st.maximum.is_some() {
                return Err(invalid("minimum/maximum in a subtree"));
            }
            match &st.base {
                GeneralName::Dns(d) if !d.is_empty() && !is_valid_dns(d, false) => {
                    return Err(invalid(&format!("dNSName constraint {d:?}")));
                }
                GeneralName::Ip(b)
                    if !(b.len() == 8 || b.len() == 32)
                        || !mask_is_contiguous(&b[b.len() / 2..]) =>
                {
                    return Err(invalid("iPAddress constraint is not address+mask"));
                }
                GeneralName::Email(e) if !is_valid_email_constraint(e) => {
                    return Err(invalid(&format!("rfc822Name constraint {e:?}")));
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Checks `cert` (its subject DN, subject emailAddress attributes and subjectAltName) against
/// one CA's constraints. `comparisons` counts down the budget.
pub fn check(
    cert: &Certificate,
    nc: &NameConstraints,
    comparisons: &mut usize,
) -> Result<(), NameConstraintError> {
    let mut names: Vec<GeneralName> = Vec::new();
    if !cert.subject.is_empty() {
        names.push(GeneralName::Directory(cert.subject.clone()));
        for a in cert.subject.attributes() {
            if a.oid == name_oids::EMAIL
                && let Some(t) = &a.text
            {
                names.push(GeneralName::Email(t.clone()));
            }
        }
    }
    for n in cert.extensions.subject_alt_names.iter().flatten() {
        validate_name(n)?;
        names.push(n.clone());
    }
    for name in &names {
        check_one(name, nc, comparisons)?;
    }
    Ok(())
}

fn check_one(
    name: &GeneralName,
    nc: &NameConstraints,
    comparisons: &mut usize,
) -> Result<(), NameConstraintError> {
    let mut tick = || {
        *comparisons = comparisons
            .checked_sub(1)
            .ok_or(NameConstraintError::BudgetExceeded)?;
        Ok::<(), NameConstraintError>(())
    };
    let violation = || NameConstraintError::Violation {
        name: describe(name),
    };
    if let Some(excluded) = &nc.excluded {
        for st in excluded {
            tick()?;
            if same_type(name, &st.base) == Some(true) && matches(name, &st.base, true) {
                return Err(violation());
            }
        }
    }
    if let Some(permitted) = &nc.permitted {
        let mut constrained = false;
        let mut ok = false;
        for st in permitted {
            tick()?;
            if same_type(name, &st.base) == Some(true) {
                constrained = true;
                if matches(name, &st.base, false) {
                    ok = true;
                    break;
                }
            }
        }
        if constrained && !ok {
            return Err(violation());
        }
    }
    Ok(())
}

/// Whether `name` and `base` are of the same form (None for forms we never constrain).
fn same_type(name: &GeneralName, base: &GeneralName) -> Option<bool> {
    use GeneralName as G;
    Some(match (name, base) {
        (G::Dns(_), G::Dns(_)) => true,
        (G::Email(_), G::Email(_)) => true,
        (G::Uri(_), G::Uri(_)) => true,
        (G::Ip(a), G::Ip(b)) => a.len() * 2 == b.len(),
        (G::Directory(_), G::Directory(_)) => true,
        (G::Other(a), G::Other(b)) => a == b,
        (G::RegisteredId(_), G::RegisteredId(_)) => true,
        (G::EdiParty, _) | (_, G::EdiParty) => return None,
        _ => false,
    })
}

/// True if `name` lies within the subtree `base`. `excluding` selects the conservative answer
/// for forms we cannot compare (otherName): inside when excluding, outside when permitting.
fn matches(name: &GeneralName, base: &GeneralName, excluding: bool) -> bool {
    use GeneralName as G;
    match (name, base) {
        (G::Dns(n), G::Dns(b)) => dns_within(n, b, excluding),
        (G::Email(n), G::Email(b)) => email_within(n, b),
        (G::Uri(n), G::Uri(b)) => match uri_host(n) {
            Some(host) => {
                if let Some(domain) = b.strip_prefix('.') {
                    host.len() > domain.len() && ends_with_label(&host, domain)
                } else {
                    host.eq_ignore_ascii_case(b)
                }
            }
            // A URI without a host cannot be shown to be inside a permitted subtree.
            None => excluding,
        },
        (G::Ip(n), G::Ip(b)) => {
            let (addr, mask) = b.split_at(b.len() / 2);
            n.len() == addr.len()
                && n.iter()
                    .zip(addr)
                    .zip(mask)
                    .all(|((x, a), m)| x & m == a & m)
        }
        (G::Directory(n), G::Directory(b)) => n.has_prefix(b),
        (G::RegisteredId(n), G::RegisteredId(b)) => n == b,
        (G::Other(_), G::Other(_)) => excluding,
        _ => false,
    }
}

/// RFC 5280 §4.2.1.10: a dNSName constraint matches the name itself and any name formed by
/// adding labels on the left. An empty constraint matches every name. A SAN wildcard label
/// (`*.example.com`) is compared as the set of names it stands for.
fn dns_within(name: &str, base: &str, excluding: bool) -> bool {
    if base.is_empty() {
        return true;
    }
    let name = name.trim_end_matches('.');
    let base = base.trim_end_matches('.');
    if let Some(rest) = name.strip_prefix("*.") {
        // The wildcard stands for every <label>.rest. All of them are inside `base` when `rest`
        // is; some of them are when `base` is exactly one label below `rest`, which is enough
        // to exclude but not to permit.
        return dns_within(rest, base, excluding)
            || (excluding && base_is_one_label_below(base, rest));
    }
    name.eq_ignore_ascii_case(base) || ends_with_label(name, base)
}

fn base_is_one_label_below(base: &str, rest: &str) -> bool {
    match base.split_once('.') {
        Some((label, parent)) => !label.is_empty() && parent.eq_ignore_ascii_case(rest),
        None => false,
    }
}

/// `name` ends with `.domain` (case-insensitive) on a label boundary.
fn ends_with_label(name: &str, domain: &str) -> bool {
    let (n, d) = (name.as_bytes(), domain.as_bytes());
    if n.len() <= d.len() {
        return false;
    }
    let split = n.len() - d.len();
    n[split - 1] == b'.' && n[split..].eq_ignore_ascii_case(d)
}

/// RFC 5280 §4.2.1.10 rfc822Name: `user@host` (exact mailbox), `host` (any mailbox on that
/// host), `.domain` (any mailbox on a host under the domain). Local parts compare exactly,
/// hosts case-insensitively; `*` is an ordinary character.
fn email_within(name: &str, base: &str) -> bool {
    let Some((local, host)) = name.rsplit_once('@') else {
        return false;
    };
    if let Some((blocal, bhost)) = base.rsplit_once('@') {
        return local == blocal && host.eq_ignore_ascii_case(bhost);
    }
    if let Some(domain) = base.strip_prefix('.') {
        return ends_with_label(host, domain);
    }
    host.eq_ignore_ascii_case(base)
}

fn uri_host(uri: &str) -> Option<String> {
    let (_, rest) = uri.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host_port.starts_with('[') {
        return None; // IP literal: not a DNS host
    }
    let host = host_port.split(':').next()?;
    if host.is_empty() {
        None
    } else {
        Some(host.to_ascii_lowercase())
    }
}

/// A subjectAltName entry must be well-formed before it can be compared.
fn validate_name(n: &GeneralName) -> Result<(), NameConstraintError> {
    let bad = || NameConstraintError::InvalidName { name: describe(n) };
    match n {
        GeneralName::Dns(d) if !is_valid_dns(d, true) => Err(bad()),
        GeneralName::Ip(b) if !(b.len() == 4 || b.len() == 16) => Err(bad()),
        GeneralName::Email(e) if !is_valid_mailbox(e) => Err(bad()),
        _ => Ok(()),
    }
}

/// LDH labels of 1..=63 characters, total ≤ 253; a leading `*.` label only when `wildcard`.
fn is_valid_dns(d: &str, wildcard: bool) -> bool {
    let d = d.strip_suffix('.').unwrap_or(d);
    let d = if wildcard {
        d.strip_prefix("*.").unwrap_or(d)
    } else {
        d
    };
    !d.is_empty()
        && d.len() <= 253
        && d.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        })
}

fn is_valid_mailbox(e: &str) -> bool {
    match e.rsplit_once('@') {
        Some((local, host)) => {
            !local.is_empty() && !local.contains('@') && is_valid_dns(host, false)
        }
        None => false,
    }
}

fn is_valid_email_constraint(e: &str) -> bool {
    if e.contains('@') {
        return is_valid_mailbox(e);
    }
    let host = e.strip_prefix('.').unwrap_or(e);
    is_valid_dns(host, false)
}

fn mask_is_contiguous(mask: &[u8]) -> bool {
    let mut seen_zero = false;
    for byte in mask {
        for bit in (0..8).rev() {
            let one = byte & (1 << bit) != 0;
            if one && seen_zero {
                return false;
            }
            if !one {
                seen_zero = true;
            }
        }
    }
    true
}

fn describe(n: &GeneralName) -> String {
    match n {
        GeneralName::Dns(d) => format!("DNS:{d}"),
        GeneralName::Email(e) => format!("email:{e}"),
        GeneralName::Uri(u) => format!("URI:{u}"),
        GeneralName::Ip(b) => format!("IP:{}", hex::encode(b)),
        GeneralName::Directory(d) => format!("DirName:{}", d.to_display_string()),
        GeneralName::RegisteredId(o) => format!("RID:{o}"),
        GeneralName::Other(o) => format!("otherName:{o}"),
        GeneralName::EdiParty => "ediPartyName".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subtree(base: GeneralName) -> crate::pki::cert::GeneralSubtree {
        crate::pki::cert::GeneralSubtree {
            base,
            minimum: 0,
            maximum: None,
        }
    }

    #[test]
    fn dns_constraint_matches_added_labels_only() {
        assert!(dns_within("example.com", "example.com", false));
        assert!(dns_within("www.EXAMPLE.com", "example.com", false));
        assert!(!dns_within("wwwexample.com", "example.com", false));
        assert!(!dns_within("example.org", "example.com", false));
        assert!(dns_within("anything", "", false));
    }

    #[test]
    fn wildcard_san_is_inside_an_excluded_domain() {
        assert!(dns_within("*.example.com", "example.com", true));
        assert!(dns_within("*.example.com", "foo.example.com", true));
        assert!(!dns_within("*.example.com", "foo.example.com", false));
        assert!(!dns_within("*.example.com", "other.com", true));
    }

    #[test]
    fn email_constraints_follow_rfc5280_forms() {
        assert!(email_within("a@example.com", "example.com"));
        assert!(!email_within("a@sub.example.com", "example.com"));
        assert!(email_within("a@sub.example.com", ".example.com"));
        assert!(email_within("a@example.com", "a@example.com"));
        assert!(!email_within("b@example.com", "a@example.com"));
        assert!(email_within("*@example.com", "*@example.com"));
        assert!(!email_within("a@example.com", "*@example.com"));
    }

    #[test]
    fn ip_mask_must_be_contiguous() {
        assert!(mask_is_contiguous(&[255, 255, 0, 0]));
        assert!(!mask_is_contiguous(&[255, 0, 255, 0]));
    }

    #[test]
    fn empty_constraints_are_invalid() {
        let nc = NameConstraints {
            permitted: None,
            excluded: None,
        };
        assert!(matches!(
            validate_constraints(&nc),
            Err(NameConstraintError::InvalidConstraint { .. })
        ));
        let nc = NameConstraints {
            permitted: Some(vec![]),
            excluded: None,
        };
        assert!(validate_constraints(&nc).is_err());
        let nc = NameConstraints {
            permitted: Some(vec![subtree(GeneralName::Dns("*.example.com".into()))]),
            excluded: None,
        };
        assert!(validate_constraints(&nc).is_err());
        let nc = NameConstraints {
            permitted: Some(vec![subtree(GeneralName::Dns(".example.com".into()))]),
            excluded: None,
        };
        assert!(validate_constraints(&nc).is_err());
    }
}

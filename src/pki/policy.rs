//! Certificate policy processing, RFC 5280 §6.1.2 (a), (d)–(e), §6.1.3 (d)–(f), §6.1.4 (a)–(b),
//! (h)–(j), §6.1.5 (a)–(b), (g): the valid_policy_tree and its three counters.
//!
//! The tree is kept level by level (depth i = certificate i of the path). Policy mappings can
//! make it grow fast (the known "policy tree explosion"), so the number of nodes is capped by
//! [`MAX_POLICY_NODES`] and exceeding it is an error, never a hang.

use const_oid::ObjectIdentifier;

use super::cert::{Certificate, oids};

/// Largest valid_policy_tree we build. Real PKIs (NCA included) have one or two policies per
/// certificate and no mappings, i.e. a handful of nodes; 10,000 leaves room for any sane PKI
/// while keeping hostile mapping chains cheap to refuse.
pub const MAX_POLICY_NODES: usize = 10_000;

/// The caller's policy inputs (RFC 5280 §6.1.1 (c), (f)–(h)).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct PolicyOptions {
    /// user-initial-policy-set; empty means {anyPolicy}.
    pub initial_policy_set: Vec<ObjectIdentifier>,
    /// initial-explicit-policy.
    pub require_explicit_policy: bool,
    /// initial-policy-mapping-inhibit.
    pub inhibit_policy_mapping: bool,
    /// initial-any-policy-inhibit.
    pub inhibit_any_policy: bool,
}

/// Why policy processing refused the path.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyError {
    /// An explicit policy is required and no acceptable policy remains (§6.1.3 (f), §6.1.5 (g)).
    NoAcceptablePolicy {
        /// Subject of the certificate where the tree became empty (or the leaf).
        subject: String,
    },
    /// policyMappings maps to or from anyPolicy (§6.1.4 (a)).
    AnyPolicyMapping {
        /// Subject of the mapping certificate.
        subject: String,
    },
    /// The valid_policy_tree would exceed [`MAX_POLICY_NODES`].
    TreeTooLarge,
}

#[derive(Clone, Debug)]
struct Node {
    valid_policy: ObjectIdentifier,
    expected: Vec<ObjectIdentifier>,
    parent: Option<usize>,
}

/// The outcome for a valid path: the policies the leaf is valid for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValidPolicies {
    /// The tree became NULL while no explicit policy was required.
    None,
    /// anyPolicy remains: valid for every policy the caller asked for.
    Any,
    /// These policies.
    Set(Vec<ObjectIdentifier>),
}

/// Runs policy processing over `path` = [cert 1 (issued by the trust anchor), ..., cert n
/// (the leaf)].
pub fn process(path: &[&Certificate], opts: &PolicyOptions) -> Result<ValidPolicies, PolicyError> {
    let n = path.len();
    let any = oids::ANY_POLICY;
    let start = n.saturating_add(1);
    // §6.1.2 (d)–(f)
    let mut explicit_policy = if opts.require_explicit_policy {
        0
    } else {
        start
    };
    let mut inhibit_any = if opts.inhibit_any_policy { 0 } else { start };
    let mut policy_mapping = if opts.inhibit_policy_mapping {
        0
    } else {
        start
    };
    // §6.1.2 (a): one node of depth 0, anyPolicy.
    let mut levels: Vec<Vec<Node>> = vec![vec![Node {
        valid_policy: any,
        expected: vec![any],
        parent: None,
    }]];
    let mut tree_null = false;
    let mut total = 1usize;

    for (idx, cert) in path.iter().enumerate() {
        let i = idx + 1;
        let last = i == n;
        let self_issued = cert.is_self_issued();
        let subject = || cert.subject.to_display_string();
        // §6.1.3 (d)
        match (&cert.extensions.policies, tree_null) {
            (Some(policies), false) => {
                let prev = &levels[i - 1];
                let mut next: Vec<Node> = Vec::new();
                // (d)(1)
                for p in policies.iter().filter(|p| p.oid != any) {
                    let mut matched = false;
                    for (pi, node) in prev.iter().enumerate() {
                        if node.expected.contains(&p.oid) {
                            next.push(Node {
                                valid_policy: p.oid,
                                expected: vec![p.oid],
                                parent: Some(pi),
                            });
                            matched = true;
                        }
                    }
                    if !matched {
                        for (pi, node) in prev.iter().enumerate() {
                            if node.valid_policy == any {
                                next.push(Node {
                                    valid_policy: p.oid,
                                    expected: vec![p.oid],
                                    parent: Some(pi),
                                });
                            }
                        }
                    }
                    total = total.saturating_add(next.len());
                    if total > MAX_POLICY_NODES {
                        return Err(PolicyError::TreeTooLarge);
                    }
                }
                // (d)(2)
                let has_any = policies.iter().any(|p| p.oid == any);
                if has_any && (inhibit_any > 0 || (!last && self_issued)) {
                    for (pi, node) in prev.iter().enumerate() {
                        for e in &node.expected {
                            let exists = next
                                .iter()
                                .any(|c| c.parent == Some(pi) && c.valid_policy == *e);
                            if !exists {
                                next.push(Node {
                                    valid_policy: *e,
                                    expected: vec![*e],
                                    parent: Some(pi),
                                });
                                total = total.saturating_add(1);
                                if total > MAX_POLICY_NODES {
                                    return Err(PolicyError::TreeTooLarge);
                                }
                            }
                        }
                    }
                }
                levels.push(next);
                // (d)(3)
                prune(&mut levels);
                if levels.iter().any(Vec::is_empty) {
                    tree_null = true;
                }
            }
            // §6.1.3 (e)
            _ => tree_null = true,
        }
        if tree_null {
            levels.truncate(1);
            levels[0].clear();
        }
        // §6.1.3 (f)
        if explicit_policy == 0 && tree_null {
            return Err(PolicyError::NoAcceptablePolicy { subject: subject() });
        }

        if !last {
            // §6.1.4 (a)–(b)
            if let Some(maps) = &cert.extensions.policy_mappings {
                if maps.iter().any(|(a, b)| *a == any || *b == any) {
                    return Err(PolicyError::AnyPolicyMapping { subject: subject() });
                }
                if !tree_null {
                    let mut issuer_policies: Vec<ObjectIdentifier> =
                        maps.iter().map(|(a, _)| *a).collect();
                    issuer_policies.dedup();
                    for id in issuer_policies {
                        let mapped: Vec<ObjectIdentifier> = maps
                            .iter()
                            .filter(|(a, _)| *a == id)
                            .map(|(_, b)| *b)
                            .collect();
                        let level = &mut levels[i];
                        if policy_mapping > 0 {
                            let mut found = false;
                            for node in level.iter_mut().filter(|x| x.valid_policy == id) {
                                node.expected = mapped.clone();
                                found = true;
                            }
                            if !found
                                && let Some(any_node) =
                                    level.iter().find(|x| x.valid_policy == any).cloned()
                            {
                                level.push(Node {
                                    valid_policy: id,
                                    expected: mapped,
                                    parent: any_node.parent,
                                });
                                total = total.saturating_add(1);
                                if total > MAX_POLICY_NODES {
                                    return Err(PolicyError::TreeTooLarge);
                                }
                            }
                        } else {
                            level.retain(|x| x.valid_policy != id);
                            prune(&mut levels);
                            if levels.iter().any(Vec::is_empty) {
                                tree_null = true;
                                levels.truncate(1);
                                levels[0].clear();
                                break;
                            }
                        }
                    }
                }
            }
            // §6.1.4 (h)
            if !self_issued {
                explicit_policy = explicit_policy.saturating_sub(1);
                policy_mapping = policy_mapping.saturating_sub(1);
                inhibit_any = inhibit_any.saturating_sub(1);
            }
            // §6.1.4 (i)
            if let Some((require, inhibit)) = cert.extensions.policy_constraints {
                if let Some(r) = require {
                    explicit_policy = explicit_policy.min(usize_of(r));
                }
                if let Some(m) = inhibit {
                    policy_mapping = policy_mapping.min(usize_of(m));
                }
            }
            // §6.1.4 (j)
            if let Some(s) = cert.extensions.inhibit_any_policy {
                inhibit_any = inhibit_any.min(usize_of(s));
            }
        } else {
            // §6.1.5 (a)–(b)
            explicit_policy = explicit_policy.saturating_sub(1);
            if let Some((Some(0), _)) = cert.extensions.policy_constraints {
                explicit_policy = 0;
            }
        }
    }

    // §6.1.5 (g): intersection with the user-initial-policy-set.
    let user_any = opts.initial_policy_set.is_empty() || opts.initial_policy_set.contains(&any);
    let result = if tree_null || levels.len() < n + 1 {
        ValidPolicies::None
    } else if user_any {
        leaf_policies(&levels)
    } else {
        intersect(&mut levels, &opts.initial_policy_set);
        if levels.iter().any(Vec::is_empty) {
            ValidPolicies::None
        } else {
            leaf_policies(&levels)
        }
    };
    if explicit_policy == 0 && result == ValidPolicies::None {
        let subject = path
            .last()
            .map(|c| c.subject.to_display_string())
            .unwrap_or_default();
        return Err(PolicyError::NoAcceptablePolicy { subject });
    }
    Ok(result)
}

fn usize_of(v: u32) -> usize {
    usize::try_from(v).unwrap_or(usize::MAX)
}

fn leaf_policies(levels: &[Vec<Node>]) -> ValidPolicies {
    // Every leaf-level node's policy is valid; anyPolicy at the leaf means any policy.
    let Some(leaf) = levels.last() else {
        return ValidPolicies::None;
    };
    if leaf.iter().any(|x| x.valid_policy == oids::ANY_POLICY) {
        return ValidPolicies::Any;
    }
    let mut set: Vec<ObjectIdentifier> = leaf.iter().map(|x| x.valid_policy).collect();
    set.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    set.dedup();
    if set.is_empty() {
        ValidPolicies::None
    } else {
        ValidPolicies::Set(set)
    }
}

/// Removes, bottom-up, nodes of depth < last that have no children (§6.1.3 (d)(3)).
fn prune(levels: &mut [Vec<Node>]) {
    for depth in (0..levels.len().saturating_sub(1)).rev() {
        let (upper, lower) = levels.split_at_mut(depth + 1);
        let (Some(parents), Some(children)) = (upper.last_mut(), lower.first_mut()) else {
            continue;
        };
        let keep: Vec<bool> = (0..parents.len())
            .map(|pi| children.iter().any(|c| c.parent == Some(pi)))
            .collect();
        // Re-index children after removing parents.
        let mut new_index = Vec::with_capacity(parents.len());
        let mut next = 0usize;
        for k in &keep {
            new_index.push(if *k { Some(next) } else { None });
            if *k {
                next += 1;
            }
        }
        let mut i = 0usize;
        parents.retain(|_| {
            let k = keep.get(i).copied().unwrap_or(false);
            i += 1;
            k
        });
        for c in children.iter_mut() {
            c.parent = c.parent.and_then(|p| new_index.get(p).copied().flatten());
        }
    }
}

/// §6.1.5 (g)(iii): the user-initial-policy-set intersection.
fn intersect(levels: &mut [Vec<Node>], user: &[ObjectIdentifier]) {
    let any = oids::ANY_POLICY;
    // valid_policy_node_set: nodes whose parent is anyPolicy (depth >= 1), i.e. whose whole
    // ancestry is anyPolicy. Delete those with a policy outside the user set (not anyPolicy).
    for depth in 1..levels.len() {
        let parent_is_any: Vec<bool> = levels[depth - 1]
            .iter()
            .map(|p| p.valid_policy == any && p_is_any_chain(levels, depth - 1, p))
            .collect();
        let level = &mut levels[depth];
        level.retain(|n| {
            let in_set = n
                .parent
                .and_then(|p| parent_is_any.get(p).copied())
                .unwrap_or(false);
            !in_set || n.valid_policy == any || user.contains(&n.valid_policy)
        });
        prune(levels);
    }
    // (g)(iii)(3): an anyPolicy node at the leaf level is replaced by the user policies not
    // already present.
    let depth = levels.len() - 1;
    if let Some(any_node) = levels[depth]
        .iter()
        .find(|n| n.valid_policy == any)
        .cloned()
    {
        let present: Vec<ObjectIdentifier> = levels[depth].iter().map(|n| n.valid_policy).collect();
        for p in user {
            if !present.contains(p) {
                levels[depth].push(Node {
                    valid_policy: *p,
                    expected: vec![*p],
                    parent: any_node.parent,
                });
            }
        }
        levels[depth].retain(|n| n.valid_policy != any);
    }
    prune(levels);
}

fn p_is_any_chain(levels: &[Vec<Node>], depth: usize, node: &Node) -> bool {
    let mut d = depth;
    let mut cur = node;
    loop {
        if cur.valid_policy != oids::ANY_POLICY {
            return false;
        }
        match (cur.parent, d.checked_sub(1)) {
            (Some(p), Some(pd)) => match levels.get(pd).and_then(|l| l.get(p)) {
                Some(next) => {
                    cur = next;
                    d = pd;
                }
                None => return false,
            },
            _ => return true,
        }
    }
}

//! The drill's scenario file (TOML) and its defaults. Pure: parsing and validation only.
//!
//! ```toml
//! users = 4                      # staff who log in and keep browsing (GOST and RSA alternate)
//! scenarios = ["revoke-push", "revoke-ocsp", "revoke-crl", "outage", "block"]
//! browse_interval_ms = 100       # each user's GET interval
//! warmup_secs = 1.0              # browsing before T0
//! tail_secs = 1.0                # browsing after the eviction (to catch a late 200)
//!
//! [intervals]
//! ocsp_recheck_secs = 5          # gateway [recheck] ocsp_interval_secs in the "ocsp" run
//! crl_refresh_secs = 5           # gateway revocation.crl_refresh_secs in the "crl" run
//! ocsp_max_age_secs = 2          # gateway OCSP cache lifetime (NCA answers carry no nextUpdate)
//!
//! [goals]
//! push_secs = 2.0                # eviction after a push (webhook, block)
//! poll_margin_secs = 1.0         # eviction by polling: interval + this
//! max_requests_after_eviction = 0
//!
//! [outage]
//! mode = "ocsp-then-crl"         # gateway revocation.mode during the outage
//! ocsp_down_secs = 6.0           # OCSP down, CRL still fresh (≥ crl_refresh_secs + 1)
//! crl_lifetime_secs = 3          # the gateway's CRL goes stale this long after the CRL goes down
//!
//! [[user]]                       # optional: explicit people instead of `users = N`
//! name = "АХМЕТОВ АЙДАР"
//! iin = "850101300015"
//! key = "gost2015"               # or "rsa-auth"
//! ```

use serde::Deserialize;

/// One scenario the drill can run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Revoke one key during sessions; only the webhook push can evict.
    RevokePush,
    /// Revoke one key; only the periodic OCSP re-check can evict.
    RevokeOcsp,
    /// Revoke one key; only the CRL refresh can evict.
    RevokeCrl,
    /// OCSP down, then the CRL stale: new logins per policy, sessions kept.
    Outage,
    /// Emergency block by IIN through the admin API.
    Block,
}

impl Kind {
    /// Every scenario, in the default order.
    pub const ALL: [Kind; 5] = [
        Kind::RevokePush,
        Kind::RevokeOcsp,
        Kind::RevokeCrl,
        Kind::Outage,
        Kind::Block,
    ];

    /// Name in the scenario file and the report.
    pub fn name(self) -> &'static str {
        match self {
            Kind::RevokePush => "revoke-push",
            Kind::RevokeOcsp => "revoke-ocsp",
            Kind::RevokeCrl => "revoke-crl",
            Kind::Outage => "outage",
            Kind::Block => "block",
        }
    }

    /// From [`Kind::name`].
    pub fn from_name(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.name() == s)
    }

    /// Title for people (English / Russian).
    pub fn title(self) -> &'static str {
        match self {
            Kind::RevokePush => {
                "Revoke during a session — push (webhook) / Отзыв во время сеанса — push"
            }
            Kind::RevokeOcsp => {
                "Revoke during a session — OCSP re-check / Отзыв — повторная проверка OCSP"
            }
            Kind::RevokeCrl => "Revoke during a session — CRL refresh / Отзыв — обновление CRL",
            Kind::Outage => "Responder outage / Отказ сервиса OCSP и CRL",
            Kind::Block => "Emergency block / Экстренная блокировка",
        }
    }
}

/// Key types a drill user can have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    /// GOST 34.10-2015 512-bit single key (NCA's current keys).
    Gost2015,
    /// RSA-2048 AUTH key.
    RsaAuth,
}

impl KeyType {
    /// Name in the file and the report.
    pub fn name(self) -> &'static str {
        match self {
            KeyType::Gost2015 => "gost2015",
            KeyType::RsaAuth => "rsa-auth",
        }
    }
}

/// A person in the drill.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    /// Display name.
    pub name: String,
    /// IIN (12 digits, valid checksum).
    pub iin: String,
    /// Key type.
    pub key: KeyType,
}

/// Intervals the in-process gateway is configured with.
#[derive(Clone, Debug, PartialEq)]
pub struct Intervals {
    /// `[recheck] ocsp_interval_secs` in the OCSP run.
    pub ocsp_recheck_secs: u64,
    /// `revocation.crl_refresh_secs` in the CRL run.
    pub crl_refresh_secs: u64,
    /// `revocation.ocsp_max_age_secs` (the OCSP cache lifetime for answers without nextUpdate).
    pub ocsp_max_age_secs: u64,
}

/// Goals turned into expectations.
#[derive(Clone, Debug, PartialEq)]
pub struct Goals {
    /// Eviction after a push (webhook, admin block), seconds.
    pub push_secs: f64,
    /// Eviction by polling: interval + this, seconds.
    pub poll_margin_secs: f64,
    /// Requests served (200) to an evicted session.
    pub max_requests_after_eviction: u64,
}

/// The outage scenario.
#[derive(Clone, Debug, PartialEq)]
pub struct Outage {
    /// Gateway `revocation.mode` during the outage.
    pub mode: String,
    /// How long OCSP is down before the CRL goes down too.
    pub ocsp_down_secs: f64,
    /// The CRL published at T0 is current until the CRL has been down this long.
    pub crl_lifetime_secs: i64,
}

/// A validated drill plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The people (the first admin-capable operator is added by the runner).
    pub users: Vec<User>,
    /// Scenarios in order.
    pub scenarios: Vec<Kind>,
    /// Browsing interval per user.
    pub browse_interval_ms: u64,
    /// Browsing before T0.
    pub warmup_secs: f64,
    /// Browsing after eviction.
    pub tail_secs: f64,
    /// Gateway intervals.
    pub intervals: Intervals,
    /// Goals.
    pub goals: Goals,
    /// Outage settings.
    pub outage: Outage,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileIntervals {
    ocsp_recheck_secs: Option<u64>,
    crl_refresh_secs: Option<u64>,
    ocsp_max_age_secs: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileGoals {
    push_secs: Option<f64>,
    poll_margin_secs: Option<f64>,
    max_requests_after_eviction: Option<u64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileOutage {
    mode: Option<String>,
    ocsp_down_secs: Option<f64>,
    crl_lifetime_secs: Option<i64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileUser {
    name: String,
    iin: String,
    #[serde(default)]
    key: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct File {
    users: Option<usize>,
    #[serde(default)]
    user: Vec<FileUser>,
    scenarios: Option<Vec<String>>,
    browse_interval_ms: Option<u64>,
    warmup_secs: Option<f64>,
    tail_secs: Option<f64>,
    #[serde(default)]
    intervals: FileIntervals,
    #[serde(default)]
    goals: FileGoals,
    #[serde(default)]
    outage: FileOutage,
}

/// Most users a drill logs in (each browses ten times a second).
pub const MAX_USERS: usize = 50;

/// Generated people: GOST and RSA alternate; IINs with valid checksums.
pub fn generated_users(n: usize) -> Vec<User> {
    const NAMES: [&str; 8] = [
        "АХМЕТОВ АЙДАР",
        "ИВАНОВА МАРИЯ",
        "ЖҰМАБАЕВА ӘСЕЛ",
        "ПЕТРОВ ОЛЕГ",
        "СЕРІКОВА ДИНА",
        "КИМ ВИКТОР",
        "НҰРЛАНОВ ЕРЛАН",
        "СМИРНОВА АННА",
    ];
    (0..n)
        .map(|i| User {
            name: format!("{} {}", NAMES[i % NAMES.len()], i + 1),
            iin: iin_for(i as u64 + 1),
            key: if i % 2 == 0 {
                KeyType::Gost2015
            } else {
                KeyType::RsaAuth
            },
        })
        .collect()
}

/// A valid IIN for person number `n` (born 1 Jan 1990, male, 20th century): the first serial
/// from `n` whose check digit exists.
pub fn iin_for(n: u64) -> String {
    let mut s = n * 10;
    loop {
        for last in 0..10 {
            let iin = format!("9001013{:04}{last}", s % 10_000);
            if crate::pki::identity::iin_checksum_ok(&iin) {
                return iin;
            }
        }
        s += 1;
    }
}

/// The IIN of the drill's operator (the admin who blocks and unblocks).
pub fn operator_iin() -> String {
    iin_for(9000)
}

/// The defaults (`drill run` with no scenario file).
pub fn default_plan() -> Plan {
    parse("").unwrap_or_else(|_| unreachable_default())
}

fn unreachable_default() -> Plan {
    // The empty file always parses; this keeps the function total without a panic.
    Plan {
        users: generated_users(4),
        scenarios: Kind::ALL.to_vec(),
        browse_interval_ms: 100,
        warmup_secs: 1.0,
        tail_secs: 1.0,
        intervals: Intervals {
            ocsp_recheck_secs: 5,
            crl_refresh_secs: 5,
            ocsp_max_age_secs: 2,
        },
        goals: Goals {
            push_secs: 2.0,
            poll_margin_secs: 1.0,
            max_requests_after_eviction: 0,
        },
        outage: Outage {
            mode: "ocsp-then-crl".into(),
            ocsp_down_secs: 6.0,
            crl_lifetime_secs: 3,
        },
    }
}

fn secs_ok(name: &str, v: f64, max: f64, p: &mut Vec<String>) {
    if !(v.is_finite() && (0.0..=max).contains(&v)) {
        p.push(format!("{name} = {v}: between 0 and {max}"));
    }
}

/// Parses and validates a scenario file; `Err` lists every problem.
pub fn parse(text: &str) -> Result<Plan, Vec<String>> {
    let f: File = toml::from_str(text).map_err(|e| vec![e.to_string()])?;
    let mut p = Vec::new();
    let d = unreachable_default();
    let users = if f.user.is_empty() {
        let n = f.users.unwrap_or(d.users.len());
        if !(2..=MAX_USERS).contains(&n) {
            p.push(format!(
                "users = {n}: between 2 and {MAX_USERS} (one is revoked)"
            ));
        }
        generated_users(n.clamp(2, MAX_USERS))
    } else {
        if f.users.is_some() {
            p.push("give either `users = N` or [[user]] tables, not both".into());
        }
        if !(2..=MAX_USERS).contains(&f.user.len()) {
            p.push(format!("[[user]]: between 2 and {MAX_USERS} people"));
        }
        let mut out = Vec::new();
        for (i, u) in f.user.iter().enumerate() {
            if !crate::pki::identity::iin_checksum_ok(&u.iin) || u.iin.len() != 12 {
                p.push(format!("user[{i}].iin {:?}: not a valid IIN", u.iin));
            }
            if out.iter().any(|o: &User| o.iin == u.iin) || u.iin == operator_iin() {
                p.push(format!("user[{i}].iin {}: used twice", u.iin));
            }
            let key = match u.key.as_deref().unwrap_or("gost2015") {
                "gost2015" => KeyType::Gost2015,
                "rsa-auth" => KeyType::RsaAuth,
                k => {
                    p.push(format!("user[{i}].key {k:?}: gost2015 or rsa-auth"));
                    KeyType::Gost2015
                }
            };
            if u.name.trim().is_empty() || u.name.len() > 200 || u.name.contains([',', '\n']) {
                p.push(format!("user[{i}].name: 1-200 characters, no commas"));
            }
            out.push(User {
                name: u.name.clone(),
                iin: u.iin.clone(),
                key,
            });
        }
        out
    };
    let scenarios = match &f.scenarios {
        None => d.scenarios.clone(),
        Some(list) => {
            if list.is_empty() {
                p.push("scenarios: name at least one".into());
            }
            list.iter()
                .filter_map(|s| {
                    let k = Kind::from_name(s);
                    if k.is_none() {
                        p.push(format!(
                            "scenarios: unknown {s:?} (revoke-push, revoke-ocsp, revoke-crl, outage, block)"
                        ));
                    }
                    k
                })
                .collect()
        }
    };
    let browse_interval_ms = f.browse_interval_ms.unwrap_or(d.browse_interval_ms);
    if !(20..=10_000).contains(&browse_interval_ms) {
        p.push(format!(
            "browse_interval_ms = {browse_interval_ms}: between 20 and 10000"
        ));
    }
    let warmup_secs = f.warmup_secs.unwrap_or(d.warmup_secs);
    secs_ok("warmup_secs", warmup_secs, 600.0, &mut p);
    let tail_secs = f.tail_secs.unwrap_or(d.tail_secs);
    secs_ok("tail_secs", tail_secs, 600.0, &mut p);
    let intervals = Intervals {
        ocsp_recheck_secs: f
            .intervals
            .ocsp_recheck_secs
            .unwrap_or(d.intervals.ocsp_recheck_secs),
        crl_refresh_secs: f
            .intervals
            .crl_refresh_secs
            .unwrap_or(d.intervals.crl_refresh_secs),
        ocsp_max_age_secs: f
            .intervals
            .ocsp_max_age_secs
            .unwrap_or(d.intervals.ocsp_max_age_secs),
    };
    for (name, v) in [
        ("intervals.ocsp_recheck_secs", intervals.ocsp_recheck_secs),
        ("intervals.crl_refresh_secs", intervals.crl_refresh_secs),
        ("intervals.ocsp_max_age_secs", intervals.ocsp_max_age_secs),
    ] {
        if !(1..=600).contains(&v) {
            p.push(format!("{name} = {v}: between 1 and 600"));
        }
    }
    if intervals.ocsp_max_age_secs >= intervals.ocsp_recheck_secs {
        p.push(format!(
            "intervals.ocsp_max_age_secs = {} must be shorter than ocsp_recheck_secs = {} (re-checks go through the OCSP cache)",
            intervals.ocsp_max_age_secs, intervals.ocsp_recheck_secs
        ));
    }
    let goals = Goals {
        push_secs: f.goals.push_secs.unwrap_or(d.goals.push_secs),
        poll_margin_secs: f.goals.poll_margin_secs.unwrap_or(d.goals.poll_margin_secs),
        max_requests_after_eviction: f
            .goals
            .max_requests_after_eviction
            .unwrap_or(d.goals.max_requests_after_eviction),
    };
    secs_ok("goals.push_secs", goals.push_secs, 600.0, &mut p);
    secs_ok(
        "goals.poll_margin_secs",
        goals.poll_margin_secs,
        600.0,
        &mut p,
    );
    let outage = Outage {
        mode: f.outage.mode.clone().unwrap_or(d.outage.mode.clone()),
        ocsp_down_secs: f.outage.ocsp_down_secs.unwrap_or(d.outage.ocsp_down_secs),
        crl_lifetime_secs: f
            .outage
            .crl_lifetime_secs
            .unwrap_or(d.outage.crl_lifetime_secs),
    };
    if !["ocsp-then-crl", "ocsp", "crl", "crl-and-ocsp"].contains(&outage.mode.as_str()) {
        p.push(format!(
            "outage.mode {:?}: ocsp-then-crl, ocsp, crl or crl-and-ocsp",
            outage.mode
        ));
    }
    secs_ok(
        "outage.ocsp_down_secs",
        outage.ocsp_down_secs,
        600.0,
        &mut p,
    );
    let floor = (intervals.ocsp_max_age_secs + 1).max(intervals.crl_refresh_secs + 1) as f64;
    if outage.ocsp_down_secs < floor {
        p.push(format!(
            "outage.ocsp_down_secs = {}: at least {floor} (intervals.ocsp_max_age_secs + 1 and intervals.crl_refresh_secs + 1: cached OCSP answers expire and the gateway fetches the last CRL)",
            outage.ocsp_down_secs
        ));
    }
    if !(1..=600).contains(&outage.crl_lifetime_secs) {
        p.push(format!(
            "outage.crl_lifetime_secs = {}: between 1 and 600",
            outage.crl_lifetime_secs
        ));
    }
    if p.is_empty() {
        Ok(Plan {
            users,
            scenarios,
            browse_interval_ms,
            warmup_secs,
            tail_secs,
            intervals,
            goals,
            outage,
        })
    } else {
        Err(p)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_every_scenario_with_four_mixed_users() {
        let p = parse("").expect("defaults");
        assert_eq!(p.scenarios, Kind::ALL.to_vec());
        assert_eq!(p.users.len(), 4);
        assert!(p.users.iter().any(|u| u.key == KeyType::Gost2015));
        assert!(p.users.iter().any(|u| u.key == KeyType::RsaAuth));
        assert_eq!(p, default_plan());
    }

    #[test]
    fn generated_iins_have_valid_checksums_and_differ() {
        let us = generated_users(20);
        for u in &us {
            assert!(crate::pki::identity::iin_checksum_ok(&u.iin), "{}", u.iin);
            assert_ne!(u.iin, operator_iin());
        }
        let mut iins: Vec<_> = us.iter().map(|u| u.iin.clone()).collect();
        iins.dedup();
        assert_eq!(iins.len(), 20);
    }

    #[test]
    fn every_problem_is_listed() {
        let e = parse(
            "users = 1\nscenarios = [\"revoke-push\", \"nope\"]\nbrowse_interval_ms = 1\n\
             [intervals]\nocsp_recheck_secs = 0\n[outage]\nmode = \"fast\"\n",
        )
        .expect_err("bad");
        assert_eq!(e.len(), 6, "{e:?}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        assert!(parse("userz = 3\n").is_err());
        assert!(parse("[goals]\npush = 1\n").is_err());
    }

    #[test]
    fn explicit_users_are_checked() {
        let ok = parse(
            "[[user]]\nname = \"A\"\niin = \"850101300015\"\n[[user]]\nname = \"B\"\niin = \"900215400013\"\nkey = \"rsa-auth\"\n",
        )
        .expect("two users");
        assert_eq!(ok.users[1].key, KeyType::RsaAuth);
        assert!(parse("[[user]]\nname = \"A\"\niin = \"850101300016\"\n").is_err());
    }
}

//! From recorded events to measurements and expectations. Pure: no clock, no I/O.
//!
//! Definitions (docs/drills.md "How the times are measured"):
//! * T0 — the moment the revocation was written to the test CA (or the block API answered);
//! * eviction moment — the response time of the victim's first request after T0 that was not
//!   served (any status but 200; transport errors, status 0, do not count);
//! * requests after eviction — the victim's requests answered 200 after the eviction moment
//!   (the browsing loop keeps sending the old cookie, so a session that comes back is caught);
//! * refusal time — the first refused new login with the victim's key after T0.

use crate::drill::report::{Event, Expectation};

/// What happened to one victim around T0.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Facts {
    /// Eviction moment (ms since start), status and code.
    pub evicted: Option<(u64, u16, Option<String>)>,
    /// Victim's requests served (200) after the eviction moment.
    pub served_after: u64,
    /// Victim's requests served between T0 and the eviction moment.
    pub served_before_eviction: u64,
    /// First refused new login after T0: time and code.
    pub login_refused: Option<(u64, String)>,
    /// New logins with the victim's key accepted after T0.
    pub logins_accepted_after_t0: u64,
    /// Requests of the other people not served (any time).
    pub others_refused: u64,
    /// Requests of the other people.
    pub others_requests: u64,
    /// Victim's requests.
    pub victim_requests: u64,
}

/// Collects [`Facts`] for `victim` with T0 at `t0`.
pub fn facts(events: &[Event], victim: usize, others: &[usize], t0: u64) -> Facts {
    let mut f = Facts::default();
    for e in events {
        match (e.kind.as_str(), e.lane) {
            ("request", Some(l)) if l == victim => {
                f.victim_requests += 1;
                let status = e.status.unwrap_or(0);
                if e.t_ms < t0 || status == 0 {
                    continue;
                }
                match f.evicted {
                    None if status == 200 => f.served_before_eviction += 1,
                    None => f.evicted = Some((e.t_ms, status, e.code.clone())),
                    Some((at, _, _)) if status == 200 && e.t_ms > at => f.served_after += 1,
                    Some(_) => {}
                }
            }
            ("request", Some(l)) if others.contains(&l) => {
                f.others_requests += 1;
                if e.status != Some(200) {
                    f.others_refused += 1;
                }
            }
            ("login_refused", Some(l))
                if l == victim && e.t_ms >= t0 && f.login_refused.is_none() =>
            {
                f.login_refused = Some((e.t_ms, e.code.clone().unwrap_or_default()));
            }
            ("probe_login", Some(l)) if l == victim && e.t_ms >= t0 => {
                f.logins_accepted_after_t0 += 1;
            }
            _ => {}
        }
    }
    f
}

fn s(ms: u64) -> String {
    format!("{:.2} s", ms as f64 / 1000.0)
}

/// The goals of a revoke or block run.
#[derive(Clone, Debug)]
pub struct EvictionGoals {
    /// Eviction within this many ms after T0.
    pub eviction_ms: u64,
    /// The 401 code the evicted session must get.
    pub eviction_code: &'static str,
    /// New login refused within this many ms after T0.
    pub refusal_ms: u64,
    /// The refusal code of a new login.
    pub refusal_code: &'static str,
    /// Most requests served after eviction.
    pub max_after: u64,
    /// What evicts (for the wording).
    pub channel: String,
}

/// The expectations of a revoke or block run.
pub fn eviction_expectations(f: &Facts, t0: u64, g: &EvictionGoals) -> Vec<Expectation> {
    let mut out = Vec::new();
    let (measured, passed) = match &f.login_refused {
        Some((t, code)) => (
            format!("{code} after {}", s(t.saturating_sub(t0))),
            code == g.refusal_code && t.saturating_sub(t0) <= g.refusal_ms,
        ),
        None => ("never refused".to_string(), false),
    };
    out.push(Expectation {
        name: "A new login with the key is refused / Новый вход с этим ключом отклонён".into(),
        goal: format!("{} within {}", g.refusal_code, s(g.refusal_ms)),
        measured,
        passed,
    });
    let (measured, passed) = match &f.evicted {
        Some((t, status, code)) => {
            let code = code.clone().unwrap_or_else(|| format!("http_{status}"));
            (
                format!("HTTP {status} {code} after {}", s(t.saturating_sub(t0))),
                t.saturating_sub(t0) <= g.eviction_ms && code == g.eviction_code,
            )
        }
        None => ("not evicted".to_string(), false),
    };
    out.push(Expectation {
        name: format!(
            "The open session is evicted ({}) / Открытый сеанс завершён",
            g.channel
        ),
        goal: format!("HTTP 401 {} within {}", g.eviction_code, s(g.eviction_ms)),
        measured,
        passed,
    });
    out.push(Expectation {
        name: "No request served after eviction / Ни одного запроса после завершения сеанса".into(),
        goal: format!("≤ {}", g.max_after),
        measured: if f.evicted.is_some() {
            f.served_after.to_string()
        } else {
            "no eviction".into()
        },
        passed: f.evicted.is_some() && f.served_after <= g.max_after,
    });
    out.push(Expectation {
        name: "Other people keep working / Остальные сотрудники продолжают работу".into(),
        goal: "0 refused requests".into(),
        measured: format!("{} of {} refused", f.others_refused, f.others_requests),
        passed: f.others_refused == 0 && f.others_requests > 0,
    });
    out
}

/// The `source` of every `session_evicted` audit record for `iin` in an audit log (JSON lines;
/// lines that do not parse are skipped).
pub fn audit_sources(log: &str, iin: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["event"] == "session_evicted" && v["iin"] == iin)
        .map(|v| v["source"].as_str().unwrap_or("").to_string())
        .collect()
}

/// The expectation that the eviction was audited with the channel's source.
pub fn audit_expectation(sources: &[String], want: &str) -> Expectation {
    Expectation {
        name:
            "The eviction is audited with its source / Завершение сеанса записано в журнал аудита"
                .into(),
        goal: format!("session_evicted, source {want}"),
        measured: if sources.is_empty() {
            "no session_evicted record".into()
        } else {
            format!("source {}", sources.join(", "))
        },
        passed: !sources.is_empty() && sources.iter().all(|s| s == want),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn audit_sources_are_read_for_the_victim_only() {
        let log = "{\"event\":\"session_evicted\",\"iin\":\"1\",\"source\":\"webhook\"}\n\
                   not json\n{\"event\":\"session_evicted\",\"iin\":\"2\",\"source\":\"crl\"}\n\
                   {\"event\":\"login\",\"iin\":\"1\"}\n";
        let s = audit_sources(log, "1");
        assert_eq!(s, ["webhook"]);
        assert!(audit_expectation(&s, "webhook").passed);
        assert!(!audit_expectation(&s, "ocsp").passed);
        assert!(!audit_expectation(&[], "ocsp").passed);
    }

    use super::*;

    fn req(t: u64, lane: usize, status: u16, code: Option<&str>) -> Event {
        Event {
            status: Some(status),
            code: code.map(str::to_string),
            ..Event::new(t, Some(lane), "request")
        }
    }

    fn goals() -> EvictionGoals {
        EvictionGoals {
            eviction_ms: 2000,
            eviction_code: "session_revoked",
            refusal_ms: 3000,
            refusal_code: "cert_revoked",
            max_after: 0,
            channel: "push".into(),
        }
    }

    #[test]
    fn eviction_is_the_first_refused_request_after_t0() {
        let ev = vec![
            req(100, 0, 200, None),
            req(100, 1, 200, None),
            req(1100, 0, 200, None),
            req(1400, 0, 0, Some("transport")),
            req(1500, 0, 401, Some("session_revoked")),
            req(1600, 0, 401, Some("session_revoked")),
            Event {
                code: Some("cert_revoked".into()),
                ..Event::new(1300, Some(0), "login_refused")
            },
            req(1700, 1, 200, None),
        ];
        let f = facts(&ev, 0, &[1], 1000);
        assert_eq!(f.evicted, Some((1500, 401, Some("session_revoked".into()))));
        assert_eq!(f.served_before_eviction, 1);
        assert_eq!(f.served_after, 0);
        assert_eq!(f.login_refused, Some((1300, "cert_revoked".into())));
        let x = eviction_expectations(&f, 1000, &goals());
        assert!(x.iter().all(|e| e.passed), "{x:?}");
    }

    #[test]
    fn a_request_served_after_eviction_breaks_the_drill() {
        let ev = vec![
            req(1500, 0, 401, Some("session_revoked")),
            req(1600, 0, 200, None),
            req(1600, 1, 200, None),
            Event {
                code: Some("cert_revoked".into()),
                ..Event::new(1300, Some(0), "login_refused")
            },
        ];
        let f = facts(&ev, 0, &[1], 1000);
        assert_eq!(f.served_after, 1);
        let x = eviction_expectations(&f, 1000, &goals());
        assert!(!x[2].passed);
    }

    #[test]
    fn no_eviction_fails_every_session_expectation() {
        let ev = vec![req(1500, 0, 200, None), req(1500, 1, 200, None)];
        let f = facts(&ev, 0, &[1], 1000);
        let x = eviction_expectations(&f, 1000, &goals());
        assert!(!x[0].passed && !x[1].passed && !x[2].passed);
        assert!(x[3].passed);
    }

    #[test]
    fn late_eviction_or_wrong_code_fails() {
        let ev = vec![req(3500, 0, 302, None), req(3500, 1, 200, None)];
        let f = facts(&ev, 0, &[1], 1000);
        let x = eviction_expectations(&f, 1000, &goals());
        assert!(!x[1].passed);
        assert!(x[1].measured.contains("http_302"));
    }
}

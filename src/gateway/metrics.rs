//! `/eds/metrics`: counters and histograms in the Prometheus text exposition format 0.0.4
//! (issue 7 item 5).
//!
//! Hand-written rather than the `prometheus-client` crate: the gateway has nine metric families
//! with fixed label sets, and the hot path (one request) must cost a few relaxed atomic adds and
//! no allocation. Per route the counters live in one [`RouteStats`] of atomics found by a
//! read-locked lookup; the format is 40 lines of `write!`. A registry crate would bring its own
//! encoder and label-set hashing per observation for no gain here.
//!
//! Cardinality is bounded by construction: `route` comes from the configured routes (plus `eds`
//! for the gateway's own endpoints; at most [`MAX_ROUTES`], then `other`), `status` is a class
//! (`2xx` …), login `reason` and upstream `code` are the gateway's reason codes (at most
//! [`MAX_REASONS`] distinct, then `other`).

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// Histogram upper bounds (seconds) of `eds_request_duration_seconds`: from a cached proxied
/// GET (sub-millisecond) to a slow MIS report (the first-byte timeout is 60 s).
pub const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0,
];
/// Distinct route labels kept.
pub const MAX_ROUTES: usize = 64;
/// Distinct (result, reason) or (route, code) pairs kept per family.
pub const MAX_REASONS: usize = 256;

const CLASSES: [&str; 6] = ["1xx", "2xx", "3xx", "4xx", "5xx", "other"];

/// The counters of one route.
#[derive(Default)]
pub struct RouteStats {
    status: [AtomicU64; 6],
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl RouteStats {
    fn observe(&self, status: u16, took: Duration) {
        let class = match status {
            100..=199 => 0,
            200..=299 => 1,
            300..=399 => 2,
            400..=499 => 3,
            500..=599 => 4,
            _ => 5,
        };
        self.status[class].fetch_add(1, Ordering::Relaxed);
        let secs = took.as_secs_f64();
        // Non-cumulative here; cumulated when rendered.
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }
}

/// One CRL source, as `/eds/metrics` shows it.
pub struct CrlGauge {
    /// Issuer (display form of the CA subject).
    pub issuer: String,
    /// now − thisUpdate of the CRL held (seconds), if one is held.
    pub age_secs: Option<i64>,
    /// nextUpdate − now (seconds; negative when stale), if one is held.
    pub next_update_in_secs: Option<i64>,
    /// 1 if the last refresh failed.
    pub refresh_failing: bool,
}

/// The gateway's metrics. Share behind the `AppState`.
#[derive(Default)]
pub struct Metrics {
    routes: RwLock<HashMap<String, Arc<RouteStats>>>,
    logins: Mutex<BTreeMap<(String, String), u64>>,
    upstream_errors: Mutex<BTreeMap<(String, String), u64>>,
    sessions_live: Mutex<Option<(i64, u64)>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn bump(map: &Mutex<BTreeMap<(String, String), u64>>, a: &str, b: &str) {
    let mut m = lock(map);
    let key = if m.len() >= MAX_REASONS && !m.contains_key(&(a.to_string(), b.to_string())) {
        (a.to_string(), "other".to_string())
    } else {
        (a.to_string(), b.to_string())
    };
    *m.entry(key).or_insert(0) += 1;
}

impl Metrics {
    /// Empty.
    pub fn new() -> Metrics {
        Metrics::default()
    }

    fn route(&self, route: &str) -> Arc<RouteStats> {
        if let Ok(r) = self.routes.read()
            && let Some(s) = r.get(route)
        {
            return s.clone();
        }
        let mut w = self
            .routes
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let name = if w.len() >= MAX_ROUTES && !w.contains_key(route) {
            "other"
        } else {
            route
        };
        w.entry(name.to_string()).or_default().clone()
    }

    /// One request answered on `route` with `status` after `took`.
    pub fn request(&self, route: &str, status: u16, took: Duration) {
        // The common case: the route is known; observe under the read lock, no Arc clone.
        if let Ok(r) = self.routes.read()
            && let Some(st) = r.get(route)
        {
            st.observe(status, took);
            return;
        }
        self.route(route).observe(status, took);
    }

    /// An audit event: logins are counted from `login_ok` / `login_refused`.
    pub fn audit_event(&self, event: &str, fields: &serde_json::Value) {
        match event {
            "login_ok" => bump(&self.logins, "ok", "none"),
            "login_refused" => {
                let code = fields["code"].as_str().unwrap_or("unknown");
                bump(&self.logins, "refused", code)
            }
            _ => {}
        }
    }

    /// The upstream gave no usable answer (`code`: `upstream_unavailable`, `upstream_timeout`).
    pub fn upstream_error(&self, route: &str, code: &str) {
        bump(&self.upstream_errors, route, code);
    }

    /// The cached live-session count if younger than `max_age` seconds at `now`.
    pub fn sessions_live_cached(&self, now: i64, max_age: i64) -> Option<u64> {
        lock(&self.sessions_live).and_then(|(at, n)| (now - at < max_age).then_some(n))
    }

    /// Stores a fresh live-session count.
    pub fn set_sessions_live(&self, now: i64, n: u64) {
        *lock(&self.sessions_live) = Some((now, n));
    }

    /// The exposition (text format 0.0.4). `ocsp`: the login OCSP client's counters (none when
    /// revocation is by CRL only); `now`: Unix seconds, for ages.
    pub fn render(
        &self,
        sessions_live: Option<u64>,
        crls: &[CrlGauge],
        ocsp: Option<&crate::revocation::ocsp_client::OcspStats>,
        now: i64,
    ) -> String {
        let mut o = String::with_capacity(4096);
        o.push_str("# HELP eds_logins_total Login attempts by result and refusal reason.\n");
        o.push_str("# TYPE eds_logins_total counter\n");
        for ((result, reason), n) in lock(&self.logins).iter() {
            let _ = writeln!(
                o,
                "eds_logins_total{{result=\"{}\",reason=\"{}\"}} {n}",
                esc(result),
                esc(reason)
            );
        }
        o.push_str("# HELP eds_sessions_live Live sessions in the store (cached up to 10 s).\n");
        o.push_str("# TYPE eds_sessions_live gauge\n");
        if let Some(n) = sessions_live {
            let _ = writeln!(o, "eds_sessions_live {n}");
        }
        let mut routes: Vec<(String, Arc<RouteStats>)> = self
            .routes
            .read()
            .map(|r| r.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        routes.sort_by(|a, b| a.0.cmp(&b.0));
        o.push_str("# HELP eds_requests_total Requests answered, by route and status class.\n");
        o.push_str("# TYPE eds_requests_total counter\n");
        for (route, st) in &routes {
            for (i, class) in CLASSES.iter().enumerate() {
                let n = st.status[i].load(Ordering::Relaxed);
                if n > 0 {
                    let _ = writeln!(
                        o,
                        "eds_requests_total{{route=\"{}\",status=\"{class}\"}} {n}",
                        esc(route)
                    );
                }
            }
        }
        o.push_str("# HELP eds_request_duration_seconds Time to the response head, by route.\n");
        o.push_str("# TYPE eds_request_duration_seconds histogram\n");
        for (route, st) in &routes {
            let r = esc(route);
            let mut cum = 0u64;
            for (i, b) in BUCKETS.iter().enumerate() {
                cum += st.buckets[i].load(Ordering::Relaxed);
                let _ = writeln!(
                    o,
                    "eds_request_duration_seconds_bucket{{route=\"{r}\",le=\"{b}\"}} {cum}"
                );
            }
            let count = st.count.load(Ordering::Relaxed);
            let _ = writeln!(
                o,
                "eds_request_duration_seconds_bucket{{route=\"{r}\",le=\"+Inf\"}} {count}"
            );
            // Whole microseconds → seconds: an f64 holds every count of microseconds a
            // process can accumulate (2^53 µs is 285 years).
            #[allow(clippy::cast_precision_loss)]
            let sum = st.sum_micros.load(Ordering::Relaxed) as f64 / 1e6;
            let _ = writeln!(o, "eds_request_duration_seconds_sum{{route=\"{r}\"}} {sum}");
            let _ = writeln!(
                o,
                "eds_request_duration_seconds_count{{route=\"{r}\"}} {count}"
            );
        }
        o.push_str(
            "# HELP eds_upstream_errors_total Requests the upstream did not answer (502/504).\n",
        );
        o.push_str("# TYPE eds_upstream_errors_total counter\n");
        for ((route, code), n) in lock(&self.upstream_errors).iter() {
            let _ = writeln!(
                o,
                "eds_upstream_errors_total{{route=\"{}\",code=\"{}\"}} {n}",
                esc(route),
                esc(code)
            );
        }
        o.push_str("# HELP eds_crl_age_seconds Seconds since thisUpdate of the CRL held.\n");
        o.push_str("# TYPE eds_crl_age_seconds gauge\n");
        for c in crls {
            if let Some(a) = c.age_secs {
                let _ = writeln!(
                    o,
                    "eds_crl_age_seconds{{issuer=\"{}\"}} {a}",
                    esc(&c.issuer)
                );
            }
        }
        o.push_str(
            "# HELP eds_crl_next_update_seconds Seconds until nextUpdate of the CRL held (negative: stale).\n",
        );
        o.push_str("# TYPE eds_crl_next_update_seconds gauge\n");
        for c in crls {
            if let Some(a) = c.next_update_in_secs {
                let _ = writeln!(
                    o,
                    "eds_crl_next_update_seconds{{issuer=\"{}\"}} {a}",
                    esc(&c.issuer)
                );
            }
        }
        o.push_str("# HELP eds_crl_refresh_failing 1 when the last refresh of this CRL failed.\n");
        o.push_str("# TYPE eds_crl_refresh_failing gauge\n");
        for c in crls {
            let _ = writeln!(
                o,
                "eds_crl_refresh_failing{{issuer=\"{}\"}} {}",
                esc(&c.issuer),
                u8::from(c.refresh_failing)
            );
        }
        if let Some(st) = ocsp {
            render_ocsp(&mut o, st, now);
        }
        o
    }
}

fn render_ocsp(o: &mut String, st: &crate::revocation::ocsp_client::OcspStats, now: i64) {
    o.push_str(
        "# HELP eds_ocsp_lookups_total OCSP status lookups, by where the answer came from.\n",
    );
    o.push_str("# TYPE eds_ocsp_lookups_total counter\n");
    let _ = writeln!(
        o,
        "eds_ocsp_lookups_total{{source=\"cache\"}} {}",
        st.cache_hits
    );
    let _ = writeln!(
        o,
        "eds_ocsp_lookups_total{{source=\"responder\"}} {}",
        st.responder_lookups()
    );
    o.push_str(
        "# HELP eds_ocsp_responder_results_total Responder lookups by outcome: good, revoked, unknown, or the failure's reason code.\n",
    );
    o.push_str("# TYPE eds_ocsp_responder_results_total counter\n");
    let mut outcomes: Vec<(&&str, &u64)> = st.responder.iter().collect();
    outcomes.sort();
    for (outcome, n) in outcomes {
        let _ = writeln!(
            o,
            "eds_ocsp_responder_results_total{{outcome=\"{}\"}} {n}",
            esc(outcome)
        );
    }
    o.push_str(
        "# HELP eds_ocsp_responder_seconds Time spent on responder lookups (retries and backoff included).\n",
    );
    o.push_str("# TYPE eds_ocsp_responder_seconds summary\n");
    let _ = writeln!(o, "eds_ocsp_responder_seconds_sum {}", st.responder_seconds);
    let _ = writeln!(
        o,
        "eds_ocsp_responder_seconds_count {}",
        st.responder_lookups()
    );
    o.push_str(
        "# HELP eds_ocsp_last_answer_age_seconds Seconds since this responder last gave a judged answer.\n",
    );
    o.push_str("# TYPE eds_ocsp_last_answer_age_seconds gauge\n");
    let mut urls: Vec<(&String, &crate::pki::time::UnixTime)> = st.last_answer.iter().collect();
    urls.sort();
    for (url, at) in urls {
        let _ = writeln!(
            o,
            "eds_ocsp_last_answer_age_seconds{{url=\"{}\"}} {}",
            esc(url),
            now - at.0
        );
    }
}

/// Label value escaping (exposition format: backslash, double quote, line feed).
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// May `ip` (with this `Authorization` header) read the metrics?
pub fn allowed(cfg: &super::config::MetricsCfg, ip: &str, authorization: Option<&str>) -> bool {
    if let (Some(want), Some(got)) = (
        cfg.token.as_deref(),
        authorization.and_then(|a| a.strip_prefix("Bearer ")),
    ) && want.len() == got.len()
        && want
            .bytes()
            .zip(got.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
    {
        return true;
    }
    let Ok(ip) = ip.parse::<std::net::IpAddr>() else {
        return false;
    };
    cfg.allow
        .iter()
        .filter_map(|a| a.parse::<std::net::IpAddr>().ok())
        .any(|a| a == ip || a.to_canonical() == ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative_and_end_in_inf() {
        let m = Metrics::new();
        m.request("default", 200, Duration::from_micros(300));
        m.request("default", 503, Duration::from_millis(30));
        m.request("default", 200, Duration::from_secs(100));
        let t = m.render(None, &[], None, 0);
        assert!(
            t.contains("eds_requests_total{route=\"default\",status=\"2xx\"} 2"),
            "{t}"
        );
        assert!(
            t.contains("eds_requests_total{route=\"default\",status=\"5xx\"} 1"),
            "{t}"
        );
        assert!(t.contains("le=\"0.0005\"} 1\n"), "{t}");
        assert!(t.contains("le=\"0.05\"} 2\n"), "{t}");
        assert!(t.contains("le=\"60\"} 2\n"), "{t}");
        assert!(t.contains("le=\"+Inf\"} 3\n"), "{t}");
    }

    #[test]
    fn reason_labels_are_bounded() {
        let m = Metrics::new();
        for i in 0..(MAX_REASONS + 50) {
            m.audit_event(
                "login_refused",
                &serde_json::json!({"code": format!("c{i}")}),
            );
        }
        assert_eq!(lock(&m.logins).len(), MAX_REASONS + 1);
        for i in 0..(MAX_ROUTES + 5) {
            m.request(&format!("r{i}"), 200, Duration::ZERO);
        }
        assert_eq!(m.routes.read().expect("routes").len(), MAX_ROUTES + 1);
    }

    #[test]
    fn access_by_ip_or_token() {
        let cfg = crate::gateway::config::MetricsCfg {
            allow: vec!["127.0.0.1".into()],
            token: Some("0123456789abcdef".into()),
        };
        assert!(allowed(&cfg, "127.0.0.1", None));
        assert!(allowed(&cfg, "::ffff:127.0.0.1", None));
        assert!(!allowed(&cfg, "10.0.0.1", None));
        assert!(!allowed(&cfg, "10.0.0.1", Some("Bearer 0123456789abcdeX")));
        assert!(allowed(&cfg, "10.0.0.1", Some("Bearer 0123456789abcdef")));
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(esc("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }

    #[test]
    fn ocsp_counters_are_rendered_sorted_with_ages() {
        let m = Metrics::new();
        let st = crate::revocation::ocsp_client::OcspStats {
            cache_hits: 5,
            responder: [("ocsp_timeout", 1), ("good", 3)].into_iter().collect(),
            responder_seconds: 0.25,
            last_answer: [(
                "http://ocsp.pki.gov.kz/".to_string(),
                crate::pki::time::UnixTime(1_000),
            )]
            .into_iter()
            .collect(),
        };
        let t = m.render(None, &[], Some(&st), 1_030);
        assert!(
            t.contains("eds_ocsp_lookups_total{source=\"cache\"} 5\n"),
            "{t}"
        );
        assert!(
            t.contains("eds_ocsp_lookups_total{source=\"responder\"} 4\n"),
            "{t}"
        );
        let good = t.find("outcome=\"good\"} 3").expect("good");
        let timeout = t.find("outcome=\"ocsp_timeout\"} 1").expect("timeout");
        assert!(good < timeout, "{t}");
        assert!(t.contains("eds_ocsp_responder_seconds_sum 0.25\n"), "{t}");
        assert!(t.contains("eds_ocsp_responder_seconds_count 4\n"), "{t}");
        assert!(
            t.contains("eds_ocsp_last_answer_age_seconds{url=\"http://ocsp.pki.gov.kz/\"} 30\n"),
            "{t}"
        );
        assert!(!m.render(None, &[], None, 0).contains("eds_ocsp"));
    }
}

//! `drill run`: the revocation drill (issue 8). Staff log in and keep browsing; at T0 a key is
//! revoked (or blocked); the drill measures when new logins with it are refused and when the
//! open session is evicted, per channel (webhook push, OCSP re-check, CRL refresh), checks that
//! no request is served after the eviction, runs a responder outage and an emergency block, and
//! returns a [`Report`] with pass/fail per expectation.
//!
//! By default everything runs in-process on loopback ([`setup::Env`]): a fresh gateway per
//! scenario, so each revocation channel can be enabled alone. With an external gateway the
//! drill only issues and revokes keys in its test CA and drives HTTP.

#[path = "drill_run/fault.rs"]
pub mod fault;
#[path = "drill_run/lanes.rs"]
pub mod lanes;
#[path = "drill_run/measure.rs"]
pub mod measure;
#[path = "drill_run/scenario.rs"]
pub mod scenario;
#[path = "drill_run/setup.rs"]
pub mod setup;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};
use tokio::sync::watch;

use self::lanes::Recorder;
use self::measure::EvictionGoals;
use self::scenario::{KeyType, Kind, Plan, User};
use self::setup::{Env, GatewaySettings, Key, RunningGateway};
use crate::drill::report::{Event, Expectation, Lane, Report, ScenarioReport, Setup};

/// A gateway, PKI and responder the operator runs.
#[derive(Clone, Debug)]
pub struct External {
    /// The gateway's address (from `--gateway http://HOST:PORT`).
    pub gateway: SocketAddr,
    /// Its public origin (the URL given).
    pub origin: String,
    /// The test CA folder the gateway trusts (`pki init`).
    pub pki_dir: PathBuf,
    /// The responder URL (for the report).
    pub responder: String,
}

/// What to run.
pub struct Options {
    /// The plan (scenario file or defaults).
    pub plan: Plan,
    /// Where the in-process world keeps its files.
    pub work_dir: PathBuf,
    /// Run against an external gateway instead.
    pub external: Option<External>,
    /// Show a progress bar on stderr.
    pub progress: bool,
}

/// Lifetime of the CRL the outage gateway starts with (covers the logins and the warm-up).
const STARTUP_CRL_SECS: i64 = 120;

/// "Effectively never" for a channel that is switched off in a scenario.
const OFF_SECS: u64 = 3600;

enum World {
    Local(Env),
    External(External),
}

struct Person {
    user: User,
    key: Key,
    revoked: bool,
}

struct Drill<'a> {
    plan: &'a Plan,
    world: World,
    people: Vec<Person>,
    operator: Person,
    notes: Vec<String>,
    bar: ProgressBar,
}

fn operator_user() -> User {
    User {
        name: "ОПЕРАТОР УЧЕНИЯ".into(),
        iin: scenario::operator_iin(),
        key: KeyType::Gost2015,
    }
}

fn ms(secs: f64) -> u64 {
    (secs * 1000.0).round().max(0.0) as u64
}

/// Runs the drill. `Err` only when the world could not be set up at all; a scenario that breaks
/// is reported with its `error` and fails.
pub async fn run(opts: &Options) -> Result<Report, String> {
    let started_at = crate::clock::now().to_rfc3339();
    let bar = if opts.progress {
        ProgressBar::with_draw_target(
            Some(opts.plan.scenarios.len() as u64 + 1),
            ProgressDrawTarget::stderr(),
        )
    } else {
        ProgressBar::hidden()
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} drill [{bar:24}] {pos}/{len} {elapsed} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(150));
    bar.set_message("setting up the test PKI, responder, MIS");
    let mut notes = Vec::new();
    let world = match &opts.external {
        None => {
            let env = Env::start(&opts.work_dir).await?;
            notes.push(format!(
                "in-process: test CA (GOST-2015-512) in {}, pki serve on {}, a fresh gateway per scenario",
                env.pki.display(),
                env.responder
            ));
            World::Local(env)
        }
        Some(x) => {
            notes.push(format!(
                "external gateway {} with the test CA in {} (responder {}): channels cannot be isolated; \
                 the goals of each revoke scenario assume the channel it names is the fastest one configured",
                x.origin,
                x.pki_dir.display(),
                x.responder
            ));
            World::External(x.clone())
        }
    };
    let operator_u = operator_user();
    if let World::Local(env) = &world {
        env.write_staff(&opts.plan.users, &operator_u)?;
    }
    bar.set_message("issuing keys");
    let mut people = Vec::new();
    for u in &opts.plan.users {
        let key = issue(&world, u)?;
        people.push(Person {
            user: u.clone(),
            key,
            revoked: false,
        });
    }
    let operator = Person {
        key: issue(&world, &operator_u)?,
        user: operator_u,
        revoked: false,
    };
    bar.inc(1);
    let mut d = Drill {
        plan: &opts.plan,
        world,
        people,
        operator,
        notes,
        bar,
    };
    let mut scenarios = Vec::new();
    for (i, kind) in opts.plan.scenarios.iter().enumerate() {
        d.bar.set_message(kind.title().to_string());
        let r = d.scenario(*kind, i).await;
        d.bar.inc(1);
        scenarios.push(r);
    }
    d.bar.finish_and_clear();
    let passed = !scenarios.is_empty() && scenarios.iter().all(ScenarioReport::passed);
    Ok(Report {
        tool: "eds-gateway drill run".into(),
        version: env!("CARGO_PKG_VERSION").into(),
        started_at,
        finished_at: crate::clock::now().to_rfc3339(),
        passed,
        setup: Setup {
            mode: match &d.world {
                World::Local(_) => "in-process".into(),
                World::External(_) => "external".into(),
            },
            notes: d.notes,
        },
        scenarios,
    })
}

fn issue(world: &World, u: &User) -> Result<Key, String> {
    match world {
        World::Local(env) => env.issue(u),
        World::External(x) => setup::issue_in(&x.pki_dir, u),
    }
}

/// A scenario in the making.
struct Run {
    rec: Arc<Recorder>,
    lanes: Vec<Lane>,
    stop: watch::Sender<bool>,
    browsing: Vec<tokio::task::JoinHandle<()>>,
    gateway: Option<RunningGateway>,
    addr: SocketAddr,
    origin: String,
    /// The in-process gateway's audit log.
    audit: Option<PathBuf>,
}

impl Run {
    async fn finish(mut self) -> (Vec<Event>, u64, Vec<Lane>) {
        let _ = self.stop.send(true);
        for t in self.browsing.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(6), t).await;
        }
        let duration = self.rec.now_ms();
        if let Some(g) = self.gateway.take() {
            g.stop().await;
        }
        (self.rec.events(), duration, self.lanes)
    }
}

impl Drill<'_> {
    fn lane_of(p: &Person, role: &str) -> Lane {
        Lane {
            name: p.user.name.clone(),
            iin: p.user.iin.clone(),
            key: p.user.key.name().into(),
            serial: p.key.serial.clone(),
            role: role.into(),
        }
    }

    /// Everyone with a usable key: a key revoked in an earlier scenario is replaced, as the
    /// CA would re-issue it.
    fn fresh_keys(&mut self) -> Result<(), String> {
        for i in 0..self.people.len() {
            if self.people[i].revoked {
                let key = issue(&self.world, &self.people[i].user)?;
                self.people[i].key = key;
                self.people[i].revoked = false;
            }
        }
        Ok(())
    }

    fn settings(&self, kind: Kind) -> GatewaySettings {
        let iv = &self.plan.intervals;
        let (mode, ocsp, crl, webhook) = match kind {
            Kind::RevokePush => ("ocsp-then-crl", OFF_SECS, OFF_SECS, true),
            Kind::RevokeOcsp => ("ocsp-then-crl", iv.ocsp_recheck_secs, OFF_SECS, false),
            Kind::RevokeCrl => ("crl", OFF_SECS, iv.crl_refresh_secs, false),
            Kind::Outage => (
                self.plan.outage.mode.as_str(),
                iv.ocsp_recheck_secs,
                iv.crl_refresh_secs,
                false,
            ),
            Kind::Block => ("ocsp-then-crl", OFF_SECS, OFF_SECS, false),
        };
        GatewaySettings {
            mode: mode.into(),
            ocsp_interval_secs: ocsp,
            crl_refresh_secs: crl,
            ocsp_max_age_secs: iv.ocsp_max_age_secs,
            webhook,
        }
    }

    async fn scenario(&mut self, kind: Kind, index: usize) -> ScenarioReport {
        let settings = self.settings(kind);
        let mut report = ScenarioReport {
            name: kind.name().into(),
            title: kind.title().into(),
            gateway: match &self.world {
                World::Local(_) => settings.to_json(),
                World::External(x) => json!({"external": x.origin}),
            },
            t0_ms: None,
            duration_ms: 0,
            lanes: Vec::new(),
            events: Vec::new(),
            measurements: BTreeMap::new(),
            expectations: Vec::new(),
            error: None,
        };
        let victim = index % self.people.len();
        if let Err(e) = self.fresh_keys() {
            report.error = Some(e);
            return report;
        }
        // The outage: the CRL the gateway starts with is short-lived (two minutes), so its full
        // CRL is fetched again on every refresh and the one published at T0 replaces it.
        if let (World::Local(env), Kind::Outage) = (&self.world, kind)
            && let Err(e) = env.publish_crl(STARTUP_CRL_SECS)
        {
            report.error = Some(format!("publishing the CRL: {e}"));
            return report;
        }
        let run = match self
            .start(kind, &settings, victim, kind == Kind::Block)
            .await
        {
            Ok(r) => r,
            Err((e, run)) => {
                if let Some(run) = run {
                    let (events, duration, lanes) = run.finish().await;
                    report.events = events;
                    report.duration_ms = duration;
                    report.lanes = lanes;
                }
                report.error = Some(e);
                return report;
            }
        };
        match kind {
            Kind::RevokePush | Kind::RevokeOcsp | Kind::RevokeCrl => {
                self.revoke_scenario(kind, run, victim, &mut report).await
            }
            Kind::Outage => match &self.world {
                World::Local(_) => self.outage_scenario(run, &mut report).await,
                World::External(_) => {
                    report.error = Some(
                        "the outage scenario needs the in-process responder (no --gateway)".into(),
                    );
                    let (events, duration, lanes) = run.finish().await;
                    report.events = events;
                    report.duration_ms = duration;
                    report.lanes = lanes;
                }
            },
            Kind::Block => self.block_scenario(run, victim, &mut report).await,
        }
        report
    }

    /// Starts the gateway (in-process), logs everyone in and starts browsing.
    async fn start(
        &mut self,
        kind: Kind,
        settings: &GatewaySettings,
        victim: usize,
        with_operator: bool,
    ) -> Result<Run, (String, Option<Run>)> {
        let (gateway, addr, origin) = match &self.world {
            World::Local(env) => {
                let g = env
                    .start_gateway(kind.name(), settings, &mut self.notes)
                    .await
                    .map_err(|e| (e, None))?;
                let (a, o) = (g.addr, g.origin.clone());
                (Some(g), a, o)
            }
            World::External(x) => (None, x.gateway, x.origin.clone()),
        };
        let rec = Recorder::new();
        rec.mark(None, "gateway_started", Some(origin.clone()));
        let (stop, stop_rx) = watch::channel(false);
        let mut lanes: Vec<Lane> = self
            .people
            .iter()
            .enumerate()
            .map(|(i, p)| Self::lane_of(p, if i == victim { "victim" } else { "staff" }))
            .collect();
        let mut signers: Vec<Arc<crate::drill::sign::Signer>> =
            self.people.iter().map(|p| p.key.signer.clone()).collect();
        if with_operator {
            lanes.push(Self::lane_of(&self.operator, "operator"));
            signers.push(self.operator.key.signer.clone());
        }
        let mut run = Run {
            rec: rec.clone(),
            lanes,
            stop,
            browsing: Vec::new(),
            audit: gateway.as_ref().map(|g| g.audit.clone()),
            gateway,
            addr,
            origin: origin.clone(),
        };
        let logins = signers.iter().enumerate().map(|(i, s)| {
            let rec = rec.clone();
            let origin = origin.clone();
            let s = s.clone();
            async move { lanes::login(&rec, i, addr, &origin, &s, "login").await }
        });
        let results = futures_util::future::join_all(logins).await;
        let every = Duration::from_millis(self.plan.browse_interval_ms);
        let mut failed = Vec::new();
        for (i, r) in results.into_iter().enumerate() {
            match r {
                Ok(b) => run.browsing.push(lanes::spawn_browsing(
                    rec.clone(),
                    i,
                    addr,
                    b.cookie_header(),
                    every,
                    stop_rx.clone(),
                )),
                Err(e) => failed.push(format!("{}: {e}", run.lanes[i].name)),
            }
        }
        if !failed.is_empty() {
            return Err((
                format!("login before T0 failed: {}", failed.join("; ")),
                Some(run),
            ));
        }
        tokio::time::sleep(Duration::from_secs_f64(self.plan.warmup_secs)).await;
        Ok(run)
    }

    /// Probes new logins with `signer` every 300 ms until refused (or `deadline` ms).
    fn spawn_probe(
        run: &Run,
        lane: usize,
        signer: Arc<crate::drill::sign::Signer>,
        deadline_ms: u64,
    ) -> tokio::task::JoinHandle<()> {
        let (rec, addr, origin) = (run.rec.clone(), run.addr, run.origin.clone());
        tokio::spawn(async move {
            while rec.now_ms() < deadline_ms {
                if lanes::probe(&rec, lane, addr, &origin, &signer)
                    .await
                    .is_some()
                {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        })
    }

    /// Waits until the victim's session is refused and a new login was refused (or the
    /// deadline), then browses `tail_secs` more.
    async fn await_eviction(&self, run: &Run, victim: usize, t0: u64, deadline_ms: u64) {
        loop {
            let f = measure::facts(&run.rec.events(), victim, &[], t0);
            if (f.evicted.is_some() && f.login_refused.is_some()) || run.rec.now_ms() > deadline_ms
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        tokio::time::sleep(Duration::from_secs_f64(self.plan.tail_secs)).await;
    }

    fn finish_eviction(
        report: &mut ScenarioReport,
        events: Vec<Event>,
        victim: usize,
        t0: u64,
        goals: &EvictionGoals,
        others: &[usize],
    ) {
        let f = measure::facts(&events, victim, others, t0);
        report.events = events;
        if let Some((t, status, code)) = &f.evicted {
            report.events.push(Event {
                status: Some(*status),
                code: code.clone(),
                detail: Some(format!("+{:.2} s", t.saturating_sub(t0) as f64 / 1000.0)),
                ..Event::new(*t, Some(victim), "evicted")
            });
            report.events.sort_by_key(|e| e.t_ms);
            report
                .measurements
                .insert("eviction_ms".into(), json!(t.saturating_sub(t0)));
            report
                .measurements
                .insert("eviction_code".into(), json!(code));
        }
        if let Some((t, code)) = &f.login_refused {
            report
                .measurements
                .insert("login_refused_ms".into(), json!(t.saturating_sub(t0)));
            report
                .measurements
                .insert("login_refused_code".into(), json!(code));
        }
        report.measurements.insert(
            "requests_after_eviction".into(),
            json!(f.evicted.as_ref().map(|_| f.served_after)),
        );
        report.measurements.insert(
            "requests_served_between_t0_and_eviction".into(),
            json!(f.served_before_eviction),
        );
        report.measurements.insert(
            "logins_accepted_after_t0".into(),
            json!(f.logins_accepted_after_t0),
        );
        report
            .measurements
            .insert("other_requests".into(), json!(f.others_requests));
        report
            .measurements
            .insert("other_requests_refused".into(), json!(f.others_refused));
        report
            .expectations
            .extend(measure::eviction_expectations(&f, t0, goals));
    }

    async fn revoke_scenario(
        &mut self,
        kind: Kind,
        run: Run,
        victim: usize,
        report: &mut ScenarioReport,
    ) {
        let g = &self.plan.goals;
        let iv = &self.plan.intervals;
        let margin = g.poll_margin_secs;
        let (eviction_secs, refusal_secs, channel) = match kind {
            Kind::RevokePush => (
                g.push_secs,
                iv.ocsp_max_age_secs as f64 + margin,
                "webhook push",
            ),
            Kind::RevokeOcsp => (
                iv.ocsp_recheck_secs as f64 + margin,
                iv.ocsp_max_age_secs as f64 + margin,
                "OCSP re-check",
            ),
            _ => (
                iv.crl_refresh_secs as f64 + margin,
                iv.crl_refresh_secs as f64 + margin,
                "CRL refresh",
            ),
        };
        let goals = EvictionGoals {
            eviction_ms: ms(eviction_secs),
            eviction_code: "session_revoked",
            refusal_ms: ms(refusal_secs),
            refusal_code: "cert_revoked",
            max_after: g.max_requests_after_eviction,
            channel: channel.into(),
        };
        let serial = self.people[victim].key.serial.clone();
        let pki = match &self.world {
            World::Local(env) => env.pki.clone(),
            World::External(x) => x.pki_dir.clone(),
        };
        let r = tokio::task::spawn_blocking(move || setup::revoke_in(&pki, &serial)).await;
        let t0 = run.rec.mark(
            None,
            "revoked",
            Some(self.people[victim].key.serial.clone()),
        );
        match r {
            Ok(Ok(())) => self.people[victim].revoked = true,
            Ok(Err(e)) => report.error = Some(e),
            Err(e) => report.error = Some(format!("revoke: {e}")),
        }
        report.t0_ms = Some(t0);
        let deadline = t0 + goals.eviction_ms.max(goals.refusal_ms) + 5000;
        let probe = Self::spawn_probe(
            &run,
            victim,
            self.people[victim].key.signer.clone(),
            deadline,
        );
        self.await_eviction(&run, victim, t0, deadline).await;
        probe.abort();
        let others: Vec<usize> = (0..run.lanes.len()).filter(|i| *i != victim).collect();
        let audit = run.audit.clone();
        let (events, duration, lanes) = run.finish().await;
        report.duration_ms = duration;
        report.lanes = lanes;
        Self::finish_eviction(report, events, victim, t0, &goals, &others);
        let source = match kind {
            Kind::RevokePush => "webhook",
            Kind::RevokeOcsp => "ocsp",
            _ => "crl",
        };
        self.audit_check(report, audit, victim, source);
    }

    /// In-process: the gateway's audit log names the channel that evicted.
    fn audit_check(
        &self,
        report: &mut ScenarioReport,
        audit: Option<PathBuf>,
        victim: usize,
        source: &str,
    ) {
        let Some(path) = audit else { return };
        let log = std::fs::read_to_string(&path).unwrap_or_default();
        let sources = measure::audit_sources(&log, &self.people[victim].user.iin);
        report
            .measurements
            .insert("audit_sources".into(), json!(sources));
        report
            .expectations
            .push(measure::audit_expectation(&sources, source));
    }

    async fn block_scenario(&mut self, run: Run, victim: usize, report: &mut ScenarioReport) {
        let g = &self.plan.goals;
        let goals = EvictionGoals {
            eviction_ms: ms(g.push_secs),
            eviction_code: "session_blocked",
            refusal_ms: ms(g.push_secs),
            refusal_code: "key_blocked",
            max_after: g.max_requests_after_eviction,
            channel: "admin block".into(),
        };
        let op_lane = run.lanes.len() - 1;
        let iin = self.people[victim].user.iin.clone();
        // The operator's own browser (a second session of the same admin) makes the API calls.
        let admin = lanes::login(
            &run.rec,
            op_lane,
            run.addr,
            &run.origin,
            &self.operator.key.signer,
            "login",
        )
        .await;
        let mut admin = match admin {
            Ok(b) => b,
            Err(e) => {
                report.error = Some(format!("operator login: {e}"));
                let (events, duration, lanes) = run.finish().await;
                report.events = events;
                report.duration_ms = duration;
                report.lanes = lanes;
                return;
            }
        };
        let t0 = run.rec.now_ms();
        let r = admin
            .post_json(
                "/eds/admin/api/block",
                &json!({"iin": iin, "reason": "revocation drill: emergency block"}),
            )
            .await;
        let (api_ok, api_detail) = match &r {
            Ok((200, v)) if v["ok"] == Value::Bool(true) => {
                (true, format!("evicted {}", v["evicted"]))
            }
            Ok((s, v)) => (false, format!("HTTP {s} {}", v["code"])),
            Err(e) => (false, e.to_string()),
        };
        run.rec.push(Event {
            detail: Some(format!("IIN {iin}: {api_detail}")),
            ..Event::new(t0, None, "blocked")
        });
        report.t0_ms = Some(t0);
        report.expectations.push(Expectation {
            name: "The admin API accepts the block / Блокировка принята".into(),
            goal: "HTTP 200 {\"ok\": true}".into(),
            measured: api_detail,
            passed: api_ok,
        });
        let deadline = t0 + goals.eviction_ms + 5000;
        let probe = Self::spawn_probe(
            &run,
            victim,
            self.people[victim].key.signer.clone(),
            deadline,
        );
        self.await_eviction(&run, victim, t0, deadline).await;
        probe.abort();
        // Unblock and check the key works again.
        let r = admin
            .post_json(
                "/eds/admin/api/unblock",
                &json!({"iin": iin, "reason": "revocation drill: end"}),
            )
            .await;
        let unblock_ok = matches!(&r, Ok((200, v)) if v["ok"] == Value::Bool(true));
        run.rec.mark(
            None,
            "unblocked",
            Some(match &r {
                Ok((s, v)) => format!("HTTP {s} {v}"),
                Err(e) => e.to_string(),
            }),
        );
        let again = lanes::probe(
            &run.rec,
            victim,
            run.addr,
            &run.origin,
            &self.people[victim].key.signer,
        )
        .await;
        let others: Vec<usize> = (0..run.lanes.len()).filter(|i| *i != victim).collect();
        let audit = run.audit.clone();
        let (events, duration, lanes) = run.finish().await;
        report.duration_ms = duration;
        report.lanes = lanes;
        Self::finish_eviction(report, events, victim, t0, &goals, &others);
        self.audit_check(report, audit, victim, "block");
        report.expectations.push(Expectation {
            name: "After unblock the key logs in again / После разблокировки вход снова возможен"
                .into(),
            goal: "unblock HTTP 200, login accepted".into(),
            measured: format!(
                "unblock {}, login {}",
                if unblock_ok { "ok" } else { "failed" },
                again.clone().unwrap_or_else(|| "accepted".into())
            ),
            passed: unblock_ok && again.is_none(),
        });
    }

    async fn outage_scenario(&mut self, run: Run, report: &mut ScenarioReport) {
        let World::Local(env) = &self.world else {
            return;
        };
        let plan = self.plan;
        let mode = plan.outage.mode.as_str();
        let (expect_a, expect_b): (&[&str], &[&str]) = match mode {
            "ocsp-then-crl" | "crl" => (&["accepted"], &["revocation_crl_stale"]),
            "ocsp" => (&["revocation_unreachable"], &["revocation_unreachable"]),
            _ => (
                &["revocation_unreachable"],
                &["revocation_unreachable", "revocation_crl_stale"],
            ),
        };
        // The CRL the gateway holds was published when its gateway started (see `start`).
        let prober = 0usize;
        let signer = self.people[prober].key.signer.clone();
        // The last CRL before the outage: current until the CRL has been down crl_lifetime_secs.
        let lifetime = (plan.outage.ocsp_down_secs.ceil() as i64) + plan.outage.crl_lifetime_secs;
        let stale_at = match env.publish_crl(lifetime) {
            Ok(t) => t.0,
            Err(e) => {
                report.error = Some(format!("publishing the CRL: {e}"));
                0
            }
        };
        let t0 = run.rec.mark(None, "ocsp_down", None);
        report.t0_ms = Some(t0);
        env.ocsp.set_up(false);
        // Let cached OCSP answers expire before the first probe.
        tokio::time::sleep(Duration::from_secs(plan.intervals.ocsp_max_age_secs + 1)).await;
        let a = lanes::probe(&run.rec, prober, run.addr, &run.origin, &signer)
            .await
            .unwrap_or_else(|| "accepted".into());
        let rest = plan.outage.ocsp_down_secs - (plan.intervals.ocsp_max_age_secs + 1) as f64;
        if rest > 0.0 {
            tokio::time::sleep(Duration::from_secs_f64(rest)).await;
        }
        run.rec.mark(None, "crl_down", None);
        env.crl.set_up(false);
        // Wait for the held CRL to pass its nextUpdate, then probe until the expected answer.
        while crate::clock::now().0 <= stale_at {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let stale_ms = run
            .rec
            .mark(None, "note", Some("CRL past nextUpdate".into()));
        let mut b = String::new();
        for _ in 0..10 {
            b = lanes::probe(&run.rec, prober, run.addr, &run.origin, &signer)
                .await
                .unwrap_or_else(|| "accepted".into());
            if expect_b.contains(&b.as_str()) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        tokio::time::sleep(Duration::from_secs_f64(plan.tail_secs)).await;
        run.rec.mark(None, "restored", None);
        env.ocsp.set_up(true);
        env.crl.set_up(true);
        let republished = env.publish_crl(24 * 3600);
        let (events, duration, lanes) = run.finish().await;
        if let Err(e) = republished {
            report.error = Some(format!("republishing the CRL: {e}"));
        }
        let refused: u64 = events
            .iter()
            .filter(|e| e.kind == "request" && e.t_ms >= t0 && e.status != Some(200))
            .count() as u64;
        let total: u64 = events
            .iter()
            .filter(|e| e.kind == "request" && e.t_ms >= t0)
            .count() as u64;
        report
            .measurements
            .insert("ocsp_down_new_login".into(), json!(a));
        report
            .measurements
            .insert("crl_stale_new_login".into(), json!(b));
        report
            .measurements
            .insert("crl_stale_at_ms".into(), json!(stale_ms));
        report
            .measurements
            .insert("requests_refused_during_outage".into(), json!(refused));
        report.expectations.push(Expectation {
            name: format!(
                "OCSP down, CRL fresh: a new login follows the policy (mode {mode}) / OCSP недоступен: вход по политике"
            ),
            goal: expect_a.join(" or "),
            measured: a.clone(),
            passed: expect_a.contains(&a.as_str()),
        });
        report.expectations.push(Expectation {
            name: format!(
                "OCSP down, CRL stale: a new login follows the policy (mode {mode}) / CRL устарел: вход по политике"
            ),
            goal: expect_b.join(" or "),
            measured: b.clone(),
            passed: expect_b.contains(&b.as_str()),
        });
        report.expectations.push(Expectation {
            name:
                "Open sessions are not mass-evicted during the outage / Открытые сеансы не сброшены"
                    .into(),
            goal: "0 refused requests".into(),
            measured: format!("{refused} of {total} refused"),
            passed: refused == 0 && total > 0,
        });
        report.events = events;
        report.duration_ms = duration;
        report.lanes = lanes;
    }
}

//! People at work: scripted logins (the login page's flow with [`crate::drill::sign`] in place
//! of NCALayer) and a browsing loop per person that records every answer.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::drill::report::Event;
use crate::drill::sign::Signer;
use crate::gateway::client::{Browser, Refused};

/// The event log of one scenario, with its start time.
pub struct Recorder {
    start: Instant,
    events: Mutex<Vec<Event>>,
}

impl Recorder {
    /// Starts the scenario clock.
    pub fn new() -> Arc<Recorder> {
        Arc::new(Recorder {
            start: Instant::now(),
            events: Mutex::new(Vec::new()),
        })
    }

    /// Milliseconds since the start.
    pub fn now_ms(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Records `e`.
    pub fn push(&self, e: Event) {
        if let Ok(mut v) = self.events.lock() {
            v.push(e);
        }
    }

    /// Records a mark now.
    pub fn mark(&self, lane: Option<usize>, kind: &str, detail: Option<String>) -> u64 {
        let t = self.now_ms();
        self.push(Event {
            detail,
            ..Event::new(t, lane, kind)
        });
        t
    }

    /// The events so far, in time order.
    pub fn events(&self) -> Vec<Event> {
        let mut v = self.events.lock().map(|v| v.clone()).unwrap_or_default();
        v.sort_by_key(|e| e.t_ms);
        v
    }
}

/// Logs in with `signer`; records `login` or `login_refused` (with `kind_ok` for the event name
/// of a success) and returns the browser.
pub async fn login(
    rec: &Recorder,
    lane: usize,
    gateway: SocketAddr,
    origin: &str,
    signer: &Signer,
    kind_ok: &str,
) -> Result<Browser, Refused> {
    let mut b = Browser::new(gateway, origin)?;
    let r = b.login(signer, crate::clock::now()).await;
    let t = rec.now_ms();
    match r {
        Ok(_) => {
            rec.push(Event::new(t, Some(lane), kind_ok));
            Ok(b)
        }
        Err(e) => {
            rec.push(Event {
                status: Some(e.status),
                code: Some(e.code.clone()),
                ..Event::new(t, Some(lane), "login_refused")
            });
            Err(e)
        }
    }
}

/// A new login used as a probe: on success the session is logged out again (it is not one of
/// the sessions under watch). Returns the refusal code, or `None` when accepted.
pub async fn probe(
    rec: &Recorder,
    lane: usize,
    gateway: SocketAddr,
    origin: &str,
    signer: &Signer,
) -> Option<String> {
    match login(rec, lane, gateway, origin, signer, "probe_login").await {
        Ok(mut b) => {
            let _ = b.logout().await;
            None
        }
        Err(e) => Some(e.code),
    }
}

/// The code of a refused answer: the JSON `code`, or a known code named in the body.
fn code_of(status: u16, body: &[u8]) -> Option<String> {
    if status == 200 {
        return None;
    }
    if let Ok(v) = serde_json::from_slice::<Value>(body)
        && let Some(c) = v["code"].as_str()
    {
        return Some(c.to_string());
    }
    let text = String::from_utf8_lossy(body);
    for c in ["session_revoked", "session_blocked"] {
        if text.contains(c) {
            return Some(c.to_string());
        }
    }
    Some(format!("http_{status}"))
}

/// Browses as `lane` every `every` with the session cookie `cookie` (kept as it was: a cleared
/// cookie is sent again, so a session that comes back would be caught) until `stop` turns true.
pub fn spawn_browsing(
    rec: Arc<Recorder>,
    lane: usize,
    gateway: SocketAddr,
    cookie: String,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let Ok(http) = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(5))
            .user_agent("eds-gateway drill")
            .build()
        else {
            return;
        };
        let url = format!("http://{gateway}/ward/patients?lane={lane}");
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stop.changed() => {}
            }
            if *stop.borrow() {
                break;
            }
            let r = http
                .get(&url)
                .header("cookie", &cookie)
                .header("accept", "application/json")
                .send()
                .await;
            let (status, code) = match r {
                Ok(r) => {
                    let status = r.status().as_u16();
                    let body = r.bytes().await.unwrap_or_default();
                    (status, code_of(status, &body))
                }
                Err(e) => (0, Some(format!("transport: {e}"))),
            };
            rec.push(Event {
                status: Some(status),
                code,
                ..Event::new(rec.now_ms(), Some(lane), "request")
            });
        }
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn refusal_codes_come_from_json_or_the_page() {
        assert_eq!(super::code_of(200, b"{}"), None);
        assert_eq!(
            super::code_of(401, br#"{"ok":false,"code":"session_revoked"}"#).as_deref(),
            Some("session_revoked")
        );
        assert_eq!(
            super::code_of(401, b"<p data-code=\"session_blocked\">").as_deref(),
            Some("session_blocked")
        );
        assert_eq!(super::code_of(302, b"").as_deref(), Some("http_302"));
    }
}

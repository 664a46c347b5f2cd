//! Logs (issue 7 item 5): `tracing` events, written by `tracing-subscriber`'s fmt layer as one
//! JSON object per line (`[log] format = "json"`, the default) or as text, to stderr.
//!
//! What is logged: one `request` event per request (request id, method, path without the query
//! string — it may carry personal data —, route, status, duration, the session's public sid,
//! client IP), startup and shutdown, and failures the request cannot report (audit writes).
//! Never cookies, tokens, certificates or assertion JWTs (STYLE.md §8).

use std::fmt::Write as _;

use tracing::Subscriber;
use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;

use super::config::LogCfg;

/// The level of `cfg` (`info` if unknown; `Config::problems` refuses unknown ones).
pub fn level(cfg: &LogCfg) -> LevelFilter {
    match cfg.level.as_str() {
        "error" => LevelFilter::ERROR,
        "warn" => LevelFilter::WARN,
        "debug" => LevelFilter::DEBUG,
        "trace" => LevelFilter::TRACE,
        _ => LevelFilter::INFO,
    }
}

/// The subscriber `cfg` describes, writing to `writer` (stderr in `serve`, a buffer in tests).
pub fn subscriber<W>(cfg: &LogCfg, writer: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let b = tracing_subscriber::fmt()
        .with_max_level(level(cfg))
        .with_writer(writer)
        .with_target(true);
    if cfg.format == "text" {
        Box::new(b.finish())
    } else {
        Box::new(b.event_format(JsonLine).finish())
    }
}

/// Installs the process-wide subscriber for `serve` (stderr). Call once, after the config is
/// loaded and before the listener is bound; `Err` if one is installed already.
pub fn init_logging(cfg: &LogCfg) -> Result<(), String> {
    let writer = BufferedStderr::start();
    tracing::subscriber::set_global_default(subscriber(cfg, writer))
        .map_err(|e| format!("logging: {e}"))
}

/// One JSON object per event, flat: `timestamp` (RFC 3339, UTC, microseconds), `level`, the
/// event's fields (`message` included) and `target` — the shape of tracing-subscriber's
/// `json().flatten_event(true)`, written straight into the line instead of through serde's
/// map serializer (that, and its clock formatting, were 6 % of the gateway's CPU per proxied
/// request). Spans are not recorded (the gateway opens none).
pub struct JsonLine;

impl<S, N> FormatEvent<S, N> for JsonLine
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut w: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let mut line = String::with_capacity(320);
        line.push_str("{\"timestamp\":\"");
        push_timestamp(&mut line, std::time::SystemTime::now());
        line.push_str("\",\"level\":\"");
        line.push_str(event.metadata().level().as_str());
        line.push('"');
        event.record(&mut JsonFields(&mut line));
        line.push_str(",\"target\":");
        push_json_str(&mut line, event.metadata().target());
        line.push_str("}\n");
        w.write_str(&line)
    }
}

/// Appends each field as `,"name":value`.
struct JsonFields<'a>(&'a mut String);

impl Visit for JsonFields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.key(field);
        // `%x` fields arrive here as Display-through-Debug: escaped as they are written.
        self.0.push('"');
        let _ = write!(Escaping(self.0), "{value:?}");
        self.0.push('"');
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.key(field);
        push_json_str(self.0, value);
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.key(field);
        let _ = write!(self.0, "{value}");
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.key(field);
        let _ = write!(self.0, "{value}");
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.key(field);
        if value.is_finite() {
            let _ = write!(self.0, "{value}");
        } else {
            self.0.push_str("null");
        }
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.key(field);
        self.0.push_str(if value { "true" } else { "false" });
    }
}

impl JsonFields<'_> {
    fn key(&mut self, field: &Field) {
        self.0.push(',');
        push_json_str(self.0, field.name());
        self.0.push(':');
    }
}

/// Writes JSON-escaped text (no quotes) into the line.
struct Escaping<'a>(&'a mut String);

impl std::fmt::Write for Escaping<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        push_escaped(self.0, s);
        Ok(())
    }
}

/// `s` as a JSON string (RFC 8259 §7: quote, backslash and control characters escaped).
fn push_json_str(out: &mut String, s: &str) {
    out.push('"');
    push_escaped(out, s);
    out.push('"');
}

/// `s` JSON-escaped: quote, backslash and control characters.
fn push_escaped(out: &mut String, s: &str) {
    let mut from = 0;
    for (i, b) in s.bytes().enumerate() {
        let esc = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..=0x1f | 0x7f => "",
            _ => continue,
        };
        out.push_str(&s[from..i]);
        if esc.is_empty() {
            let _ = write!(out, "\\u{b:04x}");
        } else {
            out.push_str(esc);
        }
        from = i + 1;
    }
    out.push_str(&s[from..]);
}

/// `t` as `YYYY-MM-DDTHH:MM:SS.ffffffZ`; the date and time of day are formatted once per
/// second per thread.
fn push_timestamp(out: &mut String, t: std::time::SystemTime) {
    use std::cell::RefCell;
    thread_local! {
        static SECOND: RefCell<(u64, String)> = const { RefCell::new((u64::MAX, String::new())) };
    }
    let d = t.duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    SECOND.with(|c| {
        let mut c = c.borrow_mut();
        if c.0 != secs {
            c.1.clear();
            let dt = i64::try_from(secs)
                .ok()
                .and_then(|s| time::OffsetDateTime::from_unix_timestamp(s).ok())
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
            let _ = write!(
                c.1,
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
                dt.year(),
                u8::from(dt.month()),
                dt.day(),
                dt.hour(),
                dt.minute(),
                dt.second()
            );
            c.0 = secs;
        }
        out.push_str(&c.1);
    });
    let _ = write!(out, ".{:06}Z", d.subsec_micros());
}

/// How often buffered log lines are written out.
const FLUSH_EVERY: std::time::Duration = std::time::Duration::from_millis(50);
/// A buffer this full is written out at once by the request that filled it.
const FLUSH_AT: usize = 64 * 1024;

static LOG_BUFFER: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

/// stderr with a buffer: one `write` per 50 ms (or 64 KiB) instead of one per request line.
/// Lines at `warn` and above are written at once (with everything before them); the shutdown
/// event flushes ([`log_stopped`]), and so does [`flush_logs`].
#[derive(Clone, Copy)]
pub struct BufferedStderr;

impl BufferedStderr {
    /// Starts the flusher thread (once per process).
    pub fn start() -> BufferedStderr {
        static STARTED: std::sync::Once = std::sync::Once::new();
        STARTED.call_once(|| {
            let _ = std::thread::Builder::new()
                .name("eds-log-flush".into())
                .spawn(|| {
                    loop {
                        std::thread::sleep(FLUSH_EVERY);
                        flush_logs();
                    }
                });
        });
        BufferedStderr
    }
}

/// Writes out buffered log lines.
pub fn flush_logs() {
    let mut b = LOG_BUFFER
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if b.is_empty() {
        return;
    }
    let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), &b);
    b.clear();
}

/// One event's writer: appends to the buffer, or flushes through it (`urgent`).
pub struct LineWriter {
    urgent: bool,
}

impl std::io::Write for LineWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let full = {
            let mut b = LOG_BUFFER
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            b.extend_from_slice(buf);
            b.len() >= FLUSH_AT
        };
        if full || self.urgent {
            flush_logs();
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        if self.urgent {
            flush_logs();
        }
        Ok(())
    }
}

impl<'w> MakeWriter<'w> for BufferedStderr {
    type Writer = LineWriter;
    fn make_writer(&'w self) -> LineWriter {
        LineWriter { urgent: true }
    }
    fn make_writer_for(&'w self, meta: &tracing::Metadata<'_>) -> LineWriter {
        LineWriter {
            urgent: *meta.level() <= tracing::Level::WARN,
        }
    }
}

/// The startup event.
pub fn log_started(instance: &str, listen: &str, store: &str, assertion_kid: Option<&str>) {
    tracing::info!(
        target: "eds_gateway::lifecycle",
        instance,
        listen,
        store,
        assertion_kid,
        version = env!("CARGO_PKG_VERSION"),
        "gateway started"
    );
    flush_logs();
}

/// The shutdown event (after in-flight requests drained).
pub fn log_stopped(instance: &str) {
    tracing::info!(target: "eds_gateway::lifecycle", instance, "gateway stopped");
    flush_logs();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_escape_quotes_backslashes_and_controls() {
        let mut s = String::new();
        push_json_str(&mut s, "a\"b\\c\nd\u{1}e\u{7f}ü");
        assert_eq!(s, r#""a\"b\\c\nd\u0001e\u007fü""#);
        let back: String = serde_json::from_str(&s).expect("valid JSON");
        assert_eq!(back, "a\"b\\c\nd\u{1}e\u{7f}ü");
    }

    #[test]
    fn timestamps_are_rfc3339_utc_with_microseconds() {
        let t = std::time::UNIX_EPOCH + std::time::Duration::from_micros(1_796_163_243_118_004);
        let mut s = String::new();
        push_timestamp(&mut s, t);
        assert_eq!(s, "2026-12-01T22:14:03.118004Z");
        // Same second, other micros: the cached part is reused.
        s.clear();
        push_timestamp(&mut s, t + std::time::Duration::from_micros(5));
        assert_eq!(s, "2026-12-01T22:14:03.118009Z");
    }

    #[test]
    fn an_event_is_one_flat_json_object() {
        #[derive(Clone, Default)]
        struct Buf(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Buf {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0
                    .lock()
                    .map_err(|_| std::io::Error::other("poisoned"))?
                    .extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        impl<'a> MakeWriter<'a> for Buf {
            type Writer = Buf;
            fn make_writer(&'a self) -> Buf {
                self.clone()
            }
        }
        let buf = Buf::default();
        let cfg = LogCfg {
            format: "json".into(),
            level: "info".into(),
        };
        tracing::subscriber::with_default(subscriber(&cfg, buf.clone()), || {
            tracing::info!(target: "eds_gateway::access", path = %"/a\"b", status = 200u16,
                duration_ms = 1.5f64, sid = None::<&str>, code = Some("x"), "request");
            tracing::debug!("not at info");
        });
        let out = String::from_utf8(buf.0.lock().expect("buf").clone()).expect("utf-8");
        assert_eq!(out.lines().count(), 1, "{out}");
        let v: serde_json::Value = serde_json::from_str(out.trim_end()).expect("JSON");
        assert_eq!(v["message"], "request");
        assert_eq!(v["path"], "/a\"b");
        assert_eq!(v["status"], 200);
        assert_eq!(v["duration_ms"], 1.5);
        assert_eq!(v["code"], "x");
        assert!(v.get("sid").is_none(), "None fields are left out: {v}");
        assert_eq!(v["level"], "INFO");
        assert_eq!(v["target"], "eds_gateway::access");
        assert!(v["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));
    }
}

//! Logs (issue 7 item 5): `tracing` events, written by `tracing-subscriber`'s fmt layer as one
//! JSON object per line (`[log] format = "json"`, the default) or as text, to stderr.
//!
//! What is logged: one `request` event per request (request id, method, path without the query
//! string — it may carry personal data —, route, status, duration, the session's public sid,
//! client IP), startup and shutdown, and failures the request cannot report (audit writes).
//! Never cookies, tokens, certificates or assertion JWTs (STYLE.md §8).

use tracing::Subscriber;
use tracing::level_filters::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;

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
        Box::new(
            b.json()
                .flatten_event(true)
                .with_current_span(false)
                .with_span_list(false)
                .finish(),
        )
    }
}

/// Installs the process-wide subscriber for `serve` (stderr). Call once, after the config is
/// loaded and before the listener is bound; `Err` if one is installed already.
pub fn init_logging(cfg: &LogCfg) -> Result<(), String> {
    let writer = BufferedStderr::start();
    tracing::subscriber::set_global_default(subscriber(cfg, writer))
        .map_err(|e| format!("logging: {e}"))
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

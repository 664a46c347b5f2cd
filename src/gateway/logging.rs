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
    tracing::subscriber::set_global_default(subscriber(cfg, std::io::stderr))
        .map_err(|e| format!("logging: {e}"))
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
}

/// The shutdown event (after in-flight requests drained).
pub fn log_stopped(instance: &str) {
    tracing::info!(target: "eds_gateway::lifecycle", instance, "gateway stopped");
}

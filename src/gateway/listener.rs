//! The accept loop (issue 7 items 1, 4, 5): our own instead of `axum::serve`, so that the
//! gateway speaks HTTPS itself, runs one single-threaded runtime per core when asked, and drains
//! in-flight requests on shutdown.
//!
//! - Each accepted connection is served by hyper-util's `auto` builder (HTTP/1.1 and HTTP/2,
//!   over TLS chosen by ALPN, in clear by the client's preface) with upgrades enabled, so a
//!   WebSocket handshake answered with 101 hands the socket to `hyper::upgrade::on`.
//! - Handlers see `ConnectInfo<SocketAddr>` as with `axum::serve`: it is put into the extensions
//!   of every request the router serves. The gateway's proxied paths (everything outside `/eds/`)
//!   skip the router: the listener calls `server::proxy` with the peer address itself.
//! - HTTPS responses carry `Strict-Transport-Security` (RFC 6797 §7.1: only over a secure
//!   transport), set here, so gateway pages and MIS pages alike have it.
//! - The redirect listener answers every request with 308 to the public origin (RFC 9110 §15.4.9:
//!   the method and body are kept), never to the Host the client sent (no open redirect).
//! - Shutdown: the listeners close at once (new connections are refused), each open connection
//!   finishes its in-flight requests (HTTP/1.1: then closes; HTTP/2: GOAWAY), and whatever is
//!   still open after the drain time is closed.
//!
//! Budgets on what a client drives: open connections (`server.max_connections`, closed at
//! accept beyond it), the TLS handshake (10 s), request headers (30 s to arrive, hyper's
//! HTTP/1.1 default buffer; 16 KiB of HTTP/2 header list), HTTP/2 streams (250 per connection),
//! and a client that stops reading: a write that can make no progress for
//! `server.send_timeout_secs` ends the connection ([`StallGuard`]). (The guard sees the socket:
//! an HTTP/2 client that keeps its connection readable but never opens a stream's flow-control
//! window is not caught by it.)

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::header::{self, HeaderValue};
use axum::http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::sync::watch;

use super::server::AppState;
use super::tls::Reloader;

/// How long a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take to send a request's headers (slowloris budget).
const HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// HTTP/2 streams per connection (a browser opens a few dozen at most; h2's default is 200+).
const MAX_STREAMS: u32 = 250;
/// Pending connections in the kernel's accept queue per listener.
const BACKLOG: i32 = 1024;

/// How the listener serves, from `[server]` and `[tls]`.
#[derive(Clone)]
pub struct ListenOptions {
    /// 0: the accept loop runs on the caller's runtime. N ≥ 1: N single-threaded runtimes on
    /// their own threads, one listener each.
    pub workers: usize,
    /// How long in-flight requests get after shutdown begins.
    pub drain: Duration,
    /// Open connections at most, across workers.
    pub max_connections: usize,
    /// Longest a write to a client may stay blocked (the client reads nothing).
    pub send_timeout: Duration,
    /// HTTPS, if configured.
    pub tls: Option<Arc<Reloader>>,
    /// `Strict-Transport-Security` value for HTTPS responses.
    pub hsts: Option<HeaderValue>,
    /// The public origin (`https://host[:port]`) the redirect listener sends clients to.
    pub redirect_origin: String,
}

impl ListenOptions {
    /// Plain HTTP on the caller's runtime, 30 s drain: what `axum::serve` did.
    pub fn plain() -> ListenOptions {
        ListenOptions {
            workers: 0,
            drain: Duration::from_secs(30),
            max_connections: 10_000,
            send_timeout: Duration::from_secs(60),
            tls: None,
            hsts: None,
            redirect_origin: String::new(),
        }
    }
}

/// Listening sockets, bound before anything is served (so a port in use is reported first).
pub struct Bound {
    /// One per worker (one if `workers` is 0).
    pub main: Vec<std::net::TcpListener>,
    /// The HTTP → HTTPS redirect listener.
    pub redirect: Option<std::net::TcpListener>,
}

impl Bound {
    /// The main listening address (all workers share it).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        match self.main.first() {
            Some(l) => l.local_addr(),
            None => Err(std::io::Error::other("no listener")),
        }
    }

    /// The redirect listener's address.
    pub fn redirect_addr(&self) -> Option<SocketAddr> {
        self.redirect.as_ref().and_then(|l| l.local_addr().ok())
    }
}

/// Binds one listener on `addr`, non-blocking; with `reuse_port`, `SO_REUSEPORT` is set first so
/// that several sockets (one per worker) share the port and the kernel spreads connections
/// among them.
pub fn bind_one(addr: SocketAddr, reuse_port: bool) -> std::io::Result<std::net::TcpListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    // As tokio and std do: a restart can bind while old connections sit in TIME_WAIT.
    s.set_reuse_address(true)?;
    if reuse_port {
        s.set_reuse_port(true)?;
    }
    s.set_nonblocking(true)?;
    s.bind(&addr.into())?;
    s.listen(BACKLOG)?;
    Ok(s.into())
}

/// Binds `max(workers, 1)` listeners on `listen` (port 0: the first one's port for the rest)
/// and the redirect listener if any.
pub fn bind(
    listen: SocketAddr,
    workers: usize,
    redirect: Option<SocketAddr>,
) -> std::io::Result<Bound> {
    let reuse = workers > 1;
    let first = bind_one(listen, reuse)?;
    let actual = first.local_addr()?;
    let mut main = vec![first];
    for _ in 1..workers.max(1) {
        main.push(bind_one(actual, true)?);
    }
    let redirect = match redirect {
        Some(a) => Some(bind_one(a, false)?),
        None => None,
    };
    Ok(Bound { main, redirect })
}

/// What a listener does with requests.
#[derive(Clone)]
enum Handler {
    /// The gateway (`hsts` set on HTTPS); with `state`, paths outside `/eds/` go straight to
    /// `server::proxy`.
    App {
        router: Router,
        state: Option<Arc<AppState>>,
        hsts: Option<HeaderValue>,
    },
    /// 308 to `origin` + path.
    Redirect { origin: Arc<str> },
}

/// A connection slot, given back when dropped.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(count: &Arc<AtomicUsize>, max: usize) -> Option<Slot> {
        let mut n = count.load(Ordering::Relaxed);
        loop {
            if n >= max {
                return None;
            }
            match count.compare_exchange_weak(n, n + 1, Ordering::AcqRel, Ordering::Relaxed) {
                Ok(_) => return Some(Slot(count.clone())),
                Err(now) => n = now,
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// The 308 a redirect listener answers with.
pub fn redirect_response(origin: &str, req_uri: &axum::http::Uri) -> Response<Body> {
    let path = req_uri
        .path_and_query()
        .map(|p| p.as_str())
        .filter(|p| p.starts_with('/'))
        .unwrap_or("/");
    let to = format!("{origin}{path}");
    let mut r = Response::new(Body::from(format!("Use HTTPS: {to}\n")));
    *r.status_mut() = StatusCode::PERMANENT_REDIRECT;
    let h = r.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&to) {
        h.insert(header::LOCATION, v);
    }
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

async fn handle(
    handler: Handler,
    peer: SocketAddr,
    mut req: Request<Incoming>,
) -> Result<Response<Body>, Infallible> {
    match handler {
        Handler::App {
            mut router,
            state,
            hsts,
        } => {
            let mut r = match state {
                Some(s) if !super::server::is_gateway_path(req.uri().path()) => {
                    let head = req.method() == axum::http::Method::HEAD;
                    let r = super::server::proxy(&s, req.map(Body::new), Some(peer)).await;
                    if head { without_body(r) } else { r }
                }
                _ => {
                    req.extensions_mut().insert(ConnectInfo(peer));
                    tower_service::Service::call(&mut router, req).await?
                }
            };
            if let Some(v) = hsts {
                // The gateway's policy wins over whatever the MIS sent (RFC 6797 §8.1: one
                // header per response is processed).
                r.headers_mut().insert(header::STRICT_TRANSPORT_SECURITY, v);
            }
            Ok(r)
        }
        Handler::Redirect { origin } => Ok(redirect_response(&origin, req.uri())),
    }
}

/// The answer to a HEAD request with its body dropped (what the router does for the routes it
/// serves): hyper leaves out HEAD bodies over HTTP/1.1 but sends them over HTTP/2. Content-Length
/// is kept, or set from the body's exact size, as the GET answer would have it.
fn without_body(r: Response<Body>) -> Response<Body> {
    let (mut parts, body) = r.into_parts();
    if !parts.headers.contains_key(header::CONTENT_LENGTH)
        && let Some(n) = hyper::body::Body::size_hint(&body).exact()
    {
        parts
            .headers
            .insert(header::CONTENT_LENGTH, HeaderValue::from(n));
    }
    Response::from_parts(parts, Body::empty())
}

/// A client connection whose writes may be blocked (the client's receive window full) for at most
/// `limit` in a row; then the write fails with `TimedOut` and hyper drops the connection, and
/// with it the response body and its upstream connection. The timer exists only while a write
/// is blocked: a connection that writes freely pays nothing.
pub struct StallGuard<I> {
    inner: I,
    limit: Duration,
    stalled: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<I> StallGuard<I> {
    /// Wraps `inner`.
    pub fn new(inner: I, limit: Duration) -> StallGuard<I> {
        StallGuard {
            inner,
            limit,
            stalled: None,
        }
    }

    /// After a write returned `Pending`: still waiting, or out of time.
    fn blocked<T>(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<T>> {
        let limit = self.limit;
        let timer = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "client read nothing for the send timeout",
            ))),
            Poll::Pending => Poll::Pending,
        }
    }

    /// A write's outcome: progress clears the timer, `Pending` runs it.
    fn outcome<T>(
        &mut self,
        r: Poll<std::io::Result<T>>,
        cx: &mut Context<'_>,
    ) -> Poll<std::io::Result<T>> {
        match r {
            Poll::Pending => self.blocked(cx),
            ready => {
                self.stalled = None;
                ready
            }
        }
    }
}

impl<I: hyper::rt::Read + Unpin> hyper::rt::Read for StallGuard<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<I: hyper::rt::Write + Unpin> hyper::rt::Write for StallGuard<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        self.outcome(r, cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        self.outcome(r, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_flush(cx);
        self.outcome(r, cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let r = Pin::new(&mut self.inner).poll_shutdown(cx);
        self.outcome(r, cx)
    }
}

fn http_builder() -> auto::Builder<TokioExecutor> {
    let mut b = auto::Builder::new(TokioExecutor::new());
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT);
    b.http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_STREAMS)
        .max_header_list_size(16 * 1024);
    b
}

/// The budgets of one accept loop (from [`ListenOptions`]).
#[derive(Clone, Copy)]
struct Limits {
    max_connections: usize,
    drain: Duration,
    send_timeout: Duration,
}

/// Phases of one accept loop: 0 serving, 1 draining, 2 closing whatever is left.
type Phase = watch::Receiver<u8>;

/// Serves one connection (already TLS-wrapped or not) until it ends or the loop closes.
async fn serve_conn<I>(
    builder: Arc<auto::Builder<TokioExecutor>>,
    io: I,
    handler: Handler,
    peer: SocketAddr,
    watcher: hyper_util::server::graceful::Watcher,
    mut phase: Phase,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |req| handle(handler.clone(), peer, req));
    let conn = builder.serve_connection_with_upgrades(io, svc);
    let conn = watcher.watch(conn.into_owned());
    tokio::select! {
        // Errors here are the client's (reset, bad request line, timeouts): nothing to report.
        _ = conn => {}
        _ = phase.wait_for(|p| *p >= 2) => {}
    }
}

/// Accepts on `listener` until `stop` turns true, then drains for `drain` and closes the rest.
async fn accept_loop(
    listener: tokio::net::TcpListener,
    handler: Handler,
    tls: Option<Arc<Reloader>>,
    slots: Arc<AtomicUsize>,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let Limits {
        max_connections,
        drain,
        send_timeout,
    } = limits;
    let builder = Arc::new(http_builder());
    let graceful = GracefulShutdown::new();
    let (phase_tx, phase_rx) = watch::channel(0u8);
    let acceptor = tls
        .as_ref()
        .map(|t| tokio_rustls::TlsAcceptor::from(t.server_config()));
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.wait_for(|s| *s) => break,
        };
        let (tcp, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // EMFILE/ENFILE and friends: say so and give the system a moment rather than
                // spin; per-connection errors (ECONNABORTED) are not worth a line.
                if !matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionAborted | std::io::ErrorKind::ConnectionReset
                ) {
                    eprintln!("eds-gateway: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                continue;
            }
        };
        let Some(slot) = Slot::take(&slots, max_connections) else {
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let watcher = graceful.watcher();
        let mut phase = phase_rx.clone();
        let handler = handler.clone();
        let builder = builder.clone();
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            let _slot = slot;
            match acceptor {
                None => {
                    let io = StallGuard::new(TokioIo::new(tcp), send_timeout);
                    serve_conn(builder, io, handler, peer, watcher, phase).await
                }
                Some(acc) => {
                    let hs = tokio::time::timeout(HANDSHAKE_TIMEOUT, acc.accept(tcp));
                    let tls = tokio::select! {
                        r = hs => r,
                        _ = phase.wait_for(|p| *p >= 2) => return,
                    };
                    // A failed handshake (wrong protocol, no shared cipher, timeout) is the
                    // client's problem; rustls has already sent the alert.
                    if let Ok(Ok(s)) = tls {
                        let io = StallGuard::new(TokioIo::new(s), send_timeout);
                        serve_conn(builder, io, handler, peer, watcher, phase).await
                    }
                }
            }
        });
    }
    // Stop accepting: new connections are refused from here on.
    drop(listener);
    let _ = phase_tx.send(1);
    if tokio::time::timeout(drain, graceful.shutdown())
        .await
        .is_err()
    {
        eprintln!(
            "eds-gateway: drain time ({} s) over: closing the remaining connections",
            drain.as_secs()
        );
        let _ = phase_tx.send(2);
        // Give the connection tasks a moment to see it.
        tokio::task::yield_now().await;
    }
}

/// Serves `router` on `bound` until `shutdown` resolves, then drains (see the module comment).
/// With `workers` ≥ 1 each main listener gets its own single-threaded runtime on its own thread;
/// the redirect listener (and everything else, e.g. background tasks) stays on the caller's.
pub async fn serve(
    router: Router,
    bound: Bound,
    opts: ListenOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(router, None, bound, opts, shutdown).await
}

/// [`serve`] for the gateway: `router` is `server::app(state)`, and paths outside `/eds/` go to
/// `server::proxy` without it.
pub async fn serve_gateway(
    state: Arc<AppState>,
    bound: Bound,
    opts: ListenOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = super::server::app(state.clone());
    serve_with(router, Some(state), bound, opts, shutdown).await
}

async fn serve_with(
    router: Router,
    state: Option<Arc<AppState>>,
    bound: Bound,
    opts: ListenOptions,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let slots = Arc::new(AtomicUsize::new(0));
    let app = Handler::App {
        router,
        state,
        hsts: if opts.tls.is_some() {
            opts.hsts.clone()
        } else {
            None
        },
    };
    let limits = Limits {
        max_connections: opts.max_connections,
        drain: opts.drain,
        send_timeout: opts.send_timeout,
    };
    let mut local = Vec::new();
    let mut threads = Vec::new();
    if opts.workers == 0 {
        for l in bound.main {
            let l = tokio::net::TcpListener::from_std(l)?;
            local.push(tokio::spawn(accept_loop(
                l,
                app.clone(),
                opts.tls.clone(),
                slots.clone(),
                limits,
                stop_rx.clone(),
            )));
        }
    } else {
        for (i, l) in bound.main.into_iter().enumerate() {
            let (done_tx, done_rx) = tokio::sync::oneshot::channel::<std::io::Result<()>>();
            let (app, tls, slots, stop) = (
                app.clone(),
                opts.tls.clone(),
                slots.clone(),
                stop_rx.clone(),
            );
            std::thread::Builder::new()
                .name(format!("eds-worker-{i}"))
                .spawn(move || {
                    let r = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .and_then(|rt| {
                            rt.block_on(async move {
                                let l = tokio::net::TcpListener::from_std(l)?;
                                accept_loop(l, app, tls, slots, limits, stop).await;
                                Ok(())
                            })
                        });
                    let _ = done_tx.send(r);
                })?;
            threads.push(done_rx);
        }
    }
    if let Some(l) = bound.redirect {
        let l = tokio::net::TcpListener::from_std(l)?;
        let handler = Handler::Redirect {
            origin: Arc::from(opts.redirect_origin.as_str()),
        };
        local.push(tokio::spawn(accept_loop(
            l,
            handler,
            None,
            slots.clone(),
            limits,
            stop_rx.clone(),
        )));
    }
    shutdown.await;
    let _ = stop_tx.send(true);
    let mut result = Ok(());
    for t in local {
        if let Err(e) = t.await {
            result = Err(std::io::Error::other(format!("accept loop: {e}")));
        }
    }
    for t in threads {
        match t.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => result = Err(e),
            Err(_) => result = Err(std::io::Error::other("worker thread ended abnormally")),
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_keeps_path_and_query_and_ignores_the_host() {
        let uri: axum::http::Uri = "http://evil.example/ward/7?x=1".parse().expect("uri");
        let r = redirect_response("https://mis.example.kz", &uri);
        assert_eq!(r.status(), StatusCode::PERMANENT_REDIRECT);
        assert_eq!(
            r.headers()[header::LOCATION],
            "https://mis.example.kz/ward/7?x=1"
        );
        let star: axum::http::Uri = "*".parse().expect("uri");
        assert_eq!(
            redirect_response("https://mis.example.kz", &star).headers()[header::LOCATION],
            "https://mis.example.kz/"
        );
    }

    #[test]
    fn a_head_answer_keeps_its_length_and_loses_its_body() {
        let r = without_body(Response::new(Body::from("hello")));
        assert_eq!(r.headers()[header::CONTENT_LENGTH], "5");
        assert!(hyper::body::Body::is_end_stream(r.body()));
        let mut up = Response::new(Body::empty());
        up.headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from_static("1048576"));
        assert_eq!(
            without_body(up).headers()[header::CONTENT_LENGTH],
            "1048576"
        );
    }

    #[test]
    fn connection_slots_run_out_and_come_back() {
        let count = Arc::new(AtomicUsize::new(0));
        let a = Slot::take(&count, 2);
        let b = Slot::take(&count, 2);
        assert!(a.is_some() && b.is_some());
        assert!(Slot::take(&count, 2).is_none());
        drop(a);
        assert!(Slot::take(&count, 2).is_some());
    }
}

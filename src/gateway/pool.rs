//! Upstream connections, pooled per worker thread (issue 7 items 1 and 7).
//!
//! Why our own pool rather than hyper-util's legacy `Client`: profiled under wrk (BENCHMARKS.md),
//! the legacy client's per-request work — a pool shared by all threads behind a mutex, a pool key
//! built and hashed per checkout, a task spawned per response to put the connection back, a
//! connector service polled per request — was a visible share of the proxy's CPU, and it gave
//! nothing the gateway needs: every route has one upstream, over HTTP/1.1. What is left is small
//! enough to own: each thread keeps a LIFO stack of idle hyper `client::conn::http1` senders per
//! route (no lock, no task per request, the warmest connection first), and a sender goes back on
//! the stack when its response body has ended. hyper still does all of HTTP/1.1 (framing,
//! keep-alive, upgrades); rustls (through tokio-rustls) does TLS to the upstream.
//!
//! Correctness rules, as the legacy client had them:
//! - a connection goes back on the stack only when hyper says it is ready for the next request
//!   (at once, usually; else from a small task that waits for it, as when the upstream answered
//!   before the request body was all sent), it is used only after `ready()`, and a closed one is
//!   dropped;
//! - a request hyper gives back unsent (the upstream closed the kept-alive connection just as we
//!   picked it) is sent once more on a new connection — never a request that was written;
//! - idle connections are kept at most [`IDLE_FOR`] and [`MAX_IDLE`] per route and thread;
//! - the connection of a `101 Switching Protocols` answer belongs to the WebSocket from then on and
//!   is never pooled.
//!
//! Where idle connections wait ([`Home`]): with `server.workers` ≥ 1 each single-threaded worker
//! runtime has its own stacks (thread-locals: no lock, and a connection is always driven by the
//! runtime that uses it); on a multi-threaded runtime (`workers = 0`) each route has one stack
//! behind a mutex, because tasks move between threads there. A sender whose runtime has gone
//! (tests start many) reports itself closed and is dropped.

use std::cell::RefCell;
use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{Request, Response};
use hyper::body::{Body as HttpBody, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls_pki_types::ServerName;
use tokio::time::Instant;
use tokio_rustls::{TlsConnector, rustls};

/// Idle connections kept per route and thread.
pub const MAX_IDLE: usize = 256;
/// How long an idle connection is kept (below the 60–75 s keep-alive of common servers).
pub const IDLE_FOR: Duration = Duration::from_secs(55);

/// Where and how one route connects.
#[derive(Clone)]
pub struct Connector {
    /// Where this route's idle connections wait.
    home: Home,
    /// Host name or IP address (no brackets) and port.
    host: Arc<str>,
    port: u16,
    /// TLS to the upstream, with the name its certificate must carry.
    tls: Option<(TlsConnector, ServerName<'static>)>,
    /// Limit on TCP connect plus TLS handshake.
    connect: Duration,
}

/// Why no response came.
#[derive(Debug)]
pub enum PoolError {
    /// TCP connect or TLS handshake failed or took longer than the limit (`TimedOut`).
    Connect(std::io::Error),
    /// The HTTP/1.1 exchange failed (reset, closed, unparseable answer).
    Http(hyper::Error),
}

impl std::fmt::Display for PoolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PoolError::Connect(e) => write!(f, "connect: {e}"),
            PoolError::Http(e) => write!(f, "http: {e}"),
        }
    }
}

impl std::error::Error for PoolError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PoolError::Connect(e) => Some(e),
            PoolError::Http(e) => Some(e),
        }
    }
}

/// Oldest first: expired and closed entries are cut from the front whenever one is put back.
type Idle = std::collections::VecDeque<(SendRequest<Body>, Instant)>;

thread_local! {
    /// Route id → this thread's idle connections to it, most recently used last.
    static IDLE: RefCell<HashMap<u64, Idle>> = RefCell::new(HashMap::new());
}

static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A route's idle connections: this thread's stack on a single-threaded runtime (a worker,
/// `server.workers` ≥ 1: its tasks never move, no lock), else one stack shared behind a mutex
/// (a multi-threaded runtime moves tasks between threads; per-thread stacks there would fill
/// one thread's stack with connections taken on another, measured: 260 connections kept for 4
/// concurrent clients).
#[derive(Clone)]
struct Home {
    /// Key of this route's stack in the per-thread table.
    id: u64,
    shared: Arc<Mutex<Idle>>,
}

impl Home {
    /// Runs `f` on the stack this thread should use; `None` while the thread's locals are torn
    /// down.
    fn with<R>(&self, f: impl FnOnce(&mut Idle) -> R) -> Option<R> {
        let current_thread = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread);
        if current_thread {
            IDLE.try_with(|t| f(t.borrow_mut().entry(self.id).or_default()))
                .ok()
        } else {
            let mut g = self
                .shared
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            Some(f(&mut g))
        }
    }
}

impl Connector {
    /// A connector to `host:port`; `tls` with a client config for `https` routes (ALPN is set to
    /// HTTP/1.1 here). `Err` if the host is no valid TLS server name.
    pub fn new(
        host: &str,
        port: u16,
        tls: Option<rustls::ClientConfig>,
        connect: Duration,
    ) -> Result<Connector, String> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let tls = match tls {
            None => None,
            Some(mut cfg) => {
                cfg.alpn_protocols = vec![b"http/1.1".to_vec()];
                let name = ServerName::try_from(host.to_string())
                    .map_err(|e| format!("TLS server name {host:?}: {e}"))?;
                Some((TlsConnector::from(Arc::new(cfg)), name))
            }
        };
        Ok(Connector {
            home: Home {
                id: NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
                shared: Arc::new(Mutex::new(Idle::new())),
            },
            host: Arc::from(host),
            port,
            tls,
            connect,
        })
    }

    /// Sends `req` (origin-form URI, `Host` set) and returns the response head; its body puts the
    /// connection back when it ends.
    pub async fn send(&self, req: Request<Body>) -> Result<Response<PooledBody>, PoolError> {
        let mut req = req;
        // Idle connections first (each tried at most once), then one new connection; a new
        // connection gets a second only when hyper hands the request back unsent.
        let mut fresh_tries = 0;
        // Bound, whatever the stacks hold or gain meanwhile: each idle connection once, plus
        // the new ones.
        let mut attempts = 0;
        loop {
            attempts += 1;
            let idle = if attempts <= MAX_IDLE + 1 {
                self.take_idle()
            } else {
                None
            };
            let (mut sender, reused) = match idle {
                Some(s) => (s, true),
                None => {
                    fresh_tries += 1;
                    (self.open().await?, false)
                }
            };
            if reused && sender.ready().await.is_err() {
                continue;
            }
            match sender.try_send_request(req).await {
                Ok(resp) => return Ok(self.pooled(resp, sender)),
                Err(mut e) => match e.take_message() {
                    Some(back) if reused || fresh_tries < 2 => req = back,
                    _ => return Err(PoolError::Http(e.into_error())),
                },
            }
        }
    }

    fn pooled(&self, resp: Response<Incoming>, sender: SendRequest<Body>) -> Response<PooledBody> {
        // A 1xx (101: the socket is the WebSocket's now) never returns to the pool.
        let keep = !resp.status().is_informational();
        let (parts, inner) = resp.into_parts();
        let mut body = PooledBody {
            inner,
            back: keep.then(|| (sender, self.home.clone())),
        };
        // A body that is empty already is never polled to its end by some consumers.
        if HttpBody::is_end_stream(&body.inner) {
            body.give_back();
        }
        Response::from_parts(parts, body)
    }

    /// The most recently used live idle connection of this thread, if any.
    fn take_idle(&self) -> Option<SendRequest<Body>> {
        self.home
            .with(|stack| {
                let now = Instant::now();
                while let Some((s, since)) = stack.pop_back() {
                    if !s.is_closed() && now.duration_since(since) < IDLE_FOR {
                        return Some(s);
                    }
                }
                None
            })
            .flatten()
    }

    /// A new connection (TCP, TLS if configured, HTTP/1.1 handshake), its task spawned.
    async fn open(&self) -> Result<SendRequest<Body>, PoolError> {
        let work = async {
            let tcp = tokio::net::TcpStream::connect((&*self.host, self.port))
                .await
                .map_err(PoolError::Connect)?;
            let _ = tcp.set_nodelay(true);
            match &self.tls {
                None => start(TokioIo::new(tcp)).await,
                Some((c, name)) => {
                    let s = c
                        .connect(name.clone(), tcp)
                        .await
                        .map_err(PoolError::Connect)?;
                    start(TokioIo::new(s)).await
                }
            }
        };
        match tokio::time::timeout(self.connect, work).await {
            Ok(r) => r,
            Err(_) => Err(PoolError::Connect(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no connection within {} s", self.connect.as_secs()),
            ))),
        }
    }
}

/// HTTP/1.1 on `io`; the connection runs in its own task (with upgrades, for WebSockets).
async fn start<I>(io: I) -> Result<SendRequest<Body>, PoolError>
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::Builder::new()
        .handshake::<I, Body>(io)
        .await
        .map_err(PoolError::Http)?;
    // Its errors reach the request or the response body; nothing to report here.
    tokio::spawn(async move {
        let _ = conn.with_upgrades().await;
    });
    Ok(sender)
}

/// Puts `sender` on the stack of `home` this thread uses.
fn put_back(sender: SendRequest<Body>, home: &Home) {
    if sender.is_closed() {
        return;
    }
    // `None` (a body dropped while the thread's locals are torn down): the sender is dropped.
    let _ = home.with(|stack| {
        let now = Instant::now();
        // Connections left below the top after a burst would otherwise stay open while light
        // traffic keeps reusing the top one.
        while stack
            .front()
            .is_some_and(|(s, since)| s.is_closed() || now.duration_since(*since) >= IDLE_FOR)
        {
            stack.pop_front();
        }
        if stack.len() >= MAX_IDLE {
            // The oldest goes.
            stack.pop_front();
        }
        stack.push_back((sender, now));
    });
}

/// A response body from the upstream; when it ends, its connection goes back to the pool.
pub struct PooledBody {
    inner: Incoming,
    back: Option<(SendRequest<Body>, Home)>,
}

impl PooledBody {
    fn give_back(&mut self) {
        let Some((mut s, home)) = self.back.take() else {
            return;
        };
        if s.is_ready() {
            // The usual case: hyper's connection task finished the exchange before the last
            // frame reached us.
            put_back(s, &home);
        } else if !s.is_closed()
            && let Ok(rt) = tokio::runtime::Handle::try_current()
        {
            // Still busy — say the upstream answered early and the request body is still being
            // sent: back on the stack once it is free, so nobody picks a busy connection.
            rt.spawn(async move {
                if let Ok(Ok(())) = tokio::time::timeout(IDLE_FOR, s.ready()).await {
                    put_back(s, &home);
                }
            });
        }
    }
}

impl HttpBody for PooledBody {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let r = Pin::new(&mut self.inner).poll_frame(cx);
        match &r {
            Poll::Ready(None) => self.give_back(),
            Poll::Ready(Some(Err(_))) => self.back = None,
            Poll::Ready(Some(Ok(_))) if self.inner.is_end_stream() => self.give_back(),
            _ => {}
        }
        r
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for PooledBody {
    fn drop(&mut self) {
        // Dropped before its end (the client went away): the connection is mid-response and
        // cannot be reused; dropping the sender lets hyper close it.
        if self.back.is_some() && self.inner.is_end_stream() {
            self.give_back();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bracketed_ipv6_host_is_connected_to_without_brackets() {
        let c = Connector::new("[::1]", 8080, None, Duration::from_secs(1)).expect("connector");
        assert_eq!(&*c.host, "::1");
    }

    #[test]
    fn a_tls_connector_wants_a_valid_server_name() {
        let cfg = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_root_certificates(rustls::RootCertStore::empty())
        .with_no_client_auth();
        assert!(
            Connector::new("mis.local", 443, Some(cfg.clone()), Duration::from_secs(1)).is_ok()
        );
        assert!(Connector::new("bad host", 443, Some(cfg), Duration::from_secs(1)).is_err());
    }
}

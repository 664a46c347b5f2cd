//! WebSocket pass-through: after the upstream answered 101, the client's and the upstream's
//! upgraded connections are joined byte for byte (`copy_bidirectional`), and cut when neither
//! side sent anything for the route's idle limit. Relies only on `hyper::upgrade::on` working
//! on both sides (the listener must serve connections with upgrades enabled).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::http::HeaderMap;
use axum::http::header;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// Is this a WebSocket upgrade request (RFC 6455 §4.1: `Upgrade: websocket` and `Connection`
/// naming `upgrade`)?
pub fn is_upgrade(h: &HeaderMap) -> bool {
    let upgrade = h
        .get_all(header::UPGRADE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|s| s.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("websocket"));
    let connection = h
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|s| s.split(','))
        .any(|p| p.trim().eq_ignore_ascii_case("upgrade"));
    upgrade && connection
}

/// Joins the two upgraded connections until one side closes or both are idle for `idle`.
pub async fn join(client: OnUpgrade, upstream: OnUpgrade, idle: Duration) {
    let (c, u) = tokio::join!(client, upstream);
    let (Ok(c), Ok(u)) = (c, u) else {
        return;
    };
    let seen = Arc::new(Seen {
        base: Instant::now(),
        ms: AtomicU64::new(0),
    });
    let mut c = Watched {
        io: TokioIo::new(c),
        seen: seen.clone(),
    };
    let mut u = TokioIo::new(u);
    let copy = tokio::io::copy_bidirectional(&mut c, &mut u);
    tokio::pin!(copy);
    loop {
        let deadline = seen.last() + idle;
        tokio::select! {
            _ = &mut copy => return,
            _ = tokio::time::sleep_until(deadline) => {
                if seen.last() + idle <= Instant::now() {
                    return; // dropping both ends closes them
                }
            }
        }
    }
}

struct Seen {
    base: Instant,
    ms: AtomicU64,
}

impl Seen {
    fn touch(&self) {
        let ms = u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.ms.store(ms, Ordering::Relaxed);
    }
    fn last(&self) -> Instant {
        self.base + Duration::from_millis(self.ms.load(Ordering::Relaxed))
    }
}

/// The client's side, noting every byte that passes either way.
struct Watched<T> {
    io: T,
    seen: Arc<Seen>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let r = Pin::new(&mut this.io).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.seen.touch();
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.io).poll_write(cx, data);
        if let Poll::Ready(Ok(n)) = &r
            && *n > 0
        {
            this.seen.touch();
        }
        r
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn an_upgrade_needs_both_headers_in_any_case() {
        let mut h = HeaderMap::new();
        h.insert(header::UPGRADE, HeaderValue::from_static("WebSocket"));
        assert!(!is_upgrade(&h));
        h.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, Upgrade"),
        );
        assert!(is_upgrade(&h));
        h.insert(header::UPGRADE, HeaderValue::from_static("h2c"));
        assert!(!is_upgrade(&h));
    }
}

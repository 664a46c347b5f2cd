//! Streaming bodies with an idle limit, and the clock of the first-byte timeout.
//!
//! A body is passed frame by frame (never collected: memory stays bounded by hyper's buffers
//! whatever the size). [`IdleBody`] fails the body when its producer is silent for longer than
//! the idle limit — only while someone is waiting for it, so a slow reader on the other side
//! does not count against the producer. Failing a response body makes hyper end the client's
//! connection (HTTP/1.1) or reset the stream (HTTP/2): the client sees a broken body, not a hang.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Bytes;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use tokio::time::{Instant, Sleep};

/// Boxed error of a streamed body.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a body stream was cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdleTimeout;

impl std::fmt::Display for IdleTimeout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("body idle timeout")
    }
}

impl std::error::Error for IdleTimeout {}

/// When a request body last made progress (the first-byte clock restarts from there).
#[derive(Debug)]
pub struct Progress {
    base: Instant,
    last_ms: AtomicU64,
}

impl Progress {
    /// Starts now.
    pub fn new() -> Arc<Progress> {
        Arc::new(Progress {
            base: Instant::now(),
            last_ms: AtomicU64::new(0),
        })
    }
    /// Marks progress now.
    pub fn touch(&self) {
        let ms = u64::try_from(self.base.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_ms.store(ms, Ordering::Relaxed);
    }
    /// The last progress.
    pub fn last(&self) -> Instant {
        self.base + Duration::from_millis(self.last_ms.load(Ordering::Relaxed))
    }
}

/// `inner` with an idle limit; frames also mark `progress`, if given.
pub struct IdleBody<B> {
    inner: B,
    idle: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
    waiting: bool,
    progress: Option<Arc<Progress>>,
}

impl<B> IdleBody<B> {
    /// Wraps `inner`.
    pub fn new(inner: B, idle: Duration, progress: Option<Arc<Progress>>) -> IdleBody<B> {
        IdleBody {
            inner,
            idle,
            sleep: None,
            waiting: false,
            progress,
        }
    }
}

impl<B> HttpBody for IdleBody<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let started = !this.waiting;
        this.waiting = true;
        if let Poll::Ready(r) = Pin::new(&mut this.inner).poll_frame(cx) {
            this.waiting = false;
            if let Some(p) = &this.progress {
                p.touch();
            }
            return Poll::Ready(r.map(|f| f.map_err(Into::into)));
        }
        // The producer has nothing yet: the idle clock runs from the first poll that waits.
        let deadline = Instant::now() + this.idle;
        let sleep = match &mut this.sleep {
            Some(s) => {
                if started {
                    s.as_mut().reset(deadline);
                }
                s
            }
            None => this
                .sleep
                .insert(Box::pin(tokio::time::sleep_until(deadline))),
        };
        if sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Some(Err(Box::new(IdleTimeout))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn a_silent_producer_is_cut_after_the_idle_limit() {
        use futures_util::StreamExt;
        let frames = futures_util::stream::iter([Ok::<_, std::convert::Infallible>(Frame::data(
            Bytes::from_static(b"first"),
        ))])
        .chain(futures_util::stream::pending());
        let body = http_body_util::StreamBody::new(frames);
        let mut b = IdleBody::new(body, Duration::from_millis(100), None);
        let f = b.frame().await.expect("frame").expect("ok");
        assert_eq!(f.into_data().expect("data"), "first");
        let e = b.frame().await.expect("an error, not the end");
        assert!(e.is_err());
    }
}

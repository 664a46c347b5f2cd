//! A switchable TCP relay in front of the responder (OCSP, CRL) and the gateway's webhook: the
//! drill takes a channel "down" by closing every relayed connection, open or new, so pooled
//! keep-alive connections cannot hide an outage.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct State {
    target: Option<SocketAddr>,
    up: bool,
}

/// The relay; stops when dropped.
pub struct FaultProxy {
    /// Where it listens (127.0.0.1, ephemeral port).
    pub addr: SocketAddr,
    state: watch::Sender<State>,
    task: JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on 127.0.0.1:0 and relays to `target` (none: refuse everything).
    pub async fn start(target: Option<SocketAddr>) -> std::io::Result<FaultProxy> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = watch::channel(State { target, up: true });
        let task = tokio::spawn(accept_loop(listener, rx));
        Ok(FaultProxy {
            addr,
            state: tx,
            task,
        })
    }

    /// Up (relays) or down (closes every connection).
    pub fn set_up(&self, up: bool) {
        self.state.send_modify(|s| s.up = up);
    }

    /// Relays to another target from now on (open connections are closed).
    pub fn set_target(&self, target: Option<SocketAddr>) {
        self.state.send_modify(|s| s.target = target);
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, rx: watch::Receiver<State>) {
    loop {
        let Ok((inbound, _)) = listener.accept().await else {
            continue;
        };
        let state = *rx.borrow();
        let (true, Some(target)) = (state.up, state.target) else {
            drop(inbound);
            continue;
        };
        let mut rx = rx.clone();
        tokio::spawn(async move {
            let Ok(mut outbound) = TcpStream::connect(target).await else {
                return;
            };
            let mut inbound = inbound;
            tokio::select! {
                _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                _ = async {
                    // Any change of the switch ends the relayed connection.
                    while rx.changed().await.is_ok() {
                        if *rx.borrow() != state {
                            break;
                        }
                    }
                } => {}
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn relays_when_up_and_closes_open_connections_when_down() {
        let echo = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let echo_addr = echo.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut s, _)) = echo.accept().await {
                tokio::spawn(async move {
                    let mut b = [0u8; 64];
                    while let Ok(n) = s.read(&mut b).await {
                        if n == 0 || s.write_all(&b[..n]).await.is_err() {
                            break;
                        }
                    }
                });
            }
        });
        let p = FaultProxy::start(Some(echo_addr)).await.expect("proxy");
        let mut c = TcpStream::connect(p.addr).await.expect("connect");
        c.write_all(b"hi").await.expect("write");
        let mut b = [0u8; 2];
        c.read_exact(&mut b).await.expect("echo");
        assert_eq!(&b, b"hi");
        p.set_up(false);
        let mut rest = Vec::new();
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), c.read_to_end(&mut rest))
            .await
            .expect("closed in time");
        assert!(matches!(n, Ok(0) | Err(_)));
        let mut c2 = TcpStream::connect(p.addr).await.expect("connect");
        let _ = c2.write_all(b"x").await;
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), c2.read(&mut b))
            .await
            .expect("closed in time");
        assert!(matches!(n, Ok(0) | Err(_)));
    }
}

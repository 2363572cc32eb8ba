//! A loopback TCP proxy that fails the way real networks do, for the
//! reconnection tests: [`Proxy::cut`] ends every connection through it at
//! once (a NAT rebinding, a load balancer restart), [`Proxy::refuse`] makes
//! new connections fail (the path is down), and [`Proxy::black_hole`]
//! keeps connections open while dropping every byte (a phone that changed
//! networks: no FIN, no RST, only silence). Every task it starts stops
//! when it is dropped.

#![allow(dead_code, unreachable_pub)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

#[derive(Debug, Default)]
struct State {
    refusing: AtomicBool,
    black_hole: AtomicBool,
    /// Connections accepted and forwarded.
    forwarded: AtomicU64,
    /// Connections refused.
    refused: AtomicU64,
    /// The live connections' pumps.
    pumps: Mutex<JoinSet<()>>,
}

/// The proxy; clients connect to [`Proxy::addr`].
#[derive(Debug)]
pub struct Proxy {
    /// Where clients connect.
    pub addr: SocketAddr,
    state: Arc<State>,
    acceptor: JoinHandle<()>,
}

impl Proxy {
    /// Forwards connections to `target`.
    pub async fn start(target: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let state = Arc::new(State::default());
        let shared = Arc::clone(&state);
        let acceptor = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if shared.refusing.load(Ordering::Relaxed) {
                    shared.refused.fetch_add(1, Ordering::Relaxed);
                    drop(client);
                    continue;
                }
                let Ok(server) = TcpStream::connect(target).await else {
                    continue;
                };
                shared.forwarded.fetch_add(1, Ordering::Relaxed);
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let state = Arc::clone(&shared);
                shared
                    .pumps
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .spawn(pump_both(client, server, state));
            }
        });
        Self {
            addr,
            state,
            acceptor,
        }
    }

    /// A `ws://` URL through the proxy.
    pub fn ws_url(&self) -> String {
        format!("ws://{}/ws", self.addr)
    }

    /// Ends every connection through the proxy now (both sockets close
    /// without a WebSocket goodbye).
    pub fn cut(&self) {
        self.state
            .pumps
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .abort_all();
    }

    /// While on, new connections are accepted and closed at once.
    pub fn refuse(&self, on: bool) {
        self.state.refusing.store(on, Ordering::Relaxed);
    }

    /// While on, every byte either way is dropped; connections stay open.
    pub fn black_hole(&self, on: bool) {
        self.state.black_hole.store(on, Ordering::Relaxed);
    }

    /// Connections forwarded so far.
    pub fn forwarded(&self) -> u64 {
        self.state.forwarded.load(Ordering::Relaxed)
    }

    /// Connections refused so far.
    pub fn refused(&self) -> u64 {
        self.state.refused.load(Ordering::Relaxed)
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.acceptor.abort();
        self.cut();
    }
}

async fn pump_both(client: TcpStream, server: TcpStream, state: Arc<State>) {
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::select! {
        () = pump(client_read, server_write, &state) => {}
        () = pump(server_read, client_write, &state) => {}
    }
}

/// Copies one direction until either side ends, dropping what arrives
/// while the black hole is on.
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    state: &State,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if state.black_hole.load(Ordering::Relaxed) {
            continue;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

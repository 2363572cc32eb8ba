//! A TCP stream that can move between threads' IO drivers (shell). A
//! session starts on the thread that accepted it and moves to the shard of
//! the room it joins (see `runtime::shards`); its socket moves with it, so
//! that the socket's readiness wakes the room's thread and no other.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Something whose sockets can leave the IO driver they are registered
/// with and join the current thread's.
pub trait Movable {
    /// Unhooks the sockets from their IO driver; reads and writes fail with
    /// `NotConnected` until [`Movable::attach`]. Buffered data stays.
    fn detach(&mut self) -> io::Result<()>;
    /// Hooks detached sockets to the IO driver of the runtime this is
    /// called on (a no-op when attached).
    fn attach(&mut self) -> io::Result<()>;
}

/// A TCP stream registered with one runtime's IO driver, or detached
/// while it moves to another.
#[derive(Debug)]
pub struct MovableTcp {
    state: State,
}

#[derive(Debug)]
enum State {
    Attached(TcpStream),
    Detached(std::net::TcpStream),
    /// A move failed half-way; the connection is lost.
    Broken,
}

impl MovableTcp {
    /// Wraps a stream registered with the current runtime.
    pub fn new(stream: TcpStream) -> Self {
        Self {
            state: State::Attached(stream),
        }
    }

    /// Polls the registered stream, or fails with `NotConnected` while
    /// detached.
    fn poll_attached<T>(
        self: Pin<&mut Self>,
        poll: impl FnOnce(Pin<&mut TcpStream>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        match &mut self.get_mut().state {
            State::Attached(stream) => poll(Pin::new(stream)),
            State::Detached(_) | State::Broken => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "socket detached while moving between shards",
            ))),
        }
    }
}

impl Movable for MovableTcp {
    fn detach(&mut self) -> io::Result<()> {
        match std::mem::replace(&mut self.state, State::Broken) {
            State::Attached(stream) => {
                self.state = State::Detached(stream.into_std()?);
                Ok(())
            }
            other => {
                self.state = other;
                Ok(())
            }
        }
    }

    fn attach(&mut self) -> io::Result<()> {
        match std::mem::replace(&mut self.state, State::Broken) {
            State::Detached(stream) => {
                self.state = State::Attached(TcpStream::from_std(stream)?);
                Ok(())
            }
            State::Attached(stream) => {
                self.state = State::Attached(stream);
                Ok(())
            }
            State::Broken => Err(io::Error::new(
                io::ErrorKind::NotConnected,
                "socket lost while moving between shards",
            )),
        }
    }
}

impl<S: Movable> Movable for tokio_rustls::server::TlsStream<S> {
    fn detach(&mut self) -> io::Result<()> {
        self.get_mut().0.detach()
    }

    fn attach(&mut self) -> io::Result<()> {
        self.get_mut().0.attach()
    }
}

impl AsyncRead for MovableTcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.poll_attached(|stream| stream.poll_read(cx, buf))
    }
}

impl AsyncWrite for MovableTcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_attached(|stream| stream.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_attached(|stream| stream.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        matches!(&self.state, State::Attached(stream) if stream.is_write_vectored())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_attached(|stream| stream.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_attached(|stream| stream.poll_shutdown(cx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A stream moved to another runtime keeps its unread data and goes on
    /// working there; detached, it refuses IO instead of blocking.
    #[test]
    fn moves_between_runtimes_without_losing_data() {
        let runtime = || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
        };
        let (first, second) = (runtime(), runtime());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let mut peer =
            std::net::TcpStream::connect(listener.local_addr().expect("addr")).expect("connect");
        let (server, _) = listener.accept().expect("accept");
        server.set_nonblocking(true).expect("nonblocking");
        let mut moving = first
            .block_on(async { MovableTcp::new(TcpStream::from_std(server).expect("register")) });
        io::Write::write_all(&mut peer, b"before").expect("peer write");
        first.block_on(async {
            let mut buf = [0u8; 3];
            moving.read_exact(&mut buf).await.expect("read");
            assert_eq!(&buf, b"bef");
        });
        moving.detach().expect("detach");
        first.block_on(async {
            let mut buf = [0u8; 3];
            let err = moving.read(&mut buf).await.expect_err("detached");
            assert_eq!(err.kind(), io::ErrorKind::NotConnected);
        });
        drop(first);
        second.block_on(async {
            moving.attach().expect("attach");
            let mut buf = [0u8; 3];
            moving.read_exact(&mut buf).await.expect("read the rest");
            assert_eq!(&buf, b"ore");
            moving.write_all(b"after").await.expect("write");
        });
        let mut buf = [0u8; 5];
        io::Read::read_exact(&mut peer, &mut buf).expect("peer read");
        assert_eq!(&buf, b"after");
    }
}

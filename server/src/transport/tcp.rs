//! A TCP stream that can move between threads' IO drivers, and that a
//! room can write to directly (shell). A session starts on the thread that
//! accepted it and moves to the shard of the room it joins (see
//! `runtime::shards`); its socket moves with it, so that the socket's
//! readiness wakes the room's thread and no other. Once there, the room
//! writes each update to the socket itself ([`DirectTcp`]) instead of
//! waking the session to do it, falling back to the session whenever the
//! socket cannot take the update whole at once.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, ready};
use std::thread::ThreadId;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

use super::DirectOutcome;

/// Something whose sockets can leave the IO driver they are registered
/// with and join the current thread's.
pub trait Movable {
    /// Unhooks the sockets from their IO driver; reads and writes fail with
    /// `NotConnected` until [`Movable::attach`]. Buffered data stays.
    fn detach(&mut self) -> io::Result<()>;
    /// Hooks detached sockets to the IO driver of the runtime this is
    /// called on (a no-op when attached).
    fn attach(&mut self) -> io::Result<()>;
    /// Takes the sockets out of the IO driver while someone else polls
    /// them at times of its own (a room, at each tick): reads are then
    /// made without registering interest, so data arriving wakes no
    /// thread; a write that cannot go at once hooks the socket to the
    /// driver again to wait. A no-op where not attached.
    fn park(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// Hooks parked sockets to the IO driver again (a no-op otherwise).
    fn unpark(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// When the newest data read while parked arrived (the kernel's
    /// receive timestamp, microseconds since the Unix epoch): data waits in
    /// the socket until its room reads it, and whoever answers it (a ping)
    /// must count that wait.
    fn received_at(&self) -> Option<u64> {
        None
    }
    /// A handle through which a room on the socket's thread can write
    /// to it directly; `None` where bytes must pass through a layer with
    /// state of its own (TLS).
    fn direct(&self) -> Option<DirectTcp> {
        None
    }
}

/// A TCP stream registered with one runtime's IO driver, or detached
/// while it moves to another. The stream's owner (tungstenite) and one
/// [`DirectTcp`] handle share it.
#[derive(Debug)]
pub struct MovableTcp {
    conn: Arc<Mutex<Conn>>,
}

#[derive(Debug)]
struct Conn {
    state: State,
    /// The thread whose IO driver the socket is registered with, once it
    /// is on a shard: direct writes are made from there only, where the
    /// owner cannot be in the middle of anything.
    home: Option<ThreadId>,
    /// Whether direct writes are allowed (the session allows them once its
    /// client knows which room the updates are from).
    direct: bool,
    /// The part of a direct write the socket did not take; it goes out
    /// before anything else is written.
    pending: Vec<u8>,
    /// Whether the owner has handed over only part of what it is writing.
    /// tungstenite passes its whole unsent buffer to every write, so a
    /// write taken whole means no frame of its is half-sent.
    owner_mid_write: bool,
    /// The kernel's receive timestamp of the newest data read while
    /// parked, microseconds since the Unix epoch.
    received_at: Option<u64>,
    /// Whether the socket stamps what it receives (`SO_TIMESTAMPNS`, set
    /// when first parked).
    stamping: bool,
}

#[derive(Debug)]
enum State {
    Attached(TcpStream),
    Detached(std::net::TcpStream),
    /// Out of the IO driver, at home, polled without wakers (see
    /// [`Movable::park`]).
    Parked(std::net::TcpStream),
    /// A move failed half-way; the connection is lost.
    Broken,
}

fn detached() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotConnected,
        "socket detached while moving between shards",
    )
}

impl Conn {
    /// Hooks a parked socket to the IO driver again, so that a write can
    /// wait for room.
    fn unpark(&mut self) -> io::Result<()> {
        if let State::Parked(_) = self.state {
            let State::Parked(stream) = std::mem::replace(&mut self.state, State::Broken) else {
                unreachable!("checked just above");
            };
            self.state = State::Attached(TcpStream::from_std(stream)?);
        }
        Ok(())
    }

    /// Reads for the owner: through the driver, or, parked, straight from
    /// the socket without registering a waker (whoever parked it polls
    /// again at a time of its own).
    fn poll_read(&mut self, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match &mut self.state {
            State::Attached(stream) => Pin::new(stream).poll_read(cx, buf),
            State::Parked(stream) => match stamped::read(stream, buf.initialize_unfilled()) {
                Ok((n, stamp)) => {
                    buf.advance(n);
                    if stamp.is_some() {
                        self.received_at = stamp;
                    }
                    Poll::Ready(Ok(()))
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Poll::Pending,
                Err(e) => Poll::Ready(Err(e)),
            },
            State::Detached(_) | State::Broken => Poll::Ready(Err(detached())),
        }
    }

    /// Writes what a direct write left over; ready once none is left.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.pending.is_empty() {
            self.unpark()?;
        }
        while !self.pending.is_empty() {
            let State::Attached(stream) = &mut self.state else {
                return Poll::Ready(Err(detached()));
            };
            let n = ready!(Pin::new(stream).poll_write(cx, &self.pending))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.pending.drain(..n);
        }
        Poll::Ready(Ok(()))
    }

    /// Polls the registered stream, or fails with `NotConnected` while
    /// detached.
    fn poll_attached<T>(
        &mut self,
        poll: impl FnOnce(Pin<&mut TcpStream>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        // The owner writes through the driver, so that it can wait.
        self.unpark()?;
        match &mut self.state {
            State::Attached(stream) => poll(Pin::new(stream)),
            State::Detached(_) | State::Parked(_) | State::Broken => Poll::Ready(Err(detached())),
        }
    }

    /// Writes for the owner, after any direct leftovers, noting whether it
    /// was taken whole.
    fn poll_owner_write(
        &mut self,
        cx: &mut Context<'_>,
        len: usize,
        write: impl FnOnce(Pin<&mut TcpStream>, &mut Context<'_>) -> Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        self.owner_mid_write = true;
        ready!(self.poll_pending(cx))?;
        let n = ready!(self.poll_attached(|stream| write(stream, cx)))?;
        self.owner_mid_write = n < len;
        Poll::Ready(Ok(n))
    }
}

impl MovableTcp {
    /// Wraps a stream registered with the current runtime.
    pub fn new(stream: TcpStream) -> Self {
        Self {
            conn: Arc::new(Mutex::new(Conn {
                state: State::Attached(stream),
                home: None,
                direct: false,
                pending: Vec::new(),
                owner_mid_write: false,
                received_at: None,
                stamping: false,
            })),
        }
    }

    fn conn(&self) -> MutexGuard<'_, Conn> {
        lock(&self.conn)
    }
}

fn lock(conn: &Mutex<Conn>) -> MutexGuard<'_, Conn> {
    conn.lock().unwrap_or_else(|p| p.into_inner())
}

impl Movable for MovableTcp {
    fn detach(&mut self) -> io::Result<()> {
        let mut conn = self.conn();
        conn.home = None;
        match std::mem::replace(&mut conn.state, State::Broken) {
            State::Attached(stream) => {
                conn.state = State::Detached(stream.into_std()?);
                Ok(())
            }
            State::Parked(stream) => {
                conn.state = State::Detached(stream);
                Ok(())
            }
            other => {
                conn.state = other;
                Ok(())
            }
        }
    }

    fn attach(&mut self) -> io::Result<()> {
        let mut conn = self.conn();
        let attached = match std::mem::replace(&mut conn.state, State::Broken) {
            State::Detached(stream) | State::Parked(stream) => TcpStream::from_std(stream)?,
            State::Attached(stream) => stream,
            State::Broken => {
                return Err(io::Error::new(
                    io::ErrorKind::NotConnected,
                    "socket lost while moving between shards",
                ));
            }
        };
        conn.state = State::Attached(attached);
        conn.home = Some(std::thread::current().id());
        Ok(())
    }

    fn direct(&self) -> Option<DirectTcp> {
        Some(DirectTcp {
            conn: Arc::clone(&self.conn),
        })
    }

    fn park(&mut self) -> io::Result<()> {
        let mut conn = self.conn();
        if let State::Attached(_) = conn.state {
            let State::Attached(stream) = std::mem::replace(&mut conn.state, State::Broken) else {
                unreachable!("checked just above");
            };
            let stream = stream.into_std()?;
            if !conn.stamping {
                // Without stamps the session counts from when it read.
                conn.stamping = stamped::enable(&stream).is_ok();
            }
            conn.state = State::Parked(stream);
        }
        Ok(())
    }

    fn unpark(&mut self) -> io::Result<()> {
        self.conn().unpark()
    }

    fn received_at(&self) -> Option<u64> {
        self.conn().received_at
    }
}

/// Reads with the kernel's receive timestamp (`SO_TIMESTAMPNS`, which
/// Linux gives TCP sockets too: the arrival of the newest data read).
mod stamped {
    use std::io;
    use std::os::fd::AsRawFd;

    /// Asks the kernel to stamp what `stream` receives.
    pub(super) fn enable(stream: &std::net::TcpStream) -> io::Result<()> {
        let on: libc::c_int = 1;
        // SAFETY: a valid socket, and a pointer to an int of the size given.
        let rc = unsafe {
            libc::setsockopt(
                stream.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_TIMESTAMPNS,
                (&raw const on).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }

    /// One non-blocking read into `buf`: the bytes read, and when the
    /// newest of them arrived (microseconds since the Unix epoch) if the
    /// kernel said.
    pub(super) fn read(
        stream: &std::net::TcpStream,
        buf: &mut [u8],
    ) -> io::Result<(usize, Option<u64>)> {
        // Room for one `SCM_TIMESTAMPNS` (a timespec) with its header.
        let mut control = [0u64; 8];
        let mut iov = libc::iovec {
            iov_base: buf.as_mut_ptr().cast(),
            iov_len: buf.len(),
        };
        // SAFETY: zeroed is a valid msghdr; every pointer set below points
        // to a live buffer of the length given with it.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = &raw mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = size_of_val(&control) as _;
        // SAFETY: a valid socket and the msghdr above.
        let n = unsafe { libc::recvmsg(stream.as_raw_fd(), &raw mut msg, libc::MSG_DONTWAIT) };
        let Ok(n) = usize::try_from(n) else {
            return Err(io::Error::last_os_error());
        };
        let mut stamp = None;
        // SAFETY: the kernel filled `msg`'s control part; the CMSG macros
        // walk it within `msg_controllen`.
        unsafe {
            let mut cmsg = libc::CMSG_FIRSTHDR(&raw const msg);
            while !cmsg.is_null() {
                if (*cmsg).cmsg_level == libc::SOL_SOCKET
                    && (*cmsg).cmsg_type == libc::SCM_TIMESTAMPNS
                {
                    let ts =
                        std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast::<libc::timespec>());
                    let us = i128::from(ts.tv_sec) * 1_000_000 + i128::from(ts.tv_nsec) / 1_000;
                    stamp = u64::try_from(us).ok();
                }
                cmsg = libc::CMSG_NXTHDR(&raw const msg, cmsg);
            }
        }
        Ok((n, stamp))
    }
}

impl<S: Movable> Movable for tokio_rustls::server::TlsStream<S> {
    fn detach(&mut self) -> io::Result<()> {
        self.get_mut().0.detach()
    }

    fn attach(&mut self) -> io::Result<()> {
        self.get_mut().0.attach()
    }

    fn park(&mut self) -> io::Result<()> {
        self.get_mut().0.park()
    }

    fn unpark(&mut self) -> io::Result<()> {
        self.get_mut().0.unpark()
    }

    fn received_at(&self) -> Option<u64> {
        self.get_ref().0.received_at()
    }
}

/// A room's handle on a member's socket: writes whole messages straight
/// to it from the socket's home thread, in between the owner's writes.
#[derive(Clone, Debug)]
pub struct DirectTcp {
    conn: Arc<Mutex<Conn>>,
}

impl DirectTcp {
    /// Allows or stops direct writes.
    pub fn allow(&self, allowed: bool) {
        lock(&self.conn).direct = allowed;
    }

    /// Writes `parts` (whole messages, in order) in one write now, if
    /// direct writes are allowed, this is the socket's home thread, nothing
    /// else is waiting to go out, and the socket takes at least part of
    /// them; the rest waits in `pending`.
    pub fn try_write(&self, parts: &[io::IoSlice<'_>]) -> DirectOutcome {
        let mut conn = lock(&self.conn);
        let ready = conn.direct
            && !conn.owner_mid_write
            && conn.pending.is_empty()
            && conn.home == Some(std::thread::current().id());
        if !ready {
            return DirectOutcome::Declined;
        }
        let written = match &conn.state {
            State::Attached(stream) => stream.try_write_vectored(parts),
            State::Parked(stream) => io::Write::write_vectored(&mut &*stream, parts),
            State::Detached(_) | State::Broken => return DirectOutcome::Declined,
        };
        let total: usize = parts.iter().map(|p| p.len()).sum();
        let mut written = match written {
            Ok(0) | Err(_) => return DirectOutcome::Declined,
            Ok(n) if n == total => return DirectOutcome::Written,
            Ok(n) => n,
        };
        for part in parts {
            let done = written.min(part.len());
            conn.pending.extend_from_slice(&part[done..]);
            written -= done;
        }
        DirectOutcome::Queued
    }
}

impl AsyncRead for MovableTcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.conn().poll_read(cx, buf)
    }
}

impl AsyncWrite for MovableTcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.conn()
            .poll_owner_write(cx, buf.len(), |stream, cx| stream.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let len = bufs.iter().map(|b| b.len()).sum();
        self.conn()
            .poll_owner_write(cx, len, |stream, cx| stream.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        match &self.conn().state {
            State::Attached(stream) => stream.is_write_vectored(),
            State::Parked(_) => true,
            State::Detached(_) | State::Broken => false,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut conn = self.conn();
        ready!(conn.poll_pending(cx))?;
        conn.poll_attached(|stream| stream.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut conn = self.conn();
        ready!(conn.poll_pending(cx))?;
        conn.poll_attached(|stream| stream.poll_shutdown(cx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A connected pair on loopback: ours (wrapped) and the peer's. With
    /// `small`, ours sends through a 4 KiB buffer to a peer receiving into
    /// one, so that big writes are taken only in part.
    async fn pair(small: bool) -> (MovableTcp, TcpStream) {
        let listener = tokio::net::TcpSocket::new_v4().expect("socket");
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        if small {
            listener.set_recv_buffer_size(4096).expect("rcvbuf");
            socket.set_send_buffer_size(4096).expect("sndbuf");
        }
        listener
            .bind("127.0.0.1:0".parse().expect("addr"))
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let listener = listener.listen(1).expect("listen");
        let (ours, peer) = tokio::join!(socket.connect(addr), listener.accept());
        let ours = MovableTcp::new(ours.expect("connect"));
        (ours, peer.expect("accept").0)
    }

    /// A pair with small buffers, at home on this thread, direct writes
    /// allowed.
    async fn choked() -> (MovableTcp, TcpStream, DirectTcp) {
        let (mut ours, peer) = pair(true).await;
        ours.attach().expect("attach here");
        let direct = ours.direct().expect("plain TCP has a direct handle");
        direct.allow(true);
        (ours, peer, direct)
    }

    /// A direct write of two parts.
    fn write_two(direct: &DirectTcp, head: &[u8], body: &[u8]) -> DirectOutcome {
        direct.try_write(&[io::IoSlice::new(head), io::IoSlice::new(body)])
    }

    /// Reads `len` bytes on the peer's side, concurrently.
    fn read_all(mut peer: TcpStream, len: usize) -> tokio::task::JoinHandle<Vec<u8>> {
        tokio::spawn(async move {
            let mut got = vec![0u8; len];
            peer.read_exact(&mut got).await.expect("peer reads");
            got
        })
    }

    #[tokio::test]
    async fn direct_writes_go_out_only_when_allowed_at_home_and_nothing_waits() {
        let (mut ours, mut peer) = pair(false).await;
        let direct = ours.direct().expect("plain TCP has a direct handle");
        assert_eq!(
            write_two(&direct, b"x", b"y"),
            DirectOutcome::Declined,
            "not allowed"
        );
        direct.allow(true);
        assert_eq!(
            write_two(&direct, b"x", b"y"),
            DirectOutcome::Declined,
            "not on a shard yet"
        );
        ours.attach().expect("attach here");
        assert_eq!(write_two(&direct, b"he", b"llo"), DirectOutcome::Written);
        let elsewhere = direct.clone();
        let outcome = std::thread::spawn(move || write_two(&elsewhere, b"x", b"y"))
            .join()
            .expect("thread");
        assert_eq!(outcome, DirectOutcome::Declined, "not from another thread");
        ours.write_all(b", ").await.expect("owner writes");
        ours.detach().expect("detach");
        assert_eq!(
            write_two(&direct, b"x", b"y"),
            DirectOutcome::Declined,
            "detached"
        );
        ours.attach().expect("attach again");
        // A socket newly registered is writable once the IO driver has
        // seen it say so (until then a direct write is declined).
        tokio::task::yield_now().await;
        assert_eq!(write_two(&direct, b"wor", b"ld"), DirectOutcome::Written);
        direct.allow(false);
        assert_eq!(
            write_two(&direct, b"x", b"y"),
            DirectOutcome::Declined,
            "stopped"
        );
        let mut got = [0u8; 12];
        peer.read_exact(&mut got).await.expect("peer reads");
        assert_eq!(&got, b"hello, world");
    }

    #[tokio::test]
    async fn what_the_socket_leaves_goes_out_before_the_owners_next_write() {
        let (mut ours, peer, direct) = choked().await;
        let body = vec![7u8; 8 << 20];
        let parts = [b"<".as_slice(), &body, b"|"].map(io::IoSlice::new);
        assert_eq!(direct.try_write(&parts), DirectOutcome::Queued);
        assert_eq!(
            write_two(&direct, b"x", b"y"),
            DirectOutcome::Declined,
            "the rest of a message waits"
        );
        let reader = read_all(peer, 1 + body.len() + 1 + 5);
        ours.write_all(b">tail").await.expect("owner writes");
        ours.flush().await.expect("flushes");
        let got = reader.await.expect("reader");
        assert_eq!(got[0], b'<');
        assert!(got[1..=body.len()].iter().all(|&b| b == 7), "body intact");
        assert_eq!(&got[body.len() + 1..], b"|>tail", "every part, in order");
        assert_eq!(write_two(&direct, b"a", b"b"), DirectOutcome::Written);
    }

    #[tokio::test]
    async fn no_direct_write_lands_inside_a_message_the_owner_is_writing() {
        let (mut ours, peer, direct) = choked().await;
        let message = vec![9u8; 8 << 20];
        let taken = ours.write(&message).await.expect("owner writes");
        assert!(taken < message.len(), "the socket took it whole");
        assert_eq!(write_two(&direct, b"x", b"y"), DirectOutcome::Declined);
        let reader = read_all(peer, message.len() + 2);
        ours.write_all(&message[taken..])
            .await
            .expect("owner finishes");
        // The message is whole now, so a direct write may go; the socket
        // may still be full until the reader drains it (a busy machine),
        // and then the write declines for that reason only: try again, a
        // bounded number of times.
        let mut outcome = write_two(&direct, b"o", b"k");
        for _ in 0..200 {
            if outcome != DirectOutcome::Declined {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
            outcome = write_two(&direct, b"o", b"k");
        }
        assert_eq!(outcome, DirectOutcome::Written);
        let got = reader.await.expect("reader");
        assert!(got[..message.len()].iter().all(|&b| b == 9));
        assert_eq!(&got[message.len()..], b"ok");
    }

    #[tokio::test]
    async fn a_parked_stream_is_read_without_the_driver_and_written_through_it() {
        use futures_util::FutureExt;
        let (mut ours, mut peer) = pair(false).await;
        ours.attach().expect("attach here");
        let direct = ours.direct().expect("plain TCP has a direct handle");
        direct.allow(true);
        ours.park().expect("park");
        let mut buf = [0u8; 8];
        assert!(
            ours.read(&mut buf).now_or_never().is_none(),
            "nothing to read yet: pending, not an error"
        );
        let unix_us = || {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_micros() as u64)
        };
        // The kernel turns receive timestamps on for the whole host a
        // moment after the first socket asks (deferred work): data that
        // arrives before then carries no stamp, and the session falls back
        // to the time it read. So write until a read comes stamped.
        let mut stamped = None;
        for _ in 0..50 {
            let written_at = unix_us();
            peer.write_all(b"abc").await.expect("peer writes");
            tokio::time::sleep(std::time::Duration::from_millis(30)).await;
            let mut got = None;
            for _ in 0..1000 {
                if let Some(read) = ours.read(&mut buf).now_or_never() {
                    got = Some(read.expect("reads"));
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
            let n = got.expect("the data arrived within 2 s");
            assert_eq!(&buf[..n], b"abc");
            if let Some(arrived) = ours.received_at() {
                stamped = Some((written_at, arrived));
                break;
            }
        }
        // The stamp says when the data arrived, not when it was read.
        let (written_at, arrived) = stamped.expect("parked reads come stamped");
        assert!(
            arrived + 1_000 >= written_at && arrived + 20_000 <= unix_us(),
            "arrived {} us after the write, read {} us after it arrived",
            arrived as i64 - written_at as i64,
            unix_us() as i64 - arrived as i64
        );
        assert_eq!(
            write_two(&direct, b"x", b"y"),
            DirectOutcome::Written,
            "direct writes go out parked"
        );
        ours.write_all(b"z").await.expect("the owner writes");
        ours.flush().await.expect("flushes");
        let mut echoed = [0u8; 3];
        peer.read_exact(&mut echoed).await.expect("peer reads");
        assert_eq!(&echoed, b"xyz");
    }

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

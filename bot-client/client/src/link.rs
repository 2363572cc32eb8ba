//! The transports under a [`Client`](crate::Client), one shape for all:
//! frames queued for sending ([`Link::queue`]), written by
//! [`Link::poll_flush`], and received by [`Link::poll_recv`]. Both polls
//! are cancel-safe (a frame leaves the queue only in the same step that
//! hands it to the socket), so the client can wait on reading, writing,
//! a timer and its answer queue at once.
//!
//! - `ws://` and `wss://`: tokio-tungstenite over TCP or rustls, binary
//!   frames only ([`ws`]).
//! - `quic://`: quinn; control frames on one stream, inputs and acks as
//!   datagrams when they fit ([`quic`]).
//!
//! With a [`NetworkProfile`] ([`Link::with_network`]) every frame passes
//! through the link conditioner ([`shaped`]): an outgoing one waits in the
//! upstream [`Conditioner`](crate::netem::Conditioner) until due, then
//! goes to the transport; an incoming one waits in the downstream one. A
//! timer in [`Link::poll_io`] wakes the link when a held frame is due.
//! Without one, the only cost is a branch per frame.

pub(crate) mod quic;
mod shaped;
pub(crate) mod ws;

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use bytes::Bytes;
use futures_util::{Sink, Stream};
use serde::{Deserialize, Serialize};
use tickwire_shared::client::Delivery;
use tickwire_shared::protocol::CloseReason;
use tokio::io::AsyncWrite;
use tokio_tungstenite::tungstenite::{self, Message};

use crate::error::ClientError;
use crate::netem::{FrameKind, NetworkProfile, NetworkStats};
use quic::QuicConn;
use shaped::Shaped;
use ws::{ClientStream, ClientWs};

/// Byte and message counts of one connection, payload and framed. Framed
/// counts add the WebSocket frame headers (and masks), or over QUIC the
/// 4-byte length prefix of control-stream frames (datagrams count as their
/// payload); QUIC packet headers, encryption overhead and acknowledgements
/// are not included.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Traffic {
    /// Frames received.
    pub messages_in: u64,
    /// Frames sent.
    pub messages_out: u64,
    /// Payload bytes received.
    pub payload_in: u64,
    /// Payload bytes sent.
    pub payload_out: u64,
    /// Bytes received including WebSocket frame headers.
    pub framed_in: u64,
    /// Bytes sent including WebSocket frame headers and masks.
    pub framed_out: u64,
}

impl std::ops::AddAssign for Traffic {
    fn add_assign(&mut self, other: Self) {
        self.messages_in += other.messages_in;
        self.messages_out += other.messages_out;
        self.payload_in += other.payload_in;
        self.payload_out += other.payload_out;
        self.framed_in += other.framed_in;
        self.framed_out += other.framed_out;
    }
}

impl std::ops::Sub for Traffic {
    type Output = Self;

    /// The traffic between two readings of one connection's counters.
    fn sub(self, earlier: Self) -> Self {
        Self {
            messages_in: self.messages_in - earlier.messages_in,
            messages_out: self.messages_out - earlier.messages_out,
            payload_in: self.payload_in - earlier.payload_in,
            payload_out: self.payload_out - earlier.payload_out,
            framed_in: self.framed_in - earlier.framed_in,
            framed_out: self.framed_out - earlier.framed_out,
        }
    }
}

/// The conditioner's clock: tokio's, so that its timers and its `now`
/// agree (also under `tokio::time::pause`).
fn clock() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// WebSocket frame header length for a payload; client frames carry a
/// 4-byte mask too.
fn ws_header(len: usize, masked: bool) -> u64 {
    let base = match len {
        0..=125 => 2,
        126..=65_535 => 4,
        _ => 10,
    };
    base + if masked { 4 } else { 0 }
}

/// A frame sent as is, bypassing the protocol session: for protocol tests
/// and misbehaving bots.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RawFrame {
    /// A binary frame (over QUIC: one control-stream frame).
    Binary(Vec<u8>),
    /// A text frame (over QUIC: its bytes as one control-stream frame).
    Text(String),
}

/// What a link received.
#[derive(Debug)]
pub(crate) enum Inbound {
    /// One encoded server message.
    Frame(Bytes),
    /// The connection ended; the reason when the transport carried one (a
    /// QUIC application close code).
    Ended(Option<(CloseReason, String)>),
}

#[derive(Debug)]
enum Conn {
    Ws {
        ws: Box<ClientWs>,
        queued: VecDeque<Message>,
        /// Frames handed to the sink since its last flush.
        unflushed: bool,
    },
    Quic(Box<QuicConn>),
}

/// One open connection.
#[derive(Debug)]
pub(crate) struct Link {
    conn: Conn,
    traffic: Traffic,
    /// The WebSocket close frame's code, once one came.
    close_code: Option<u16>,
    /// The link conditioner, when the client asked for a network profile.
    shaped: Option<Box<Shaped>>,
}

impl Link {
    pub(crate) fn ws(ws: ClientWs) -> Self {
        Self {
            conn: Conn::Ws {
                ws: Box::new(ws),
                queued: VecDeque::new(),
                unflushed: false,
            },
            traffic: Traffic::default(),
            close_code: None,
            shaped: None,
        }
    }

    pub(crate) fn quic(quic: QuicConn) -> Self {
        Self {
            conn: Conn::Quic(Box::new(quic)),
            traffic: Traffic::default(),
            close_code: None,
            shaped: None,
        }
    }

    pub(crate) fn traffic(&self) -> Traffic {
        self.traffic
    }

    /// Puts the link behind `profile`'s network, drawing from `seed`;
    /// `stream` is the connection's number among the client's (each
    /// reconnection draws anew).
    pub(crate) fn with_network(mut self, profile: &NetworkProfile, seed: u64, stream: u64) -> Self {
        self.shaped = Some(Box::new(Shaped::new(profile, seed, stream)));
        self
    }

    /// What the link conditioner applied (`None` without one).
    pub(crate) fn network_stats(&self) -> Option<NetworkStats> {
        self.shaped.as_ref().map(|s| s.stats())
    }

    pub(crate) fn close_code(&self) -> Option<u16> {
        self.close_code
    }

    /// `"ws"`, `"wss"` or `"quic"`.
    pub(crate) fn name(&self) -> &'static str {
        match &self.conn {
            Conn::Ws { ws, .. } => match ws.get_ref() {
                ClientStream::Plain(_) => "ws",
                ClientStream::Tls(_) => "wss",
            },
            Conn::Quic(_) => "quic",
        }
    }

    /// Whether updates and inputs travel as datagrams.
    pub(crate) fn has_datagrams(&self) -> bool {
        matches!(self.conn, Conn::Quic(_))
    }

    /// Queues an encoded message. Over QUIC, an unreliable one goes as a
    /// datagram at once when it fits the path, anything else on the
    /// control stream.
    /// Behind a link conditioner, the frame waits there until due (an
    /// unreliable one over QUIC as a datagram, anything else as a reliable
    /// frame; a datagram too large for the path when it is released goes
    /// on the stream as it would unconditioned, having met datagram
    /// odds).
    pub(crate) fn queue(&mut self, frame: &[u8], delivery: Delivery) -> Result<(), ClientError> {
        if let Some(shaped) = self.shaped.as_mut() {
            let datagram = delivery == Delivery::Unreliable && matches!(self.conn, Conn::Quic(_));
            shaped.up.push(
                clock(),
                Bytes::copy_from_slice(frame),
                shaped::kind_of(datagram),
            );
            return Ok(());
        }
        Self::send_now(&mut self.conn, &mut self.traffic, frame, delivery)
    }

    /// Hands the frames the upstream conditioner has due to the transport.
    fn release_up(&mut self, now: Instant) -> Result<(), ClientError> {
        let Some(shaped) = self.shaped.as_mut() else {
            return Ok(());
        };
        while let Some((frame, kind)) = shaped.up.poll(now) {
            let delivery = match kind {
                FrameKind::Datagram => Delivery::Unreliable,
                FrameKind::Reliable => Delivery::Reliable,
            };
            Self::send_now(&mut self.conn, &mut self.traffic, &frame, delivery)?;
        }
        Ok(())
    }

    /// Queues a frame on the transport itself.
    fn send_now(
        conn: &mut Conn,
        traffic: &mut Traffic,
        frame: &[u8],
        delivery: Delivery,
    ) -> Result<(), ClientError> {
        traffic.messages_out += 1;
        traffic.payload_out += frame.len() as u64;
        match conn {
            Conn::Ws { queued, .. } => {
                traffic.framed_out += frame.len() as u64 + ws_header(frame.len(), true);
                queued.push_back(Message::Binary(Bytes::copy_from_slice(frame)));
            }
            Conn::Quic(quic) => {
                let datagram = delivery == Delivery::Unreliable && quic.send_datagram(frame)?;
                if !datagram {
                    quic.queue_stream(frame)?;
                }
                traffic.framed_out += frame.len() as u64 + if datagram { 0 } else { 4 };
            }
        }
        Ok(())
    }

    /// Queues a raw frame (past the link conditioner: raw frames are for
    /// protocol tests and misbehaving bots).
    pub(crate) fn queue_raw(&mut self, frame: RawFrame) -> Result<(), ClientError> {
        let len = match &frame {
            RawFrame::Binary(b) => b.len(),
            RawFrame::Text(t) => t.len(),
        };
        self.traffic.messages_out += 1;
        self.traffic.payload_out += len as u64;
        match &mut self.conn {
            Conn::Ws { queued, .. } => {
                self.traffic.framed_out += len as u64 + ws_header(len, true);
                queued.push_back(match frame {
                    RawFrame::Binary(b) => Message::Binary(b.into()),
                    RawFrame::Text(t) => Message::Text(t.into()),
                });
            }
            Conn::Quic(quic) => {
                self.traffic.framed_out += len as u64 + 4;
                match frame {
                    RawFrame::Binary(b) => quic.queue_stream(&b)?,
                    RawFrame::Text(t) => quic.queue_stream(t.as_bytes())?,
                }
            }
        }
        Ok(())
    }

    /// Whether queued frames wait to be written (or, behind a
    /// conditioner, are due to be).
    pub(crate) fn has_pending(&self) -> bool {
        if let Some(shaped) = &self.shaped
            && shaped.up.poll_timeout().is_some_and(|at| at <= clock())
        {
            return true;
        }
        match &self.conn {
            Conn::Ws {
                queued, unflushed, ..
            } => !queued.is_empty() || *unflushed,
            Conn::Quic(quic) => quic.has_pending(),
        }
    }

    /// Writes what is queued (behind a conditioner: what it has due);
    /// ready when all of it is handed to the socket. Cancel-safe.
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), ClientError>> {
        if self.shaped.is_some() {
            self.release_up(clock())?;
        }
        match &mut self.conn {
            Conn::Ws {
                ws,
                queued,
                unflushed,
            } => loop {
                if !queued.is_empty() {
                    ready!(Pin::new(ws.as_mut()).poll_ready(cx))?;
                    let Some(message) = queued.pop_front() else {
                        continue;
                    };
                    Pin::new(ws.as_mut()).start_send(message)?;
                    *unflushed = true;
                } else if *unflushed {
                    ready!(Pin::new(ws.as_mut()).poll_flush(cx))?;
                    *unflushed = false;
                } else {
                    return Poll::Ready(Ok(()));
                }
            },
            Conn::Quic(quic) => quic.poll_flush(cx),
        }
    }

    /// Receives the next frame (WebSocket control frames and text are
    /// skipped); behind a conditioner, the next one it has due. Cancel-safe.
    pub(crate) fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<Inbound, ClientError>> {
        if self.shaped.is_none() {
            return self.poll_transport(cx).map_ok(|(inbound, _)| inbound);
        }
        loop {
            let Some(shaped) = self.shaped.as_mut() else {
                return Poll::Ready(Err(ClientError::Unexpected("the conditioner went away")));
            };
            let now = clock();
            if let Some((frame, _)) = shaped.down.poll(now) {
                self.traffic.messages_in += 1;
                self.traffic.payload_in += frame.len() as u64;
                self.traffic.framed_in += frame.len() as u64
                    + match self.conn {
                        Conn::Ws { .. } => ws_header(frame.len(), false),
                        Conn::Quic(_) => 0,
                    };
                return Poll::Ready(Ok(Inbound::Frame(frame)));
            }
            if shaped.ended.is_some() {
                // The end comes after the frames received before it.
                if shaped.down.is_empty()
                    && let Some(ended) = shaped.ended.take()
                {
                    return Poll::Ready(Ok(ended));
                }
                return Poll::Pending;
            }
            match ready!(self.poll_transport(cx))? {
                (Inbound::Frame(frame), kind) => {
                    if let Some(shaped) = self.shaped.as_mut() {
                        shaped.down.push(now, frame, kind);
                    }
                }
                (ended @ Inbound::Ended(_), _) => {
                    if let Some(shaped) = self.shaped.as_mut() {
                        shaped.ended = Some(ended);
                    }
                }
            }
        }
    }

    /// Receives the next frame from the transport, and how it travelled.
    /// Without a conditioner, the traffic counts it here; with one, when
    /// it is delivered.
    fn poll_transport(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(Inbound, FrameKind), ClientError>> {
        let count = self.shaped.is_none();
        match &mut self.conn {
            Conn::Ws { ws, .. } => loop {
                match ready!(Pin::new(ws.as_mut()).poll_next(cx)) {
                    None => return Poll::Ready(Ok((Inbound::Ended(None), FrameKind::Reliable))),
                    Some(Ok(Message::Binary(frame))) => {
                        if count {
                            self.traffic.messages_in += 1;
                            self.traffic.payload_in += frame.len() as u64;
                            self.traffic.framed_in +=
                                frame.len() as u64 + ws_header(frame.len(), false);
                        }
                        return Poll::Ready(Ok((Inbound::Frame(frame), FrameKind::Reliable)));
                    }
                    Some(Ok(Message::Close(frame))) => {
                        self.close_code = frame.map(|f| u16::from(f.code));
                        return Poll::Ready(Ok((Inbound::Ended(None), FrameKind::Reliable)));
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(tungstenite::Error::ConnectionClosed)) => {
                        return Poll::Ready(Ok((Inbound::Ended(None), FrameKind::Reliable)));
                    }
                    Some(Err(e)) => return Poll::Ready(Err(e.into())),
                }
            },
            Conn::Quic(quic) => {
                let (inbound, datagram) = ready!(quic.poll_recv(cx))?;
                if let Inbound::Frame(bytes) = &inbound
                    && count
                {
                    self.traffic.messages_in += 1;
                    self.traffic.payload_in += bytes.len() as u64;
                    self.traffic.framed_in += bytes.len() as u64;
                }
                Poll::Ready(Ok((inbound, shaped::kind_of(datagram))))
            }
        }
    }

    /// Makes write progress, then receives: ready with the next frame.
    /// Cancel-safe.
    /// Behind a conditioner, it also waits for the next held frame to
    /// fall due either way, and sends or delivers it then.
    pub(crate) fn poll_io(&mut self, cx: &mut Context<'_>) -> Poll<Result<Inbound, ClientError>> {
        loop {
            if let Poll::Ready(Err(e)) = self.poll_flush(cx) {
                return Poll::Ready(Err(e));
            }
            if let Poll::Ready(inbound) = self.poll_recv(cx) {
                return Poll::Ready(inbound);
            }
            match self.shaped.as_mut() {
                Some(shaped) => ready!(shaped.poll_due(cx)),
                None => return Poll::Pending,
            }
        }
    }

    /// Writes what is queued.
    pub(crate) async fn flush(&mut self) -> Result<(), ClientError> {
        std::future::poll_fn(|cx| self.poll_flush(cx)).await
    }

    /// Closes the transport politely (bounded waits).
    /// Frames a conditioner still holds go at once (a goodbye is not held
    /// back).
    pub(crate) async fn close(mut self) {
        if let Some(mut shaped) = self.shaped.take() {
            let held: Vec<_> = shaped.up.drain().collect();
            for (frame, kind) in held {
                let delivery = match kind {
                    FrameKind::Datagram => Delivery::Unreliable,
                    FrameKind::Reliable => Delivery::Reliable,
                };
                let _ = Self::send_now(&mut self.conn, &mut self.traffic, &frame, delivery);
            }
            let _ = self.flush().await;
        }
        match self.conn {
            Conn::Ws { mut ws, .. } => {
                let _ = tokio::time::timeout(
                    std::time::Duration::from_secs(1),
                    futures_util::SinkExt::close(ws.as_mut()),
                )
                .await;
            }
            Conn::Quic(quic) => quic.close().await,
        }
    }
}

/// Writes `buf[*written..]` to a QUIC stream; cancel-safe (quinn writes
/// nothing unless it returns the count).
pub(crate) fn poll_write_all<W: AsyncWrite + Unpin>(
    stream: &mut W,
    cx: &mut Context<'_>,
    buf: &[u8],
    written: &mut usize,
) -> Poll<std::io::Result<()>> {
    while *written < buf.len() {
        let n = ready!(Pin::new(&mut *stream).poll_write(cx, &buf[*written..]))?;
        if n == 0 {
            return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into()));
        }
        *written += n;
    }
    Poll::Ready(Ok(()))
}

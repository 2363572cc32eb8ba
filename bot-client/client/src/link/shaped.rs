//! The tokio side of the link conditioner ([`crate::netem`]): one
//! [`Conditioner`] per direction around a [`Link`](super::Link), and the
//! timer that wakes the link when a held frame is due.

use std::future::Future as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use tokio::time::Sleep;

use super::Inbound;
use crate::netem::{Conditioner, FrameKind, NetworkProfile, NetworkStats};

/// A link's conditioners.
#[derive(Debug)]
pub(crate) struct Shaped {
    /// Client to server: frames wait here until due, then go to the
    /// transport.
    pub(crate) up: Conditioner<Bytes>,
    /// Server to client: frames the transport received wait here until
    /// due.
    pub(crate) down: Conditioner<Bytes>,
    /// The transport's end, held until the frames received before it are
    /// delivered.
    pub(crate) ended: Option<Inbound>,
    timer: Pin<Box<Sleep>>,
    armed: Option<Instant>,
}

impl Shaped {
    /// Conditioners for `profile`; the link's `stream` (its number among
    /// the client's connections) keeps each connection's draws apart.
    pub(crate) fn new(profile: &NetworkProfile, seed: u64, stream: u64) -> Self {
        Self {
            up: Conditioner::new(profile.up, seed, stream * 2),
            down: Conditioner::new(profile.down, seed, stream * 2 + 1),
            ended: None,
            timer: Box::pin(tokio::time::sleep(std::time::Duration::ZERO)),
            armed: None,
        }
    }

    pub(crate) fn stats(&self) -> NetworkStats {
        NetworkStats {
            up: self.up.stats(),
            down: self.down.stats(),
        }
    }

    /// Waits for the next frame due either way: ready when one is (the
    /// caller polls the conditioners again), pending otherwise (woken
    /// then).
    pub(crate) fn poll_due(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let next = match (self.up.poll_timeout(), self.down.poll_timeout()) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => {
                self.armed = None;
                return Poll::Pending;
            }
        };
        if self.armed != Some(next) {
            self.timer.as_mut().reset(next.into());
            self.armed = Some(next);
        }
        match self.timer.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.armed = None;
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// How a frame received over QUIC travelled.
pub(crate) fn kind_of(datagram: bool) -> FrameKind {
    if datagram {
        FrameKind::Datagram
    } else {
        FrameKind::Reliable
    }
}

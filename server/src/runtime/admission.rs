//! Admission (shell): the connection caps every listener goes through: all
//! connections, one address's, connections still in their handshake (all
//! of them, and one address's beneath that), and refused connections
//! lingering to deliver their refusal. Not generic over the game.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::config::Limits;
use crate::reason::Rejection;

/// Refused connections drained at once; past this, refused sockets are
/// dropped straight away.
const REFUSALS_LINGERING: usize = 64;

/// The caps, shared by every listener of one server.
#[derive(Debug)]
pub(crate) struct Admission {
    max_per_ip: usize,
    max_handshakes_per_ip: usize,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    handshakes_per_ip: Mutex<HashMap<IpAddr, usize>>,
    connections: Arc<Semaphore>,
    handshakes: Arc<Semaphore>,
    refusals: Arc<Semaphore>,
}

/// What a connection holds while it lives; dropping it frees the slots.
#[derive(Debug)]
pub(crate) struct ConnectionPermits {
    _connection: OwnedSemaphorePermit,
    _ip: IpSlot,
}

/// What a connection holds until its client is greeted (or it ends):
/// one of all pending handshakes and one of its address's.
#[derive(Debug)]
pub(crate) struct HandshakePermit {
    _global: OwnedSemaphorePermit,
    _ip: IpSlot,
}

/// Which per-address count a slot is taken from.
#[derive(Clone, Copy, Debug)]
enum PerIp {
    Connections,
    Handshakes,
}

/// One address's slot in one count, held until dropped.
#[derive(Debug)]
struct IpSlot {
    admission: Arc<Admission>,
    ip: IpAddr,
    count: PerIp,
}

impl Drop for IpSlot {
    fn drop(&mut self) {
        let mut per_ip = self.admission.counts(self.count);
        if let Some(count) = per_ip.get_mut(&self.ip) {
            *count -= 1;
            if *count == 0 {
                per_ip.remove(&self.ip);
            }
        }
    }
}

impl Admission {
    /// Caps from the server's limits.
    pub(crate) fn new(limits: &Limits) -> Self {
        Self {
            max_per_ip: limits.max_connections_per_ip,
            max_handshakes_per_ip: limits.max_pending_handshakes_per_ip,
            per_ip: Mutex::new(HashMap::new()),
            handshakes_per_ip: Mutex::new(HashMap::new()),
            connections: Arc::new(Semaphore::new(limits.max_connections)),
            handshakes: Arc::new(Semaphore::new(limits.max_pending_handshakes)),
            refusals: Arc::new(Semaphore::new(REFUSALS_LINGERING)),
        }
    }

    fn counts(&self, count: PerIp) -> MutexGuard<'_, HashMap<IpAddr, usize>> {
        match count {
            PerIp::Connections => &self.per_ip,
            PerIp::Handshakes => &self.handshakes_per_ip,
        }
        .lock()
        .unwrap_or_else(|p| p.into_inner())
    }

    /// Takes a slot of `ip` in `count` if it holds fewer than `max`.
    fn take(self: &Arc<Self>, count: PerIp, ip: IpAddr, max: usize) -> Option<IpSlot> {
        let mut counts = self.counts(count);
        let held = counts.entry(ip).or_insert(0);
        if *held >= max {
            return None;
        }
        *held += 1;
        Some(IpSlot {
            admission: Arc::clone(self),
            ip,
            count,
        })
    }

    /// Takes the slots a new connection from `peer` needs (one of all
    /// connections, one of its address's, a pending-handshake permit
    /// counted for its address and for all), or says which limit refuses
    /// it. The address's handshake cap is checked before the global one,
    /// so a flood from one address is refused by its own cap and leaves
    /// the others their handshakes.
    pub(crate) fn admit(
        self: &Arc<Self>,
        peer: SocketAddr,
    ) -> Result<(ConnectionPermits, HandshakePermit), Rejection> {
        let connection = Arc::clone(&self.connections)
            .try_acquire_owned()
            .map_err(|_| Rejection::ServerFull)?;
        let ip = self
            .take(PerIp::Connections, peer.ip(), self.max_per_ip)
            .ok_or(Rejection::IpLimit)?;
        let handshake_ip = self
            .take(PerIp::Handshakes, peer.ip(), self.max_handshakes_per_ip)
            .ok_or(Rejection::HandshakeIpLimit)?;
        let handshake = Arc::clone(&self.handshakes)
            .try_acquire_owned()
            .map_err(|_| Rejection::HandshakeLimit)?;
        Ok((
            ConnectionPermits {
                _connection: connection,
                _ip: ip,
            },
            HandshakePermit {
                _global: handshake,
                _ip: handshake_ip,
            },
        ))
    }

    /// A place for a refused connection to linger in, if one is free.
    pub(crate) fn linger_permit(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.refusals).try_acquire_owned().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_refuse_with_their_reason_and_free_their_slots_when_dropped() {
        let limits = Limits {
            max_connections: 3,
            max_connections_per_ip: 2,
            max_pending_handshakes: 2,
            ..Limits::default()
        };
        let admission = Arc::new(Admission::new(&limits));
        let a: SocketAddr = "127.0.0.1:1".parse().expect("addr");
        let b: SocketAddr = "127.0.0.2:1".parse().expect("addr");
        let first = admission.admit(a).expect("first");
        let second = admission.admit(a).expect("second");
        assert_eq!(admission.admit(a).err(), Some(Rejection::IpLimit));
        assert_eq!(admission.admit(b).err(), Some(Rejection::HandshakeLimit));
        drop(first.1);
        let third = admission
            .admit(b)
            .expect("a handshake permit is free again");
        assert_eq!(admission.admit(b).err(), Some(Rejection::ServerFull));
        drop((second, third));
        assert!(admission.admit(a).is_ok(), "every slot freed");
        assert!(admission.counts(PerIp::Connections).len() <= 1);
        assert!(admission.counts(PerIp::Handshakes).is_empty());
    }

    #[test]
    fn one_address_cannot_take_every_pending_handshake() {
        let limits = Limits {
            max_connections: 100,
            max_connections_per_ip: 100,
            max_pending_handshakes: 4,
            max_pending_handshakes_per_ip: 2,
            ..Limits::default()
        };
        let admission = Arc::new(Admission::new(&limits));
        let flood: SocketAddr = "127.0.0.1:1".parse().expect("addr");
        let other: SocketAddr = "127.0.0.2:1".parse().expect("addr");
        let mut pending: Vec<_> = (0..2)
            .map(|_| admission.admit(flood).expect("flood"))
            .collect();
        assert_eq!(
            admission.admit(flood).err(),
            Some(Rejection::HandshakeIpLimit),
            "the flood's excess is refused by its own cap"
        );
        let joined = admission
            .admit(other)
            .expect("another address still gets in");
        // Greeting frees the handshake slots but keeps the connection's.
        let (greeted, handshake) = pending.remove(0);
        drop(handshake);
        let again = admission
            .admit(flood)
            .expect("a greeted client frees its address's handshake slot");
        assert_eq!(
            admission.counts(PerIp::Connections).get(&flood.ip()),
            Some(&3)
        );
        assert_eq!(
            admission.counts(PerIp::Handshakes).get(&flood.ip()),
            Some(&2)
        );
        drop((greeted, again, joined, pending));
        assert!(admission.counts(PerIp::Handshakes).is_empty());
    }
}

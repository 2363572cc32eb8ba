//! One agent's share of a scenario (`tickwire-bot run --agents`): whole
//! rooms of it, with each phase's bot counts scaled to those rooms.
//!
//! A scenario fills its rooms round-robin: bot slot `k` of the whole run
//! sits in room `k % rooms`. A share of rooms `first..first + n` runs
//! exactly the slots whose room is among its own, in the same order, so
//! its count at any level `L` of the whole run is the number of slots
//! below `L` that fall in its rooms ([`share_level`]). This rounding
//! (rather than proportional quotas, e.g. largest remainders) gives
//! every bot of the whole run to exactly one share: the shares of every
//! level add up to it exactly, a share's counts never fall while the whole
//! run's rise (a ramp stays a ramp on every agent; quotas can break that,
//! the Alabama paradox), and every room holds the bots it would in a local
//! run. Each share is exact at whole rounds (multiples of the room count)
//! and within one bot per room of its proportional part between them. Each slot keeps its whole-run index for its behaviour,
//! seed, verification and network, so the shares together run the local
//! run's bots; only when within a phase each bot starts or stops differs
//! (each agent spreads its own steps over the phase).

use super::{Phase, PhaseKind, Scenario};

/// Where a share's rooms sit in the whole run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RoomShare {
    /// Index of the share's first room in the whole run.
    pub first_room: usize,
    /// Rooms in the whole run.
    pub total_rooms: usize,
}

/// Why a share of a scenario cannot be made.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum ShareError {
    /// The share's rooms are not within the scenario's.
    #[error("rooms {first}..{end} are not within the scenario's {rooms}")]
    OutOfRange {
        /// First room asked for.
        first: usize,
        /// One past the last.
        end: usize,
        /// Rooms in the scenario.
        rooms: usize,
    },
    /// The scenario is already a share.
    #[error("the scenario is already a share of another")]
    AlreadyShared,
}

/// Bots of level `level` (bots running in the whole run) that fall in the
/// share of `rooms` rooms from `first_room` of `total_rooms`: slots fill
/// rooms round-robin, so `level / total_rooms` whole rounds give each room
/// one bot and the last partial round the rooms below `level %
/// total_rooms`.
pub fn share_level(level: usize, first_room: usize, rooms: usize, total_rooms: usize) -> usize {
    if total_rooms == 0 {
        return 0;
    }
    let (rounds, partial) = (level / total_rooms, level % total_rooms);
    rounds * rooms + partial.saturating_sub(first_room).min(rooms)
}

impl Scenario {
    /// The share of this scenario made of `rooms` rooms from `first_room`:
    /// those rooms, each phase's counts scaled with [`share_level`] (a
    /// spike's extra bots too), slots mapped back to the whole run's
    /// ([`Scenario::global_slot`]).
    pub fn share(&self, first_room: usize, rooms: usize) -> Result<Self, ShareError> {
        if self.shared.is_some() {
            return Err(ShareError::AlreadyShared);
        }
        if rooms == 0 || first_room + rooms > self.rooms {
            return Err(ShareError::OutOfRange {
                first: first_room,
                end: first_room + rooms,
                rooms: self.rooms,
            });
        }
        let level = |n: usize| share_level(n, first_room, rooms, self.rooms);
        let phases = self
            .phases
            .iter()
            .map(|p| {
                let (from, to) = (level(p.from), level(p.to));
                let peak = match p.kind {
                    PhaseKind::Spike => level(p.peak),
                    _ => from.max(to),
                };
                Phase {
                    from,
                    to,
                    peak,
                    ..p.clone()
                }
            })
            .collect();
        Ok(Self {
            rooms,
            phases,
            shared: Some(RoomShare {
                first_room,
                total_rooms: self.rooms,
            }),
            ..self.clone()
        })
    }

    /// The whole run's slot of this scenario's slot `slot` (itself unless
    /// the scenario is a share): the share's rooms fill round-robin, each
    /// round one whole-run round.
    pub fn global_slot(&self, slot: usize) -> usize {
        match self.shared {
            None => slot,
            Some(share) => {
                let rooms = self.rooms.max(1);
                (slot / rooms) * share.total_rooms + share.first_room + slot % rooms
            }
        }
    }

    /// The whole run's index of this scenario's room `room`.
    pub fn global_room(&self, room: usize) -> usize {
        self.shared.map_or(0, |s| s.first_room) + room
    }

    /// Seats of the whole run (of which this scenario may be a share).
    pub fn total_seats(&self) -> usize {
        self.shared.map_or(self.rooms, |s| s.total_rooms) * self.players
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scenario() -> Scenario {
        Scenario::parse(
            r#"
name = "s"
[target]
url = "ws://h:1"
[rooms]
count = 5
players = 4
[[phase]]
kind = "ramp"
to = 17
duration = "2s"
[[phase]]
kind = "spike"
add = 3
duration = "2s"
[[phase]]
kind = "drain"
to = 6
duration = "2s"
"#,
        )
        .expect("valid")
    }

    #[test]
    fn every_level_splits_exactly_and_monotonically() {
        for total_rooms in 1..=7 {
            for agents in 1..=total_rooms {
                let split = crate::coordinator::split(total_rooms, agents);
                let mut last = vec![0; agents];
                for level in 0..=total_rooms * 5 {
                    let parts: Vec<usize> = split
                        .iter()
                        .map(|&(first, rooms)| share_level(level, first, rooms, total_rooms))
                        .collect();
                    assert_eq!(parts.iter().sum::<usize>(), level, "{total_rooms} {agents}");
                    for ((&part, &(_, rooms)), before) in parts.iter().zip(&split).zip(&mut last) {
                        assert!(part >= *before, "a share never falls as the run rises");
                        // Within one bot per room of its proportional part,
                        // exact at whole rounds.
                        let fair = level as f64 * rooms as f64 / total_rooms as f64;
                        assert!(
                            (part as f64 - fair).abs() < rooms as f64,
                            "{part} vs {fair}"
                        );
                        if level % total_rooms == 0 {
                            assert_eq!(part as f64, fair);
                        }
                        *before = part;
                    }
                }
            }
        }
    }

    #[test]
    fn a_scenarios_shares_add_up_to_it_phase_by_phase() {
        let whole = scenario();
        let shares: Vec<Scenario> = crate::coordinator::split(5, 2)
            .into_iter()
            .map(|(first, rooms)| whole.share(first, rooms).expect("a share"))
            .collect();
        assert_eq!((shares[0].rooms, shares[1].rooms), (3, 2));
        for (i, phase) in whole.phases.iter().enumerate() {
            let sum =
                |f: fn(&Phase) -> usize| shares.iter().map(|s| f(&s.phases[i])).sum::<usize>();
            assert_eq!(sum(|p| p.from), phase.from, "{}", phase.name);
            assert_eq!(sum(|p| p.to), phase.to, "{}", phase.name);
            assert_eq!(sum(|p| p.peak), phase.peak, "{}", phase.name);
        }
        // 17 bots: three rounds of 5 (3 + 2 each) and rooms 0 and 1 again.
        assert_eq!((shares[0].phases[0].to, shares[1].phases[0].to), (11, 6));
        // The spike's 3 extra bots are slots 17..20: rooms 2, 3 and 4.
        assert_eq!(
            (shares[0].phases[1].peak, shares[1].phases[1].peak),
            (12, 8)
        );
        assert_eq!(
            shares.iter().map(Scenario::peak).sum::<usize>(),
            whole.peak()
        );
    }

    #[test]
    fn share_slots_are_the_whole_runs_slots_of_their_rooms() {
        let whole = scenario();
        let second = whole.share(3, 2).expect("a share");
        let slots: Vec<usize> = (0..6).map(|s| second.global_slot(s)).collect();
        assert_eq!(slots, [3, 4, 8, 9, 13, 14]);
        assert_eq!(second.global_room(1), 4);
        assert_eq!(second.total_seats(), 20);
        assert_eq!(whole.global_slot(7), 7);
        assert_eq!(
            whole.share(4, 2).err(),
            Some(ShareError::OutOfRange {
                first: 4,
                end: 6,
                rooms: 5
            })
        );
        assert_eq!(second.share(0, 1).err(), Some(ShareError::AlreadyShared));
    }
}

//! Simulation time: tick numbers and the fixed tick rate.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A simulation step number. Tick 0 is a room's first step; at 60 Hz a `u32`
/// lasts two years, so ticks never wrap in practice and compare plainly.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Tick(pub u32);

impl Tick {
    /// The tick after this one.
    #[must_use]
    pub fn next(self) -> Self {
        Self(self.0.saturating_add(1))
    }

    /// `self - earlier` in ticks, or `None` when `earlier` is after `self`.
    pub fn since(self, earlier: Self) -> Option<u32> {
        self.0.checked_sub(earlier.0)
    }

    /// The tick `ticks` before this one, or `None` before tick 0.
    pub fn checked_back(self, ticks: u32) -> Option<Self> {
        self.0.checked_sub(ticks).map(Self)
    }
}

impl std::fmt::Display for Tick {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A fixed simulation rate in ticks per second (1..=240). A rate outside
/// that range does not decode: a peer cannot hand a client a zero period.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "u16")]
pub struct TickRate(u16);

/// A tick rate outside `1..=`[`TickRate::MAX_HZ`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("a tick rate of {0} Hz is outside 1..=240")]
pub struct BadTickRate(pub u16);

impl TryFrom<u16> for TickRate {
    type Error = BadTickRate;

    fn try_from(hz: u16) -> Result<Self, Self::Error> {
        Self::new(hz).ok_or(BadTickRate(hz))
    }
}

impl TickRate {
    /// The arena workload's rate: 30 Hz.
    pub const ARENA: Self = Self(30);
    /// The highest rate accepted; above it a tick is shorter than a scheduler
    /// wake-up is precise.
    pub const MAX_HZ: u16 = 240;

    /// A rate of `hz` ticks per second, or `None` outside `1..=MAX_HZ`.
    pub fn new(hz: u16) -> Option<Self> {
        (1..=Self::MAX_HZ).contains(&hz).then_some(Self(hz))
    }

    /// Ticks per second.
    pub fn hz(self) -> u16 {
        self.0
    }

    /// The step length in seconds, as the simulation uses it.
    pub fn dt(self) -> f32 {
        1.0 / f32::from(self.0)
    }

    /// The wall-clock length of one tick.
    pub fn period(self) -> Duration {
        Duration::from_secs(1) / u32::from(self.0)
    }

    /// How many ticks last `seconds` (rounded to the nearest tick, at least 1
    /// for a positive duration).
    pub fn ticks_in(self, seconds: f32) -> u32 {
        let ticks = (seconds * f32::from(self.0)).round();
        if seconds > 0.0 {
            (ticks as u32).max(1)
        } else {
            0
        }
    }
}

impl Default for TickRate {
    fn default() -> Self {
        Self::ARENA
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn rates_outside_the_range_do_not_decode() {
        use crate::codec::decode_value;
        assert!(decode_value::<TickRate>(&[0], 16).is_err(), "0 Hz");
        assert!(decode_value::<TickRate>(&[241], 16).is_err(), "241 Hz");
        assert_eq!(decode_value::<TickRate>(&[30], 16), Ok(TickRate::ARENA));
        assert_eq!(TickRate::try_from(0), Err(BadTickRate(0)));
    }

    use super::*;

    #[test]
    fn tick_arithmetic() {
        assert_eq!(Tick(5).next(), Tick(6));
        assert_eq!(Tick(5).since(Tick(2)), Some(3));
        assert_eq!(Tick(2).since(Tick(5)), None);
        assert_eq!(Tick(2).checked_back(3), None);
        assert_eq!(Tick(u32::MAX).next(), Tick(u32::MAX));
    }

    #[test]
    fn tick_rate_bounds_and_units() {
        assert!(TickRate::new(0).is_none());
        assert!(TickRate::new(241).is_none());
        let rate = TickRate::new(30).unwrap();
        assert_eq!(rate.period(), Duration::from_nanos(33_333_333));
        assert_eq!(rate.ticks_in(1.0), 30);
        assert_eq!(rate.ticks_in(0.5), 15);
        assert_eq!(rate.ticks_in(0.0), 0);
    }
}

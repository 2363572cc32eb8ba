//! Conversions between simulation floats and the fixed-point integers that
//! are replicated.
//!
//! A game that keeps its simulation state on the same grid (quantizing after
//! every step) gives clients exactly the server's state, so checksums agree
//! and extrapolation stays exact.

use std::f32::consts::TAU;

/// `value * scale` rounded to the nearest integer, saturating at the `i32`
/// range; NaN maps to 0.
pub fn to_fixed(value: f32, scale: f32) -> i32 {
    // `as` saturates and maps NaN to 0.
    (value * scale).round() as i32
}

/// The float a fixed-point value stands for.
pub fn from_fixed(value: i32, scale: f32) -> f32 {
    value as f32 / scale
}

/// `value` snapped to the grid of `1 / scale`.
pub fn snap(value: f32, scale: f32) -> f32 {
    from_fixed(to_fixed(value, scale), scale)
}

/// An angle in radians as one of `steps` equal steps of a turn, in
/// `0..steps`.
pub fn angle_to_fixed(radians: f32, steps: u32) -> i32 {
    let turns = (radians / TAU).rem_euclid(1.0);
    let step = (turns * steps as f32).round() as u32;
    (step % steps) as i32
}

/// The angle in radians, in `[0, 2π)`, for step `value` of `steps`.
pub fn angle_from_fixed(value: i32, steps: u32) -> f32 {
    value.rem_euclid(steps as i32) as f32 * (TAU / steps as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_point_round_trips_on_the_grid() {
        assert_eq!(to_fixed(1.5, 64.0), 96);
        assert_eq!(from_fixed(96, 64.0), 1.5);
        assert_eq!(to_fixed(f32::NAN, 64.0), 0);
        assert_eq!(to_fixed(f32::INFINITY, 64.0), i32::MAX);
        assert_eq!(snap(snap(2.71234, 64.0), 64.0), snap(2.71234, 64.0));
    }

    #[test]
    fn angles_wrap_into_one_turn() {
        assert_eq!(angle_to_fixed(0.0, 4096), 0);
        assert_eq!(angle_to_fixed(TAU, 4096), 0);
        assert_eq!(angle_to_fixed(-TAU / 4.0, 4096), 3072);
        assert!((angle_from_fixed(1024, 4096) - TAU / 4.0).abs() < 1e-6);
        assert_eq!(angle_to_fixed(angle_from_fixed(77, 4096), 4096), 77);
    }
}

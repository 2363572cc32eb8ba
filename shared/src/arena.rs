//! The reference game (being written).

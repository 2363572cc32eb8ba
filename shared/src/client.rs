//! Client replica (being written).

//! # tickwire-server
//!
//! (crate docs being written)

pub mod config;
pub mod http;
pub mod metrics;

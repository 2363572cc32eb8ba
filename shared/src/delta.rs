//! Delta compression (being written).
pub(crate) mod bits;
pub mod quantize;

/// Why a delta could not be applied.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DeltaError {
    /// The data ends before the delta does.
    #[error("delta truncated")]
    Truncated,
    /// Bytes are left after the delta.
    #[error("trailing bytes after the delta")]
    TrailingBytes,
    /// The data does not describe a valid change.
    #[error("corrupt delta: {0}")]
    Corrupt(&'static str),
}

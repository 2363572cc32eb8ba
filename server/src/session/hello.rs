//! The handshake's check of a client's `Hello` (pure).

use tickwire_shared::protocol::{CloseReason, Hello, PROTOCOL_VERSION};

/// Longest client name, bytes.
pub const MAX_CLIENT_NAME: usize = 32;

/// Why a `Hello` is refused; the session closes with [`HelloError::reason`]
/// and tells the client this text in its `Rejected`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HelloError {
    /// The client speaks another protocol version.
    #[error("server speaks protocol {PROTOCOL_VERSION}, client {client}")]
    Version {
        /// The client's version.
        client: u16,
    },
    /// The name is empty, too long or has control characters.
    #[error("client name must be 1..={MAX_CLIENT_NAME} printable bytes")]
    Name,
}

impl HelloError {
    /// The close reason.
    pub fn reason(&self) -> CloseReason {
        match self {
            Self::Version { .. } => CloseReason::VersionMismatch,
            Self::Name => CloseReason::ProtocolViolation,
        }
    }
}

/// Checks a client's first message; returns its trimmed name.
pub fn check_hello(hello: &Hello) -> Result<&str, HelloError> {
    if hello.protocol_version != PROTOCOL_VERSION {
        return Err(HelloError::Version {
            client: hello.protocol_version,
        });
    }
    let name = hello.client_name.trim();
    if name.is_empty() || name.len() > MAX_CLIENT_NAME || name.chars().any(char::is_control) {
        return Err(HelloError::Name);
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hello(version: u16, name: &str) -> Hello {
        Hello {
            protocol_version: version,
            client_name: name.into(),
            auth_ticket: None,
            resume_token: None,
            resume_from: None,
        }
    }

    #[test]
    fn hello_checks_version_and_name() {
        assert_eq!(check_hello(&hello(PROTOCOL_VERSION, " bot ")), Ok("bot"));
        assert_eq!(
            check_hello(&hello(99, "bot")).unwrap_err().reason(),
            CloseReason::VersionMismatch
        );
        assert_eq!(
            check_hello(&hello(PROTOCOL_VERSION, " "))
                .unwrap_err()
                .reason(),
            CloseReason::ProtocolViolation
        );
        assert!(check_hello(&hello(PROTOCOL_VERSION, &"x".repeat(33))).is_err());
        assert!(check_hello(&hello(PROTOCOL_VERSION, "a\u{7}b")).is_err());
    }
}

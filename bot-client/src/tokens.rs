//! Tokens for a run against a server that authenticates clients: one
//! HS256 JSON Web Token per bot (`sub` = `bot-N`), signed with the
//! server's shared secret, minted once when the swarm plans its bots.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header};

/// How a swarm mints its bots' tokens.
#[derive(Clone)]
pub struct BotTokens {
    key: EncodingKey,
    /// The `iss` the server checks, if any.
    pub issuer: Option<String>,
    /// The `aud` the server checks, if any.
    pub audience: Option<String>,
    /// How long each token is valid (the run's length, with room to spare).
    pub ttl: Duration,
}

impl std::fmt::Debug for BotTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BotTokens")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl BotTokens {
    /// Tokens signed with `secret`, valid for a day.
    pub fn hs256(secret: &[u8]) -> Self {
        Self {
            key: EncodingKey::from_secret(secret),
            issuer: None,
            audience: None,
            ttl: Duration::from_secs(86_400),
        }
    }

    /// Tokens signed with the secret in `path` (trailing whitespace
    /// trimmed, as the server reads it).
    pub fn hs256_file(path: &Path) -> std::io::Result<Self> {
        let text = std::fs::read(path)?;
        let end = text
            .iter()
            .rposition(|b| !b.is_ascii_whitespace())
            .map_or(0, |i| i + 1);
        Ok(Self::hs256(&text[..end]))
    }

    /// The token of bot `index`: `sub` and `name` `bot-{index}`.
    pub fn mint(&self, index: u64) -> Result<String, jsonwebtoken::errors::Error> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut claims = serde_json::json!({
            "sub": format!("bot-{index}"),
            "name": format!("bot-{index}"),
            "iat": now,
            "exp": now + self.ttl.as_secs(),
        });
        if let Some(issuer) = &self.issuer {
            claims["iss"] = issuer.as_str().into();
        }
        if let Some(audience) = &self.audience {
            claims["aud"] = audience.as_str().into();
        }
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.key)
    }
}

//! Who a client is (shell): the [`Authenticator`] a server asks about the
//! ticket in a client's `Hello`, the built-in JSON Web Token one
//! ([`JwtAuthenticator`]), and [`JwtMinter`], which signs development
//! tokens with the same settings (the `token` subcommand, bot swarms).
//!
//! The pure session never verifies anything: on a `Hello` with a ticket it
//! asks the shell ([`crate::session::Command::Authenticate`]), the session
//! task awaits the authenticator (bounded by the handshake deadline) and
//! hands the outcome back ([`crate::session::Session::handle_auth`]); the
//! session decides between `Welcome` and `Rejected { AuthFailed }`.

use std::future::Future;
use std::net::SocketAddr;
use std::path::Path;
use std::pin::Pin;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde_json::{Map, Value};
use tickwire_shared::game::Identity;

use crate::config::{AuthConfig, JwtAlgorithm};
use crate::reason::Label;

/// Longest ticket a session hands to an authenticator, bytes (a JWT with
/// a few custom claims is well under 1 KiB; the frame limit bounds it
/// anyway).
pub const MAX_TICKET: usize = 2048;

/// Why a client was not authenticated. The `Display` text is what the
/// client is told in its `Rejected { reason: AuthFailed }`: short, and
/// never the token.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The server requires a ticket and the `Hello` carried none.
    #[error("token required")]
    Required,
    /// Not a token: bad base64, JSON, structure, or a missing claim.
    #[error("malformed token")]
    Malformed,
    /// The signature does not match the server's key (or the token is
    /// signed with another algorithm than the configured one).
    #[error("bad signature")]
    BadSignature,
    /// Past its `exp` (beyond the leeway).
    #[error("token expired")]
    Expired,
    /// Before its `nbf` (beyond the leeway).
    #[error("token not yet valid")]
    NotYetValid,
    /// Its `iss` is not the configured issuer.
    #[error("wrong issuer")]
    WrongIssuer,
    /// Its `aud` is not the configured audience.
    #[error("wrong audience")]
    WrongAudience,
    /// An embedder's authenticator refused the ticket, with words the
    /// client may see.
    #[error("{0}")]
    Refused(String),
    /// An embedder's authenticator could not decide (its service is
    /// down, say), with words the client may see.
    #[error("authentication unavailable: {0}")]
    Unavailable(String),
    /// The authenticator did not answer before the handshake deadline.
    #[error("authentication timed out")]
    TimedOut,
}

impl Label for AuthError {
    fn label(&self) -> &'static str {
        match self {
            Self::Required => "required",
            Self::Malformed => "malformed",
            Self::BadSignature => "bad_signature",
            Self::Expired => "expired",
            Self::NotYetValid => "not_yet_valid",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongAudience => "wrong_audience",
            Self::Refused(_) => "refused",
            Self::Unavailable(_) => "unavailable",
            Self::TimedOut => "timed_out",
        }
    }
}

/// What [`Authenticator::authenticate`] returns: a boxed future, so that
/// the trait stays object-safe (`Arc<dyn Authenticator>`).
pub type AuthFuture<'a> = Pin<Box<dyn Future<Output = Result<Identity, AuthError>> + Send + 'a>>;

/// Decides who the client presenting `ticket` is. The built-in one is
/// [`JwtAuthenticator`]; an embedder may write its own (one that asks the
/// studio's web service, say) and hand it to
/// [`crate::Server::bind_with_authenticator`].
///
/// It runs in the session's task during the handshake, bounded by the
/// handshake deadline (beyond it the client is refused with
/// [`AuthError::TimedOut`]); long CPU work belongs on a blocking thread.
pub trait Authenticator: Send + Sync + std::fmt::Debug + 'static {
    /// Who the client with `ticket`, connected from `peer`, is.
    fn authenticate<'a>(&'a self, ticket: &'a str, peer: SocketAddr) -> AuthFuture<'a>;
}

/// Why the authentication settings cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum AuthSetupError {
    /// A key or secret file could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The key is not a PEM key of the configured algorithm.
    #[error("the {what} is not a valid {algorithm:?} key: {source}")]
    Key {
        /// Which key.
        what: &'static str,
        /// The algorithm.
        algorithm: JwtAlgorithm,
        /// Why.
        source: jsonwebtoken::errors::Error,
    },
    /// The settings lack what the algorithm needs.
    #[error("{0}")]
    Missing(&'static str),
}

fn read(path: &Path) -> Result<Vec<u8>, AuthSetupError> {
    std::fs::read(path).map_err(|source| AuthSetupError::Read {
        path: path.display().to_string(),
        source,
    })
}

/// The HS256 secret: inline, or a file's contents (trailing newline and
/// spaces trimmed, so `echo secret > file` works).
fn secret(config: &AuthConfig) -> Result<Vec<u8>, AuthSetupError> {
    match (&config.secret, &config.secret_file) {
        (Some(secret), _) => Ok(secret.expose().as_bytes().to_vec()),
        (None, Some(path)) => {
            let mut bytes = read(path)?;
            while bytes.last().is_some_and(u8::is_ascii_whitespace) {
                bytes.pop();
            }
            Ok(bytes)
        }
        (None, None) => Err(AuthSetupError::Missing(
            "HS256 needs auth.secret or auth.secret_file",
        )),
    }
}

fn algorithm(algorithm: JwtAlgorithm) -> Algorithm {
    match algorithm {
        JwtAlgorithm::HS256 => Algorithm::HS256,
        JwtAlgorithm::RS256 => Algorithm::RS256,
        JwtAlgorithm::EdDSA => Algorithm::EdDSA,
    }
}

/// Verifies JSON Web Tokens with one key and algorithm: the signature,
/// `exp` (required) and `nbf` with a leeway, `iss` and `aud` when
/// configured (then required; without a configured audience a token
/// naming one is refused), and `sub` (required).
///
/// Verification is a few microseconds (HS256) to tens of microseconds
/// (RS256, EdDSA: public-key checks), so it runs inline in the session's
/// task.
#[derive(Clone)]
pub struct JwtAuthenticator {
    key: DecodingKey,
    validation: Validation,
}

impl std::fmt::Debug for JwtAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtAuthenticator")
            .field("algorithms", &self.validation.algorithms)
            .field("iss", &self.validation.iss)
            .field("aud", &self.validation.aud)
            .field("leeway", &self.validation.leeway)
            .finish_non_exhaustive()
    }
}

impl JwtAuthenticator {
    /// The authenticator for `config` (its key files read now).
    pub fn from_config(config: &AuthConfig) -> Result<Self, AuthSetupError> {
        let alg = config.algorithm;
        let key = match alg {
            JwtAlgorithm::HS256 => DecodingKey::from_secret(&secret(config)?),
            JwtAlgorithm::RS256 | JwtAlgorithm::EdDSA => {
                let path = config
                    .public_key_file
                    .as_deref()
                    .ok_or(AuthSetupError::Missing(
                        "RS256 and EdDSA need auth.public_key_file",
                    ))?;
                let pem = read(path)?;
                let key = if alg == JwtAlgorithm::RS256 {
                    DecodingKey::from_rsa_pem(&pem)
                } else {
                    DecodingKey::from_ed_pem(&pem)
                };
                key.map_err(|source| AuthSetupError::Key {
                    what: "public key",
                    algorithm: alg,
                    source,
                })?
            }
        };
        let mut validation = Validation::new(algorithm(alg));
        validation.leeway = config.leeway_s;
        validation.validate_nbf = true;
        validation.required_spec_claims = ["exp", "sub"].map(String::from).into();
        if let Some(issuer) = &config.issuer {
            validation.set_issuer(&[issuer]);
            validation.required_spec_claims.insert("iss".into());
        }
        // Without a configured audience `validate_aud` stays on, so a
        // token that names any audience (one meant for another service)
        // is refused.
        if let Some(audience) = &config.audience {
            validation.set_audience(&[audience]);
            validation.required_spec_claims.insert("aud".into());
        }
        Ok(Self { key, validation })
    }

    /// Verifies `token` against the system clock.
    pub fn verify(&self, token: &str) -> Result<Identity, AuthError> {
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &self.key, &self.validation)
            .map_err(|e| match e.kind() {
            ErrorKind::ExpiredSignature => AuthError::Expired,
            ErrorKind::ImmatureSignature => AuthError::NotYetValid,
            ErrorKind::InvalidAudience => AuthError::WrongAudience,
            ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
            ErrorKind::InvalidSignature | ErrorKind::InvalidAlgorithm => AuthError::BadSignature,
            _ => AuthError::Malformed,
        })?;
        identity(data.claims)
    }
}

/// The identity a token's claims vouch for: `sub`, `name` if a string,
/// and every claim.
fn identity(claims: Map<String, Value>) -> Result<Identity, AuthError> {
    let subject = match claims.get("sub") {
        Some(Value::String(sub)) if !sub.is_empty() => sub.clone(),
        _ => return Err(AuthError::Malformed),
    };
    let name = match claims.get("name") {
        Some(Value::String(name)) => Some(name.clone()),
        _ => None,
    };
    Ok(Identity {
        subject,
        name,
        claims,
    })
}

impl Authenticator for JwtAuthenticator {
    fn authenticate<'a>(&'a self, ticket: &'a str, _peer: SocketAddr) -> AuthFuture<'a> {
        let outcome = self.verify(ticket);
        Box::pin(std::future::ready(outcome))
    }
}

/// Signs tokens the way [`JwtAuthenticator`] checks them, for development
/// and load tests: the `token` subcommand and bot swarms. HS256 signs with
/// the shared secret; RS256 and EdDSA need the private key (PKCS#8 PEM).
#[derive(Clone)]
pub struct JwtMinter {
    key: EncodingKey,
    header: Header,
    issuer: Option<String>,
    audience: Option<String>,
}

impl std::fmt::Debug for JwtMinter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtMinter")
            .field("alg", &self.header.alg)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

impl JwtMinter {
    /// A minter for `config`: its secret for HS256, else the PEM private
    /// key at `private_key_file`.
    pub fn from_config(
        config: &AuthConfig,
        private_key_file: Option<&Path>,
    ) -> Result<Self, AuthSetupError> {
        let alg = config.algorithm;
        let key = match alg {
            JwtAlgorithm::HS256 => EncodingKey::from_secret(&secret(config)?),
            JwtAlgorithm::RS256 | JwtAlgorithm::EdDSA => {
                let path = private_key_file.ok_or(AuthSetupError::Missing(
                    "signing RS256 or EdDSA tokens needs the private key file",
                ))?;
                let pem = read(path)?;
                let key = if alg == JwtAlgorithm::RS256 {
                    EncodingKey::from_rsa_pem(&pem)
                } else {
                    EncodingKey::from_ed_pem(&pem)
                };
                key.map_err(|source| AuthSetupError::Key {
                    what: "private key",
                    algorithm: alg,
                    source,
                })?
            }
        };
        Ok(Self {
            key,
            header: Header::new(algorithm(alg)),
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
        })
    }

    /// A token for `subject`, valid from now for `ttl`, with a display
    /// `name` and extra `claims` if given (the configured issuer and
    /// audience included).
    pub fn mint(
        &self,
        subject: &str,
        name: Option<&str>,
        ttl: Duration,
        claims: &Map<String, Value>,
    ) -> Result<String, jsonwebtoken::errors::Error> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut body = claims.clone();
        body.insert("sub".into(), subject.into());
        body.insert("iat".into(), now.into());
        body.insert("nbf".into(), now.into());
        body.insert("exp".into(), (now + ttl.as_secs().max(1)).into());
        if let Some(name) = name {
            body.insert("name".into(), name.into());
        }
        if let Some(issuer) = &self.issuer {
            body.insert("iss".into(), issuer.as_str().into());
        }
        if let Some(audience) = &self.audience {
            body.insert("aud".into(), audience.as_str().into());
        }
        jsonwebtoken::encode(&self.header, &body, &self.key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn now() -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    }

    fn hs256() -> AuthConfig {
        AuthConfig {
            enabled: true,
            secret: Some(Secret::new("test secret")),
            issuer: Some("studio".into()),
            audience: Some("tickwire".into()),
            leeway_s: 30,
            ..AuthConfig::default()
        }
    }

    fn sign(config: &AuthConfig, claims: Value) -> String {
        let secret = config.secret.as_ref().unwrap().expose().as_bytes();
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret),
        )
        .unwrap()
    }

    fn claims(extra: Value) -> Value {
        let mut base = serde_json::json!({
            "sub": "alice", "iss": "studio", "aud": "tickwire", "exp": now() + 600,
        });
        for (k, v) in extra.as_object().unwrap() {
            if v.is_null() {
                base.as_object_mut().unwrap().remove(k);
            } else {
                base[k] = v.clone();
            }
        }
        base
    }

    #[test]
    fn a_valid_token_gives_its_subject_name_and_claims() {
        let config = hs256();
        let auth = JwtAuthenticator::from_config(&config).unwrap();
        let token = sign(
            &config,
            claims(serde_json::json!({"name": "Alice", "team": "red"})),
        );
        let identity = auth.verify(&token).unwrap();
        assert_eq!(identity.subject, "alice");
        assert_eq!(identity.name.as_deref(), Some("Alice"));
        assert_eq!(identity.claims["team"], "red");
    }

    #[test]
    fn each_failure_has_its_reason() {
        let config = hs256();
        let auth = JwtAuthenticator::from_config(&config).unwrap();
        let t = now();
        let cases = [
            (serde_json::json!({"exp": t - 120}), AuthError::Expired),
            (serde_json::json!({"nbf": t + 120}), AuthError::NotYetValid),
            (
                serde_json::json!({"aud": "another"}),
                AuthError::WrongAudience,
            ),
            (
                serde_json::json!({"iss": "mallory"}),
                AuthError::WrongIssuer,
            ),
            (serde_json::json!({"aud": null}), AuthError::Malformed),
            (serde_json::json!({"iss": null}), AuthError::Malformed),
            (serde_json::json!({"exp": null}), AuthError::Malformed),
            (serde_json::json!({"sub": null}), AuthError::Malformed),
            (serde_json::json!({"sub": ""}), AuthError::Malformed),
        ];
        for (extra, want) in cases {
            let token = sign(&config, claims(extra.clone()));
            assert_eq!(auth.verify(&token), Err(want), "{extra}");
        }
        let forged = {
            let other = AuthConfig {
                secret: Some(Secret::new("another secret")),
                ..hs256()
            };
            sign(&other, claims(serde_json::json!({})))
        };
        assert_eq!(auth.verify(&forged), Err(AuthError::BadSignature));
        for junk in ["", "not a token", "a.b.c", "eyJhbGciOiJIUzI1NiJ9..."] {
            assert_eq!(auth.verify(junk), Err(AuthError::Malformed), "{junk:?}");
        }
        assert_eq!(AuthError::Expired.to_string(), "token expired");
        assert_eq!(AuthError::WrongAudience.label(), "wrong_audience");
    }

    #[test]
    fn the_leeway_forgives_small_clock_skew() {
        let config = hs256();
        let auth = JwtAuthenticator::from_config(&config).unwrap();
        let t = now();
        let late = sign(&config, claims(serde_json::json!({"exp": t - 10})));
        let early = sign(&config, claims(serde_json::json!({"nbf": t + 10})));
        assert!(auth.verify(&late).is_ok(), "10 s past exp, 30 s leeway");
        assert!(auth.verify(&early).is_ok(), "10 s before nbf, 30 s leeway");
        let strict = JwtAuthenticator::from_config(&AuthConfig {
            leeway_s: 0,
            ..hs256()
        })
        .unwrap();
        assert_eq!(strict.verify(&late), Err(AuthError::Expired));
        assert_eq!(strict.verify(&early), Err(AuthError::NotYetValid));
    }

    #[test]
    fn without_issuer_and_audience_configured_no_issuer_is_checked_and_no_audience_allowed() {
        let config = AuthConfig {
            issuer: None,
            audience: None,
            ..hs256()
        };
        let auth = JwtAuthenticator::from_config(&config).unwrap();
        let token = sign(
            &config,
            claims(serde_json::json!({"iss": null, "aud": null})),
        );
        assert_eq!(auth.verify(&token).unwrap().subject, "alice");
        let elsewhere = sign(&config, claims(serde_json::json!({"iss": null})));
        assert_eq!(
            auth.verify(&elsewhere),
            Err(AuthError::WrongAudience),
            "a token for some audience is not for a server that names none"
        );
    }

    #[test]
    fn eddsa_tokens_minted_with_the_private_key_verify_with_the_public_one() {
        let dir = std::env::temp_dir().join(format!("tickwire-auth-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let private = dir.join("ed.key");
        let public = dir.join("ed.pub");
        std::fs::write(&private, pair.serialize_pem()).unwrap();
        std::fs::write(&public, pair.public_key_pem()).unwrap();
        let config = AuthConfig {
            algorithm: JwtAlgorithm::EdDSA,
            secret: None,
            public_key_file: Some(public),
            ..hs256()
        };
        let auth = JwtAuthenticator::from_config(&config).unwrap();
        let minter = JwtMinter::from_config(&config, Some(&private)).unwrap();
        let mut extra = Map::new();
        extra.insert("level".into(), 7.into());
        let token = minter
            .mint("bob", Some("Bob"), Duration::from_secs(60), &extra)
            .unwrap();
        let identity = auth.verify(&token).unwrap();
        assert_eq!(identity.subject, "bob");
        assert_eq!(identity.name.as_deref(), Some("Bob"));
        assert_eq!(identity.claims["level"], 7);
        // Another key pair's token: a bad signature; an HS256 token with
        // the public key as its secret (the classic confusion): refused.
        let other = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        let other_key = dir.join("other.key");
        std::fs::write(&other_key, other.serialize_pem()).unwrap();
        let forged = JwtMinter::from_config(&config, Some(&other_key))
            .unwrap()
            .mint("bob", None, Duration::from_secs(60), &Map::new())
            .unwrap();
        assert_eq!(auth.verify(&forged), Err(AuthError::BadSignature));
        let confused = sign(
            &AuthConfig {
                secret: Some(Secret::new(
                    &std::fs::read_to_string(config.public_key_file.as_ref().unwrap()).unwrap(),
                )),
                ..hs256()
            },
            claims(serde_json::json!({})),
        );
        assert_eq!(auth.verify(&confused), Err(AuthError::BadSignature));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn rs256_tokens_minted_with_the_private_key_verify_with_the_public_one() {
        let keys = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/jwt");
        let config = AuthConfig {
            algorithm: JwtAlgorithm::RS256,
            secret: None,
            public_key_file: Some(keys.join("test_rs256.pub")),
            ..hs256()
        };
        let auth = JwtAuthenticator::from_config(&config).unwrap();
        let minter = JwtMinter::from_config(&config, Some(&keys.join("test_rs256.key"))).unwrap();
        let token = minter
            .mint("carol", Some("Carol"), Duration::from_secs(60), &Map::new())
            .unwrap();
        let identity = auth.verify(&token).unwrap();
        assert_eq!(identity.subject, "carol");
        assert_eq!(identity.name.as_deref(), Some("Carol"));
        // Signed by another RSA key: a bad signature.
        let forged = JwtMinter::from_config(&config, Some(&keys.join("test_rs256_other.key")))
            .unwrap()
            .mint("carol", None, Duration::from_secs(60), &Map::new())
            .unwrap();
        assert_eq!(auth.verify(&forged), Err(AuthError::BadSignature));
        // HS256 with the public key as the secret (algorithm confusion):
        // refused, the server only takes the algorithm it is configured for.
        let confused = sign(
            &AuthConfig {
                secret: Some(Secret::new(
                    &std::fs::read_to_string(keys.join("test_rs256.pub")).unwrap(),
                )),
                ..hs256()
            },
            claims(serde_json::json!({})),
        );
        assert_eq!(auth.verify(&confused), Err(AuthError::BadSignature));
        // An expired RS256 token is refused as expired, not as forged.
        let token = jsonwebtoken::encode(
            &Header::new(Algorithm::RS256),
            &claims(serde_json::json!({ "exp": now() - 3600 })),
            &EncodingKey::from_rsa_pem(&std::fs::read(keys.join("test_rs256.key")).unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(auth.verify(&token), Err(AuthError::Expired));
    }

    #[test]
    fn the_minter_signs_what_the_authenticator_accepts() {
        let config = hs256();
        let token = JwtMinter::from_config(&config, None)
            .unwrap()
            .mint("bot-1", None, Duration::from_secs(3600), &Map::new())
            .unwrap();
        let identity = JwtAuthenticator::from_config(&config)
            .unwrap()
            .verify(&token)
            .unwrap();
        assert_eq!(identity.subject, "bot-1");
        assert_eq!(identity.name, None);
        assert_eq!(identity.claims["iss"], "studio");
    }
}

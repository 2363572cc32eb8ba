//! TLS for the WebSocket listener (wss) (shell): the certificate and key,
//! loaded from PEM files for production or generated at start for
//! development, the rustls acceptor built from them, and the certificate's
//! SHA-256 fingerprint that clients pin to accept a development
//! certificate.
//!
//! Every rustls configuration is built with the ring provider passed
//! explicitly, never the process-wide default, so that one provider is used
//! whatever else the process links.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::{Digest, Sha256};
use tokio_rustls::TlsAcceptor;

/// The ALPN protocol the WebSocket listener speaks: the upgrade is an
/// HTTP/1.1 request. A client that offers ALPN without it is refused.
pub const WS_ALPN: &[u8] = b"http/1.1";

/// The names a development certificate is valid for.
pub const DEVELOPMENT_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM file could not be read or parsed.
    #[error("cannot read {path}: {reason}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The certificate file holds no certificate.
    #[error("no certificate in {0}")]
    NoCertificate(PathBuf),
    /// The certificate and key cannot be used together (the key does not
    /// match the certificate, an unsupported key type, ...).
    #[error("unusable certificate or key: {0}")]
    Config(#[from] rustls::Error),
    /// The development certificate could not be generated.
    #[error("cannot generate the development certificate: {0}")]
    Generate(#[from] rcgen::Error),
}

/// The ring crypto provider every tickwire TLS configuration uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// SHA-256 of a certificate's DER encoding, as uppercase hex pairs joined
/// by `:` (`AB:CD:...`, 95 characters): the form clients pin with
/// `--cert-fingerprint`.
pub fn fingerprint(cert: &CertificateDer<'_>) -> String {
    let digest = Sha256::digest(cert.as_ref());
    let pairs: Vec<String> = digest.iter().map(|b| format!("{b:02X}")).collect();
    pairs.join(":")
}

/// A TLS listener's identity and acceptor.
pub struct ServerTls {
    acceptor: TlsAcceptor,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    fingerprint: String,
    development: bool,
}

impl fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTls")
            .field("fingerprint", &self.fingerprint)
            .field("chain_len", &self.chain.len())
            .field("development", &self.development)
            .finish_non_exhaustive()
    }
}

impl ServerTls {
    /// Builds the acceptor from a certificate chain (leaf first) and its
    /// private key. Fails when the key does not match the leaf.
    pub fn new(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self, TlsError> {
        Self::build(chain, key, false)
    }

    fn build(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        development: bool,
    ) -> Result<Self, TlsError> {
        let leaf = chain
            .first()
            .ok_or(rustls::Error::NoCertificatesPresented)?;
        let fingerprint = fingerprint(leaf);
        let mut config = rustls::ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_single_cert(chain.clone(), key.clone_key())?;
        config.alpn_protocols = vec![WS_ALPN.to_vec()];
        Ok(Self {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            chain,
            key,
            fingerprint,
            development,
        })
    }

    /// Loads a PEM certificate chain (leaf first) and a PEM private key
    /// (PKCS#8, PKCS#1 or SEC1): the production setup.
    pub fn from_pem_files(cert: &Path, key: &Path) -> Result<Self, TlsError> {
        let read_error = |path: &Path, e: rustls_pki_types::pem::Error| TlsError::Read {
            path: path.to_owned(),
            reason: e.to_string(),
        };
        let chain = CertificateDer::pem_file_iter(cert)
            .map_err(|e| read_error(cert, e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| read_error(cert, e))?;
        if chain.is_empty() {
            return Err(TlsError::NoCertificate(cert.to_owned()));
        }
        let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| read_error(key, e))?;
        Self::new(chain, key_der)
    }

    /// Generates a self-signed certificate for `localhost`, `127.0.0.1`
    /// and `::1`. Clients cannot verify it against public roots: they pin
    /// its [`ServerTls::fingerprint`] or connect insecurely, explicitly.
    pub fn development() -> Result<Self, TlsError> {
        let names: Vec<String> = DEVELOPMENT_NAMES.iter().map(|&n| n.to_owned()).collect();
        let generated = rcgen::generate_simple_self_signed(names)?;
        let chain = vec![generated.cert.der().clone()];
        let key = PrivateKeyDer::Pkcs8(generated.signing_key.serialize_der().into());
        Self::build(chain, key, true)
    }

    /// The acceptor for incoming connections (ALPN `http/1.1`).
    pub fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }

    /// The certificate chain, leaf first (kept for other transports).
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    /// The private key (kept for other transports).
    pub fn key(&self) -> &PrivateKeyDer<'static> {
        &self.key
    }

    /// SHA-256 of the leaf certificate, `AB:CD:...` (see [`fingerprint`]).
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// Whether the certificate was generated at start.
    pub fn is_development(&self) -> bool {
        self.development
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("tickwire-tls-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir
    }

    #[test]
    fn fingerprint_is_uppercase_hex_pairs_and_stable() {
        let tls = ServerTls::development().expect("generates");
        let fp = tls.fingerprint();
        assert_eq!(fp.len(), 32 * 3 - 1, "{fp}");
        for pair in fp.split(':') {
            assert_eq!(pair.len(), 2);
            assert!(
                pair.chars()
                    .all(|c| c.is_ascii_digit() || ('A'..='F').contains(&c)),
                "{pair}"
            );
        }
        assert_eq!(fingerprint(&tls.chain()[0]), fp);
        assert_eq!(fingerprint(&tls.chain()[0]), fingerprint(&tls.chain()[0]));
        assert!(tls.is_development());
        // A fixed input has a known digest: SHA-256 of the empty string.
        assert!(
            fingerprint(&CertificateDer::from(Vec::new())).starts_with("E3:B0:C4:42:98:FC:1C:14")
        );
        // Two generated certificates differ.
        let other = ServerTls::development().expect("generates");
        assert_ne!(other.fingerprint(), fp);
    }

    #[test]
    fn pem_files_round_trip() {
        let dir = temp_dir("roundtrip");
        let generated =
            rcgen::generate_simple_self_signed(vec!["game.example".to_owned()]).expect("gen");
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, generated.cert.pem()).expect("write cert");
        std::fs::write(&key, generated.signing_key.serialize_pem()).expect("write key");
        let tls = ServerTls::from_pem_files(&cert, &key).expect("loads");
        assert_eq!(tls.chain().len(), 1);
        assert_eq!(tls.chain()[0].as_ref(), generated.cert.der().as_ref());
        assert_eq!(tls.fingerprint(), fingerprint(generated.cert.der()));
        assert!(!tls.is_development());
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn mismatched_key_and_missing_files_are_typed_errors() {
        let dir = temp_dir("errors");
        let a = rcgen::generate_simple_self_signed(vec!["a.example".to_owned()]).expect("gen");
        let b = rcgen::generate_simple_self_signed(vec!["b.example".to_owned()]).expect("gen");
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, a.cert.pem()).expect("write cert");
        std::fs::write(&key, b.signing_key.serialize_pem()).expect("write key");
        let err = ServerTls::from_pem_files(&cert, &key).expect_err("mismatch");
        assert!(matches!(err, TlsError::Config(_)), "{err}");

        let missing = dir.join("missing.pem");
        let err = ServerTls::from_pem_files(&missing, &key).expect_err("missing cert");
        assert!(
            matches!(&err, TlsError::Read { path, .. } if path == &missing),
            "{err}"
        );
        let err = ServerTls::from_pem_files(&cert, &missing).expect_err("missing key");
        assert!(matches!(err, TlsError::Read { .. }), "{err}");

        // A key file given as the certificate holds no certificate.
        let err = ServerTls::from_pem_files(&key, &key).expect_err("no cert");
        assert!(matches!(err, TlsError::NoCertificate(_)), "{err}");
        let _ = std::fs::remove_dir_all(dir);
    }
}

//! TLS for the WebSocket listener (wss) (shell): the certificate and key,
//! loaded from PEM files for production or generated at start for
//! development, the rustls acceptor built from them, and the certificate's
//! SHA-256 fingerprint that clients pin to accept a development
//! certificate.
//!
//! Browsers accept a self-signed certificate for WebTransport only through
//! `serverCertificateHashes`, and only an ECDSA P-256 one valid for at most
//! 14 days: [`ServerTls::development_hashed`] makes that one (the long-lived
//! development certificate of the wss port and QUIC would be refused), and
//! [`ServerTls::certificate_hash`] is the hash pages pass.
//!
//! Every rustls configuration is built with the ring provider passed
//! explicitly, never the process-wide default, so that one provider is used
//! whatever else the process links.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

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

/// How long a development certificate for WebTransport is valid from its
/// generation: browsers take a certificate by its hash only when its whole
/// validity is at most 14 days, and 13 leave a day for the backdate and a
/// client's clock running fast. A server running longer needs a restart
/// (a new certificate and hash) or a real certificate.
pub const HASHED_VALIDITY: Duration = Duration::from_secs(13 * 24 * 3600);

/// How long before its generation a development certificate for
/// WebTransport starts being valid: a client whose clock runs a little
/// behind still accepts it.
pub const HASHED_BACKDATE: Duration = Duration::from_secs(3600);

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
    /// The clock is outside what a certificate's validity can say.
    #[error("the system clock is unusable for a certificate: {0}")]
    Clock(String),
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

/// SHA-256 of a certificate's DER encoding: the value a browser's
/// `serverCertificateHashes` (algorithm `sha-256`) takes.
pub fn certificate_hash(cert: &CertificateDer<'_>) -> [u8; 32] {
    Sha256::digest(cert.as_ref()).into()
}

/// When a certificate stops being valid (its `notAfter`), in seconds since
/// the Unix epoch; `None` when its DER does not parse.
pub fn not_after_unix_s(cert: &CertificateDer<'_>) -> Option<i64> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    Some(parsed.validity().not_after.timestamp())
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

    /// Generates a self-signed certificate that browsers accept for
    /// WebTransport through `serverCertificateHashes`: an ECDSA P-256 key,
    /// valid from [`HASHED_BACKDATE`] before `now` to [`HASHED_VALIDITY`]
    /// after it (under the 14 days browsers allow), for `localhost`,
    /// `127.0.0.1` and `::1`. Pages pass its
    /// [`ServerTls::certificate_hash`].
    pub fn development_hashed(now: SystemTime) -> Result<Self, TlsError> {
        let names: Vec<String> = DEVELOPMENT_NAMES.iter().map(|&n| n.to_owned()).collect();
        let mut params = rcgen::CertificateParams::new(names)?;
        params.not_before = offset_date_time(now.checked_sub(HASHED_BACKDATE))?;
        params.not_after = offset_date_time(now.checked_add(HASHED_VALIDITY))?;
        params.distinguished_name.push(
            rcgen::DnType::CommonName,
            "tickwire development (WebTransport)",
        );
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
        let cert = params.self_signed(&key)?;
        let chain = vec![cert.der().clone()];
        let key = PrivateKeyDer::Pkcs8(key.serialize_der().into());
        Self::build(chain, key, true)
    }

    /// SHA-256 of the leaf certificate's DER (see [`certificate_hash`]).
    pub fn certificate_hash(&self) -> [u8; 32] {
        self.chain.first().map_or([0; 32], certificate_hash)
    }

    /// When the leaf certificate stops being valid, in seconds since the
    /// Unix epoch (see [`not_after_unix_s`]).
    pub fn not_after_unix_s(&self) -> Option<i64> {
        self.chain.first().and_then(not_after_unix_s)
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

/// `at` as the date type rcgen takes.
fn offset_date_time(at: Option<SystemTime>) -> Result<time::OffsetDateTime, TlsError> {
    let at = at.ok_or_else(|| TlsError::Clock("out of range".into()))?;
    let since_epoch = at
        .duration_since(UNIX_EPOCH)
        .map_err(|e| TlsError::Clock(e.to_string()))?;
    let seconds =
        i64::try_from(since_epoch.as_secs()).map_err(|e| TlsError::Clock(e.to_string()))?;
    time::OffsetDateTime::from_unix_timestamp(seconds).map_err(|e| TlsError::Clock(e.to_string()))
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
    fn the_hashed_development_certificate_fits_the_browser_rules() {
        let now = SystemTime::now();
        let tls = ServerTls::development_hashed(now).expect("generates");
        assert!(tls.is_development());
        let der = &tls.chain()[0];
        let (_, cert) = x509_parser::parse_x509_certificate(der.as_ref()).expect("parses");
        // Valid now, for at most 14 days in all.
        let now_s = now
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs() as i64;
        let (from, until) = (
            cert.validity().not_before.timestamp(),
            cert.validity().not_after.timestamp(),
        );
        assert!(from < now_s && now_s < until, "{from} < {now_s} < {until}");
        assert!(until - from <= 14 * 24 * 3600, "{} s", until - from);
        assert_eq!(until, now_s + HASHED_VALIDITY.as_secs() as i64);
        assert_eq!(tls.not_after_unix_s(), Some(until));
        // ECDSA P-256, signed with SHA-256.
        let key = cert.public_key().parsed().expect("a public key");
        assert!(
            matches!(key, x509_parser::public_key::PublicKey::EC(_)),
            "{key:?}"
        );
        assert_eq!(key.key_size(), 256);
        assert_eq!(
            cert.signature_algorithm.algorithm.to_id_string(),
            "1.2.840.10045.4.3.2"
        );
        // For the loopback names.
        let names = cert
            .subject_alternative_name()
            .expect("parses")
            .expect("has names");
        let names: Vec<String> = names
            .value
            .general_names
            .iter()
            .map(|name| format!("{name:?}"))
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(names[0].contains("localhost"), "{names:?}");
        // The hash is SHA-256 over the DER.
        assert_eq!(tls.certificate_hash(), certificate_hash(der));
        assert_eq!(
            tls.certificate_hash().as_slice(),
            Sha256::digest(der.as_ref()).as_slice()
        );
        // The long-lived development certificate is not one of these.
        let other = ServerTls::development().expect("generates");
        let long = other.not_after_unix_s().expect("parses") - now_s;
        assert!(long > 14 * 24 * 3600);
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

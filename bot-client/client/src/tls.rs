//! How a `wss://` or `quic://` client accepts the server's certificate:
//! the web PKI roots, private roots, a pinned SHA-256 fingerprint, or (for
//! development) anything. One crypto provider, ring, passed explicitly.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
use sha2::{Digest, Sha256};

use crate::error::ClientError;

/// How a `wss://` or `quic://` connection accepts the server's certificate. Never
/// silently: the default verifies against the public web PKI roots.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum ClientTls {
    /// Verify the chain and name against the webpki roots (Mozilla's).
    #[default]
    Verify,
    /// Accept exactly the certificate whose SHA-256 fingerprint this is
    /// (`AB:CD:...` as the server logs it; case and colons do not matter).
    /// The handshake signatures are still verified.
    Fingerprint(String),
    /// Accept any certificate (the handshake signatures are still
    /// verified, so the connection is encrypted, but not authenticated).
    Insecure,
    /// Verify against these roots instead (a private CA, tests).
    Roots(Vec<CertificateDer<'static>>),
}

/// SHA-256 of a certificate's DER encoding as uppercase hex pairs joined
/// by `:` (the server's format).
pub fn fingerprint(cert: &CertificateDer<'_>) -> String {
    let digest = Sha256::digest(cert.as_ref());
    let pairs: Vec<String> = digest.iter().map(|b| format!("{b:02X}")).collect();
    pairs.join(":")
}

/// Parses a fingerprint: 32 bytes of hex, colons optional, any case.
fn parse_fingerprint(text: &str) -> Result<[u8; 32], ClientError> {
    let hex: String = text.chars().filter(|&c| c != ':').collect();
    let bad = || {
        ClientError::Tls(format!(
            "invalid certificate fingerprint {text:?}: expected 32 hex byte pairs (AB:CD:...)"
        ))
    };
    if hex.len() != 64 || !hex.is_ascii() {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
    }
    Ok(out)
}

/// Accepts a pinned certificate (or, unpinned, any) and checks the
/// handshake signatures with the provider's algorithms.
#[derive(Debug)]
struct PinnedVerifier {
    /// `None` accepts any certificate (`--insecure`).
    expected: Option<[u8; 32]>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(expected) = self.expected else {
            return Ok(ServerCertVerified::assertion());
        };
        let actual: [u8; 32] = Sha256::digest(end_entity.as_ref()).into();
        if actual == expected {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(format!(
                "certificate fingerprint mismatch: the server's is {}",
                fingerprint(end_entity)
            )))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

impl ClientTls {
    /// The rustls client configuration for `wss://` (ring provider, TLS 1.2
    /// and 1.3, ALPN `http/1.1`).
    pub fn client_config(&self) -> Result<rustls::ClientConfig, ClientError> {
        self.client_config_with(rustls::DEFAULT_VERSIONS, b"http/1.1")
    }

    /// The rustls client configuration with these protocol versions and
    /// this one ALPN protocol (QUIC: TLS 1.3 and `tickwire/1`).
    pub fn client_config_with(
        &self,
        versions: &[&'static rustls::SupportedProtocolVersion],
        alpn: &[u8],
    ) -> Result<rustls::ClientConfig, ClientError> {
        let tls_error = |e: rustls::Error| ClientError::Tls(e.to_string());
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(Arc::clone(&provider))
            .with_protocol_versions(versions)
            .map_err(tls_error)?;
        let roots = |store: rustls::RootCertStore| builder.clone().with_root_certificates(store);
        let pinned = |expected| {
            builder
                .clone()
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(PinnedVerifier {
                    expected,
                    provider: Arc::clone(&provider),
                }))
        };
        let with_verifier = match self {
            Self::Verify => roots(rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            }),
            Self::Roots(certs) => {
                let mut store = rustls::RootCertStore::empty();
                for cert in certs {
                    store.add(cert.clone()).map_err(tls_error)?;
                }
                roots(store)
            }
            Self::Fingerprint(text) => pinned(Some(parse_fingerprint(text)?)),
            Self::Insecure => pinned(None),
        };
        let mut config = with_verifier.with_no_client_auth();
        config.alpn_protocols = vec![alpn.to_vec()];
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_parse_in_any_case_with_or_without_colons() {
        let cert = CertificateDer::from(vec![1, 2, 3]);
        let fp = fingerprint(&cert);
        let bytes: [u8; 32] = Sha256::digest([1u8, 2, 3]).into();
        assert_eq!(parse_fingerprint(&fp).expect("upper"), bytes);
        assert_eq!(parse_fingerprint(&fp.to_lowercase()).expect("lower"), bytes);
        assert_eq!(
            parse_fingerprint(&fp.replace(':', "")).expect("bare"),
            bytes
        );
        assert!(matches!(
            parse_fingerprint("AB:CD"),
            Err(ClientError::Tls(_))
        ));
        let not_hex = format!("ZZ{}", &fp[2..]);
        assert!(matches!(
            parse_fingerprint(&not_hex),
            Err(ClientError::Tls(_))
        ));
        assert!(
            ClientTls::Fingerprint("nope".into())
                .client_config()
                .is_err()
        );
        for tls in [
            ClientTls::Verify,
            ClientTls::Insecure,
            ClientTls::Fingerprint(fp),
        ] {
            let config = tls.client_config().expect("builds");
            assert_eq!(config.alpn_protocols, vec![b"http/1.1".to_vec()]);
        }
    }
}

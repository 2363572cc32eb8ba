//! The WebSocket transport: `ws://` over TCP, `wss://` over rustls, with
//! the settings a tickwire server needs (small read buffer, the server's
//! frame limit, no Nagle).

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls_pki_types::ServerName;
use tickwire_shared::codec;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::error::ClientError;
use crate::tls::ClientTls;

/// A client's byte stream: plain TCP (`ws://`) or TLS over TCP (`wss://`).
#[derive(Debug)]
pub(crate) enum ClientStream {
    /// `ws://`.
    Plain(TcpStream),
    /// `wss://`.
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for ClientStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for ClientStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_flush(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Self::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// An open WebSocket to a tickwire server.
pub(crate) type ClientWs = WebSocketStream<ClientStream>;

/// The client's WebSocket read buffer. tungstenite zero-fills the free
/// part of its read buffer before every read (including the one that finds
/// nothing), so its 128 KiB default costs two 128 KiB memsets per update:
/// a third of a bot's CPU in a profile. Updates are hundreds of bytes;
/// bigger ones take a few reads.
pub(crate) const READ_BUFFER: usize = 4 * 1024;

/// The WebSocket settings for talking to a tickwire server: a small read
/// buffer, and no frame or message larger than the server ever sends.
fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .max_frame_size(Some(codec::MAX_SERVER_FRAME))
        .max_message_size(Some(codec::MAX_SERVER_FRAME))
}

/// Opens a WebSocket to `url` (`ws://host:port/ws` or
/// `wss://host:port/ws`); `tls` says how a `wss://` server's certificate is
/// accepted. Nagle's algorithm is disabled: with it, an ack sent right
/// after an update waits for the server's delayed TCP ACK (up to 40 ms on
/// Linux), and the server then encodes against a state one tick older than
/// it could.
pub(crate) async fn open(url: &str, tls: &ClientTls) -> Result<ClientWs, ClientError> {
    let request = url.into_client_request()?;
    let uri = request.uri();
    let secure = match uri.scheme_str() {
        Some("ws") => false,
        Some("wss") => true,
        _ => {
            return Err(ClientError::Connect(format!(
                "{url}: not a ws://, wss:// or quic:// URL"
            )));
        }
    };
    let host = uri
        .host()
        .ok_or_else(|| ClientError::Connect(format!("{url}: no host")))?
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(|e| ClientError::Connect(format!("{host}:{port}: {e}")))?;
    let _ = tcp.set_nodelay(true);
    let stream = if secure {
        let config = tls.client_config()?;
        let name = ServerName::try_from(host.clone())
            .map_err(|e| ClientError::Tls(format!("invalid server name {host:?}: {e}")))?;
        let tls_stream = TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| ClientError::Tls(format!("handshake with {host}:{port}: {e}")))?;
        ClientStream::Tls(Box::new(tls_stream))
    } else {
        ClientStream::Plain(tcp)
    };
    let (ws, _) =
        tokio_tungstenite::client_async_with_config(request, stream, Some(ws_config())).await?;
    Ok(ws)
}

#[cfg(test)]
mod tests {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;

    use super::*;

    /// A loopback WebSocket server that sends `sizes` binary messages of
    /// those lengths, then closes.
    async fn serve_messages(sizes: Vec<usize>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let url = format!("ws://{}/ws", listener.local_addr().expect("bound"));
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.expect("accepts");
            let mut ws = tokio_tungstenite::accept_async(tcp)
                .await
                .expect("upgrades");
            for (i, size) in sizes.into_iter().enumerate() {
                let payload = vec![i as u8; size];
                if ws.send(Message::Binary(payload.into())).await.is_err() {
                    return;
                }
            }
            let _ = ws.close(None).await;
        });
        url
    }

    #[tokio::test]
    async fn messages_larger_than_the_read_buffer_arrive_whole() {
        let sizes = vec![10, 3 * READ_BUFFER + 7, codec::MAX_SERVER_FRAME, 1];
        let url = serve_messages(sizes.clone()).await;
        let mut ws = open(&url, &ClientTls::Verify).await.expect("opens");
        for (i, size) in sizes.into_iter().enumerate() {
            match ws.next().await {
                Some(Ok(Message::Binary(data))) => {
                    assert_eq!(data.len(), size);
                    assert!(data.iter().all(|&b| b == i as u8), "message {i} intact");
                }
                other => panic!("message {i}: {other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn a_message_over_the_servers_frame_limit_is_refused() {
        let url = serve_messages(vec![codec::MAX_SERVER_FRAME + 1]).await;
        let mut ws = open(&url, &ClientTls::Verify).await.expect("opens");
        match ws.next().await {
            Some(Err(tokio_tungstenite::tungstenite::Error::Capacity(_))) => {}
            other => panic!("expected a capacity error, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn urls_of_other_schemes_are_refused() {
        let err = open("http://127.0.0.1:1/ws", &ClientTls::Verify)
            .await
            .expect_err("not ws");
        assert!(matches!(err, ClientError::Connect(_)), "{err:?}");
    }
}

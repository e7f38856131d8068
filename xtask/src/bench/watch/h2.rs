//! A minimal HTTP/2 (prior knowledge, cleartext) client for the watch
//! benchmark: many streams on few connections, so that 100,000 parked
//! queries fit in the process's file-descriptor limit.

use std::net::SocketAddr;

use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http2;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

/// One HTTP/2 connection; cheap to clone (clones share the connection).
#[derive(Clone)]
pub(crate) struct Conn {
    send: http2::SendRequest<Full<Bytes>>,
    base: String,
}

/// A response: status, `X-Consul-Index` and body.
pub(crate) struct Answer {
    pub(crate) status: StatusCode,
    pub(crate) index: u64,
    pub(crate) body: Bytes,
}

// === impl Conn ===

impl Conn {
    /// Opens a connection to `addr` and completes the HTTP/2 handshake.
    pub(crate) async fn open(addr: SocketAddr) -> Result<Self> {
        let tcp = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        tcp.set_nodelay(true)?;
        let (send, conn) = http2::Builder::new(TokioExecutor::new())
            .handshake(TokioIo::new(tcp))
            .await
            .context("HTTP/2 handshake")?;
        tokio::spawn(conn);
        Ok(Self {
            send,
            base: format!("http://{addr}"),
        })
    }

    /// `GET path`.
    pub(crate) async fn get(&self, path: &str) -> Result<Answer> {
        self.call(Method::GET, path, Bytes::new()).await
    }

    /// `PUT path` with `body`.
    pub(crate) async fn put(&self, path: &str, body: impl Into<Bytes>) -> Result<Answer> {
        self.call(Method::PUT, path, body.into()).await
    }

    async fn call(&self, method: Method, path: &str, body: Bytes) -> Result<Answer> {
        let req = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .body(Full::new(body))?;
        let mut send = self.send.clone();
        send.ready().await.context("connection closed")?;
        let resp = send.send_request(req).await.context(path.to_owned())?;
        let status = resp.status();
        let index = resp
            .headers()
            .get("x-consul-index")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let body = resp.into_body().collect().await?.to_bytes();
        Ok(Answer {
            status,
            index,
            body,
        })
    }
}

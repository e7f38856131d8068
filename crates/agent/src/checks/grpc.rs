//! The gRPC health checking protocol (`grpc.health.v1.Health/Check`) and
//! HTTP/2 PING, over plaintext (h2c) or TLS connections.

#![allow(missing_docs, unreachable_pub)]

use std::time::Duration;

use skein_config::CheckTls;
use skein_types::CheckStatus;
use tokio::io::{AsyncRead, AsyncWrite};

/// `grpc.health.v1.HealthCheckRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HealthCheckRequest {
    #[prost(string, tag = "1")]
    pub service: String,
}

/// `grpc.health.v1.HealthCheckResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HealthCheckResponse {
    #[prost(int32, tag = "1")]
    pub status: i32,
}

/// `ServingStatus.SERVING`.
const SERVING: i32 = 1;

/// Checks `host:port[/service]`.
pub(crate) async fn health(
    target: &str,
    tls: Option<&CheckTls>,
    timeout: Duration,
) -> (CheckStatus, String) {
    let (addr, service) = target.split_once('/').unwrap_or((target, ""));
    match tokio::time::timeout(timeout, call(addr, service, tls)).await {
        Ok(Ok(SERVING)) => (
            CheckStatus::Passing,
            format!("gRPC check {target}: success"),
        ),
        Ok(Ok(status)) => (
            CheckStatus::Critical,
            format!("gRPC check {target}: failed with status {status}"),
        ),
        Ok(Err(e)) => (CheckStatus::Critical, format!("gRPC check {target}: {e}")),
        Err(_) => (
            CheckStatus::Critical,
            format!("gRPC check {target}: timed out after {timeout:?}"),
        ),
    }
}

async fn call(addr: &str, service: &str, tls: Option<&CheckTls>) -> Result<i32, String> {
    let channel = channel(addr, tls)
        .await
        .map_err(|e| match std::error::Error::source(&e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        })?;
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.map_err(|e| e.to_string())?;
    let path = tonic::codegen::http::uri::PathAndQuery::from_static("/grpc.health.v1.Health/Check");
    let codec = tonic_prost::ProstCodec::<HealthCheckRequest, HealthCheckResponse>::default();
    let request = tonic::Request::new(HealthCheckRequest {
        service: service.to_owned(),
    });
    let response = grpc
        .unary(request, path, codec)
        .await
        .map_err(|s| format!("rpc error: code = {:?} desc = {}", s.code(), s.message()))?;
    Ok(response.into_inner().status)
}

/// A channel to `addr`; with TLS the handshake is skein's own so that
/// `TLSSkipVerify` and `TLSServerName` apply.
async fn channel(
    addr: &str,
    tls: Option<&CheckTls>,
) -> Result<tonic::transport::Channel, tonic::transport::Error> {
    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?;
    let Some(tls) = tls else {
        return endpoint.connect().await;
    };
    let (addr, tls) = (addr.to_owned(), tls.clone());
    let connector = tower::service_fn(move |_uri| {
        let (addr, tls) = (addr.clone(), tls.clone());
        async move {
            super::tls::connect_h2(&addr, &tls)
                .await
                .map(hyper_util::rt::TokioIo::new)
                .map_err(std::io::Error::other)
        }
    });
    endpoint.connect_with_connector(connector).await
}

/// Sends an HTTP/2 PING to `addr`, over TLS unless `tls` is `None`.
pub(crate) async fn h2ping(
    addr: &str,
    tls: Option<&CheckTls>,
    timeout: Duration,
) -> (CheckStatus, String) {
    let attempt = async {
        match tls {
            Some(tls) => ping(super::tls::connect_h2(addr, tls).await?).await,
            None => {
                ping(
                    tokio::net::TcpStream::connect(addr)
                        .await
                        .map_err(|e| e.to_string())?,
                )
                .await
            }
        }
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(Ok(())) => (
            CheckStatus::Passing,
            format!("HTTP2 ping was successful to {addr}"),
        ),
        Ok(Err(e)) => (
            CheckStatus::Critical,
            format!("HTTP2 ping failed to {addr}: {e}"),
        ),
        Err(_) => (
            CheckStatus::Critical,
            format!("HTTP2 ping to {addr} timed out after {timeout:?}"),
        ),
    }
}

async fn ping<S>(io: S) -> Result<(), String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (_send, mut conn) = h2::client::handshake(io).await.map_err(|e| e.to_string())?;
    let mut pinger = conn.ping_pong().ok_or("ping already taken")?;
    let driver = tokio::spawn(async move {
        let _ = conn.await;
    });
    let result = pinger
        .ping(h2::Ping::opaque())
        .await
        .map(|_| ())
        .map_err(|e| e.to_string());
    driver.abort();
    result
}

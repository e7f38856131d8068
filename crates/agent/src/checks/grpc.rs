//! The gRPC health checking protocol (`grpc.health.v1.Health/Check`) and
//! HTTP/2 PING, over plaintext connections.

#![allow(missing_docs, unreachable_pub)]

use std::time::Duration;

use skein_types::CheckStatus;

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
pub(crate) async fn health(target: &str, timeout: Duration) -> (CheckStatus, String) {
    let (addr, service) = target.split_once('/').unwrap_or((target, ""));
    match tokio::time::timeout(timeout, call(addr, service)).await {
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

async fn call(addr: &str, service: &str) -> Result<i32, String> {
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| e.to_string())?;
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

/// Sends an HTTP/2 PING to `addr` over a plaintext (h2c) connection.
pub(crate) async fn h2ping(addr: &str, timeout: Duration) -> (CheckStatus, String) {
    match tokio::time::timeout(timeout, ping(addr)).await {
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

async fn ping(addr: &str) -> Result<(), String> {
    let tcp = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| e.to_string())?;
    let (_send, mut conn) = h2::client::handshake(tcp)
        .await
        .map_err(|e| e.to_string())?;
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

//! One run of an HTTP, TCP or script check.

use std::time::Duration;

use skein_config::CheckKind;
use skein_types::CheckStatus;

/// Runs the probe once; returns the result and its output.
pub(crate) async fn run(kind: &CheckKind, timeout: Duration) -> (CheckStatus, String) {
    match kind {
        CheckKind::Http {
            url,
            method,
            headers,
            body,
            tls,
        } => {
            let (url, method, headers, body, skip_verify) = (
                url.clone(),
                method.clone(),
                headers.clone(),
                body.clone(),
                tls.skip_verify,
            );
            tokio::task::spawn_blocking(move || {
                http(&url, &method, &headers, &body, skip_verify, timeout)
            })
            .await
            .unwrap_or_else(|e| (CheckStatus::Critical, format!("check task failed: {e}")))
        }
        CheckKind::Tcp(addr) => tcp(addr, timeout).await,
        CheckKind::Script(args) => script(args, timeout).await,
        CheckKind::Grpc { target, tls } => super::grpc::health(target, tls.as_ref(), timeout).await,
        CheckKind::H2Ping { addr, tls } => super::grpc::h2ping(addr, tls.as_ref(), timeout).await,
        _ => (CheckStatus::Critical, "check type not supported".into()),
    }
}

fn http(
    url: &str,
    method: &str,
    headers: &std::collections::BTreeMap<String, Vec<String>>,
    body: &str,
    skip_verify: bool,
    timeout: Duration,
) -> (CheckStatus, String) {
    let tls = ureq::tls::TlsConfig::builder()
        .disable_verification(skip_verify)
        .build();
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
        .tls_config(tls)
        .build()
        .new_agent();
    let mut req = ureq::http::Request::builder()
        .method(method)
        .uri(url)
        .header("User-Agent", "Consul Health Check");
    for (name, values) in headers {
        for v in values {
            req = req.header(name.as_str(), v.as_str());
        }
    }
    let req = match req.body(body.as_bytes().to_vec()) {
        Ok(r) => r,
        Err(e) => {
            return (
                CheckStatus::Critical,
                format!("invalid HTTP check request: {e}"),
            );
        }
    };
    match agent.run(req) {
        Ok(mut resp) => {
            let code = resp.status();
            let text = resp.body_mut().read_to_string().unwrap_or_default();
            let status = match code.as_u16() {
                200..=299 => CheckStatus::Passing,
                429 => CheckStatus::Warning,
                _ => CheckStatus::Critical,
            };
            (
                status,
                format!("HTTP {method} {url}: {code} Output: {text}"),
            )
        }
        Err(e) => (CheckStatus::Critical, format!("HTTP {method} {url}: {e}")),
    }
}

async fn tcp(addr: &str, timeout: Duration) -> (CheckStatus, String) {
    match tokio::time::timeout(timeout, tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(_)) => (CheckStatus::Passing, format!("TCP connect {addr}: Success")),
        Ok(Err(e)) => (CheckStatus::Critical, format!("dial tcp {addr}: {e}")),
        Err(_) => (
            CheckStatus::Critical,
            format!("dial tcp {addr}: i/o timeout"),
        ),
    }
}

async fn script(args: &[String], timeout: Duration) -> (CheckStatus, String) {
    let Some((prog, rest)) = args.split_first() else {
        return (CheckStatus::Critical, "empty script check".into());
    };
    let mut cmd = tokio::process::Command::new(prog);
    cmd.args(rest)
        .kill_on_drop(true)
        .stdin(std::process::Stdio::null());
    let out = match tokio::time::timeout(timeout, cmd.output()).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => {
            return (
                CheckStatus::Critical,
                format!("failed to start {prog}: {e}"),
            );
        }
        Err(_) => {
            return (
                CheckStatus::Critical,
                format!("Timed out ({timeout:?}) running check"),
            );
        }
    };
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    let status = match out.status.code() {
        Some(0) => CheckStatus::Passing,
        Some(1) => CheckStatus::Warning,
        _ => CheckStatus::Critical,
    };
    (status, text)
}

#[cfg(test)]
mod tests {
    //! Probes against real TLS servers on loopback with a self-signed
    //! certificate: accepted only with `TLSSkipVerify`.

    use std::sync::Arc;

    use skein_config::CheckTls;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// Serves HTTP/1.1 (`200 ok`) and, over ALPN h2, the gRPC health
    /// service (always SERVING) and PINGs.
    async fn tls_server() -> String {
        let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
            .expect("certificate");
        let key = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der())
            .expect("key");
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .expect("versions")
        .with_no_client_auth()
        .with_single_cert(vec![cert.cert.der().clone()], key)
        .expect("server config");
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr").to_string();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
                        serve_h2(tls).await;
                    } else {
                        serve_http1(tls).await;
                    }
                });
            }
        });
        addr
    }

    async fn serve_http1(mut tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>) {
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            match tls.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => request.extend_from_slice(&buf[..n]),
            }
        }
        let _ = tls
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")
            .await;
        let _ = tls.shutdown().await;
    }

    async fn serve_h2(tls: tokio_rustls::server::TlsStream<tokio::net::TcpStream>) {
        let Ok(mut conn) = h2::server::handshake(tls).await else {
            return;
        };
        while let Some(Ok((_request, mut respond))) = conn.accept().await {
            let response = http::Response::builder()
                .header("content-type", "application/grpc")
                .body(())
                .expect("response");
            let Ok(mut stream) = respond.send_response(response, false) else {
                continue;
            };
            // One length-prefixed message: HealthCheckResponse{status: SERVING}.
            let frame = bytes::Bytes::from_static(&[0, 0, 0, 0, 2, 0x08, 0x01]);
            let _ = stream.send_data(frame, false);
            let mut trailers = http::HeaderMap::new();
            trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
            let _ = stream.send_trailers(trailers);
        }
    }

    fn tls(skip_verify: bool) -> CheckTls {
        CheckTls {
            skip_verify,
            server_name: String::new(),
        }
    }

    const TIMEOUT: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn https_checks_pass_only_when_verification_is_skipped() {
        let addr = tls_server().await;
        let https = |skip| CheckKind::Http {
            url: format!("https://{addr}/health"),
            method: "GET".into(),
            headers: Default::default(),
            body: String::new(),
            tls: tls(skip),
        };
        let (status, output) = run(&https(true), TIMEOUT).await;
        assert_eq!(status, CheckStatus::Passing, "{output}");
        assert!(output.contains("200"), "{output}");
        let (status, output) = run(&https(false), TIMEOUT).await;
        assert_eq!(status, CheckStatus::Critical, "{output}");
    }

    #[tokio::test]
    async fn grpc_over_tls_reads_the_serving_status() {
        let addr = tls_server().await;
        let grpc = |skip| CheckKind::Grpc {
            target: format!("{addr}/web"),
            tls: Some(tls(skip)),
        };
        let (status, output) = run(&grpc(true), TIMEOUT).await;
        assert_eq!(status, CheckStatus::Passing, "{output}");
        let (status, output) = run(&grpc(false), TIMEOUT).await;
        assert_eq!(status, CheckStatus::Critical, "{output}");
        assert!(output.contains("certificate"), "{output}");
    }

    #[tokio::test]
    async fn h2ping_over_tls_needs_a_trusted_or_skipped_certificate() {
        let addr = tls_server().await;
        let ping = |skip| CheckKind::H2Ping {
            addr: addr.clone(),
            tls: Some(tls(skip)),
        };
        let (status, output) = run(&ping(true), TIMEOUT).await;
        assert_eq!(status, CheckStatus::Passing, "{output}");
        let (status, output) = run(&ping(false), TIMEOUT).await;
        assert_eq!(status, CheckStatus::Critical, "{output}");
        assert!(output.contains("certificate"), "{output}");
    }
}

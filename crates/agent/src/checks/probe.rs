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
            ..
        } => {
            let (url, method, headers, body) =
                (url.clone(), method.clone(), headers.clone(), body.clone());
            tokio::task::spawn_blocking(move || http(&url, &method, &headers, &body, timeout))
                .await
                .unwrap_or_else(|e| (CheckStatus::Critical, format!("check task failed: {e}")))
        }
        CheckKind::Tcp(addr) => tcp(addr, timeout).await,
        CheckKind::Script(args) => script(args, timeout).await,
        CheckKind::Grpc { target, .. } => super::grpc::health(target, timeout).await,
        CheckKind::H2Ping { addr, .. } => super::grpc::h2ping(addr, timeout).await,
        _ => (CheckStatus::Critical, "check type not supported".into()),
    }
}

fn http(
    url: &str,
    method: &str,
    headers: &std::collections::BTreeMap<String, Vec<String>>,
    body: &str,
    timeout: Duration,
) -> (CheckStatus, String) {
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(timeout))
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

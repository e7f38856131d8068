//! `GET /v1/agent/monitor?loglevel=[&logjson]`: streams the agent's log
//! lines at the requested level or above, as text or JSON, until the client
//! goes away.

use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use tokio::sync::broadcast::error::RecvError;
use tracing::Level;

use super::authorize;
use crate::query::Req;
use crate::{Access, ApiError, ApiState};

/// Parses Consul's level names.
fn level(name: &str) -> Option<Level> {
    Some(match name.to_ascii_lowercase().as_str() {
        "trace" => Level::TRACE,
        "debug" => Level::DEBUG,
        "" | "info" => Level::INFO,
        "warn" => Level::WARN,
        "err" | "error" => Level::ERROR,
        _ => return None,
    })
}

pub(crate) async fn monitor(State(state): State<ApiState>, req: Req) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::OperatorRead)?;
    let name = req.params.get("loglevel").unwrap_or_default();
    let min = level(name).ok_or_else(|| ApiError::bad(format!("Unknown log level: {name}")))?;
    let json = req.params.flag("logjson");
    let rx = state.logs.subscribe();
    let lines = futures::stream::unfold(rx, move |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(line) if line.level <= min => {
                    let text = if json { line.json } else { line.text };
                    return Some((Ok::<_, std::io::Error>(format!("{text}\n")), rx));
                }
                Ok(_) | Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return None,
            }
        }
    });
    Ok((
        [("content-type", "text/plain; charset=utf-8")],
        Body::from_stream(lines),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::level;
    use tracing::Level;

    #[test]
    fn levels_parse_like_consul() {
        assert_eq!(level("TRACE"), Some(Level::TRACE));
        assert_eq!(level("err"), Some(Level::ERROR));
        assert_eq!(level(""), Some(Level::INFO));
        assert_eq!(level("not-a-real-level"), None);
    }
}

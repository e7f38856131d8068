//! `/v1/snapshot`: the whole state as a gzipped tar (`meta.json`,
//! `state.bin`, `SHA256SUMS`), and restore from one.

use std::io::{Read, Write};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::json;
use sha2::{Digest, Sha256};
use skein_state::{Op, Outcome, StateData};

use super::authorize;
use crate::query::Req;
use crate::response::{ok, read_headers};
use crate::{Access, ApiError, ApiState};

const META: &str = "meta.json";
const STATE: &str = "state.bin";
const SUMS: &str = "SHA256SUMS";

pub(crate) fn routes() -> Router<ApiState> {
    Router::new().route("/v1/snapshot", get(save).put(restore))
}

async fn save(State(state): State<ApiState>, req: Req) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Management)?;
    let meta = state.backend.read_barrier(req.consistency).await?;
    let data = super::read_store(&state, |s| s.snapshot())?;
    let archive =
        archive(&data).map_err(|e| ApiError::Internal(format!("writing snapshot: {e}")))?;
    let mut headers = read_headers(&state, data.index, meta, req.consistency);
    headers.insert(
        "content-type",
        HeaderValue::from_static("application/x-gzip"),
    );
    Ok((StatusCode::OK, headers, archive).into_response())
}

fn archive(data: &StateData) -> std::io::Result<Vec<u8>> {
    let state = serde_json::to_vec(data)?;
    let meta = serde_json::to_vec(
        &json!({ "Version": 1, "Index": data.index, "Format": "skein-json-v1" }),
    )?;
    let sums = format!("{}  {META}\n{}  {STATE}\n", sha256(&meta), sha256(&state));
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    for (name, bytes) in [
        (META, meta.as_slice()),
        (STATE, state.as_slice()),
        (SUMS, sums.as_bytes()),
    ] {
        let mut header = tar::Header::new_gnu();
        header.set_size(bytes.len() as u64);
        header.set_mode(0o600);
        header.set_cksum();
        tar.append_data(&mut header, name, bytes)?;
    }
    let mut gz = tar.into_inner()?;
    gz.flush()?;
    gz.finish()
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

async fn restore(
    State(state): State<ApiState>,
    req: Req,
    body: Bytes,
) -> Result<Response, ApiError> {
    authorize(&state, &req, Access::Management)?;
    let data = unpack(&body).map_err(|e| ApiError::bad(format!("Invalid snapshot: {e}")))?;
    match state.backend.write(Op::Restore(Box::new(data))).await? {
        Outcome::Unit => Ok(ok(&json!(null))),
        other => Err(ApiError::Internal(format!("unexpected outcome {other:?}"))),
    }
}

fn unpack(body: &[u8]) -> Result<StateData, String> {
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(body));
    let (mut meta, mut state, mut sums) = (None, None, None);
    for entry in tar.entries().map_err(|e| e.to_string())? {
        let mut entry = entry.map_err(|e| e.to_string())?;
        let name = entry
            .path()
            .map_err(|e| e.to_string())?
            .to_string_lossy()
            .into_owned();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).map_err(|e| e.to_string())?;
        match name.as_str() {
            META => meta = Some(bytes),
            STATE => state = Some(bytes),
            SUMS => sums = Some(String::from_utf8_lossy(&bytes).into_owned()),
            _ => return Err(format!("unexpected file {name:?}")),
        }
    }
    let (meta, state, sums) = (
        meta.ok_or("missing meta.json")?,
        state.ok_or("missing state.bin")?,
        sums.ok_or("missing SHA256SUMS")?,
    );
    for (name, bytes) in [(META, &meta), (STATE, &state)] {
        if !sums.contains(&format!("{}  {name}", sha256(bytes))) {
            return Err(format!("checksum mismatch for {name}"));
        }
    }
    serde_json::from_slice(&state).map_err(|e| format!("decoding state: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_round_trips_and_starts_with_gzip_magic() {
        let data = StateData::default();
        let bytes = archive(&data).unwrap();
        assert_eq!(&bytes[..2], &[0x1f, 0x8b]);
        assert_eq!(unpack(&bytes).unwrap(), data);
    }

    #[test]
    fn corrupt_archives_are_refused() {
        assert!(unpack(b"not a snapshot").is_err());
        let mut bytes = archive(&StateData::default()).unwrap();
        let n = bytes.len();
        bytes.truncate(n / 2);
        assert!(unpack(&bytes).is_err());
    }
}

//! The frames on the simulated network: one request and one response per
//! connection, each a big-endian `u32` length and a JSON body.

use openraft::raft::{AppendEntriesRequest, InstallSnapshotRequest, VoteRequest};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use skein_raft::{NodeId, TypeConfig};
use skein_state::Command;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The port every simulated server listens on.
pub(crate) const PORT: u16 = 8300;

/// Frames larger than this are refused.
const MAX_FRAME: usize = 64 << 20;

/// A request to a server.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Request {
    Append(AppendEntriesRequest<TypeConfig>),
    Vote(VoteRequest<NodeId>),
    Snapshot(InstallSnapshotRequest<TypeConfig>),
    /// A client write: `raft.client_write` on the receiving server.
    Write(Command),
}

/// The answer to [`Request::Write`].
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum WriteReply {
    /// Committed and applied at this log id.
    Committed {
        term: u64,
        leader: NodeId,
        index: u64,
        applied: bool,
    },
    /// Not the leader; the leader it knows of.
    NotLeader { leader: Option<NodeId> },
    /// Any other refusal.
    Failed { reason: String },
}

/// Writes one frame.
pub(crate) async fn write<W, T>(w: &mut W, value: &T) -> std::io::Result<()>
where
    W: AsyncWrite + Unpin,
    T: Serialize,
{
    let body = serde_json::to_vec(value)?;
    let len = u32::try_from(body.len()).map_err(std::io::Error::other)?;
    w.write_all(&len.to_be_bytes()).await?;
    w.write_all(&body).await?;
    w.flush().await
}

/// Reads one frame.
pub(crate) async fn read<R, T>(r: &mut R) -> std::io::Result<T>
where
    R: AsyncRead + Unpin,
    T: DeserializeOwned,
{
    let len = r.read_u32().await? as usize;
    if len > MAX_FRAME {
        return Err(std::io::Error::other(format!("frame of {len} bytes")));
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).await?;
    Ok(serde_json::from_slice(&body)?)
}

//! Forwarding names outside skein's domains to the configured recursors.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::Message;
use rand::seq::SliceRandom;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tracing::debug;

/// Largest answer read from a recursor over UDP.
const MAX_UDP: usize = 65_535;

/// Sends `query` (the client's packet, its ID kept) to each recursor in
/// turn (in random order with `random`) until one answers within
/// `timeout`; over TCP when the client asked over TCP.
pub(crate) async fn forward(
    recursors: &[SocketAddr],
    random: bool,
    timeout: Duration,
    query: &[u8],
    tcp: bool,
) -> Option<Message> {
    let mut order: Vec<SocketAddr> = recursors.to_vec();
    if random {
        order.shuffle(&mut rand::thread_rng());
    }
    for upstream in order {
        let exchange = async {
            if tcp {
                over_tcp(upstream, query).await
            } else {
                over_udp(upstream, query).await
            }
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(Ok(answer)) => match Message::from_vec(&answer) {
                Ok(message) => return Some(message),
                Err(e) => debug!(%upstream, error = %e, "dns: malformed answer from recursor"),
            },
            Ok(Err(e)) => debug!(%upstream, error = %e, "dns: recursor failed"),
            Err(_) => debug!(%upstream, "dns: recursor timed out"),
        }
    }
    None
}

async fn over_udp(upstream: SocketAddr, query: &[u8]) -> std::io::Result<Vec<u8>> {
    let local: SocketAddr = if upstream.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local).await?;
    socket.connect(upstream).await?;
    socket.send(query).await?;
    let mut buf = vec![0u8; MAX_UDP];
    loop {
        let n = socket.recv(&mut buf).await?;
        // Only an answer to this query (same ID) counts.
        if n >= 2 && query.len() >= 2 && buf[..2] == query[..2] {
            buf.truncate(n);
            return Ok(buf);
        }
    }
}

async fn over_tcp(upstream: SocketAddr, query: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(upstream).await?;
    let len = u16::try_from(query.len())
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "query too long"))?;
    stream.write_all(&len.to_be_bytes()).await?;
    stream.write_all(query).await?;
    let mut len = [0u8; 2];
    stream.read_exact(&mut len).await?;
    let mut answer = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut answer).await?;
    Ok(answer)
}

//! skein's DNS interface: `.consul` names answered from the state store
//! over UDP and TCP, as Consul answers them (node, service, RFC 2782,
//! connect, ingress, addr and prepared-query names; A, AAAA, SRV, TXT, SOA,
//! NS and ANY), other names forwarded to the recursors.
//!
//! hickory-proto reads and writes the wire format; [`DnsHandler`] decides
//! every answer. UDP is served by one receive/answer/send loop per core
//! (`udp`), TCP by hickory-server. Each query takes one read lock on the
//! store and borrows what it needs from it.

mod error;
mod handler;
mod lookup;
mod name;
mod packet;
mod records;
mod recursor;
mod settings;
mod udp;

use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use skein_state::Store;
use tokio::net::TcpListener;
use tracing::{info, warn};

pub use error::DnsError;
pub use handler::{DnsHandler, GateFuture, ReadGate};
pub use hickory_server::net::xfer::Protocol;
pub use settings::DnsSettings;

/// How long a TCP client may stay idle between queries.
const TCP_IDLE: Duration = Duration::from_secs(10);
/// Responses buffered per TCP connection.
const TCP_RESPONSE_BUFFER: usize = 32;
/// Attempts to find a port free for both UDP and TCP when asked for port 0.
const PORT_ATTEMPTS: usize = 16;

/// The running DNS server.
pub struct DnsServer {
    addrs: Vec<SocketAddr>,
    /// TCP, served by hickory-server.
    server: hickory_server::Server<DnsHandler>,
    udp: udp::UdpLoops,
}

impl std::fmt::Debug for DnsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsServer")
            .field("addrs", &self.addrs)
            .finish_non_exhaustive()
    }
}

impl DnsServer {
    /// Serves `handler` over UDP and TCP on `port` of each of `ips`; port
    /// 0 picks one free port per address for both protocols.
    pub async fn start(handler: DnsHandler, ips: &[IpAddr], port: u16) -> Result<Self, DnsError> {
        let mut sockets = Vec::new();
        let mut addrs = Vec::new();
        let mut tcp_listeners = Vec::new();
        for ip in ips {
            let (udp, tcp) = bind_pair(SocketAddr::new(*ip, port)).await?;
            let addr = udp.local_addr().map_err(|source| DnsError::Bind {
                what: "udp",
                addr: ip.to_string(),
                source,
            })?;
            sockets.push(udp);
            // More sockets on the same port let queries use every core.
            for _ in 1..udp_sockets() {
                let extra = reuse_port_udp(addr).map_err(|source| DnsError::Bind {
                    what: "udp",
                    addr: addr.to_string(),
                    source,
                })?;
                sockets.push(extra);
            }
            tcp_listeners.push(tcp);
            addrs.push(addr);
        }
        let udp = udp::UdpLoops::start(&handler, sockets, tokio::runtime::Handle::current())
            .map_err(|source| DnsError::Bind {
                what: "udp",
                addr: format!("{addrs:?}"),
                source,
            })?;
        let mut server = hickory_server::Server::new(handler);
        for tcp in tcp_listeners {
            server.register_listener(tcp, TCP_IDLE, TCP_RESPONSE_BUFFER);
        }
        info!(addrs = ?addrs, "dns: serving");
        Ok(Self { addrs, server, udp })
    }

    /// The addresses served (UDP and TCP alike).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.addrs
    }

    /// Stops serving.
    pub async fn shutdown(mut self) {
        self.udp.stop().await;
        if let Err(e) = self.server.shutdown_gracefully().await {
            warn!(error = %e, "dns: shutdown");
        }
    }
}

/// UDP sockets per address: one per core, at most four.
fn udp_sockets() -> usize {
    std::thread::available_parallelism()
        .map(std::num::NonZeroUsize::get)
        .unwrap_or(1)
        .clamp(1, 4)
}

/// Binds UDP and TCP on the same address; for port 0, retries until a
/// port free for both is found.
async fn bind_pair(addr: SocketAddr) -> Result<(std::net::UdpSocket, TcpListener), DnsError> {
    let bind_err = |what, source| DnsError::Bind {
        what,
        addr: addr.to_string(),
        source,
    };
    let attempts = if addr.port() == 0 { PORT_ATTEMPTS } else { 1 };
    let mut last = None;
    for _ in 0..attempts {
        let udp = reuse_port_udp(addr).map_err(|e| bind_err("udp", e))?;
        let bound = udp.local_addr().map_err(|e| bind_err("udp", e))?;
        match TcpListener::bind(bound).await {
            Ok(tcp) => return Ok((udp, tcp)),
            Err(e) => last = Some(e),
        }
    }
    Err(bind_err(
        "tcp",
        last.unwrap_or_else(|| std::io::Error::other("no port free for UDP and TCP")),
    ))
}

/// A UDP socket in a `SO_REUSEPORT` group, so that the kernel spreads
/// queries over one socket per core. The TCP listener on the same port
/// has no such option: a second agent on the port still fails to start.
fn reuse_port_udp(addr: SocketAddr) -> std::io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_port(true)?;
    socket.bind(&addr.into())?;
    Ok(socket.into())
}

/// A [`ReadGate`] that never waits: every read may be stale.
#[derive(Debug, Clone, Copy, Default)]
pub struct StaleReads;

impl ReadGate for StaleReads {
    fn confirm(&self) -> GateFuture<'_> {
        Box::pin(async { Ok(()) })
    }
}

/// Builds a handler over a store with the given settings (for callers
/// that have no leader to confirm against).
pub fn handler(settings: DnsSettings, store: Arc<RwLock<Store>>) -> DnsHandler {
    DnsHandler::new(settings, store, Arc::new(StaleReads))
}

//! The UDP side of the DNS server: one thread per socket of a
//! `SO_REUSEPORT` group, each a loop that receives a datagram, answers it
//! from the store and sends the answer, with no task or channel between
//! (the shape of dnsmasq's loop). Answers that must wait, for a leader read
//! to be confirmed or a recursor to reply, go to the async runtime, which
//! sends them when they are ready.
//!
//! Each loop keeps the answers it encoded (see [`Answers`]): a question
//! asked again, byte for byte, while the catalog has not changed gets the
//! same bytes under its own ID, in one of the orders of the service's
//! instances picked at random as for a fresh answer.

use std::collections::HashMap;
use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use hickory_server::net::xfer::Protocol;
use hickory_server::server::Request;
use tokio::runtime::Handle;
use tracing::debug;

use rand::Rng;
use skein_types::Index;

use crate::DnsHandler;
use crate::handler::{Reuse, emit};
use crate::packet::{self, Incoming};

/// How long an idle loop waits before it looks at the stop flag again.
const STOP_POLL: Duration = Duration::from_millis(250);
/// The largest datagram read whole; a longer one is cut and gets FORMERR.
const MAX_DATAGRAM: usize = 65_535;
/// Answers waiting on the runtime at once; queries beyond are dropped, as
/// a resolver drops what it has no room for, and the client retries.
const MAX_WAITING: usize = 1024;
/// Questions whose answers one loop keeps; all are forgotten when a new
/// one would exceed this or [`KEPT_BYTES`].
const KEPT_QUESTIONS: usize = 4096;
/// Bytes of kept answers per loop.
const KEPT_BYTES: usize = 2 << 20;
/// A pause after an unexpected receive error, so a broken socket does not
/// spin its thread.
const ERROR_PAUSE: Duration = Duration::from_millis(10);

/// The running UDP loops.
pub(crate) struct UdpLoops {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

/// What every loop shares.
struct Shared {
    handler: DnsHandler,
    runtime: Handle,
    stop: Arc<AtomicBool>,
    waiting: AtomicUsize,
}

impl UdpLoops {
    /// Starts one loop per socket; answers that must wait run on `runtime`.
    pub(crate) fn start(
        handler: &DnsHandler,
        sockets: Vec<UdpSocket>,
        runtime: Handle,
    ) -> std::io::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let shared = Arc::new(Shared {
            handler: handler.clone(),
            runtime,
            stop: stop.clone(),
            waiting: AtomicUsize::new(0),
        });
        let mut loops = UdpLoops {
            stop,
            threads: Vec::new(),
        };
        for (i, socket) in sockets.into_iter().enumerate() {
            socket.set_nonblocking(false)?;
            socket.set_read_timeout(Some(STOP_POLL))?;
            let (socket, shared) = (Arc::new(socket), shared.clone());
            let thread = std::thread::Builder::new()
                .name(format!("dns-udp-{i}"))
                .spawn(move || serve(&shared, &socket));
            match thread {
                Ok(thread) => loops.threads.push(thread),
                Err(e) => {
                    loops.stop_now();
                    return Err(e);
                }
            }
        }
        Ok(loops)
    }

    /// Stops every loop and waits for them to end.
    pub(crate) async fn stop(mut self) {
        let threads = self.stop_now();
        let joined = tokio::task::spawn_blocking(move || {
            for thread in threads {
                let _ = thread.join();
            }
        });
        let _ = joined.await;
    }

    fn stop_now(&mut self) -> Vec<JoinHandle<()>> {
        self.stop.store(true, Ordering::Relaxed);
        std::mem::take(&mut self.threads)
    }
}

impl Drop for UdpLoops {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One socket's loop: receive, answer, send, until told to stop.
fn serve(shared: &Arc<Shared>, socket: &Arc<UdpSocket>) {
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut out = Vec::with_capacity(512);
    let mut answers = Answers::default();
    let mut rng = rand::thread_rng();
    while !shared.stop.load(Ordering::Relaxed) {
        let (len, src) = match socket.recv_from(&mut buf) {
            Ok(received) => received,
            Err(e) if is_idle(e.kind()) => continue,
            Err(e) => {
                debug!(error = %e, "dns: receiving a datagram failed");
                std::thread::sleep(ERROR_PAUSE);
                continue;
            }
        };
        let packet = &buf[..len];
        let kept = answers.find(packet, || shared.handler.catalog_index());
        let nth = kept.map(|k| rng.gen_range(0..k.count));
        if let Some(bytes) = kept.zip(nth).and_then(|(k, nth)| k.encoded(nth)) {
            out.clear();
            out.extend_from_slice(bytes);
            if let (Some(id), Some(asked)) = (out.get_mut(..2), packet.get(..2)) {
                id.copy_from_slice(asked);
            }
            send(socket, &out, src);
            continue;
        }
        match packet::read(packet, src, Protocol::Udp) {
            Incoming::Drop => {}
            Incoming::Malformed(bytes) => send(socket, &bytes, src),
            Incoming::Request(request) => {
                let mut pick = |count: usize| match nth {
                    Some(nth) if nth < count => nth,
                    _ => rng.gen_range(0..count.max(1)),
                };
                match shared.handler.respond_now(&request, &mut pick) {
                    Some(ready) => {
                        emit(&request, &ready.built, &mut out);
                        send(socket, &out, src);
                        if let Some(reuse) = ready.reuse {
                            answers.keep(packet, reuse, &out);
                        }
                    }
                    None => wait_for_answer(shared, socket, request),
                }
            }
        }
    }
}

/// The answers one loop encoded, by question: the packet after its ID,
/// so that only byte-identical questions (same flags, name spelling, EDNS
/// options) share an answer.
#[derive(Default)]
struct Answers {
    by_question: HashMap<Box<[u8]>, Kept>,
    bytes: usize,
}

/// One question's answers, each order of its instances encoded once used.
struct Kept {
    index: Index,
    count: usize,
    encoded: Vec<Option<Box<[u8]>>>,
}

impl Kept {
    fn encoded(&self, nth: usize) -> Option<&[u8]> {
        self.encoded.get(nth)?.as_deref()
    }
}

impl Answers {
    /// The answers kept for `packet`'s question, if read at the catalog's
    /// current index; `index` (a lock on the store) is read only for a
    /// question that has answers kept.
    fn find(&self, packet: &[u8], index: impl FnOnce() -> Option<Index>) -> Option<&Kept> {
        let kept = self.by_question.get(packet.get(2..)?)?;
        (index() == Some(kept.index)).then_some(kept)
    }

    /// Keeps `encoded`, the answer to `packet` in `reuse.order`.
    fn keep(&mut self, packet: &[u8], reuse: Reuse, encoded: &[u8]) {
        let Some(question) = packet.get(2..) else {
            return;
        };
        let order = reuse.order;
        let fresh = |kept: &Kept| kept.index == reuse.index && kept.count == order.count;
        if !self.by_question.get(question).is_some_and(fresh) {
            self.forget(question);
            if self.by_question.len() >= KEPT_QUESTIONS {
                self.by_question.clear();
                self.bytes = 0;
            }
            let kept = Kept {
                index: reuse.index,
                count: order.count,
                encoded: vec![None; order.count],
            };
            self.bytes += question.len();
            self.by_question.insert(question.into(), kept);
        }
        if self.bytes + encoded.len() > KEPT_BYTES {
            self.by_question.clear();
            self.bytes = 0;
            return;
        }
        if let Some(slot) = self
            .by_question
            .get_mut(question)
            .and_then(|kept| kept.encoded.get_mut(order.nth))
            && slot.is_none()
        {
            self.bytes += encoded.len();
            *slot = Some(encoded.into());
        }
    }

    /// Drops what is kept for `question`.
    fn forget(&mut self, question: &[u8]) {
        if let Some(old) = self.by_question.remove(question) {
            let encoded: usize = old.encoded.iter().flatten().map(|e| e.len()).sum();
            self.bytes = self.bytes.saturating_sub(question.len() + encoded);
        }
    }
}

/// A receive that ended without a datagram: the timeout, or a signal.
fn is_idle(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
    )
}

/// Answers `request` on the runtime, within [`MAX_WAITING`].
fn wait_for_answer(shared: &Arc<Shared>, socket: &Arc<UdpSocket>, request: Box<Request>) {
    if shared.waiting.fetch_add(1, Ordering::Relaxed) >= MAX_WAITING {
        shared.waiting.fetch_sub(1, Ordering::Relaxed);
        debug!(src = %request.src(), "dns: too many answers waiting, query dropped");
        return;
    }
    let (shared, socket) = (shared.clone(), socket.clone());
    let runtime = shared.runtime.clone();
    runtime.spawn(async move {
        let built = shared.handler.respond(&request).await;
        let mut out = Vec::with_capacity(512);
        emit(&request, &built, &mut out);
        // A UDP send does not wait for the peer: at most for room in the
        // socket's send buffer, which loopback and NICs drain at once.
        send(&socket, &out, request.src());
        shared.waiting.fetch_sub(1, Ordering::Relaxed);
    });
}

fn send(socket: &UdpSocket, bytes: &[u8], dst: SocketAddr) {
    if bytes.is_empty() {
        return;
    }
    if let Err(e) = socket.send_to(bytes, dst) {
        debug!(error = %e, %dst, "dns: sending an answer failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handler::Order;

    fn reuse(index: Index, nth: usize) -> Reuse {
        Reuse {
            index,
            order: Order { nth, count: 2 },
        }
    }

    #[test]
    fn kept_answers_match_the_question_after_the_id_at_the_same_index() {
        let mut answers = Answers::default();
        let asked = [0xAB, 0xCD, 1, 0, 0, 1, b'w'];
        answers.keep(&asked, reuse(7, 1), b"answer-1");
        let again = [0x12, 0x34, 1, 0, 0, 1, b'w'];
        let kept = answers
            .find(&again, || Some(7))
            .expect("same question, other id");
        assert_eq!(kept.count, 2);
        assert_eq!(kept.encoded(1), Some(&b"answer-1"[..]));
        assert_eq!(kept.encoded(0), None, "order 0 not encoded yet");
        assert!(
            answers.find(&again, || Some(8)).is_none(),
            "the catalog moved"
        );
        assert!(
            answers.find(&again, || None).is_none(),
            "the store unreadable"
        );
        let other = [0x12, 0x34, 1, 0, 0, 1, b'x'];
        let asked_index = std::cell::Cell::new(false);
        let index = || {
            asked_index.set(true);
            Some(7)
        };
        assert!(answers.find(&other, index).is_none());
        assert!(
            !asked_index.get(),
            "no lock for a question with nothing kept"
        );
    }

    #[test]
    fn a_new_index_replaces_what_was_kept_and_the_budget_holds() {
        let mut answers = Answers::default();
        let asked = [0, 0, 1, 0, b'q'];
        answers.keep(&asked, reuse(1, 0), b"old");
        answers.keep(&asked, reuse(2, 1), b"new");
        let kept = answers
            .find(&asked, || Some(2))
            .expect("kept at the new index");
        assert_eq!(kept.encoded(0), None);
        assert_eq!(kept.encoded(1), Some(&b"new"[..]));
        assert_eq!(answers.bytes, 3 + 3);
        let big = vec![0u8; KEPT_BYTES];
        answers.keep(&[0, 0, 9], reuse(2, 0), &big);
        assert!(answers.bytes <= KEPT_BYTES);
        assert!(
            answers
                .find(&[0, 0, 9], || Some(2))
                .is_none_or(|k| k.encoded(0).is_none())
        );
    }
}

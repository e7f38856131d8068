//! Test helpers: a canned-response HTTP server and an in-memory CLI runner.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

/// One request as the fake server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Recorded {
    pub(crate) method: String,
    pub(crate) target: String,
    pub(crate) headers: Vec<(String, String)>,
    pub(crate) body: Vec<u8>,
}

impl Recorded {
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A response to send back.
#[derive(Clone)]
pub(crate) struct Canned {
    pub(crate) status: u16,
    pub(crate) headers: Vec<(&'static str, String)>,
    pub(crate) body: Vec<u8>,
}

pub(crate) fn reply(status: u16, body: &[u8]) -> Canned {
    Canned {
        status,
        headers: Vec::new(),
        body: body.to_vec(),
    }
}

pub(crate) fn reply_with_index(status: u16, index: u64, body: &[u8]) -> Canned {
    Canned {
        status,
        headers: vec![("X-Consul-Index", index.to_string())],
        body: body.to_vec(),
    }
}

/// Serves `responses` in order, one connection each, on 127.0.0.1:0.
pub(crate) struct FakeServer {
    pub(crate) addr: String,
    seen: Arc<Mutex<Vec<Recorded>>>,
    handle: Option<JoinHandle<()>>,
}

impl FakeServer {
    pub(crate) fn start(responses: Vec<Canned>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&seen);
        let handle = std::thread::spawn(move || {
            for canned in responses {
                let (stream, _) = listener.accept().unwrap();
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                log.lock().unwrap().push(read_request(&mut reader));
                write_response(stream, &canned);
            }
        });
        Self {
            addr,
            seen,
            handle: Some(handle),
        }
    }

    /// Waits (up to 5 s) for all canned responses to be served; returns the requests.
    pub(crate) fn requests(mut self) -> Vec<Recorded> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        if let Some(h) = self.handle.take() {
            while !h.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            if h.is_finished() {
                h.join().unwrap();
            }
        }
        self.seen.lock().unwrap().clone()
    }
}

fn read_request(reader: &mut impl BufRead) -> Recorded {
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or_default().to_owned();
    let target = parts.next().unwrap_or_default().to_owned();
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        reader.read_line(&mut h).unwrap();
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        let (k, v) = h.split_once(':').unwrap();
        headers.push((k.trim().to_owned(), v.trim().to_owned()));
    }
    let len: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse().unwrap())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).unwrap();
    Recorded {
        method,
        target,
        headers,
        body,
    }
}

fn write_response(mut stream: std::net::TcpStream, canned: &Canned) {
    let mut head = format!(
        "HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n",
        canned.status,
        canned.body.len()
    );
    for (k, v) in &canned.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&canned.body).unwrap();
    stream.flush().unwrap();
}

/// The outcome of one CLI run.
#[derive(Debug)]
pub(crate) struct Output {
    pub(crate) code: u8,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

/// Runs the CLI with `args`, the agent at `addr` (via `CONSUL_HTTP_ADDR`) and `stdin`.
pub(crate) fn run_cli(args: &[&str], addr: &str, stdin: &[u8]) -> Output {
    run_cli_env(args, addr, &[], stdin)
}

/// Like [`run_cli`], with the environment variables `vars` set as well.
pub(crate) fn run_cli_env(
    args: &[&str],
    addr: &str,
    vars: &[(&str, &str)],
    stdin: &[u8],
) -> Output {
    let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    let mut all: Vec<(String, String)> = vec![("CONSUL_HTTP_ADDR".into(), addr.to_owned())];
    all.extend(vars.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let env = move |k: &str| all.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut input = stdin;
    let code = crate::run_with(&args, &env, &mut input, &mut out, &mut err);
    Output {
        code,
        stdout: String::from_utf8_lossy(&out).into_owned(),
        stderr: String::from_utf8_lossy(&err).into_owned(),
    }
}

/// Runs one command against a fake server answering `responses`.
pub(crate) fn run_against(args: &[&str], responses: Vec<Canned>) -> (Output, Vec<Recorded>) {
    run_against_stdin(args, responses, b"")
}

/// Like [`run_against`], with data on stdin.
pub(crate) fn run_against_stdin(
    args: &[&str],
    responses: Vec<Canned>,
    stdin: &[u8],
) -> (Output, Vec<Recorded>) {
    let server = FakeServer::start(responses);
    let out = run_cli(args, &server.addr, stdin);
    (out, server.requests())
}

/// Like [`run_against`], with the environment variables `vars` set as well.
pub(crate) fn run_against_env(
    args: &[&str],
    responses: Vec<Canned>,
    vars: &[(&str, &str)],
) -> (Output, Vec<Recorded>) {
    let server = FakeServer::start(responses);
    let out = run_cli_env(args, &server.addr, vars, b"");
    (out, server.requests())
}

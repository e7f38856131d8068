//! Every acknowledged write survives kill -9 of a single server.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::harness::{Agent, free_port, get, try_put};

#[test]
fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let (http, rpc) = (free_port(), free_port());
    let agent = Agent::server(dir.path(), http, rpc);
    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (acked, stop, base) = (acked.clone(), stop.clone(), agent.url("/v1/kv/durable/"));
        std::thread::spawn(move || {
            for i in 0.. {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                match try_put(&format!("{base}{i:06}"), format!("v{i}")) {
                    Some(r) if r.status == 200 && r.body.trim() == "true" => {
                        acked.lock().unwrap().push(i)
                    }
                    _ => break,
                }
            }
        })
    };
    crate::harness::wait_until(Duration::from_secs(30), "some writes", || {
        acked.lock().unwrap().len() >= 200
    });
    agent.kill9();
    stop.store(true, Ordering::Relaxed);
    let _ = writer.join();
    let acked = acked.lock().unwrap().clone();

    let agent = Agent::server(dir.path(), http, rpc);
    let present = get(&agent.url("/v1/kv/durable/?keys&consistent")).json();
    let present: Vec<String> = present
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k.as_str().unwrap().to_owned())
        .collect();
    eprintln!(
        "acknowledged {} writes before kill -9; {} present after restart",
        acked.len(),
        present.len()
    );
    for i in &acked {
        let key = format!("durable/{i:06}");
        assert!(present.contains(&key), "acknowledged write {key} lost");
    }
    let last = acked.last().unwrap();
    let value = get(&agent.url(&format!("/v1/kv/durable/{last:06}?raw"))).body;
    assert_eq!(value, format!("v{last}"));
}

//! The DNS interface, queried with `dig` and with hickory's resolver.

use std::net::SocketAddr;
use std::process::Command;
use std::time::Duration;

use serde_json::json;

use crate::harness::{Agent, put, wait_until};

/// What `dig` printed, section by section.
#[derive(Debug, Default)]
struct Dig {
    status: String,
    flags: Vec<String>,
    answer: Vec<Vec<String>>,
    authority: Vec<Vec<String>>,
    additional: Vec<Vec<String>>,
}

impl Dig {
    /// The data column(s) of each answer record (after name, TTL, class, type).
    fn data(&self) -> Vec<String> {
        self.answer.iter().map(|r| r[4..].join(" ")).collect()
    }

    fn types(&self) -> Vec<String> {
        self.answer.iter().map(|r| r[3].clone()).collect()
    }
}

/// Runs `dig @addr -p port <args>` and parses its output.
fn dig(addr: SocketAddr, args: &[&str]) -> Dig {
    let out = Command::new("dig")
        .arg(format!("@{}", addr.ip()))
        .args(["-p", &addr.port().to_string(), "+time=2", "+tries=1"])
        .args(args)
        .output()
        .expect("dig is installed (Debian dnsutils)");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut dig = Dig::default();
    let mut section: Option<&mut Vec<Vec<String>>> = None;
    for line in text.lines() {
        if let Some(rest) = line.split("status: ").nth(1) {
            dig.status = rest.split(',').next().unwrap_or_default().to_owned();
        }
        if let Some(rest) = line.strip_prefix(";; flags: ") {
            let flags = rest.split(';').next().unwrap_or_default();
            dig.flags = flags.split_whitespace().map(str::to_owned).collect();
        }
        if line.starts_with(";; ANSWER SECTION") {
            section = Some(&mut dig.answer);
        } else if line.starts_with(";; AUTHORITY SECTION") {
            section = Some(&mut dig.authority);
        } else if line.starts_with(";; ADDITIONAL SECTION") {
            section = Some(&mut dig.additional);
        } else if line.trim().is_empty() || line.starts_with(';') {
            if line.trim().is_empty() {
                section = None;
            }
        } else if let Some(s) = section.as_deref_mut() {
            s.push(line.split_whitespace().map(str::to_owned).collect());
        }
    }
    assert!(!dig.status.is_empty(), "dig got no answer:\n{text}");
    dig
}

fn dns_agent(extra: &[&str]) -> (Agent, SocketAddr) {
    let mut args = vec!["-dns-port=0", "-node-meta=rack:r1"];
    args.extend_from_slice(extra);
    let agent = Agent::dev(&args);
    let dns = agent.dns.expect("the agent serves DNS");
    (agent, dns)
}

fn register(agent: &Agent, body: serde_json::Value) {
    let r = put(&agent.url("/v1/agent/service/register"), body.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
}

fn catalog(agent: &Agent, body: serde_json::Value) {
    let r = put(&agent.url("/v1/catalog/register"), body.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[test]
fn service_names_answer_a_srv_and_tag_filtered_records() {
    let (agent, dns) = dns_agent(&[]);
    register(
        &agent,
        json!({"Name": "web", "ID": "web-1", "Tags": ["v1"], "Port": 8080}),
    );
    register(
        &agent,
        json!({"Name": "web", "ID": "web-2", "Tags": ["v2"], "Address": "10.1.2.3", "Port": 9090}),
    );
    register(
        &agent,
        json!({"Name": "db", "Address": "2001:db8::7", "Port": 5432}),
    );

    let a = dig(dns, &["web.service.consul", "A"]);
    assert_eq!(
        (a.status.as_str(), a.flags.contains(&"aa".to_owned())),
        ("NOERROR", true)
    );
    assert_eq!(sorted(a.data()), ["10.1.2.3", "127.0.0.1"]);
    assert_eq!(dig(dns, &["v2.web.service.consul"]).data(), ["10.1.2.3"]);
    assert_eq!(dig(dns, &["web.service.dc1.consul"]).data().len(), 2);
    assert_eq!(
        dig(dns, &["WEB.Service.CONSUL"]).data().len(),
        2,
        "names ignore case"
    );

    let srv = dig(dns, &["_web._v1.service.consul", "SRV"]);
    assert_eq!(srv.data(), ["1 1 8080 itest.node.dc1.consul."]);
    assert_eq!(srv.additional[0][0], "itest.node.dc1.consul.");
    assert_eq!(srv.additional[0][4], "127.0.0.1");
    assert!(
        srv.additional
            .iter()
            .any(|r| r[3] == "TXT" && r[4] == "\"rack=r1\""),
        "node meta rides along as TXT: {:?}",
        srv.additional
    );
    let srv = dig(dns, &["v2.web.service.consul", "SRV"]);
    assert_eq!(srv.data(), ["1 1 9090 0a010203.addr.dc1.consul."]);
    assert_eq!(srv.additional[0][4], "10.1.2.3");
    let all = dig(dns, &["_web._tcp.service.consul", "SRV"]);
    assert_eq!(all.data().len(), 2, "the tcp tag filters nothing");

    let v6 = dig(dns, &["db.service.consul", "AAAA"]);
    assert_eq!(v6.data(), ["2001:db8::7"]);
    let none = dig(dns, &["db.service.consul", "A"]);
    assert_eq!((none.status.as_str(), none.answer.len()), ("NOERROR", 0));
    assert_eq!(none.authority[0][3], "SOA", "no data carries the SOA");
    let any = dig(dns, &["web.service.consul", "ANY"]);
    assert_eq!(any.types(), ["A", "A"]);
}

#[test]
fn node_addr_connect_and_apex_names() {
    let (agent, dns) = dns_agent(&[]);
    let node = dig(dns, &["itest.node.consul"]);
    assert_eq!(node.data(), ["127.0.0.1"]);
    assert_eq!(dig(dns, &["ITest.node.consul"]).data(), ["127.0.0.1"]);
    assert!(node.additional.iter().any(|r| r[3] == "TXT"), "{node:?}");
    let txt = dig(dns, &["itest.node.dc1.consul", "TXT"]);
    assert!(txt.data().contains(&"\"rack=r1\"".to_owned()), "{txt:?}");
    catalog(&agent, json!({"Node": "ext", "Address": "db.example.com"}));
    let cname = dig(dns, &["ext.node.consul"]);
    assert_eq!(
        (cname.types(), cname.data()),
        (vec!["CNAME".to_owned()], vec!["db.example.com.".to_owned()])
    );

    assert_eq!(
        dig(dns, &["c000020a.addr.dc1.consul"]).data(),
        ["192.0.2.10"]
    );
    let v6 = dig(
        dns,
        &["20010db8000000000000000000000007.addr.dc1.consul", "AAAA"],
    );
    assert_eq!(v6.data(), ["2001:db8::7"]);

    register(&agent, json!({"Name": "api", "Port": 8080}));
    register(
        &agent,
        json!({"Kind": "connect-proxy", "Name": "api-sidecar-proxy", "Port": 21000, "Proxy": {"DestinationServiceName": "api"}}),
    );
    let mesh = dig(dns, &["api.connect.consul", "SRV"]);
    assert_eq!(mesh.data(), ["1 1 21000 itest.node.dc1.consul."]);

    let soa = dig(dns, &["consul", "SOA"]);
    assert_eq!(soa.answer[0][4..6], ["ns.consul.", "hostmaster.consul."]);
    let ns = dig(dns, &["consul", "NS"]);
    assert_eq!(ns.data(), ["itest.node.dc1.consul."]);
    assert_eq!(ns.additional[0][4], "127.0.0.1");
}

#[test]
fn unknown_names_are_nxdomain_with_the_soa() {
    let (_agent, dns) = dns_agent(&[]);
    for name in [
        "nope.service.consul",
        "nope.node.consul",
        "web.ingress.consul",
        "geo.query.consul",
        "web.service.otherdc.consul",
        "junk.consul",
    ] {
        let r = dig(dns, &[name]);
        assert_eq!(r.status, "NXDOMAIN", "{name}");
        assert_eq!(r.authority[0][3], "SOA", "{name}");
        assert_eq!(r.authority[0][0], "consul.", "{name}");
    }
}

#[test]
fn critical_instances_leave_the_answers_within_a_second() {
    let (agent, dns) = dns_agent(&[]);
    register(
        &agent,
        json!({"Name": "web", "ID": "a", "Address": "10.0.0.1", "Check": {"TTL": "60s", "Status": "passing"}}),
    );
    register(
        &agent,
        json!({"Name": "web", "ID": "b", "Address": "10.0.0.2", "Check": {"TTL": "60s", "Status": "passing"}}),
    );
    assert_eq!(dig(dns, &["web.service.consul"]).data().len(), 2);
    put(&agent.url("/v1/agent/check/fail/service:b"), "");
    wait_until(
        Duration::from_secs(1),
        "the critical instance to leave DNS",
        || dig(dns, &["web.service.consul"]).data() == ["10.0.0.1"],
    );
    put(&agent.url("/v1/agent/check/warn/service:b"), "");
    wait_until(
        Duration::from_secs(1),
        "a warning instance to answer",
        || dig(dns, &["web.service.consul"]).data().len() == 2,
    );
    put(&agent.url("/v1/agent/check/fail/service:a"), "");
    put(&agent.url("/v1/agent/check/fail/service:b"), "");
    wait_until(
        Duration::from_secs(1),
        "no healthy instance: NXDOMAIN",
        || dig(dns, &["web.service.consul"]).status == "NXDOMAIN",
    );
}

#[test]
fn only_passing_drops_warning_instances() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("dns.hcl");
    std::fs::write(&config, "dns_config { only_passing = true }\n").unwrap();
    let flag = format!("-config-file={}", config.display());
    let (agent, dns) = dns_agent(&[&flag]);
    register(
        &agent,
        json!({"Name": "web", "Address": "10.0.0.1", "Check": {"TTL": "60s", "Status": "warning"}}),
    );
    assert_eq!(dig(dns, &["web.service.consul"]).status, "NXDOMAIN");
}

fn many_instances(agent: &Agent, n: u8) {
    for i in 1..=n {
        register(
            agent,
            json!({"Name": "big", "ID": format!("big-{i}"), "Address": format!("10.0.1.{i}"), "Port": 80}),
        );
    }
}

#[test]
fn udp_answers_are_trimmed_and_tcp_answers_are_whole() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("dns.hcl");
    std::fs::write(&config, "dns_config { enable_truncate = true }\n").unwrap();
    let flag = format!("-config-file={}", config.display());
    let (agent, dns) = dns_agent(&[&flag]);
    many_instances(&agent, 40);

    let classic = dig(dns, &["+noedns", "+ignore", "big.service.consul", "SRV"]);
    assert_eq!(classic.answer.len(), 3, "udp_answer_limit without EDNS");
    assert!(
        classic.flags.contains(&"tc".to_owned()),
        "{:?}",
        classic.flags
    );

    let small = dig(
        dns,
        &["+bufsize=512", "+ignore", "big.service.consul", "SRV"],
    );
    assert!(small.flags.contains(&"tc".to_owned()), "{:?}", small.flags);
    assert!(
        (4..40).contains(&small.answer.len()),
        "{}",
        small.answer.len()
    );
    assert_eq!(
        small.additional.iter().filter(|r| r[3] == "A").count(),
        small.answer.len(),
        "every kept SRV keeps its address record"
    );

    let tcp = dig(dns, &["+tcp", "big.service.consul", "SRV"]);
    assert_eq!(tcp.answer.len(), 40);
    assert!(!tcp.flags.contains(&"tc".to_owned()));
    // dig retries over TCP by itself when TC is set.
    assert_eq!(
        dig(dns, &["+noedns", "big.service.consul", "SRV"])
            .answer
            .len(),
        40
    );
}

#[test]
fn without_enable_truncate_udp_answers_are_trimmed_silently() {
    let (agent, dns) = dns_agent(&[]);
    many_instances(&agent, 40);
    let small = dig(dns, &["+bufsize=512", "big.service.consul", "SRV"]);
    assert!(!small.flags.contains(&"tc".to_owned()), "{:?}", small.flags);
    assert!(
        (4..40).contains(&small.answer.len()),
        "{}",
        small.answer.len()
    );
}

#[test]
fn a_record_limit_caps_address_answers() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("dns.hcl");
    std::fs::write(&config, "dns_config { a_record_limit = 2 }\n").unwrap();
    let flag = format!("-config-file={}", config.display());
    let (agent, dns) = dns_agent(&[&flag]);
    many_instances(&agent, 5);
    assert_eq!(dig(dns, &["+tcp", "big.service.consul"]).answer.len(), 2);
    assert_eq!(
        dig(dns, &["+tcp", "big.service.consul", "SRV"])
            .answer
            .len(),
        5
    );
}

#[test]
fn outside_names_are_refused_without_recursors_and_forwarded_with_them() {
    let (upstream, upstream_dns) = {
        let (agent, dns) = dns_agent(&["-domain=upstream.test"]);
        (agent, dns)
    };
    register(&upstream, json!({"Name": "far", "Address": "10.9.9.9"}));

    let (_plain, plain_dns) = dns_agent(&[]);
    let refused = dig(plain_dns, &["far.service.upstream.test"]);
    assert_eq!(refused.status, "REFUSED");

    let recursor = format!("-recursor={upstream_dns}");
    let (_agent, dns) = dns_agent(&[&recursor]);
    let forwarded = dig(dns, &["far.service.upstream.test"]);
    assert_eq!(
        (forwarded.status.as_str(), forwarded.data()),
        ("NOERROR", vec!["10.9.9.9".to_owned()])
    );
    assert!(forwarded.flags.contains(&"ra".to_owned()));
    let over_tcp = dig(dns, &["+tcp", "far.service.upstream.test"]);
    assert_eq!(over_tcp.data(), ["10.9.9.9"]);
    let missing = dig(dns, &["gone.service.upstream.test"]);
    assert_eq!(
        missing.status, "NXDOMAIN",
        "the upstream's answer is relayed"
    );
    drop(upstream);
    let dead = dig(dns, &["far.service.upstream.test"]);
    assert_eq!(
        dead.status, "SERVFAIL",
        "an unreachable recursor is a SERVFAIL"
    );
}

/// dig without its random cookie asks byte-identical questions (but for
/// the ID), which the server may answer from the bytes it encoded before:
/// the order of the instances must still change from answer to answer,
/// and a catalog change must show in the very next answer.
#[test]
fn repeated_questions_get_fresh_orders_and_see_a_change_at_once() {
    let (agent, dns) = dns_agent(&[]);
    for i in 1..=3 {
        catalog(
            &agent,
            json!({"Node": format!("n{i}"), "Address": format!("10.0.0.{i}"),
                   "Service": {"Service": "web", "ID": "web", "Port": 80}}),
        );
    }
    let ask = || dig(dns, &["+nocookie", "web.service.consul", "A"]);
    let mut orders = std::collections::BTreeSet::new();
    for _ in 0..40 {
        let answer = ask().data();
        assert_eq!(sorted(answer.clone()), ["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
        orders.insert(answer);
    }
    // 40 uniform draws of 6 orders miss 3 or more of them with a
    // probability near 1e-11.
    assert!(orders.len() >= 4, "only these orders: {orders:?}");

    catalog(
        &agent,
        json!({"Node": "n4", "Address": "10.0.0.4",
               "Service": {"Service": "web", "ID": "web", "Port": 80}}),
    );
    assert_eq!(
        sorted(ask().data()),
        ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"]
    );
    let r = put(
        &agent.url("/v1/catalog/deregister"),
        json!({"Node": "n2"}).to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(sorted(ask().data()), ["10.0.0.1", "10.0.0.3", "10.0.0.4"]);
}

#[test]
fn a_resolver_library_reads_skein_answers() {
    use hickory_resolver::Resolver;
    use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
    use hickory_resolver::net::runtime::TokioRuntimeProvider;

    let (agent, dns) = dns_agent(&[]);
    register(
        &agent,
        json!({"Name": "web", "ID": "w1", "Address": "10.0.0.1", "Port": 81}),
    );
    register(
        &agent,
        json!({"Name": "web", "ID": "w2", "Address": "10.0.0.2", "Port": 82}),
    );
    let mut udp = ConnectionConfig::udp();
    udp.port = dns.port();
    let mut tcp = ConnectionConfig::tcp();
    tcp.port = dns.port();
    let mut server = NameServerConfig::udp_and_tcp(dns.ip());
    server.connections = vec![udp, tcp];
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let resolver = Resolver::builder_with_config(
            ResolverConfig::from_name_servers(vec![server]),
            TokioRuntimeProvider::default(),
        )
        .build()
        .unwrap();
        let ips = resolver.lookup_ip("web.service.consul.").await.unwrap();
        let mut ips: Vec<String> = ips.iter().map(|ip| ip.to_string()).collect();
        ips.sort();
        assert_eq!(ips, ["10.0.0.1", "10.0.0.2"]);
        let srv = resolver
            .srv_lookup("_web._tcp.service.consul.")
            .await
            .unwrap();
        let mut ports: Vec<u16> = srv
            .answers()
            .iter()
            .filter_map(|r| match &r.data {
                hickory_resolver::proto::rr::RData::SRV(s) => Some(s.port),
                _ => None,
            })
            .collect();
        ports.sort();
        assert_eq!(ports, [81, 82]);
        assert!(resolver.lookup_ip("nope.service.consul.").await.is_err());
    });
}

#[test]
fn ttls_alt_domain_and_leader_reads_follow_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("dns.hcl");
    std::fs::write(
        &config,
        r#"
alt_domain = "skein.test"
dns_config {
  allow_stale = false
  node_ttl = "10s"
  service_ttl = { "*" = "5s", "web" = "30s", "api-*" = "7s" }
}
"#,
    )
    .unwrap();
    let flag = format!("-config-file={}", config.display());
    let (agent, dns) = dns_agent(&[&flag]);
    for name in ["web", "db", "api-v2"] {
        register(&agent, json!({"Name": name, "Address": "10.0.0.5"}));
    }
    let ttl = |name: &str| dig(dns, &[name]).answer[0][1].clone();
    assert_eq!(ttl("web.service.consul"), "30");
    assert_eq!(ttl("db.service.consul"), "5");
    assert_eq!(ttl("api-v2.service.consul"), "7");
    assert_eq!(ttl("itest.node.consul"), "10");
    assert_eq!(dig(dns, &["web.service.skein.test"]).data(), ["10.0.0.5"]);
    let soa = dig(dns, &["nope.service.skein.test"]);
    assert_eq!(
        soa.authority[0][0], "skein.test.",
        "the SOA is the alt domain's"
    );
}

#[test]
fn dns_port_minus_one_disables_the_listener() {
    let agent = Agent::dev(&["-dns-port=-1"]);
    assert!(agent.dns.is_none());
}

datacenter         = "east-1"
primary_datacenter = "west-1"
node_name          = "node-a"
node_id            = "A1B2C3D4-0000-4000-8000-0123456789AB"
node_meta {
  rack = "r1"
  zone = "z2"
}
server           = true
bootstrap_expect = 3
bind_addr        = "10.0.0.5"
advertise_addr   = "10.0.0.6"
client_addr      = "127.0.0.1 10.0.0.5"
addresses {
  http = "0.0.0.0"
  dns  = "127.0.0.2"
}
data_dir   = "/var/lib/skein"
log_level  = "WARN"
log_json   = true
pid_file   = "/run/skein.pid"
domain     = "example"
alt_domain = "alt.example."
ports {
  http             = 18500
  https            = 18501
  dns              = -1
  grpc             = 18502
  grpc_tls         = 18503
  serf_lan         = 18301
  serf_wan         = 18302
  server           = 18300
  sidecar_min_port = 22000
  sidecar_max_port = 22255
  expose_min_port  = 23000
  expose_max_port  = 23255
}
performance {
  raft_multiplier  = 2
  leave_drain_time = "1.5s"
  rpc_hold_timeout = "9s"
}
enable_script_checks       = true
enable_local_script_checks = true
acl {
  enabled                  = true
  default_policy           = "deny"
  down_policy              = "async-cache"
  enable_token_persistence = true
  token_ttl                = "1m"
  policy_ttl               = "2m"
  role_ttl                 = "3m"
  tokens {
    master                           = "mgmt-token"
    agent                            = "agent-token"
    agent_master                     = "recovery-token"
    default                          = "default-token"
    replication                      = "repl-token"
    dns                              = "dns-token"
    config_file_service_registration = "reg-token"
  }
}
limits {
  kv_max_value_size         = 1048576
  txn_max_req_len           = 2097152
  http_max_conns_per_client = 300
  rpc_rate                  = 50.5
  rpc_max_burst             = 99
}
default_query_time          = "1m30s"
max_query_time              = "15m"
retry_join                  = ["10.0.0.7", "10.0.0.8"]
retry_join_wan              = ["192.168.0.1"]
start_join                  = ["10.0.0.9"]
retry_interval              = "15s"
rejoin_after_leave          = true
leave_on_terminate          = true
skip_leave_on_interrupt     = false
disable_update_check        = true
disable_anonymous_signature = true
disable_host_node_id        = true
disable_remote_exec         = false
encrypt                     = "pUqJrVyVRj5jsiYEkM/tFQYfWyJIv4s3XkvDwy7Cu5s="
encrypt_verify_incoming     = false
encrypt_verify_outgoing     = false
recursors                   = ["8.8.8.8", "1.1.1.1"]
dns_config {
  allow_stale = false
  max_stale   = "10s"
  node_ttl    = "30s"
  service_ttl = {
    "*" = "5s"
    web = "10s"
  }
  udp_answer_limit                = 5
  a_record_limit                  = 7
  enable_truncate                 = true
  only_passing                    = true
  recursor_timeout                = "4s"
  enable_additional_node_meta_txt = false
  soa {
    expire  = 1
    min_ttl = 2
    refresh = 3
    retry   = 4
  }
}
connect {
  enabled     = true
  ca_provider = "consul"
  ca_config {
    leaf_cert_ttl = "72h"
    private_key   = "secret-key"
  }
}
peering {
  enabled = false
}
ui_config {
  enabled      = true
  content_path = "/console/"
}
segments = null
services {
  name  = "web"
  port  = 80
  token = "svc-token"
}
services {
  name = "db"
  port = 5432
}
service {
  name = "cache"
  port = 6379
}
checks {
  id   = "mem"
  name = "Memory"
  ttl  = "30s"
}
check {
  id   = "disk"
  name = "Disk"
  ttl  = "1m"
}
telemetry {
  disable_hostname = true
  statsd_address   = "127.0.0.1:8125"
}
raft_snapshot_threshold = 8192
raft_snapshot_interval  = "45s"
raft_trailing_logs      = 20000
autopilot {
  cleanup_dead_servers      = false
  last_contact_threshold    = "300ms"
  max_trailing_logs         = 500
  server_stabilization_time = "20s"
}
session_ttl_min       = "5s"
check_update_interval = "2m"
reconnect_timeout     = "8h"
enable_debug          = true
tls {
  defaults {
    verify_incoming = true
  }
}
verify_incoming = true
verify_outgoing = true
ca_file         = "/etc/skein/ca.pem"
cert_file       = "/etc/skein/cert.pem"
key_file        = "/etc/skein/key.pem"
server_name     = "server.east-1.consul"
experiments     = ["resource-apis"]

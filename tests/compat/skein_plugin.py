"""pytest plugin: run py-consul 1.8.0's own test suite against a local skein binary.

Loaded by `cargo xtask compat` as `-p skein_plugin` (with PYTHONPATH=tests/compat), from the
root of the unpacked py-consul sdist. It replaces the root conftest's
`start_consul_container(version, acl_master_token)`, which would `docker run` the
`hashicorp/consul` image, by a subprocess that does what that image's entrypoint does:

    $CONSUL_BIN agent -data-dir=<tmp>/data -config-dir=<tmp>/config -dev \
        -client=127.0.0.1 -log-level trace

with `<tmp>/config/local.json` holding the JSON the conftest would have put in
CONSUL_LOCAL_CONFIG. Everything else in the suite runs unchanged.

Environment:
  CONSUL_BIN                  the agent binary (required)
  SKEIN_COMPAT_VERSIONS       comma list of conftest CONSUL_VERSIONS to keep (default 1.22.0);
                              the other parametrizations are deselected
  SKEIN_COMPAT_LOG_DIR        where each test's agent log is kept (default: <tmp>/skein-compat-logs)
  SKEIN_COMPAT_READY_TIMEOUT  seconds to wait for a known leader (default 10, as the conftest)
  SKEIN_COMPAT_PORT_WAIT      seconds to wait for the default ports to be free (default 5)

Tests must run serially: each starts its own agent on Consul's default ports, and some
register HTTP checks against http://localhost:8500, so the agent must be on 8500.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest
import requests

HTTP_PORT = 8500
# Consul's default server RPC and serf LAN/WAN ports; an agent still holding them would
# make the next one fail to start.
TCP_PORTS = (HTTP_PORT, 8300, 8301, 8302)
UDP_PORTS = (8301, 8302)
STOP_GRACE_SECONDS = 10

_state = {"nodeid": "session", "agent": None}


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def _log_dir() -> str:
    path = os.environ.get("SKEIN_COMPAT_LOG_DIR") or os.path.join(tempfile.gettempdir(), "skein-compat-logs")
    os.makedirs(path, exist_ok=True)
    return path


def _log_path() -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", _state["nodeid"]).strip("_")
    return os.path.join(_log_dir(), f"{name}.log")


class LocalAgent:
    """Duck-types the parts of docker's Container that py-consul's conftest uses."""

    def __init__(self, popen: subprocess.Popen, workdir: str, logpath: str):
        self.popen, self.workdir, self.logpath = popen, workdir, logpath

    def logs(self) -> bytes:
        with open(self.logpath, "rb") as f:
            return f.read()

    def log_tail(self, lines: int = 30) -> str:
        text = self.logs().decode("utf-8", "replace").splitlines()
        return "\n".join(text[-lines:])

    def stop(self) -> None:
        """SIGINT (Consul's graceful leave), then SIGKILL after STOP_GRACE_SECONDS."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGINT)
            try:
                self.popen.wait(STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        if _state["agent"] is self:
            _state["agent"] = None

    def remove(self, **_kwargs) -> None:
        # The log lives outside workdir, so it survives for the developer.
        shutil.rmtree(self.workdir, ignore_errors=True)


def _port_busy(port: int, kind: int) -> bool:
    with socket.socket(socket.AF_INET, kind) as s:
        # Same as the agent's own listeners: TIME_WAIT leftovers do not count as busy.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def _busy_ports() -> list[str]:
    busy = [f"tcp/{p}" for p in TCP_PORTS if _port_busy(p, socket.SOCK_STREAM)]
    return busy + [f"udp/{p}" for p in UDP_PORTS if _port_busy(p, socket.SOCK_DGRAM)]


def _wait_for_free_ports() -> None:
    """Stop the previous agent if a test left it running, then wait for the default ports."""
    previous = _state["agent"]
    if previous is not None:
        previous.stop()
    deadline = time.monotonic() + _env_float("SKEIN_COMPAT_PORT_WAIT", 5)
    while busy := _busy_ports():
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"skein_plugin: ports still in use after waiting: {', '.join(busy)}; "
                "is another agent running? (ss -ltnup)"
            )
        time.sleep(0.1)


def _write_config(workdir: str, acl_master_token: str | None) -> None:
    # Exactly what py-consul's conftest puts in CONSUL_LOCAL_CONFIG.
    config = {
        "ports": {"https": -1, "dns": -1, "grpc_tls": -1},
        "performance": {"raft_multiplier": 1},
        "enable_script_checks": True,
    }
    if acl_master_token:
        config |= {
            "primary_datacenter": "dc1",
            "acl": {"enabled": True, "tokens": {"initial_management": acl_master_token}},
        }
    os.makedirs(os.path.join(workdir, "config"))
    os.makedirs(os.path.join(workdir, "data"))
    with open(os.path.join(workdir, "config", "local.json"), "w", encoding="utf-8") as f:
        json.dump(config, f)


def _spawn(workdir: str) -> LocalAgent:
    binary = os.environ.get("CONSUL_BIN")
    if not binary:
        raise pytest.UsageError("skein_plugin: CONSUL_BIN is not set")
    cmd = [binary, "agent", f"-data-dir={workdir}/data", f"-config-dir={workdir}/config",
           "-dev", "-client=127.0.0.1", "-log-level", "trace"]  # fmt: skip
    logpath = _log_path()
    with open(logpath, "wb") as log:
        log.write(f"# {' '.join(cmd)}\n".encode())
        log.flush()
        popen = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    agent = LocalAgent(popen, workdir, logpath)
    _state["agent"] = agent
    return agent


def _fail(agent: LocalAgent, why: str):
    agent.stop()
    tail = agent.log_tail()
    agent.remove()
    raise RuntimeError(f"skein_plugin: {why} (exit code {agent.popen.returncode}); agent log {agent.logpath}:\n{tail}")


def _wait_for_leader(agent: LocalAgent, base: str) -> None:
    # Same as the conftest: poll status/leader every 0.1 s until 200 and a truthy body.
    deadline = time.monotonic() + _env_float("SKEIN_COMPAT_READY_TIMEOUT", 10)
    while True:
        if agent.popen.poll() is not None:
            _fail(agent, "agent exited before electing a leader")
        if time.monotonic() > deadline:
            _fail(agent, "no leader within the readiness timeout")
        time.sleep(0.1)
        try:
            response = requests.get(base + "status/leader", timeout=2)
            if response.status_code == 200 and response.json():
                return
        except (requests.RequestException, ValueError):
            continue


def _wait_for_catalog(agent: LocalAgent, base: str) -> None:
    # Same as the conftest: a registered service must show up in health/service, 10 tries.
    # (The conftest retries back to back unless a request raises; we pause 0.1 s in between.)
    for _ in range(10):
        try:
            requests.put(base + "agent/service/register", json={"name": "test-service"}, timeout=2)
            response = requests.get(base + "health/service/test-service", timeout=2)
            if response.status_code == 200 and response.json():
                requests.put(base + "agent/service/deregister/test-service", timeout=2)
                return
            time.sleep(0.1)
        except (requests.RequestException, ValueError):
            time.sleep(0.5)
    _fail(agent, "registered test-service never showed up in /v1/health/service/test-service")


def start_local_agent(version: str, acl_master_token: str | None = None):
    """Drop-in replacement for conftest.start_consul_container: returns (container, http_port)."""
    del version  # one binary serves every parametrization
    _wait_for_free_ports()
    workdir = tempfile.mkdtemp(prefix="skein-compat-")
    _write_config(workdir, acl_master_token)
    agent = _spawn(workdir)
    base = f"http://127.0.0.1:{HTTP_PORT}/v1/"
    _wait_for_leader(agent, base)
    _wait_for_catalog(agent, base)
    return agent, HTTP_PORT


def _kept_versions() -> set[str]:
    return set(os.environ.get("SKEIN_COMPAT_VERSIONS", "1.22.0").split(","))


def pytest_sessionstart(session):
    root = sys.modules.get("conftest")
    if root is None or not hasattr(root, "start_consul_container"):
        raise pytest.UsageError("skein_plugin: py-consul's root conftest.py is not loaded; run from the sdist root")
    root.start_consul_container = start_local_agent


def pytest_collection_modifyitems(config, items):
    keep = _kept_versions()
    selected, deselected = [], []
    for item in items:
        callspec = getattr(item, "callspec", None)
        params = callspec.params if callspec else {}
        version = params.get("consul_instance", params.get("acl_consul_instance"))
        (selected if version is None or version in keep else deselected).append(item)
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


def pytest_runtest_logstart(nodeid, location):
    del location
    _state["nodeid"] = nodeid


def pytest_sessionfinish(session, exitstatus):
    del session, exitstatus
    agent = _state["agent"]
    if agent is not None:
        with contextlib.suppress(Exception):
            agent.stop()
            agent.remove()

"""Network namespaces: each worker (and the scheduler) on a network of its own, as if on
another host, linked to the rest only by a virtual cable (Linux, as root).

    with Network() as net:                 # a bridge on the host: net.address (10.231.N.1)
        ns = net.add()                      # a namespace with a veth pair to that bridge
        subprocess.Popen(ns.argv(["python", "worker.py"]))   # ip netns exec <ns> ...

The host side is a bridge ``wb<id>br`` holding the service address ``10.231.N.1/24`` (``N``
free on this machine): PostgreSQL, Redis and the platforms listen there. Each namespace
gets a veth pair: one end on the bridge, the other inside the namespace with ``10.231.N.k``,
a default route via the service address, and its own loopback. A process inside reaches
the host only over its cable, and only what listens on the service address (or on every
address); what listens on the host's loopback (gunicorn) is out of its reach.

Sandbox mode lets Waybill call the platforms on loopback only (``connectors.netguard``), so
inside each namespace a relay (``drills.relay``) listens on the namespace's own loopback on
the platforms' ports and carries each connection over the cable to the service address: the
platforms' URLs are the same for the web tier and the workers.

``close()`` (the context manager's exit, and at interpreter exit as a last resort) removes
every namespace, veth pair and the bridge, whatever happened.
"""

from __future__ import annotations

import atexit
import ipaddress
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

SUBNETS = "10.231.{}.0/24"
ROOT = Path(__file__).resolve().parents[1]


class NetnsUnavailable(RuntimeError):
    """Namespaces cannot be made here (not root, or no ``ip`` program)."""


def available() -> str | None:
    """None when namespaces can be made here, else why not."""
    if os.geteuid() != 0:
        return "network namespaces need root"
    if shutil.which("ip") is None:
        return "the ip program (iproute2) is not installed"
    return None


def ip(*args: str) -> str:
    """Run ``ip ARGS``; its output. Raises ``CalledProcessError`` with ip's message."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if done.returncode:
        raise subprocess.CalledProcessError(done.returncode, ["ip", *args], done.stdout, done.stderr)
    return done.stdout


@dataclass
class Namespace:
    """One namespace: its name, its address on the link, and the relays running inside."""

    name: str
    address: str
    relays: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def argv(self, command: Sequence[str]) -> list[str]:
        """``command`` run inside the namespace (``ip netns exec`` execs it: same pid)."""
        return ["ip", "netns", "exec", self.name, *command]

    def relay(self, target: str, ports: Sequence[int], log: IO[bytes] | None = None) -> None:
        """Relay ``127.0.0.1:port`` inside to ``target:port`` for each port, until ``close``."""
        argv = self.argv([sys.executable, "-m", "drills.relay", target, *map(str, ports)])
        proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=log)
        self.relays.append(proc)
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != b"ready":
            raise RuntimeError(f"the relay in {self.name} did not start ({proc.wait()})")

    def stop_relays(self) -> None:
        for proc in self.relays:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        self.relays.clear()


class Network:
    """The bridge and the namespaces made from it; see the module's docstring."""

    def __init__(self) -> None:
        why = available()
        if why:
            raise NetnsUnavailable(why)
        self.tag = f"wb{os.getpid() % 100000}"
        self.bridge = f"{self.tag}br"
        self.namespaces: list[Namespace] = []
        self._closed = False
        subnet = _free_subnet()
        self.address = str(subnet.network_address + 1)
        self.prefix = subnet.prefixlen
        atexit.register(self.close)
        try:
            ip("link", "add", self.bridge, "type", "bridge")
            ip("addr", "add", f"{self.address}/{self.prefix}", "dev", self.bridge)
            ip("link", "set", self.bridge, "up")
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Network:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def add(self) -> Namespace:
        """A new namespace on the bridge."""
        k = len(self.namespaces) + 1
        name, outside, inside = f"{self.tag}n{k}", f"{self.tag}h{k}", f"{self.tag}v{k}"
        address = str(ipaddress.ip_address(self.address) + 9 + k)
        ns = Namespace(name, address)
        self.namespaces.append(ns)
        ip("netns", "add", name)
        ip("link", "add", outside, "type", "veth", "peer", "name", inside)
        ip("link", "set", outside, "master", self.bridge, "up")
        ip("link", "set", inside, "netns", name)
        inns = ["netns", "exec", name, "ip"]
        ip(*inns, "addr", "add", f"{address}/{self.prefix}", "dev", inside)
        ip(*inns, "link", "set", inside, "up")
        ip(*inns, "link", "set", "lo", "up")
        ip(*inns, "route", "add", "default", "via", self.address)
        return ns

    def close(self) -> None:
        """Every relay stopped, every namespace (with its veth pair) and the bridge removed."""
        if self._closed:
            return
        self._closed = True
        for k, ns in enumerate(self.namespaces, 1):
            ns.stop_relays()
            _quietly("netns", "del", ns.name)  # the veth pair goes with its inside end
            _quietly("link", "del", f"{self.tag}h{k}")  # unless a process still holds it
        _quietly("link", "del", self.bridge)
        atexit.unregister(self.close)


def _quietly(*args: str) -> None:
    subprocess.run(["ip", *args], capture_output=True)


def _free_subnet() -> ipaddress.IPv4Network:
    """A 10.231.N.0/24 no interface of this machine has an address in."""
    used = []
    for line in ip("-o", "-4", "addr", "show").splitlines():
        parts = line.split()
        if "inet" in parts:
            used.append(ipaddress.ip_interface(parts[parts.index("inet") + 1]).network)
    start = os.getpid() % 250
    for i in range(250):
        subnet = ipaddress.IPv4Network(SUBNETS.format(1 + (start + i) % 250))
        if not any(subnet.overlaps(u) for u in used):
            return subnet
    raise NetnsUnavailable("no free 10.231.N.0/24 subnet")

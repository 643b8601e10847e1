"""A small tree of real cascaded processes for the binding's tests: a
master (fj) with two counties under it (fj-a, fj-b), clients at each
county. The configs follow tests/integration/nodes.sh (_n_write_conf)."""
from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import time
from typing import Optional

HERE = os.path.dirname(os.path.abspath(__file__))
TOP_BUILDDIR = os.environ.get("top_builddir") or os.path.normpath(
    os.path.join(HERE, "..", "..", ".."))


def free_port() -> int:
    """A free port below the ephemeral range, as tests/tools/freeport picks them
    (CASCADE_TEST_PORT_BASE: the 100-port block of the calling shell test)."""
    fp = os.path.join(TOP_BUILDDIR, "tests", "tools", "freeport")
    base = os.environ.get("CASCADE_TEST_PORT_BASE")
    if os.access(fp, os.X_OK):
        args = [fp, "-n", "1"] + (["-b", base, "-s", "100"] if base else [])
        return int(subprocess.check_output(args).split()[0])
    for _ in range(200):
        p = random.randint(20000, 32000)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p))
                return p
            except OSError:
                continue
    raise RuntimeError("no free port found")


def secret(path: str) -> str:
    if not os.path.exists(path):
        with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(os.urandom(32).hex() + "\n")
    return path


class Node:
    def __init__(self, tree: "Tree", name: str, node_id: str, role: str = "node",
                 parent: Optional["Node"] = None):
        self.tree, self.name, self.id, self.role, self.parent = tree, name, node_id, role, parent
        self.port = tree.port()
        self.children: list[Node] = []
        self.clients: list[str] = []
        self.proc: Optional[subprocess.Popen] = None
        if parent:
            parent.children.append(self)

    @property
    def url(self) -> str:
        return f"tcp://127.0.0.1:{self.port}"

    def write_conf(self) -> str:
        d = self.tree.dir
        lines = [f"node {self.id}", f"role {self.role}", f"data-dir {d}/{self.name}",
                 f"sync {self.tree.sync}", "allow-plain yes",
                 f"listen tcp://127.0.0.1:{self.port}", "pull-wait 2s"]
        if self.parent:
            lines += [f"parent {self.parent.id} {{", f"    url {self.parent.url}",
                      f"    secret {secret(f'{d}/link-{self.name}.secret')}",
                      "    reconnect 100ms 1s", "    dead-timeout 3s", "}"]
        for c in self.children:
            lines += [f"child {c.id} {{", f"    secret {secret(f'{d}/link-{c.name}.secret')}",
                      f"    claim {c.id} {c.id}-*", "}"]
        for c in self.clients:
            lines += [f"client {c} {{", f"    secret {self.tree.secret(c)}", "}"]
        path = f"{d}/{self.name}.conf"
        with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
            f.write("\n".join(lines) + "\n")
        return path

    def start(self) -> None:
        conf = self.write_conf()
        log = open(f"{self.tree.dir}/{self.name}.log", "ab")
        cascaded = os.environ.get("CASCADED") or os.path.join(TOP_BUILDDIR, "node", "cascaded")
        self.proc = subprocess.Popen([cascaded, "-d", "-f", conf], stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"cascaded {self.name} exited {self.proc.returncode}; "
                                   f"see {self.tree.dir}/{self.name}.log")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError(f"cascaded {self.name} does not listen on {self.port} after 10 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Tree:
    """master fj; counties fj-a and fj-b under it."""

    def __init__(self, directory: str, sync: str = "no"):
        self.dir, self.sync = directory, sync
        self._ports: set[int] = set()
        self.master = Node(self, "master", "fj", "master")
        self.a = Node(self, "a", "fj-a", parent=self.master)
        self.b = Node(self, "b", "fj-b", parent=self.master)
        self.nodes = [self.master, self.a, self.b]

    def port(self) -> int:
        while True:
            p = free_port()
            if p not in self._ports:
                self._ports.add(p)
                return p

    def secret(self, client: str) -> str:
        return secret(f"{self.dir}/{client}.secret")

    def add_client(self, node: Node, client: str) -> tuple[str, str, str]:
        """(url, address, secret file) of a new client of node."""
        node.clients.append(client)
        return node.url, f"{node.id}/{client}", self.secret(client)

    def start(self) -> None:
        for n in self.nodes:
            n.start()

    def stop(self) -> None:
        for n in reversed(self.nodes):
            n.stop()

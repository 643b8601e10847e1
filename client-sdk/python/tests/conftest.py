"""pytest fixtures: the cascade package from this tree, and a running tree
of cascaded processes (tree.py) shared by the session."""
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))   # client-sdk/python: the package
sys.path.insert(0, HERE)                    # tree.py

from tree import Tree  # noqa: E402

CLIENTS = {"a": ["alice", "amy", "crash", "sendonly"], "b": ["bob", "bert"]}


@pytest.fixture(scope="session")
def tree(tmp_path_factory):
    t = Tree(str(tmp_path_factory.mktemp("tree")))
    for node, names in CLIENTS.items():
        for c in names:
            t.add_client(getattr(t, node), c)
    t.start()
    yield t
    t.stop()


@pytest.fixture
def opts(tree):
    """opts(node_name, client) -> the Client's url, address, secret_file."""
    def make(node: str, client: str) -> dict:
        n = getattr(tree, node)
        return {"url": n.url, "client": f"{n.id}/{client}",
                "secret_file": tree.secret(client)}
    return make

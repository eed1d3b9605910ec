"""The embedded IPFS node, offline on loopback, one per test module."""

import pytest

from deepdiary.memory import ipfs


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    repo = tmp_path_factory.mktemp("ipfs") / "repo"
    node = ipfs.embedded_node(repo, timeout=60)
    yield node
    ipfs.close_embedded(repo)

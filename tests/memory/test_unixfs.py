"""Deep Diary's UnixFS layout gives a file the CID kubo gives it.

Two oracles: the embedded kubo node's own ``add`` (kubo 0.22's defaults, CIDv0 with DAG-PB
leaves: the same chunker, layout and DAG-PB encoding as ``--cid-version 1 --raw-leaves``),
and aleph-cid, a second kubo-compatible implementation (Rust, pinned against real kubo),
for the CIDv1 raw-leaves form. The node then reads our CIDv1 DAGs back byte for byte.
"""

from __future__ import annotations

import random
from pathlib import Path

import aleph_cid
import pytest

from deepdiary.memory import ipfs, unixfs


@pytest.fixture(scope="module")
def files(tmp_path_factory, samples) -> dict[str, Path]:
    """A real small photo, a real photo over one chunk, and a file over 174 chunks (a
    three-level tree: 174 x 256 KiB fills the first level)."""
    folder = tmp_path_factory.mktemp("files")
    out = {"empty": folder / "empty", "small photo": samples / "photos/exif-samples/jpg/Canon_40D.jpg",
           "two-chunk photo": samples / "faces/biden.jpg", "tree": folder / "tree.bin"}
    out["empty"].write_bytes(b"")
    out["tree"].write_bytes(random.Random(15).randbytes(unixfs.MAX_LINKS * unixfs.CHUNK_SIZE + 1000))
    assert out["small photo"].stat().st_size < unixfs.CHUNK_SIZE < out["two-chunk photo"].stat().st_size
    return out


def test_layout_matches_kubo_add(node, files):
    for name, path in files.items():
        ours = unixfs.file_dag(path.read_bytes(), cid_version=0, raw_leaves=False)
        assert ours.cid_text == node.add_file(path), name


def test_cid_v1_raw_leaves_matches_a_second_implementation(files):
    for name, path in files.items():
        hasher = aleph_cid.CidHasher.for_ipfs_v1_raw_leaves()
        hasher.update(path.read_bytes())
        assert unixfs.file_cid(path) == hasher.finalize(), name
    # one chunk: the plain raw CID of the sha256, as Deep Diary stored before chunking
    small = files["small photo"]
    import hashlib

    assert unixfs.file_cid(small) == unixfs.raw_cid(hashlib.sha256(small.read_bytes()).hexdigest())
    assert unixfs.file_cid(files["tree"]).startswith("bafybei")  # a DAG-PB root


def test_the_node_reads_our_cid_v1_dags_back(node, files):
    for name, path in files.items():
        data = path.read_bytes()
        root, blocks = unixfs.file_blocks(data)
        node.put_dag([root.cid], blocks)
        assert root.cid_text in node.pins(), name
        assert node.cat(root.cid_text) == data, name  # every block checked against its hash on read


def test_streaming_a_file_equals_laying_out_its_bytes(files):
    path = files["tree"]
    with open(path, "rb") as fh:
        streamed = unixfs.file_dag(fh)
    assert streamed == unixfs.file_dag(path.read_bytes())
    assert streamed.filesize == path.stat().st_size


def test_the_embedded_node_is_offline(node):
    assert node.peers() == []
    assert node.addresses() and all(a.startswith("/ip4/127.0.0.1/") for a in node.addresses())
    config = (node.repo / "config").read_text()
    assert '"Bootstrap": []' in config


def test_a_missing_block_is_a_clear_error_not_a_hang(tmp_path):
    from deepdiary.core.errors import StorageUnavailable

    repo = tmp_path / "repo"
    node = ipfs.embedded_node(repo, timeout=2)
    try:
        missing = unixfs.bytes_cid(b"never added " * 10)
        with pytest.raises(StorageUnavailable, match="missing"):
            node.cat(missing)
    finally:
        ipfs.close_embedded(repo)

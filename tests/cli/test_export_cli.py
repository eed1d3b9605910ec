"""`deepdiary export car|nft` and `deepdiary ipfs pin` as a script drives them: --json on
stdout, nothing left in the working directory by the embedded IPFS node."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from deepdiary.memory import unixfs


def run(lib: Path, *args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "250"}
    return subprocess.run([sys.executable, "-m", "deepdiary", "--library", str(lib), *args],
                          capture_output=True, text=True, check=check, env=env, cwd=cwd)


def test_export_and_pin_from_the_command_line(tmp_path, samples):
    photos, lib, cwd = tmp_path / "photos", tmp_path / "lib", tmp_path / "cwd"
    photos.mkdir()
    cwd.mkdir()
    shutil.copy(samples / "faces/biden.jpg", photos / "biden.jpg")
    shutil.copy(samples / "photos/exif-samples/jpg/gps/DSCN0010.jpg", photos / "DSCN0010.jpg")
    ids = json.loads(run(lib, "ingest", "photos", str(photos), "--no-enrich", "--json", cwd=cwd).stdout)["item_ids"]
    shown = {i: json.loads(run(lib, "show", str(i), "--json", cwd=cwd).stdout) for i in ids}
    gps = [i for i in ids if shown[i]["title"] == "DSCN0010.jpg"][0]

    car = json.loads(run(lib, "export", "car", *map(str, ids), "-o", "out.car", "--json", cwd=cwd).stdout)
    assert car["path"] == "out.car" and (cwd / "out.car").stat().st_size == car["bytes"]
    assert {i["id"]: i["photo"] for i in car["items"]} == {i: s["cid"] for i, s in shown.items()}
    text = run(lib, "export", "car", str(ids[0]), "-o", "one.car", cwd=cwd).stdout
    assert "root ipfs://bafybei" in text

    nft = json.loads(run(lib, "export", "nft", str(gps), "--json", cwd=cwd).stdout)
    assert nft["image"] == f"ipfs://{shown[gps]['cid']}" and nft["name"] == "DSCN0010.jpg"
    assert {"trait_type": "Camera", "value": "NIKON COOLPIX P6000"} in nft["attributes"]
    written = json.loads(run(lib, "export", "nft", str(gps), "-o", "nft.json", "--json", cwd=cwd).stdout)
    assert written == {"id": gps, "path": "nft.json", "image": nft["image"]}
    assert json.loads((cwd / "nft.json").read_text()) == nft

    pinned = json.loads(run(lib, "ipfs", "pin", "--json", cwd=cwd).stdout)  # stdout is JSON alone
    assert {p["id"]: p["original"] for p in pinned["items"]} == {i: s["cid"] for i, s in shown.items()}
    assert {p["original"] for p in pinned["items"]} == {unixfs.file_cid(p) for p in photos.iterdir()}
    cid = shown[gps]["cid"]
    back = json.loads(run(lib, "ipfs", "get", cid, "-o", "back.jpg", "--json", cwd=cwd).stdout)
    assert back == {"id": cid, "path": "back.jpg", "bytes": (photos / "DSCN0010.jpg").stat().st_size}
    assert (cwd / "back.jpg").read_bytes() == (photos / "DSCN0010.jpg").read_bytes()
    bad = run(lib, "ipfs", "get", "not-a-cid", "-o", "x", cwd=cwd, check=False)
    assert bad.returncode == 2 and "'not-a-cid' is not a CID" in bad.stderr
    assert sorted(p.name for p in cwd.iterdir()) == ["back.jpg", "nft.json", "one.car", "out.car"]  # no kubo.log
    assert (lib / "ipfs" / "kubo.log").is_file()

    missing = run(lib, "export", "nft", "999", cwd=cwd, check=False)
    assert missing.returncode == 1 and "no item with id 999" in missing.stderr
    empty = run(lib, "export", "car", str(ids[0]), "-o", ".", cwd=cwd, check=False)
    assert empty.returncode == 2 and "is a folder" in empty.stderr

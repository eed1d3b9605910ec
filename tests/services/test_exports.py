"""Decentralised storage over a real library (real photos: one of a single chunk, one over
256 KiB, one with GPS): blobs pinned to the embedded IPFS node and read back by CID, sealed
in an encrypted library; a CAR export checked block by block against libipld and imported
into a fresh node; ERC-721 metadata from the photo's facts."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import aleph_cid
import libipld
import pytest
from pydantic import SecretStr

from deepdiary.core.errors import InvalidInput, NotFound
from deepdiary.core.settings import Settings
from deepdiary.memory import ipfs, unixfs
from deepdiary.memory.sealing import MAGIC
from deepdiary.services import AppContext, encryption, exports, ingest, photos

PHOTOS = (("photos/exif-samples/jpg", "Canon_40D.jpg"), ("faces", "biden.jpg"),
          ("photos/exif-samples/jpg/gps", "DSCN0010.jpg"))
PASSPHRASE = "pinned but never plain"


def _settings(root: Path, **kw) -> Settings:
    return Settings(home=root / "library", enrich_workers=1, ipfs_repo=root / "ipfs", ipfs_timeout=60, **kw)


def _build(root: Path, samples: Path, encrypt: bool = False) -> dict:
    photo_dir = root / "photos"
    photo_dir.mkdir(parents=True)
    for folder, name in PHOTOS:
        shutil.copy(samples / folder / name, photo_dir / name)
    ctx = AppContext(_settings(root, passphrase=SecretStr(PASSPHRASE) if encrypt else None))
    if encrypt:
        assert encryption.init_library(ctx, encrypt=True).encrypted
    report = ingest.ingest_photos(ctx, [photo_dir], enrich=False)
    assert report.added == len(PHOTOS)
    by_name = {photos.show_item(ctx, i).root["title"]: i for i in report.item_ids}
    return {"ctx": ctx, "root": root, "ids": by_name, "photos": photo_dir}


@pytest.fixture(scope="module")
def plain(tmp_path_factory, samples):
    lib = _build(tmp_path_factory.mktemp("plain"), samples)
    yield lib
    lib["ctx"].close()
    ipfs.close_embedded(lib["root"] / "ipfs")


def test_a_photo_shows_the_cid_ipfs_add_gives_it(plain):
    """``ipfs add --cid-version 1 --raw-leaves``, as aleph-cid (kubo-compatible) computes it,
    chunking included for the photo over 256 KiB; the sha256 stays the internal key."""
    ctx = plain["ctx"]
    for name, item_id in plain["ids"].items():
        shown = photos.show_item(ctx, item_id).root
        hasher = aleph_cid.CidHasher.for_ipfs_v1_raw_leaves()
        hasher.update((plain["photos"] / name).read_bytes())
        assert shown["cid"] == hasher.finalize(), name
        assert Path(shown["original"]).name.startswith(shown["sha256"])
    assert photos.show_item(ctx, plain["ids"]["biden.jpg"]).root["cid"].startswith("bafybei")


def test_pinning_puts_every_blob_on_the_embedded_node(plain):
    ctx = plain["ctx"]
    report = exports.pin_photos(ctx, backend="ipfs")
    assert report.backend == "ipfs" and "embedded IPFS node" in report.node
    assert sorted(p.id for p in report.items) == sorted(plain["ids"].values())
    assert report.blobs == 2 * len(PHOTOS)
    node = ipfs.embedded_node(ctx.settings.ipfs_repo)
    assert node.peers() == []  # offline: nothing was sent anywhere
    pins = set(node.pins())
    for pinned in report.items:
        shown = photos.show_item(ctx, pinned.id).root
        assert not pinned.sealed and pinned.original == pinned.photo_cid == shown["cid"]
        assert {pinned.original, pinned.thumbnail} <= pins
        assert node.cat(pinned.original) == Path(shown["original"]).read_bytes()
        assert node.cat(pinned.thumbnail) == Path(shown["thumbnail"]).read_bytes()
    reader = AppContext(ctx.settings.model_copy(update={"blob_backend": "ipfs"}))
    first = report.items[0]
    assert exports.read_pinned(reader, first.original) == Path(photos.show_item(ctx, first.id).root["original"]).read_bytes()
    with pytest.raises(NotFound, match="addressed by sha256"):
        exports.read_pinned(ctx, first.original)  # the local backend has no CID index


def test_the_ipfs_backend_pins_new_photos_at_ingest(plain, tmp_path, samples):
    settings = plain["ctx"].settings.model_copy(update={"home": tmp_path / "library", "blob_backend": "ipfs",
                                                        "ipfs_repo": tmp_path / "ipfs"})
    ctx = AppContext(settings)
    try:
        shutil.copy(samples / "faces/biden.jpg", tmp_path / "biden.jpg")
        report = ingest.ingest_photos(ctx, [tmp_path / "biden.jpg"], enrich=False)
        shown = photos.show_item(ctx, report.item_ids[0]).root
        node = ipfs.embedded_node(tmp_path / "ipfs")
        assert shown["cid"] in node.pins()
        assert node.cat(shown["cid"]) == (samples / "faces/biden.jpg").read_bytes()
    finally:
        ctx.close()
        ipfs.close_embedded(tmp_path / "ipfs")


def test_an_encrypted_library_pins_only_sealed_blobs(tmp_path, samples):
    lib = _build(tmp_path, samples, encrypt=True)
    ctx = lib["ctx"]
    try:
        report = exports.pin_photos(ctx, backend="ipfs")
        node = ipfs.embedded_node(ctx.settings.ipfs_repo)
        for pinned in report.items:
            shown = photos.show_item(ctx, pinned.id).root
            plaintext = (lib["photos"] / shown["title"]).read_bytes()
            assert pinned.sealed and pinned.photo_cid == shown["cid"] == unixfs.bytes_cid(plaintext)
            on_node = node.cat(pinned.original)
            assert on_node.startswith(MAGIC) and on_node == Path(shown["original"]).read_bytes()
            assert plaintext[:4096] not in on_node and pinned.original != pinned.photo_cid
            assert node.cat(pinned.thumbnail).startswith(MAGIC)
            assert pinned.photo_cid not in node.pins()  # the plaintext's CID names nothing there
    finally:
        ctx.close()
        ipfs.close_embedded(ctx.settings.ipfs_repo)


def _libipld_blocks(car: bytes) -> tuple[list[bytes], dict[bytes, bytes]]:
    """The CAR's roots and blocks as an independent decoder reads them: libipld for the
    DAG-CBOR header and every CID (its ``decode_car`` takes DAG-CBOR blocks only, not the raw
    and DAG-PB blocks of files), hashlib for each block's digest."""
    def varint(at: int) -> tuple[int, int]:
        value = shift = 0
        while True:
            byte = car[at]
            value, shift, at = value | (byte & 0x7F) << shift, shift + 7, at + 1
            if byte < 0x80:
                return value, at

    size, at = varint(0)
    header = libipld.decode_dag_cbor(car[at:at + size])
    assert header["version"] == 1
    at += size
    blocks = {}
    while at < len(car):
        size, at = varint(at)
        section = car[at:at + size]
        for cid_len in range(4, 40):  # the CID is the prefix libipld accepts whose digest ends it exactly
            try:
                cid = libipld.decode_cid(section[:cid_len])
            except ValueError:
                continue
            if cid["hash"]["size"] == len(cid["hash"]["digest"]):
                break
        data = section[cid_len:]
        assert cid["version"] == 1 and cid["codec"] in (0x55, 0x70) and cid["hash"]["code"] == 0x12
        assert hashlib.sha256(data).digest() == cid["hash"]["digest"]
        blocks[bytes(section[:cid_len])] = bytes(data)
        at += size
    return [bytes(r) for r in header["roots"]], blocks


def test_a_car_export_holds_photos_thumbnails_and_facts_under_one_root(plain, tmp_path):
    ctx = plain["ctx"]
    ids = [plain["ids"]["biden.jpg"], plain["ids"]["DSCN0010.jpg"]]
    result = exports.export_car(ctx, ids + ids[:1], tmp_path / "out" / "photos.car")
    car = Path(result.path).read_bytes()
    assert result.bytes == len(car) and [i.id for i in result.items] == ids
    assert list((tmp_path / "out").iterdir()) == [Path(result.path)]  # no temporary file left

    roots, blocks = _libipld_blocks(car)
    assert [libipld.encode_cid(r) for r in roots] == [result.root] and len(blocks) == result.blocks
    for item in result.items:
        shown = photos.show_item(ctx, item.id).root
        assert item.photo == shown["cid"]
        thumb = Path(shown["thumbnail"]).read_bytes()
        assert blocks[unixfs.cid_bytes(item.thumbnail)] == thumb  # one chunk: the file is its raw block
    small = [i for i in result.items if i.id == plain["ids"]["DSCN0010.jpg"]][0]
    assert blocks[unixfs.cid_bytes(small.photo)] == (plain["photos"] / "DSCN0010.jpg").read_bytes()

    # kubo decodes the UnixFS tree itself: the whole root, fetched back as folders and files
    node = ipfs.embedded_node(tmp_path / "fresh", timeout=60)
    try:
        assert node.import_car(Path(result.path)) == [result.root]
        for item in result.items:
            shown = photos.show_item(ctx, item.id).root
            assert node.cat(item.photo) == Path(shown["original"]).read_bytes()
        node.get(result.root, tmp_path / "fetched")
    finally:
        ipfs.close_embedded(tmp_path / "fresh")
    for item in result.items:
        shown = photos.show_item(ctx, item.id).root
        folder = tmp_path / "fetched" / str(item.id)
        assert sorted(p.name for p in folder.iterdir()) == ["facts.json", "photo.jpg", "thumbnail.webp"]
        assert (folder / "photo.jpg").read_bytes() == Path(shown["original"]).read_bytes()
        facts = json.loads((folder / "facts.json").read_text())
        assert facts["image"] == f"ipfs://{item.photo}" and facts["taken_at"] == shown["taken_at"]
        assert not {"path", "paths", "original", "thumbnail"} & set(facts)  # the user's own folders stay home
    gps = json.loads((tmp_path / "fetched" / str(small.id) / "facts.json").read_text())
    assert gps["place"] and gps["lat"] == pytest.approx(43.467, abs=0.01)


def test_a_car_export_refuses_what_it_cannot_write(plain, tmp_path):
    with pytest.raises(InvalidInput, match="at least one"):
        exports.export_car(plain["ctx"], [], tmp_path / "x.car")
    with pytest.raises(InvalidInput, match="is a folder"):
        exports.export_car(plain["ctx"], [plain["ids"]["biden.jpg"]], tmp_path)
    with pytest.raises(NotFound):
        exports.export_car(plain["ctx"], [999], tmp_path / "x.car")


def test_nft_metadata_is_erc721_with_an_ipfs_image_and_the_facts(plain):
    ctx = plain["ctx"]
    item_id = plain["ids"]["DSCN0010.jpg"]
    shown = photos.show_item(ctx, item_id).root
    metadata = exports.nft_metadata(ctx, item_id).root
    assert metadata["image"] == f"ipfs://{shown['cid']}" and metadata["name"] == "DSCN0010.jpg"
    assert metadata["description"].startswith("DSCN0010.jpg taken 2008-10-22 in ")
    traits = {a["trait_type"]: a["value"] for a in metadata["attributes"]}
    assert traits["Date"] == "2008-10-22" and traits["Camera"] == "NIKON COOLPIX P6000"
    assert traits["Place"] in metadata["description"] and traits["Coordinates"].startswith("43.46")
    assert traits["Size"] == f"{shown['width']}x{shown['height']}"
    assert isinstance(traits["Taken"], int)
    json.dumps(metadata)  # plain JSON, as a marketplace reads it


def test_a_photo_stored_under_its_old_raw_cid_shows_the_unixfs_one(plain):
    """Libraries made before UnixFS chunking stored every photo under the raw CID of its
    sha256, which no IPFS node gives a file over 256 KiB; ``show`` gives the right one."""
    from deepdiary.memory.tables import Item

    ctx, item_id = plain["ctx"], plain["ids"]["biden.jpg"]
    right = photos.show_item(ctx, item_id).root["cid"]
    with ctx.write() as s:
        item = s.get(Item, item_id)
        item.cid = unixfs.raw_cid(item.sha256)
        s.add(item)
    try:
        assert photos.show_item(ctx, item_id).root["cid"] == right == unixfs.file_cid(plain["photos"] / "biden.jpg")
    finally:
        with ctx.write() as s:
            item = s.get(Item, item_id)
            item.cid = right
            s.add(item)

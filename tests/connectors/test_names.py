"""File names in any encoding, text with lone surrogates, untrusted dates and the folder
walker, at the connector level (no catalogue)."""

import json
import os
import shutil
from datetime import datetime
from pathlib import Path

import piexif
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deepdiary.connectors.chats import read_chats
from deepdiary.connectors.diary import read_diary
from deepdiary.connectors.files import iter_files, untrusted_date
from deepdiary.connectors.photos import read_photo
from deepdiary.core.text import display_path, display_text, has_lone_surrogates, path_from_key, path_key

# A name's bytes: anything but "/" and NUL, and not "." or "..".
name_bytes = st.binary(min_size=1, max_size=200).map(lambda b: b.replace(b"/", b"_").replace(b"\0", b"_")).filter(
    lambda b: b not in (b".", b".."))


@settings(max_examples=40, deadline=None)
@given(st.lists(name_bytes, min_size=1, max_size=4))
def test_path_keys_round_trip_to_the_same_bytes(parts):
    raw = b"/" + b"/".join(parts)
    path = Path(os.fsdecode(raw))
    key = path_key(path)
    key.encode("utf-8")  # storable anywhere
    display_path(path).encode("utf-8")  # printable anywhere
    # Only a UTF-8 name holding a literal "\x80".."\xff" sequence is misread (documented).
    if b"\\x" not in raw:
        assert os.fsencode(path_from_key(key)) == raw


def test_key_and_display_of_a_latin1_name():
    path = Path(os.fsdecode(b"/photos/caf\xe9 \\ 2003.jpg"))
    assert path_key(path) == "/photos/caf\\xe9 \\\\ 2003.jpg"
    assert display_path(path) == "/photos/caf\\xe9 \\ 2003.jpg"
    assert path_key("/photos/Zoë 🐱.jpg") == "/photos/Zoë 🐱.jpg"  # UTF-8 names are their own key
    assert display_text("bad \ud800 and \udce9") == "bad \ufffd and \\xe9"
    assert has_lone_surrogates("\ud800") and not has_lone_surrogates("😀")


def test_walker_skips_the_library_inside_the_folder(tmp_path, exif_samples):
    photos = tmp_path / "photos"
    (photos / "trip").mkdir(parents=True)
    shutil.copy(exif_samples / "jpg/gps/DSCN0010.jpg", photos / "trip" / "a.jpg")
    library = photos / "my library"
    (library / "blobs" / "ab").mkdir(parents=True)
    (library / "blobs" / "ab" / "ab12.thumb.jpg").write_bytes(b"x")
    found = list(iter_files([photos], {".jpg"}, skip=[library]))
    assert found == [(photos / "trip" / "a.jpg").resolve()]
    assert list(iter_files([library], {".jpg"}, skip=[library])) == []


def test_walker_yields_names_that_are_not_utf8(tmp_path):
    name = os.fsdecode(b"d\xe9j\xe0 vu.md")
    (tmp_path / name).write_text("x")
    assert [p.name for p in iter_files([tmp_path], {".md"})] == [name]


@pytest.mark.parametrize("when, reason", [
    (datetime(9999, 12, 31), "in the future"),
    (datetime(1800, 1, 1), "before the first photograph"),
    (datetime(2020, 5, 1), None),
])
def test_untrusted_dates(when, reason):
    found = untrusted_date(when, now=datetime(2026, 1, 1))
    assert (found is None) if reason is None else reason in found


def test_exif_year_9999_is_not_trusted(tmp_path, exif_samples):
    photo = tmp_path / "future.jpg"
    shutil.copy(exif_samples / "jpg/gps/DSCN0010.jpg", photo)
    exif = piexif.load(str(photo))
    exif["Exif"][piexif.ExifIFD.DateTimeOriginal] = b"9999:12:31 23:59:59"
    piexif.insert(piexif.dump(exif), str(photo))
    record = read_photo(photo)
    assert "exif:DateTimeOriginal: 9999-12-31 is in the future; not trusted" in record.warnings
    assert record.date_source == "exif:DateTimeDigitized" and record.taken_at.year == 2008


def test_chat_times_out_of_range_are_reported(tmp_path):
    export = tmp_path / "odd.json"
    export.write_text(json.dumps({"conversation": "Alice", "messages": [
        {"id": "1", "time": "9999-01-01T10:00:00", "sender": "Alice", "text": "from the future"},
        {"id": "2", "time": "1700-01-01T10:00:00", "sender": "Alice", "text": "from the past"},
        {"id": "3", "time": "2024-05-01T10:00:00", "sender": "Alice", "text": "just right"}]}))
    chats = read_chats(export)
    assert [m.text for m in chats.messages] == ["just right"]
    reasons = [p.reason for p in chats.problems]
    assert any("9999-01-01 is in the future; not trusted" in r for r in reasons)
    assert any("before the first photograph" in r for r in reasons)


def test_memotrace_strtime_in_the_future_falls_back_to_createtime(tmp_path):
    export = tmp_path / "alice.csv"
    header = "localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,Remark,NickName,Sender"
    when = int(datetime(2024, 5, 1, 10).timestamp())
    export.write_text(f"{header}\n1,wxid_a,1,0,0,{when},2,hello,9999-01-01 10:00:00,Alice,Alice,wxid_a\n",
                      encoding="utf-8-sig")
    chats = read_chats(export)
    assert chats.messages[0].sent_at == datetime(2024, 5, 1, 10)
    assert "StrTime: 9999-01-01 is in the future; not trusted; CreateTime used" in chats.problems[0].reason


def test_diary_dates_in_the_future_are_not_trusted(tmp_path):
    diary = tmp_path / "july.md"
    diary.write_text("## 2023-07-14\n\nA walk.\n\n## 2099-01-01\n\nA typo in the year.\n\n"
                     "## 2023-07-15\n\nThe next day.\n")
    read = read_diary(diary, now=datetime(2026, 1, 1))
    # The heading with the untrusted date is kept as text of the entry before it.
    assert [(c.entry_date.day, "typo" in c.text) for c in read.chunks] == [(14, True), (15, False)]
    assert any("2099-01-01 is in the future; not trusted" in p for p in read.problems)
    future = tmp_path / "2099-01-01.md"
    future.write_text("no date inside\n")
    read = read_diary(future, now=datetime(2026, 1, 1))
    assert read.chunks == [] and any("file name: 2099-01-01 is in the future" in p for p in read.problems)


def test_lone_surrogate_in_a_json_message_is_replaced_and_reported(tmp_path):
    export = tmp_path / "surrogates.json"
    # Written as JSON escapes, as an exporter that cut an emoji in half would.
    export.write_text('{"conversation": "Bob", "messages": ['
                      '{"id": "1", "time": "2024-05-01T10:00:00", "sender": "Bob", "text": "half an emoji \\ud800 here"},'
                      '{"id": "2", "time": "2024-05-01T10:01:00", "sender": "Bob\\udfff", "text": "whole \\ud83d\\ude00"}]}')
    chats = read_chats(export)
    assert [m.text for m in chats.messages] == ["half an emoji \ufffd here", "whole 😀"]
    assert chats.messages[1].sender == "Bob\ufffd"
    reasons = [(p.line, p.reason) for p in chats.problems]
    assert any("text held invalid characters" in r for _, r in reasons)
    assert any("sender held invalid characters" in r for _, r in reasons)


def test_conversation_named_after_a_latin1_file(tmp_path, samples):
    export = tmp_path / os.fsdecode(b"Ren\xe9e_utf8.txt")
    export.write_text("2024-05-01 10:00:00 Ren\n\nbonjour\n\n2024-05-01 10:01:00 me\n\nsalut\n", encoding="utf-8")
    chats = read_chats(export)
    assert {m.conversation for m in chats.messages} == {"Ren\\xe9e_utf8"}

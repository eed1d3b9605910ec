"""guess_upload_kind: what a file sent without a kind (a chat bot's document) is, by name and content."""

from pathlib import Path

import pytest

from deepdiary.core.errors import InvalidInput
from deepdiary.services.ingest import guess_upload_kind

LOCATIONS = Path(__file__).resolve().parents[1] / "connectors" / "samples" / "locations"
GPX = b'<?xml version="1.0"?><gpx version="1.1" xmlns="http://www.topografix.com/GPX/1/1"><trk/></gpx>'


@pytest.mark.parametrize("name, data, kind", [
    ("IMG_0001.HEIC", b"whatever", "photos"),
    ("photo", b"\xff\xd8\xff\xe0\x00\x10JFIF", "photos"),  # a JPEG without an extension
    ("upload.bin", b"\x89PNG\r\n\x1a\n\x00\x00", "photos"),
    ("walk.gpx", GPX, "tracks"),
    ("walk.txt", GPX, "tracks"),  # a GPX saved as .txt
    ("notes.md", "# 2023-07-14\n去了西湖。".encode(), "diary"),
    ("2023-07-14.txt", b"Went to the lake and had tea.", "diary"),
    ("chat.txt", "2023-05-01 10:00:00 Alice\n我们去吃面吧\n".encode(), "chats"),  # a MemoTrace TXT
    ("chat.csv", ("localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,Remark,NickName,Sender\n"
                  "1,2,1,0,0,1682906400,2,hi,2023-05-01 10:00:00,,Alice,alice\n").encode(), "chats"),
    ("messages.json", b'[{"time": "2023-05-01 10:00", "sender": "Alice", "text": "hi"}]', "chats"),
])
def test_kinds(name, data, kind):
    assert guess_upload_kind(name, data) == kind


@pytest.mark.parametrize("sample", ["Timeline.json", "location-history.json", "overland.json", "gpslogger.csv",
                                    "gpslogger-2015.txt", "2024-03.rec", "lines.geojson"])
def test_location_exports_are_tracks_whatever_their_name(sample):
    assert guess_upload_kind(sample, (LOCATIONS / sample).read_bytes()) == "tracks"
    assert guess_upload_kind("export (1)" + Path(sample).suffix, (LOCATIONS / sample).read_bytes()) == "tracks"


def test_binary_that_is_nothing_known_is_refused():
    with pytest.raises(InvalidInput, match="binary data"):
        guess_upload_kind("blob.dat", b"\x00\x01\x02garbage")

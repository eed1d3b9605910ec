"""Chat exports read into messages: PyWxDump samples, MemoTrace CSV/TXT, our JSON, bad input."""

import csv
import json
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from deepdiary.connectors.chats import (
    CHAT_FORMATS, MEMOTRACE_HEADER, OWNER, PYWXDUMP_HEADER, ChatFormatError, detect_format,
    dump_chats_json, iter_chat_files, read_chats,
)

# What each PyWxDump type name in the samples must become.
SAMPLE_KINDS = {"文本": "text", "图片": "image", "动画表情": "sticker", "系统通知": "system", "引用回复": "quote"}


def csv_records(path: Path) -> list[tuple[int, dict]]:
    """(line where the record starts, record) for every data row, read independently."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        end = reader.line_num
        out = []
        for row in reader:
            out.append((end + 1, dict(zip(header, row))))
            end = reader.line_num
    return out


def problems_of(export) -> list[tuple[int, str]]:
    return [(p.line, p.reason) for p in export.problems]


# ---------------------------------------------------------------- PyWxDump samples

def test_person_sample(samples):
    path = samples / "chats" / "weclone_test_person_pywxdump.csv"
    records = csv_records(path)
    empty_text = [line for line, r in records if r["type_name"] == "文本" and not r["msg"].strip()]
    assert len(records) == 96 and empty_text == [8]

    export = read_chats(path)
    assert export.format == "pywxdump-csv"
    assert len(export.messages) == len(records) - len(empty_text) == 95
    assert problems_of(export) == [(8, "empty text message")]

    first, last = export.messages[0], export.messages[-1]
    assert (first.sent_at, first.kind, first.text, first.source_line) == (datetime(2024, 10, 4, 11, 42), "image", "[图片]", 2)
    assert first.source_id == "7437267147299592543"
    assert (last.sent_at, last.kind, last.text, last.is_me) == (datetime(2024, 12, 30, 21, 28), "sticker", "[表情]", True)
    last_text = [m for m in export.messages if m.kind == "text"][-1]
    assert (last_text.sent_at, last_text.text) == (datetime(2024, 12, 30, 21, 27), "名额多 我才可能有机会")

    # Excel wrote "2024/10/4 11:42": every time is read to the minute.
    by_line = dict(records)
    for m in export.messages:
        assert m.sent_at == datetime.strptime(by_line[m.source_line]["CreateTime"], "%Y/%m/%d %H:%M")
        assert m.conversation == "test_person"

    kept = [r for line, r in records if line not in empty_text]
    assert Counter(m.kind for m in export.messages) == Counter(SAMPLE_KINDS[r["type_name"]] for r in kept)
    assert Counter(m.kind for m in export.messages) == {"text": 64, "sticker": 23, "image": 5, "system": 2, "quote": 1}

    # Owner: is_sender=1. The partner is the room, even on received pictures whose
    # talker is the owner's own wxid.
    assert sum(m.is_me for m in export.messages) == sum(r["is_sender"] == "1" for r in kept) == 46
    assert {m.sender for m in export.messages if m.is_me} == {OWNER}
    assert {m.sender for m in export.messages if not m.is_me} == {"test_person"}
    assert by_line[2]["talker"] == "12345iru2zsmo22" and by_line[2]["is_sender"] == "0"

    system = [m.text for m in export.messages if m.kind == "system"]
    assert system == ["你撤回了一条消息", "你撤回了一条消息"]
    (quote,) = [m for m in export.messages if m.kind == "quote"]
    assert quote.text.startswith("（我们两个人骑）\n\n[引用](2024-10-04 21:25:04)小虫:")
    starts = [line for line, _ in records]
    assert quote.source_line == 50 and starts[starts.index(50) + 1] == 53  # the record spans 3 lines

    assert [m.sent_at for m in export.messages] == sorted(m.sent_at for m in export.messages)
    assert len({m.source_id for m in export.messages}) == 95


def test_pii_sample_with_repeated_ids(samples):
    path = samples / "chats" / "weclone_test_PII_pywxdump.csv"
    records = csv_records(path)
    first_seen: dict[str, dict] = {}
    repeats, reused = [], []
    for line, r in records:
        earlier = first_seen.setdefault(r["MsgSvrID"], r)
        if earlier is not r:
            same = all(earlier[k] == r[k] for k in ("is_sender", "msg", "CreateTime", "type_name"))
            (repeats if same else reused).append(line)
    assert len(records) == 62 and repeats == [63] and reused == [62]

    export = read_chats(path)
    assert len(export.messages) == len(records) - len(repeats) == 61
    assert problems_of(export) == [
        (62, "id 4444888800002222345 already used on line 60 by another message; kept as 4444888800002222345#2"),
        (63, "repeats message 4444888800002222346 of line 61; skipped"),
    ]
    assert len({m.source_id for m in export.messages}) == 61
    first, last = export.messages[0], export.messages[-1]
    assert (first.sent_at, first.text, first.sender) == (datetime(2024, 10, 4, 11, 43), "13812345678", "wxid_6789z5qlxzfj22")
    assert (last.sent_at, last.text, last.source_id) == (datetime(2024, 10, 4, 11, 44), "404", "4444888800002222345#2")
    # The owner's rows have an empty talker and the text Excel made of them: "FALSE".
    mine = [m for m in export.messages if m.is_me]
    assert len(mine) == 30 and {m.text for m in mine} == {"FALSE"} and {m.sender for m in mine} == {OWNER}
    # Received rows carry placeholder labels in talker; the partner is still the room.
    assert {m.sender for m in export.messages if not m.is_me} == {"wxid_6789z5qlxzfj22"}
    assert {m.kind for m in export.messages} == {"text"}


def test_old_variant_unpacks_json_content(samples):
    path = samples / "chats" / "weclone_example_chat_pywxdump_old.csv"
    records = csv_records(path)
    assert len(records) == 35
    export = read_chats(path)
    assert export.format == "pywxdump-csv-old"
    assert detect_format(path) == "pywxdump-csv"
    assert export.problems == []
    assert len(export.messages) == 35

    by_line = {m.source_line: m for m in export.messages}
    for line, r in records:
        msg = json.loads(r["content"])["msg"]
        m = by_line[line]
        assert m.sent_at == datetime.strptime(r["CreateTime"], "%Y-%m-%d %H:%M:%S")
        assert m.kind == SAMPLE_KINDS[r["type_name"]]
        assert m.text == (f"[{msg}]" if m.kind in ("image", "sticker") else msg)
        assert m.is_me == (r["is_sender"] == "1") == (r["talker"] == "我")

    first, last = export.messages[0], export.messages[-1]
    assert (first.sent_at, first.kind, first.text) == (
        datetime(2023, 8, 12, 23, 22, 41), "system", "你已添加了白桃乌龙，现在可以开始聊天了。")
    assert (last.sent_at, last.text, last.sender) == (datetime(2023, 8, 13, 14, 15, 14), "哈哈哈好像是", "xinglaifaxianzhe")
    assert Counter(m.kind for m in export.messages) == {"text": 26, "sticker": 5, "image": 3, "system": 1}
    assert sum(m.is_me for m in export.messages) == 20


def test_pywxdump_times_groups_and_bad_rows(tmp_path):
    when = datetime(2024, 3, 1, 8, 30, 15)
    path = tmp_path / "group.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(PYWXDUMP_HEADER)
        w.writerow([1, 101, "文本", 0, "wxid_alice", "123@chatroom", "早", "", int(when.timestamp())])
        w.writerow([2, 102, "文本", 1, "wxid_me", "123@chatroom", "早上好", "", "2024-03-01 08:31:00"])
        w.writerow([3, 103, "文本", 0, "wxid_bob", "123@chatroom", "hi", "", "yesterday"])
        w.writerow([4, 104, "文本", 0, "wxid_bob"])
        w.writerow([5, 105, "卡片式链接", 0, "wxid_bob", "123@chatroom", "海边天气", "https://x", "2024/3/1 8:32"])
        w.writerow([6, 106, "转账", 0, "wxid_bob", "123@chatroom", "", "", "2024-03-01 08:33:00"])
        w.writerow([7, 107, "(分享)小程序", 0, "wxid_bob", "123@chatroom", "点餐", "", "2024-03-01 08:34:00"])
        w.writerow([8, 108, "文本", 2, "wxid_bob", "123@chatroom", "?", "", "2024-03-01 08:35:00"])
    export = read_chats(path)
    assert problems_of(export) == [
        (4, "CreateTime: not a time: 'yesterday'"),
        (5, "has 5 fields, expected 9"),
        (9, "is_sender is '2', not 0 or 1"),
    ]
    assert [(m.sender, m.kind, m.text) for m in export.messages] == [
        ("wxid_alice", "text", "早"), (OWNER, "text", "早上好"), ("wxid_bob", "link", "海边天气"),
        ("wxid_bob", "transfer", "[转账]"), ("wxid_bob", "app", "点餐"),
    ]
    assert export.messages[0].sent_at == when  # unix seconds, in local time like the exporter
    assert export.messages[2].sent_at == datetime(2024, 3, 1, 8, 32)
    assert {m.conversation for m in export.messages} == {"123@chatroom"}


def test_old_variant_broken_json_is_reported(tmp_path):
    path = tmp_path / "old.csv"
    path.write_text(
        "id,MsgSvrID,type_name,is_sender,talker,room_name,content,CreateTime\n"
        '1,11,文本,0,bob,bob,"{""src"": """", ""msg"": ""hello""}",2023-08-12 23:22:41\n'
        '2,12,文本,0,bob,bob,"{""src"": """", ""msg"": ""hel",2023-08-12 23:22:42\n'
        "3,13,文本,1,我,bob,\"{'src': '', 'msg': 'python repr'}\",2023-08-12 23:22:43\n",
        encoding="utf-8",
    )
    export = read_chats(path, "pywxdump-csv")
    assert [m.text for m in export.messages] == ["hello", "python repr"]
    assert [p.line for p in export.problems] == [3]
    assert export.problems[0].reason.startswith("content is not JSON")


# ---------------------------------------------------------------- MemoTrace CSV

def _ts(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%d %H:%M:%S").timestamp())


QUOTE_XML = (
    '<?xml version="1.0"?><msg><appmsg appid="" sdkver="0"><title>十点吧</title><type>57</type>'
    "<refermsg><type>1</type><displayname>Tom</displayname><content>好啊，\n几点？</content></refermsg>"
    "</appmsg></msg>"
)
LINK_XML = "<msg><appmsg><title>海边天气 &amp; 潮汐</title><type>5</type><url>https://example.com/w</url></appmsg></msg>"


def write_memotrace(path: Path, rows: list[list]) -> None:
    with open(path, "w", newline="", encoding="utf-8-sig") as fh:
        w = csv.writer(fh)
        w.writerow(MEMOTRACE_HEADER)
        w.writerows(rows)


def memotrace_row(local_id, type_, sub, is_sender, time, content, author=("小虫", "bug", "wxid_bug"), talker=7):
    return [local_id, talker, type_, sub, is_sender, _ts(time), 2, content, time, *author]


ME = ("Tom", "tom", "wxid_tom")


def test_memotrace_csv(tmp_path):
    path = tmp_path / "小虫_utf8.csv"
    write_memotrace(path, [
        memotrace_row(1, 1, 0, 0, "2024-05-01 10:00:00", "今天去海边吗？"),
        memotrace_row(2, 1, 0, 1, "2024-05-01 10:01:00", "好啊，\n几点？", ME),
        memotrace_row(3, 3, 0, 0, "2024-05-01 10:02:00", '<?xml version="1.0"?><msg><img length="1"/></msg>'),
        memotrace_row(4, 49, 57, 1, "2024-05-01 10:03:00", QUOTE_XML, ME),
        [5, 7, 1, 0, 0, "soon", 2, "坏时间", "yesterday", "小虫", "bug", "wxid_bug"],
        memotrace_row(6, 49, 5, 0, "2024-05-01 10:05:00", LINK_XML),
        memotrace_row(7, 10000, 0, 0, "2024-05-01 10:06:00", "<revokemsg>你撤回了一条消息</revokemsg>"),
        memotrace_row(8, 47, 0, 0, "2024-05-01 10:07:00", "<msg><emoji md5='x'/></msg>"),
        memotrace_row(9, 34, 0, 1, "2024-05-01 10:08:00", "<msg><voicemsg/></msg>", ME),
        memotrace_row(10, 49, 2000, 0, "2024-05-01 10:09:00", ""),
        memotrace_row(11, 50, 0, 1, "2024-05-01 10:10:00", "<voipmsg type='VoIPBubbleMsg'/>", ME),
        memotrace_row(12, 1, 0, 0, "2024-05-01 09:59:00", "（早到的一条）"),
        [13, 7, 1, 0, 0, _ts("2024-05-01 10:11:00"), 2, "StrTime empty", "", "小虫", "bug", "wxid_bug"],
        memotrace_row(14, 1, 0, 0, "2024-05-01 10:12:00", "   "),
    ])
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert detect_format(path) == "memotrace-csv"
    export = read_chats(path)
    assert export.format == "memotrace-csv"
    assert problems_of(export) == [
        (8, "no time: StrTime 'yesterday', CreateTime 'soon'"),
        (17, "empty text message"),
    ]
    got = [(m.source_id, m.sender, m.is_me, m.kind, m.text) for m in export.messages]
    assert got == [
        ("12", "小虫", False, "text", "（早到的一条）"),
        ("1", "小虫", False, "text", "今天去海边吗？"),
        ("2", OWNER, True, "text", "好啊，\n几点？"),
        ("3", "小虫", False, "image", "[图片]"),
        ("4", OWNER, True, "quote", "十点吧\n引用 Tom: 好啊，\n几点？"),
        ("6", "小虫", False, "link", "海边天气 & 潮汐 https://example.com/w"),
        ("7", "小虫", False, "system", "你撤回了一条消息"),
        ("8", "小虫", False, "sticker", "[表情包]"),
        ("9", OWNER, True, "voice", "[语音]"),
        ("10", "小虫", False, "transfer", "[转账]"),
        ("11", OWNER, True, "call", "[通话]"),
        ("13", "小虫", False, "text", "StrTime empty"),
    ]
    assert {m.conversation for m in export.messages} == {"小虫"}
    assert export.messages[0].sent_at == datetime(2024, 5, 1, 9, 59)
    assert export.messages[-1].sent_at == datetime(2024, 5, 1, 10, 11)  # from CreateTime
    # The multi-line message starts on line 3 and the one after it on line 5.
    assert [m.source_line for m in export.messages[1:4]] == [2, 3, 5]


def test_memotrace_group_and_short_rows(tmp_path):
    group = tmp_path / "家人群_utf8.csv"
    write_memotrace(group, [
        memotrace_row(1, 1, 0, 0, "2024-06-01 08:00:00", "吃饭了吗", ("妈妈", "mom", "wxid_mom")),
        memotrace_row(2, 1, 0, 0, "2024-06-01 08:01:00", "吃了", ("", "Dad", "wxid_dad")),
        memotrace_row(3, 1, 0, 1, "2024-06-01 08:02:00", "我也吃了", ME),
    ])
    export = read_chats(group)
    assert [(m.conversation, m.sender) for m in export.messages] == [("家人群", "妈妈"), ("家人群", "Dad"), ("家人群", OWNER)]

    # Exporters before MemoTrace 2.0 left the author columns out of one-to-one chats.
    short = tmp_path / "Alice_utf8.csv"
    with open(short, "w", newline="", encoding="utf-8-sig") as fh:
        w = csv.writer(fh)
        w.writerow(MEMOTRACE_HEADER)
        w.writerow([1, 3, 1, 0, 0, _ts("2024-06-02 09:00:00"), 2, "hello", "2024-06-02 09:00:00"])
        w.writerow([2, 3, 1, 0, 1, _ts("2024-06-02 09:01:00"), 2, "hi Alice", "2024-06-02 09:01:00"])
        w.writerow([3, 3, 1, 0, 1, _ts("2024-06-02 09:02:00"), 2, "too", "2024-06-02 09:02:00", "x"])
    export = read_chats(short)
    assert [(m.conversation, m.sender, m.text) for m in export.messages] == [("Alice", "Alice", "hello"), ("Alice", OWNER, "hi Alice")]
    assert problems_of(export) == [(4, "has 10 fields, expected 12")]


# ---------------------------------------------------------------- MemoTrace TXT

TXT = """2024-05-01 10:00:00 小虫
今天去海边吗？

2024-05-01 10:01:00 Tom Lee
好啊
几点？

2024-05-01 10:02:00 小虫
[图片]

2024-05-01 10:03:00 Tom Lee
十点吧
引用:小虫:今天去海边吗？

2024-13-01 10:04:00 小虫
坏时间

2024-05-01 10:05:00 小虫
[语音]

2024-05-01 10:06:00 小虫
第一段

第二段
"""


def test_memotrace_txt(tmp_path):
    path = tmp_path / "小虫.txt"
    path.write_text(TXT, encoding="utf-8")
    assert detect_format(path) == "memotrace-txt"
    export = read_chats(path)
    assert export.format == "memotrace-txt"
    assert problems_of(export) == [(15, "not a time: '2024-13-01 10:04:00'")]
    got = [(m.source_line, m.sender, m.is_me, m.kind, m.text) for m in export.messages]
    assert got == [
        (1, "小虫", False, "text", "今天去海边吗？"),
        (4, OWNER, True, "text", "好啊\n几点？"),
        (8, "小虫", False, "image", "[图片]"),
        (11, OWNER, True, "quote", "十点吧\n引用:小虫:今天去海边吗？"),
        (18, "小虫", False, "voice", "[语音]"),
        (21, "小虫", False, "text", "第一段\n\n第二段"),
    ]
    assert {m.conversation for m in export.messages} == {"小虫"}
    assert [m.source_id for m in export.messages][:2] == ["line 1", "line 4"]
    assert export.messages[0].sent_at == datetime(2024, 5, 1, 10, 0)


def test_memotrace_txt_group_needs_owner_names(tmp_path):
    path = tmp_path / "周末爬山.txt"
    path.write_text(
        "2024-05-04 07:00:00 Ann\n几点出发？\n\n2024-05-04 07:01:00 Bo\n八点\n\n2024-05-04 07:02:00 Tom Lee\n好\n",
        encoding="utf-8",
    )
    assert not any(m.is_me for m in read_chats(path).messages)  # three names: no guess
    export = read_chats(path, "memotrace-txt", owner_names=["Tom Lee"])
    assert [(m.sender, m.is_me) for m in export.messages] == [("Ann", False), ("Bo", False), (OWNER, True)]
    assert {m.conversation for m in export.messages} == {"周末爬山"}


# ---------------------------------------------------------------- JSON

def test_json_format(tmp_path):
    path = tmp_path / "alice.json"
    doc = {
        "conversation": "Alice",
        "owner": "Tom",
        "messages": [
            {"id": "m1", "time": "2024-05-01T10:00:00", "sender": "Alice", "text": "see you at 6", "type": "text"},
            {"id": "m2", "time": "2024-05-01T10:01:00+08:00", "sender": "Tom", "text": "ok!"},
            {"time": "2024-05-01 09:00", "sender": "Alice", "text": "", "type": "image"},
            {"id": "m4", "sender": "Alice", "text": "no time"},
            {"id": "m5", "time": 1714530000, "sender": "Bob", "text": "other chat", "conversation": "Bob"},
        ],
    }
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2), encoding="utf-8")
    assert detect_format(path) == "json"
    export = read_chats(path)
    assert export.format == "json"
    lines = path.read_text(encoding="utf-8").splitlines()
    starts = [i + 1 for i, line in enumerate(lines) if line == "    {"]  # one per message
    assert len(starts) == 5
    assert problems_of(export) == [(starts[3], "time: no time")]
    got = {m.source_id: (m.conversation, m.sender, m.is_me, m.kind, m.text, m.source_line) for m in export.messages}
    assert got == {
        "m1": ("Alice", "Alice", False, "text", "see you at 6", starts[0]),
        "m2": ("Alice", OWNER, True, "text", "ok!", starts[1]),  # "Tom" is the owner
        f"line {starts[2]}": ("Alice", "Alice", False, "image", "[图片]", starts[2]),
        "m5": ("Bob", "Bob", False, "text", "other chat", starts[4]),
    }
    when = {m.source_id: m.sent_at for m in export.messages}
    assert when["m2"] == datetime(2024, 5, 1, 10, 1)  # the offset is dropped, the wall clock kept
    assert when["m5"] == datetime.fromtimestamp(1714530000)
    assert [m.sent_at for m in export.messages] == sorted(when.values())

    bare = tmp_path / "bare.json"
    bare.write_text(json.dumps([
        {"conversation": "Ann", "time": "2024-01-02T03:04:05", "sender": "me", "text": "hi"},
        {"conversation": "Ben", "time": "2024-01-02T03:04:06", "sender": "Ben", "text": "yo", "id": 7},
    ]), encoding="utf-8")
    got = [(m.conversation, m.sender, m.is_me, m.source_id, m.source_line) for m in read_chats(bare).messages]
    assert got == [("Ann", OWNER, True, "line 1", 1), ("Ben", "Ben", False, "7", 1)]


def test_json_round_trip(samples, tmp_path):
    original = read_chats(samples / "chats" / "weclone_test_person_pywxdump.csv")
    path = tmp_path / "dump.json"
    path.write_text(dump_chats_json(original.messages), encoding="utf-8")
    again = read_chats(path)
    assert again.problems == []

    def fields(m):
        return (m.conversation, m.sender, m.is_me, m.sent_at, m.kind, m.text, m.source_id)

    assert [fields(m) for m in again.messages] == [fields(m) for m in original.messages]
    # A bare list, the line of every message included.
    lines = path.read_text(encoding="utf-8").splitlines()
    assert all(lines[m.source_line - 1].strip() == "{" for m in again.messages)
    assert json.loads(path.read_text(encoding="utf-8"))[0]["conversation"] == "test_person"


def test_broken_json_raises(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"messages": [', encoding="utf-8")
    with pytest.raises(ChatFormatError, match="not valid JSON"):
        read_chats(path)
    path.write_text('{"conversation": "x"}', encoding="utf-8")
    with pytest.raises(ChatFormatError, match='"messages" list'):
        read_chats(path)


# ---------------------------------------------------------------- detection and errors

def test_detection_of_every_sample(samples):
    chats = samples / "chats"
    for name in ("weclone_test_person_pywxdump.csv", "weclone_test_PII_pywxdump.csv",
                 "weclone_example_chat_pywxdump_old.csv"):
        assert detect_format(chats / name) == "pywxdump-csv"
    assert detect_format(chats / "locomo_dev.json") == "json"
    assert set(CHAT_FORMATS) == {"auto", "memotrace-csv", "memotrace-txt", "pywxdump-csv", "json"}


def test_wrong_header_raises(samples, tmp_path):
    path = tmp_path / "other.csv"
    path.write_text("date,from,text\n2024-01-01,Al,hi\n", encoding="utf-8")
    with pytest.raises(ChatFormatError) as auto:
        read_chats(path)
    assert ",".join(MEMOTRACE_HEADER) in str(auto.value) and ",".join(PYWXDUMP_HEADER) in str(auto.value)
    with pytest.raises(ChatFormatError) as forced:
        read_chats(samples / "chats" / "weclone_test_person_pywxdump.csv", "memotrace-csv")
    assert "expected " + ",".join(MEMOTRACE_HEADER) in str(forced.value)
    with pytest.raises(ChatFormatError, match="id,MsgSvrID,type_name"):
        read_chats(path, "pywxdump-csv")
    with pytest.raises(ValueError, match="unknown chat format"):
        read_chats(path, "whatsapp")


def test_iter_chat_files(tmp_path):
    for name in ("b.csv", "a/c.txt", "a/d.json", "a/e.md", ".hidden/f.csv", "a/.g.csv"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x", encoding="utf-8")
    got = [p.relative_to(tmp_path.resolve()).as_posix() for p in iter_chat_files([tmp_path])]
    assert got == ["a/c.txt", "a/d.json", "b.csv"]
    assert list(iter_chat_files([tmp_path / "a" / "e.md"])) == [(tmp_path / "a" / "e.md").resolve()]

"""Diary files read into dated chunks: where dates come from, entries, chunking, no-date files."""

from datetime import datetime
from pathlib import Path

from deepdiary.connectors.diary import NO_DATE, iter_diary_files, read_diary


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_front_matter_date_wins(tmp_path):
    path = write(tmp_path / "2020-01-01.md", (
        "---\n"
        'title: "Yantai trip"\n'
        "date: 2023-07-14\n"
        "tags: [sea, 海边]\n"
        "---\n"
        "\n"
        "# 2023-07-20 written up later\n"
        "\n"
        "We rode around 养马岛. It was hot.\n"
    ))
    diary = read_diary(path)
    assert diary.problems == []
    (chunk,) = diary.chunks
    assert chunk.entry_date == datetime(2023, 7, 14)  # not the heading's, not the file name's
    assert chunk.title == "Yantai trip"
    assert chunk.text == "# 2023-07-20 written up later\n\nWe rode around 养马岛. It was hot."
    assert (chunk.source_line, chunk.chunk_index) == (7, 0)


def test_front_matter_times(tmp_path):
    with_time = read_diary(write(tmp_path / "a.md", "---\ndate: 2023-07-14 21:30\n---\n晚上散步。\n"))
    assert with_time.chunks[0].entry_date == datetime(2023, 7, 14, 21, 30)
    assert with_time.chunks[0].source_line == 4
    offset = read_diary(write(tmp_path / "b.md", "---\ndate: '2023-07-14T08:05:00+08:00'\n---\nMorning.\n"))
    assert offset.chunks[0].entry_date == datetime(2023, 7, 14, 8, 5)  # the wall clock, as written
    chinese = read_diary(write(tmp_path / "c.md", "---\n日期: 2023年7月14日\n---\n今天。\n"))
    assert chinese.chunks[0].entry_date == datetime(2023, 7, 14)


def test_a_leading_rule_is_not_front_matter(tmp_path):
    diary = read_diary(write(tmp_path / "2023-07-14.md", "---\nSome prose: with a colon\n---\nMore.\n"))
    assert [(c.text, c.source_line) for c in diary.chunks] == [("---\nSome prose: with a colon\n---\nMore.", 1)]


def test_bad_front_matter_date_falls_back_and_is_reported(tmp_path):
    diary = read_diary(write(tmp_path / "2023-07-14.md", "---\ndate: sometime in July\n---\nText.\n"))
    assert diary.problems == ["front matter date 'sometime in July' is not a date"]
    assert diary.chunks[0].entry_date == datetime(2023, 7, 14)


def test_chinese_heading_date(tmp_path):
    diary = read_diary(write(tmp_path / "trip.md", "## 2023年7月14日 周五\n\n今天去了养马岛，风很大。\n\n晚上吃了海鲜。\n"))
    assert diary.problems == []
    (chunk,) = diary.chunks
    assert chunk.entry_date == datetime(2023, 7, 14)
    assert chunk.title == "2023年7月14日 周五"
    assert chunk.text == "今天去了养马岛，风很大。\n\n晚上吃了海鲜。"
    assert chunk.source_line == 3


def test_english_heading_date_beats_file_name(tmp_path):
    diary = read_diary(write(tmp_path / "2001-01-01.md", "Intro line.\n\n# Friday, July 14, 2023\n\nA good day.\n"))
    assert [(c.entry_date, c.title, c.text) for c in diary.chunks] == [
        (datetime(2023, 7, 14), "Friday, July 14, 2023", "Intro line.\n\nA good day.")]


def test_file_name_dates(tmp_path):
    iso = read_diary(write(tmp_path / "2023-07-14.md", "# Trip\n\nNo date inside.\n"))
    assert [(c.entry_date, c.title, c.text, c.source_line) for c in iso.chunks] == [
        (datetime(2023, 7, 14), "Trip", "No date inside.", 3)]
    compact = read_diary(write(tmp_path / "20230714-trip.md", "Just text.\n"))
    assert compact.chunks[0].entry_date == datetime(2023, 7, 14)
    assert compact.chunks[0].title is None
    chinese = read_diary(write(tmp_path / "2023年7月15日.txt", "纯文本日记。\n"))
    assert chinese.chunks[0].entry_date == datetime(2023, 7, 15)


def test_several_entries_in_one_file(tmp_path):
    path = write(tmp_path / "2023-07.md", (
        "Notes for the month.\n"          # 1: no date of its own: reported
        "\n"
        "## 2023年7月14日 周五\n"           # 3
        "\n"
        "今天去了养马岛。\n"                 # 5
        "\n"
        "## July 15, 2023\n"              # 7
        "Back home.\n"                    # 8
        "\n"
        "```\n"
        "# 2023-01-01 inside code, not an entry\n"
        "```\n"
        "\n"
        "## 2023-07-16 21:00 Late\n"      # 14
        "\n"
        "Tired.\n"                        # 16
    ))
    diary = read_diary(path)
    assert diary.problems == ["lines 1-2 come before the first dated heading and have no date; skipped"]
    got = [(c.entry_date, c.title, c.text, c.source_line, c.chunk_index) for c in diary.chunks]
    assert got == [
        (datetime(2023, 7, 14), "2023年7月14日 周五", "今天去了养马岛。", 5, 0),
        (datetime(2023, 7, 15), "July 15, 2023", "Back home.\n\n```\n# 2023-01-01 inside code, not an entry\n```", 8, 0),
        (datetime(2023, 7, 16, 21, 0), "2023-07-16 21:00 Late", "Tired.", 16, 0),
    ]
    # With a date in the file name the text before the first entry is kept under it.
    dated = read_diary(write(tmp_path / "2023-07-01.md", path.read_text(encoding="utf-8")))
    assert dated.problems == []
    assert (dated.chunks[0].entry_date, dated.chunks[0].text) == (datetime(2023, 7, 1), "Notes for the month.")
    assert len(dated.chunks) == 4


def test_plain_text_date_lines(tmp_path):
    diary = read_diary(write(tmp_path / "diary.txt", (
        "2023年8月1日 星期二 晴\n\n早上跑步。\n\n2023年8月2日 星期三 雨\n下雨了。\n2023-08-02 的事以后再说。\n"
    )))
    assert [(c.entry_date, c.title, c.text) for c in diary.chunks] == [
        (datetime(2023, 8, 1), "2023年8月1日 星期二 晴", "早上跑步。"),
        # A date opening a sentence inside a paragraph is prose, not a new entry.
        (datetime(2023, 8, 2), "2023年8月2日 星期三 雨", "下雨了。\n2023-08-02 的事以后再说。"),
    ]


def test_long_entry_is_chunked_at_paragraphs(tmp_path):
    paragraphs = [f"第{i}段。" + "今天天气很好，我们沿着海边走了很久，看见很多海鸥。" * (3 + i % 4) for i in range(12)]
    paragraphs += [f"Paragraph {i}. " + "We walked along the beach and watched the gulls. " * (2 + i % 5) for i in range(10)]
    body = "\n\n".join(paragraphs)
    path = write(tmp_path / "long.md", "---\ndate: 2023-07-14\ntitle: 海边\n---\n" + body + "\n")
    diary = read_diary(path)
    chunks = diary.chunks
    assert len(chunks) >= 5
    assert [c.chunk_index for c in chunks] == list(range(len(chunks)))
    assert {(c.entry_date, c.title) for c in chunks} == {(datetime(2023, 7, 14), "海边")}
    assert all(len(c.text) <= 800 for c in chunks)
    # Whole paragraphs only, in order, nothing lost.
    stripped = [p.strip() for p in paragraphs]
    assert [p for c in chunks for p in c.text.split("\n\n")] == stripped
    assert "\n\n".join(c.text for c in chunks) == "\n\n".join(stripped)
    # Each chunk starts on the line of its first paragraph (4 front matter lines, then
    # one paragraph every two lines).
    for c in chunks:
        assert c.source_line == 5 + 2 * stripped.index(c.text.split("\n\n")[0])
    # Packed greedily: the next paragraph would not have fitted.
    for c, nxt in zip(chunks, chunks[1:]):
        assert len(c.text) + 2 + len(nxt.text.split("\n\n")[0]) > 800


def test_long_paragraph_is_cut_between_sentences(tmp_path):
    sentences = [f"这是第{i}句话，讲的是那天在海边发生的事情。" for i in range(60)]
    english = [f"Sentence number {i} is about the long walk home." for i in range(30)]
    path = write(tmp_path / "2023-07-14.txt", "".join(sentences) + "\n" + " ".join(english) + "\n")
    chunks = read_diary(path).chunks
    assert len(chunks) >= 3 and all(len(c.text) <= 800 for c in chunks)
    assert all(c.text.endswith(("。", ".")) for c in chunks)
    assert "".join(c.text for c in chunks).replace("\n", "").replace(" ", "") == (
        "".join(sentences) + "".join(english)).replace(" ", "")
    english_start = next(c for c in chunks if c.text.startswith("Sentence number"))
    assert english_start.source_line == 2


def test_no_date_is_reported_not_guessed(tmp_path):
    diary = read_diary(write(tmp_path / "notes.md", "# Ideas\n\nSomething happened on a Friday.\n"))
    assert diary.chunks == []
    assert diary.problems == [NO_DATE] == ["no date found in front matter, headings or file name"]
    empty = read_diary(write(tmp_path / "2023-07-14.md", "---\ndate: 2023-07-14\n---\n\n"))
    assert empty.chunks == [] and empty.problems == ["no text"]


def test_gb18030_file(tmp_path):
    path = tmp_path / "2023-07-14.txt"
    path.write_bytes("今天很开心。".encode("gb18030"))
    assert read_diary(path).chunks[0].text == "今天很开心。"


def test_iter_diary_files(tmp_path):
    for name in ("b.md", "a/c.txt", "a/d.markdown", "a/e.csv", ".obsidian/f.md", "a/.g.md"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x", encoding="utf-8")
    got = [p.relative_to(tmp_path.resolve()).as_posix() for p in iter_diary_files([tmp_path])]
    assert got == ["a/c.txt", "a/d.markdown", "b.md"]

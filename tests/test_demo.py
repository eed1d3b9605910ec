import io

from rich.console import Console

from deepdiary.services.demo import run_demo


def test_demo_searches_find_exactly_the_photos_they_claim(tmp_path):
    output = io.StringIO()
    found = run_demo(tmp_path / "lib", Console(file=output, width=120))

    # Place from EXIF GPS through the offline geocoder, combined with an EXIF date range.
    assert found["Photos in Hangzhou, July 2023"] == [
        "hangzhou-sunset.jpg", "hangzhou-moon.jpg", "hangzhou-tea-terraces.jpg",
    ]
    # A Chinese country name matches places stored with English city names.
    assert found["Photos in 中国 (a Chinese place name)"] == [
        "beijing-snow.jpg", "hangzhou-sunset.jpg", "hangzhou-moon.jpg",
        "hangzhou-tea-terraces.jpg", "beijing-red-wall.jpg",
    ]
    assert set(found["Blue background"]) == {"cape-town-beach.jpg", "new-york-tower.jpg"}
    assert found["Red in the foreground, brown around it"] == ["florence-red-ball.jpg"]
    assert set(found["Tall photos"]) == {
        "hangzhou-tea-terraces.jpg", "new-york-tower.jpg", "paris-pink-portrait.jpg",
    }
    assert set(found["Taken with a Fujifilm"]) == {
        "florence-red-ball.jpg", "hangzhou-tea-terraces.jpg", "paris-pink-portrait.jpg",
    }
    assert set(found["Within 50 km of Paris"]) == {"paris-pink-portrait.jpg", "paris-stone-wall.jpg"}

    text = output.getvalue()
    # Models on real photographs, queried in English and Chinese.
    assert found["Free text: 'flower'"][0] == "flower.jpg"
    assert found["Free text in Chinese: '花'"][0] == "flower.jpg"
    assert "china.jpg" in found["Scene: building (建筑)"]
    # Faces: six friends round a table are a group photo, and six people.
    assert found["Scene: group photo (合影)"] == ["new-york-poker-night.jpg"]
    assert found["Six faces"] == ["new-york-poker-night.jpg"]
    assert "15 added" in text
    # The EXIF-less PNG is reported, not silently dated.
    assert "modification time is used" in text
    assert "15 photos in the library, 12 searches run" in text

    # The housekeeper (Qwen 1.5B) answers the three demo questions, citing what it relied on.
    asked = {k: v for k, v in found.items() if k.startswith("ask: ")}
    assert len(asked) == 3
    assert len(asked["ask: Which photos did I take in Hangzhou in July 2023?"]) == 3
    assert all(ref.startswith("photo:") for ref in asked["ask: Which photos did I take in Hangzhou in July 2023?"])
    assert all(ref.startswith("message:") for ref in asked["ask: 李雷关于茶说了什么？"])
    assert "person:" in " ".join(asked["ask: Who can help me fix my bike?"])
    assert "Q: 李雷关于茶说了什么？" in text and "tools: search_chats" in text
    assert "16 message(s) added; diary: 4 entr(ies) added" in text

    # A second run finds every file unchanged and searches the same.
    again = io.StringIO()
    searches = {k: v for k, v in found.items() if k not in asked}
    assert run_demo(tmp_path / "lib", Console(file=again, width=120), ask=False) == searches
    assert "0 added, 15 unchanged, 0 failed" in again.getvalue()
    assert "0 message(s) added; diary: 0 entr(ies) added" in again.getvalue()

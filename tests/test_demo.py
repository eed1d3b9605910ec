import io

from rich.console import Console

from deepdiary.demo import run_demo


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
    assert found["Red in the foreground, green around it"] == ["florence-red-ball.jpg"]
    assert set(found["Tall photos"]) == {
        "hangzhou-tea-terraces.jpg", "new-york-tower.jpg", "paris-pink-portrait.jpg",
    }
    assert set(found["Taken with a Fujifilm"]) == {
        "florence-red-ball.jpg", "hangzhou-tea-terraces.jpg", "paris-pink-portrait.jpg",
    }
    assert set(found["Within 50 km of Paris"]) == {"paris-pink-portrait.jpg", "paris-stone-wall.jpg"}

    text = output.getvalue()
    # Models on the photos that ship with scikit-learn, queried in English and Chinese.
    assert found["Free text: 'flower'"][0] == "flower.jpg"
    assert found["Free text in Chinese: '花'"][0] == "flower.jpg"
    assert "china.jpg" in found["Scene: building (建筑)"]
    assert "14 added" in text
    # The EXIF-less PNG is reported, not silently dated.
    assert "modification time is used" in text
    assert "14 photos in the library, 10 searches run" in text

    # A second run finds every file unchanged and answers the same.
    again = io.StringIO()
    assert run_demo(tmp_path / "lib", Console(file=again, width=120)) == found
    assert "0 added, 14 unchanged, 0 failed" in again.getvalue()

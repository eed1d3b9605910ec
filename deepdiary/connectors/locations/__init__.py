"""Location files to time-stamped points and visits, one small reader per format.

No catalogue and no ML here. ``read_tracks`` turns one file into a ``TrackFile`` (tracks of
points, visits, waypoints, and the problems met on the way) or raises ``TrackFormatError``
when the whole file is unusable; ``iter_track_files`` walks folders; ``find_stays`` finds
the places someone stayed in a run of points.

Formats, told apart by content (``sniff``, ``json_exports``), not by the file name:

* GPX (``gpx``) and KML with gx:Track (``kml``);
* Google Takeout Location History: Records.json and Semantic Location History (``takeout``);
* Google's on-device Timeline export, ``semanticSegments`` (``google_timeline``);
* the phone's ``location-history.json``, a list of ``geo:`` entries (``google_timeline_list``);
* GeoJSON from GPSLogger, Overland and converters (``geojson``);
* OwnTracks Recorder ``.rec`` logs and JSON (``owntracks``);
* GPSLogger CSV and other CSVs with latitude and longitude columns (``location_csv``);
* Immich map markers and assets with EXIF positions (``immich``).

What a user can rely on:

* Bad input is reported, never trusted and never fatal. A point whose timestamp is
  impossible (before 1990 for a GPS fix, before 1826 for a photo's date, or more than a
  day in the future: GPS week roll-overs, 32-bit clock overflows such as 1901-12-13, unset
  device clocks) keeps its position but loses its time, and a ``TrackProblem`` says how
  many points and why. Points with impossible coordinates, empty segments and empty
  tracks are dropped with a problem.
* A cut-off or garbled GPX/KML file keeps everything before the damage (a device that
  died mid-recording still leaves a usable track), with a problem naming the line; if
  nothing before the damage is usable, it raises ``TrackFormatError`` with the parser's
  reason.
* A file that is none of these formats raises ``TrackFormatError("not a location file:
  ...")`` saying what it looked like ("JSON object with keys a, b", "CSV with columns x, y").

All times are timezone-aware UTC. Times without a zone are read as UTC, which is what
GPX and Takeout specify.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Iterable, Iterator

from deepdiary.connectors.files import Refused, iter_files
from deepdiary.connectors.locations.gpx import read_gpx
from deepdiary.connectors.locations.json_exports import read_json_export
from deepdiary.connectors.locations.kml import read_kml
from deepdiary.connectors.locations.location_csv import read_location_csv
from deepdiary.connectors.locations.model import Track, TrackFile, TrackFormatError, TrackPoint, TrackProblem, Visit
from deepdiary.connectors.locations.owntracks import read_rec
from deepdiary.connectors.locations.sniff import decode_text, looks_like_location_text, sniff
from deepdiary.connectors.locations.stays import find_stays
from deepdiary.connectors.locations.vetting import EARLIEST_PHOTO, EARLIEST_TRUSTED, FUTURE_SLACK, UTC
from deepdiary.connectors.locations.xml_repair import decode_xml
from deepdiary.connectors.xml_safety import UnsafeXml, unsafe_xml_reason

# The extensions of the first three formats (GPX, KML, Takeout JSON), kept as they were.
TRACK_EXTENSIONS = {".gpx", ".kml", ".json"}
# Every file with one of these is tried in a folder walk, and reported if it is not location data.
LOCATION_EXTENSIONS = TRACK_EXTENSIONS | {".geojson", ".rec", ".csv"}
# .txt holds notes as often as logs: in a folder walk it is tried only when its first line
# looks like an OwnTracks log or a CSV of positions (a named file is always tried).
SNIFFED_EXTENSIONS = {".txt"}
_SNIFF_BYTES = 4096

__all__ = [
    "EARLIEST_PHOTO", "EARLIEST_TRUSTED", "FUTURE_SLACK", "LOCATION_EXTENSIONS", "SNIFFED_EXTENSIONS",
    "TRACK_EXTENSIONS", "Track", "TrackFile", "TrackFormatError", "TrackPoint", "TrackProblem", "Visit",
    "find_stays", "iter_track_files", "read_tracks",
]


def iter_track_files(paths: Iterable[Path] | Path | str, skip: Iterable[Path] = (),
                     refused: Refused | None = None) -> Iterator[Path]:
    """Location files under ``paths``: sorted, hidden entries skipped (see ``iter_files``).

    A file named directly is yielded whatever it is: the user chose it, and if it is not
    location data the reader says so.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    for root in paths:
        for path in iter_files([root], LOCATION_EXTENSIONS | SNIFFED_EXTENSIONS, skip=skip, refused=refused):
            if Path(root).is_file() or path.suffix.lower() not in SNIFFED_EXTENSIONS or _sniffs_as_location(path):
                yield path


def _sniffs_as_location(path: Path) -> bool:
    try:
        with open(path, "rb") as fh:
            return looks_like_location_text(fh.read(_SNIFF_BYTES))
    except OSError:
        return True  # unreadable: let the reader report it rather than skip it silently


def read_tracks(path: Path) -> TrackFile:
    """Read one location file of any known format; the format is detected from the content."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TrackFormatError(f"cannot read the file: {exc}") from exc
    kind = sniff(data)
    now = datetime.now(UTC)
    if kind == "json":
        return read_json_export(path, data, now)
    problems: list[TrackProblem] = []
    if kind == "owntracks":
        return read_rec(path, decode_text(data, problems), problems, now)
    if kind == "csv":
        return read_location_csv(path, decode_text(data, problems), problems, now)
    text = decode_xml(data, problems)
    try:
        if kind == "gpx":
            return read_gpx(path, text, problems, now)
        return read_kml(path, text, problems, now)
    except UnsafeXml as exc:
        raise TrackFormatError(unsafe_xml_reason(exc)) from exc

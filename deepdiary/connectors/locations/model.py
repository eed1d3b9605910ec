"""What every location reader returns: tracks of points, visits, waypoints and problems."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from deepdiary.core.errors import DeepDiaryError


class TrackFormatError(DeepDiaryError):
    """The whole file is unreadable or is not a location file; the message says why."""


@dataclass
class TrackPoint:
    time: datetime | None  # timezone-aware UTC, or None when the file has no (trusted) time
    lat: float
    lon: float
    ele: float | None = None


@dataclass
class Track:
    name: str | None
    # gpx-track, gpx-route, kml-track, kml-line, takeout-records, takeout-activity,
    # timeline-activity, timeline-path, timeline-raw, geojson-points, geojson-line,
    # owntracks, csv-track, immich-photos
    kind: str
    segments: list[list[TrackPoint]]


@dataclass
class Visit:
    """A place someone stayed: from a Timeline or Takeout visit, a KML place with an address, or find_stays."""

    start: datetime
    end: datetime
    lat: float
    lon: float
    name: str | None = None
    address: str | None = None
    source: str = "takeout"  # "takeout", "timeline", "kml" or "stay"


@dataclass
class TrackProblem:
    where: str  # "track 1 segment 2", "waypoint 3", "line 40": something a user can find
    reason: str


@dataclass
class TrackFile:
    path: Path
    # gpx, kml, takeout-records, takeout-semantic, google-timeline, google-timeline-list,
    # geojson, owntracks, gpslogger-csv, csv, immich-markers, immich-assets
    format: str
    tracks: list[Track] = field(default_factory=list)
    visits: list[Visit] = field(default_factory=list)
    waypoints: list[TrackPoint] = field(default_factory=list)
    problems: list[TrackProblem] = field(default_factory=list)

"""GPS and location files to time-stamped points and visits.

The readers live in ``deepdiary.connectors.locations``, one small module per format; this
module keeps the names callers have always imported from here.
"""

from __future__ import annotations

from deepdiary.connectors.locations import (
    EARLIEST_PHOTO,
    EARLIEST_TRUSTED,
    FUTURE_SLACK,
    LOCATION_EXTENSIONS,
    SNIFFED_EXTENSIONS,
    TRACK_EXTENSIONS,
    Track,
    TrackFile,
    TrackFormatError,
    TrackPoint,
    TrackProblem,
    Visit,
    find_stays,
    iter_track_files,
    read_tracks,
)
from deepdiary.core.geo import haversine_m

__all__ = [
    "EARLIEST_PHOTO", "EARLIEST_TRUSTED", "FUTURE_SLACK", "LOCATION_EXTENSIONS", "SNIFFED_EXTENSIONS",
    "TRACK_EXTENSIONS", "Track", "TrackFile", "TrackFormatError", "TrackPoint", "TrackProblem", "Visit",
    "find_stays", "haversine_m", "iter_track_files", "read_tracks",
]

"""Where someone stayed, found in a run of time-stamped points."""

from __future__ import annotations

from datetime import timedelta

from deepdiary.connectors.locations.model import TrackPoint, Visit
from deepdiary.core.geo import haversine_m


def find_stays(
    points: list[TrackPoint],
    radius_m: float = 150,
    min_duration: timedelta = timedelta(minutes=10),
) -> list[Visit]:
    """Places where the points stayed within ``radius_m`` for at least ``min_duration``.

    Classic stay-point detection (Li et al., 2008): from an anchor point, extend the run
    while points stay within ``radius_m`` of the anchor; a run lasting ``min_duration`` is
    a stay and the walk resumes after it, otherwise the next point becomes the anchor.
    Anchoring on the first point (not a moving centroid) keeps a slow walk from being
    swallowed into one endless "stay". Points without a time are ignored: a stay is a
    statement about time. There is no limit on the gap between two fixes, because phones
    record rarely when they are still; a long gap at one place reads as a long stay.
    """
    timed = sorted((p for p in points if p.time is not None), key=lambda p: p.time)
    stays: list[Visit] = []
    i, n = 0, len(timed)
    while i < n:
        anchor = timed[i]
        j = i + 1
        while j < n and haversine_m(anchor.lat, anchor.lon, timed[j].lat, timed[j].lon) <= radius_m:
            j += 1
        if timed[j - 1].time - anchor.time >= min_duration:
            run = timed[i:j]
            stays.append(
                Visit(
                    start=anchor.time,
                    end=run[-1].time,
                    lat=sum(p.lat for p in run) / len(run),
                    lon=sum(p.lon for p in run) / len(run),
                    source="stay",
                )
            )
            i = j
        else:
            i += 1
    return stays

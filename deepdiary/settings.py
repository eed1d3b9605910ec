"""Typed settings, read from ``DEEPDIARY_*`` environment variables.

The library folder is, in order: ``--library DIR`` on the CLI, ``DEEPDIARY_HOME``,
``~/.deepdiary``. The catalogue is any SQLAlchemy URL; by default an SQLite file inside
the library folder.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DEEPDIARY_", extra="ignore")

    home: Path = Field(default=Path("~/.deepdiary"), description="library folder")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the catalogue; SQLite in the library by default"
    )
    thumbnail_size: int = Field(default=384, description="longest side of stored thumbnails, px")
    colour_sample_size: int = Field(
        default=64, description="longest side the image is reduced to before colour analysis, px"
    )
    colour_min_share: float = Field(
        default=0.05, description="a colour covering less of a region than this is not stored"
    )
    colour_search_min_share: float = Field(
        default=0.15, description="a colour facet matches a region only where it covers at least this"
    )
    near_radius_km: float = Field(default=25.0, description="default radius of a lat,lon search")
    copy_originals: bool = Field(
        default=True, description="copy originals into the content-addressed blob store"
    )

    @property
    def library_dir(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def catalogue_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{self.library_dir / 'catalogue.db'}"

    @property
    def blob_dir(self) -> Path:
        return self.library_dir / "blobs"

    @property
    def model_dir(self) -> Path:
        return self.library_dir / "models"


def load_settings(library: Path | None = None) -> Settings:
    """Settings from the environment, with ``library`` (the CLI's ``--library``) winning."""
    if library is not None:
        return Settings(home=library)
    return Settings()

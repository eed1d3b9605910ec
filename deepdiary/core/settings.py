"""Typed settings, read from ``DEEPDIARY_*`` environment variables.

The library folder is, in order: ``--library DIR`` on the CLI, ``DEEPDIARY_HOME``,
``~/.deepdiary``. The catalogue is any SQLAlchemy URL; by default an SQLite file inside
the library folder.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Annotated

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


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

    # Encryption at rest: what unlocks an encrypted library (never stored, never shown in a repr)
    passphrase: SecretStr | None = Field(
        default=None, description="the passphrase of an encrypted library (else it is prompted for)")
    key_file: Path | None = Field(
        default=None, description="a key file (32+ random bytes) that unlocks an encrypted library instead of a "
                                  "passphrase; the CLI's --key-file")

    # Hostile input: every file an ingest reads is held to these (see deepdiary.pipeline.file_limits)
    max_file_mb: float = Field(
        default=2048.0, description="a file larger than this many MiB is refused and reported, not read "
                                    "(a Takeout Records.json of many years is about 1 GiB); 0: no limit")
    max_image_pixels: int = Field(
        default=200_000_000, description="a picture of more pixels is refused as a decompression bomb "
                                         "(Pillow's MAX_IMAGE_PIXELS; a 200 MP phone photo fits)")
    file_read_seconds: float = Field(
        default=300.0, description="reading one file may take this long; a slower one is reported and the "
                                   "ingest goes on with the next; 0: no limit")

    torch_threads: int = Field(default=0, description="CPU threads for the vision models; 0 lets torch decide")

    # Share links (deepdiary share ...): read-only links to a photo, an event or a search's results
    share_expiry: str = Field(default="7d", description="how long a share link lasts unless told: 30m, 12h, 7d, 2w")
    share_max_days: int = Field(default=366, description="no share link lasts longer than this many days")
    share_search_limit: int = Field(default=200, description="a shared search holds at most this many photos")

    # Enrichment
    detect_max_side: int = Field(
        default=1600, description="photos are downscaled to this longest side before face detection, px"
    )
    face_backend: str = Field(default="dlib", description="dlib, or insightface with insightface_pack set")
    insightface_pack: Path | None = Field(default=None, description="folder of an insightface model pack")
    face_upsample: int = Field(default=1, description="dlib detector upsampling; 1 finds faces down to ~40 px")
    face_match_threshold: float = Field(
        default=0.5, description="a face joins a person whose centroid is at most this far (dlib distance)"
    )
    face_detector: str = Field(
        default="retinaface",
        description="retinaface (RetinaFace, ONNX), hog or cnn (dlib); bench/enrich.py compares them")
    retinaface_max_side: int = Field(
        default=1920,
        description="longest side RetinaFace looks at, px (twice that around a crowd of small faces; "
                    "the dlib detectors use detect_max_side)")
    face_min_quality: float = Field(
        default=0.5, description="faces below this quality (size, sharpness, pose; 0 to 1) never start a person")
    face_weak_match_threshold: float = Field(
        default=0.4, description="a face below face_min_quality joins a person only when at most this far")
    enrich_workers: int = Field(
        default=0, description="processes that run the vision models during enrichment; 0: one per CPU core, "
                               "1: all in the calling process")
    enrich_workers_min_photos: int = Field(
        default=12, description="fewer photos than this are enriched in the calling process (starting the "
                                "workers takes a few seconds)")
    tag_min_probability: float = Field(default=0.05, description="ImageNet labels below this are not stored")
    duplicate_hash_distance: int = Field(default=10, description="max perceptual-hash bits apart for duplicates")
    duplicate_feature_similarity: float = Field(default=0.90, description="min feature cosine for duplicates")
    clip_checkpoint: Path | None = Field(default=None, description="an open_clip checkpoint file; enables CLIP search")
    clip_model: str = Field(default="ViT-B-32", description="open_clip architecture of clip_checkpoint")
    blip_weights: Path | None = Field(default=None, description="a folder of BLIP captioning weights (transformers)")

    # Text memory and tracks
    owner_name: str = Field(default="me", description="your own name, as your chat partners call you")
    map_tile_url: str | None = Field(default=None, description="a raster tile URL template (https://host/{z}/{x}/{y}.png) for the web map; without one it draws a bundled world outline")
    geotag_max_minutes: float = Field(default=10.0, description="a track point this close in time geotags a photo")
    camera_utc_offset_min: int = Field(
        default=0, description="camera clock minus UTC, minutes, for photos whose EXIF has no offset")
    stay_radius_m: float = Field(default=150.0, description="a stay keeps within this distance")
    stay_min_minutes: float = Field(default=10.0, description="and lasts at least this long")

    # The housekeeper (agent) and its language model
    llm_backend: str = Field(default="llamacpp", description="llamacpp, openai (any OpenAI-compatible endpoint) or none")
    llm_model: str = Field(
        default="qwen2.5-coder-1.5b",
        description="a packaged GGUF: qwen2.5-coder-1.5b, qwen2.5-coder-0.5b or smollm2-135m")
    llm_model_path: Path | None = Field(default=None, description="your own GGUF file; wins over llm_model")
    llm_threads: int = Field(default=2, description="llama.cpp CPU threads; 1 stays steadier on a busy machine")
    llm_context: int = Field(default=4096, description="llama.cpp context window, tokens")
    llm_grammar_first: bool = Field(
        default=True, description="check the JSON grammar against the best token before the whole vocabulary "
                                  "(same output, faster); off is llama-cpp-python's own sampler")
    llm_seed: int = Field(default=0, description="sampling seed; answers are greedy, so this rarely matters")
    diary_language: str = Field(
        default="auto", description="language of the event diary's entries: en, zh, or auto (the language you "
                                    "write your own messages and diary in, English when there are none)")
    openai_base_url: str = Field(default="http://127.0.0.1:8080/v1", description="an OpenAI-compatible endpoint")
    openai_api_key: str = Field(default="not-needed", description="its key")
    openai_model: str = Field(default="gpt-4o-mini", description="its model name")
    agent_max_steps: int = Field(default=4, description="most tool calls the housekeeper makes per question")
    agent_history_turns: int = Field(default=3, description="earlier turns of a conversation shown to the model")

    # Voice: speech to text (faster-whisper) and text to speech (espeak-ng)
    stt_model: str = Field(
        default="base", description="a packaged Whisper model: base (English, Chinese and more) or tiny.en (English, faster)")
    stt_model_path: Path | None = Field(
        default=None, description="your own CTranslate2 Whisper folder (with model.bin); wins over stt_model")
    stt_threads: int = Field(default=2, description="CPU threads for speech to text")
    stt_beam_size: int = Field(default=5, description="Whisper beam size: 5 is more accurate (Mandarin above all), 1 faster")
    stt_hotwords: bool = Field(
        default=True, description="tell Whisper the library's people and place names, so it hears 'Hangzhou', not 'hand'")
    stt_languages: str = Field(
        default="", description="comma-separated languages detection may choose (e.g. en,zh); empty: any")
    stt_max_seconds: float = Field(default=600.0, description="longer recordings are refused, seconds")
    audio_decode_timeout: float = Field(
        default=60.0, description="seconds Debian's ffmpeg may take on audio PyAV cannot read (AMR)")
    tts_voice_en: str = Field(default="en", description="espeak-ng voice for English (and other non-Chinese) text")
    tts_voice_zh: str = Field(default="cmn", description="espeak-ng voice for Chinese text (cmn is Mandarin)")
    tts_speed: int = Field(default=175, description="espeak-ng speaking rate, words per minute")
    tts_timeout: float = Field(default=30.0, description="seconds espeak-ng may take for one reply")

    # The chat bots (deepdiary bot telegram | wechat): secrets are SecretStr, never shown in a repr or a log
    telegram_token: SecretStr | None = Field(default=None, description="the Telegram bot's token from @BotFather")
    telegram_allowed_users: Annotated[list[int], NoDecode] = Field(
        default_factory=list, description="Telegram user ids allowed to talk to the bot, comma-separated; none means nobody")
    telegram_album_seconds: float = Field(default=1.5, description="photos of one album arriving within this are ingested together")
    wechat_token: SecretStr | None = Field(default=None, description="the Official Account's callback token")
    wechat_app_id: str | None = Field(default=None, description="the Official Account's AppID")
    wechat_app_secret: SecretStr | None = Field(default=None, description="its AppSecret (for the customer-service message API)")
    wechat_aes_key: SecretStr | None = Field(default=None, description="the EncodingAESKey: set for safe (encrypted) mode")
    wechat_allowed_openids: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="OpenIDs allowed to talk to the account, comma-separated; none means nobody")
    wechat_api_base_url: str = Field(default="https://api.weixin.qq.com/cgi-bin/", description="the WeChat API (a test server in tests)")
    wechat_reply_seconds: float = Field(
        default=4.5, description="an answer not ready by then is sent later through the customer-service API")

    # Decentralised storage (deepdiary.memory.storage): blobs stay in the library folder; a backend may hold them too
    blob_backend: str = Field(
        default="local", description="local (the library folder only) or ipfs (also pinned to an IPFS node, "
                                     "sealed in an encrypted library)")
    ipfs_api: str | None = Field(
        default=None, description="a kubo daemon's RPC URL (http://127.0.0.1:5001); unset: the embedded kubo "
                                  "node, offline on loopback")
    ipfs_repo: Path | None = Field(default=None, description="the embedded IPFS node's repo folder; <library>/ipfs by default")
    ipfs_timeout: float = Field(default=60.0, description="seconds one IPFS node call may take")

    # Past one machine: each part on a server, chosen by configuration alone (unset: embedded)
    namespace: str | None = Field(
        default=None, description="this library's name on shared servers: its PostgreSQL schema, Chroma database "
                                  "and S3 key prefix; unset: derived from the library folder's path")
    chroma_url: str | None = Field(
        default=None, description="a Chroma server started with `chroma run` (http://127.0.0.1:8000); unset: Chroma "
                                  "files in the library folder")
    s3_endpoint_url: str | None = Field(default=None, description="an S3-compatible endpoint (http://127.0.0.1:8333)")
    s3_bucket: str | None = Field(default=None, description="the bucket that holds the blobs; set: blobs live in S3")
    s3_access_key: SecretStr | None = Field(default=None, description="the S3 access key id")
    s3_secret_key: SecretStr | None = Field(default=None, description="the S3 secret access key")
    s3_region: str = Field(default="us-east-1", description="the S3 region name")
    broker_url: str | None = Field(
        default=None, description="a Celery broker (redis://127.0.0.1:6379/0): ingest enqueues enrichment and "
                                  "embedding for `deepdiary worker`; unset: done in process")
    broker_visibility_timeout: int = Field(
        default=3600, description="seconds a task a worker took but never acknowledged (the worker was killed) "
                                  "waits before another worker gets it; keep it above the longest task")

    @field_validator("telegram_allowed_users", "wechat_allowed_openids", mode="before")
    @classmethod
    def _comma_list(cls, value):
        if isinstance(value, str):
            return [v.strip() for v in value.replace(";", ",").split(",") if v.strip()]
        return value

    @property
    def library_dir(self) -> Path:
        return self.home.expanduser().resolve()

    @field_validator("namespace")
    @classmethod
    def _namespace_name(cls, value):
        if value is not None and not re.fullmatch(r"[a-z][a-z0-9_]{2,62}", value):
            raise ValueError("a namespace is 3 to 63 lower-case letters, digits or _, starting with a letter")
        return value

    @property
    def catalogue_schema(self) -> str | None:
        """The library's schema on a server database (its namespace); None for its own SQLite file."""
        return None if self.catalogue_url.startswith("sqlite") else self.library_namespace

    @property
    def library_namespace(self) -> str:
        """The library's name on shared servers, the same on every machine that sets it, so a
        worker elsewhere reaches the same schema, Chroma database and S3 prefix."""
        if self.namespace:
            return self.namespace
        return "dd_" + hashlib.sha256(str(self.library_dir).encode("utf-8")).hexdigest()[:16]

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

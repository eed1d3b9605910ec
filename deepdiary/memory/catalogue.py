"""Opening the catalogue: the engine, schema migrations and sessions."""

from __future__ import annotations

import math
import re
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from sqlalchemy import event
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.engine import Engine
from sqlmodel import Session, create_engine

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
# Reads of a big catalogue or word index from mapped memory rather than through SQLite's
# 2 MB page cache: a search over a million messages spends half its time copying pages.
# Only address space; SQLCipher ignores it for an encrypted file.
SQLITE_MMAP_BYTES = 1 << 30


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL keeps readers (the API, a search) working while an ingest writes, and a
    # SIGKILL mid-transaction rolls back cleanly on the next open.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute(f"PRAGMA mmap_size={SQLITE_MMAP_BYTES}")
    try:
        cursor.execute("SELECT sin(0), asin(0), radians(0)")
    except dbapi_connection.OperationalError:  # sqlite3's or SQLCipher's, whichever opened it
        # SQLite built without its math functions (SQLCipher's is): distance queries need these five.
        for name, fn in (("sin", math.sin), ("cos", math.cos), ("asin", math.asin),
                         ("sqrt", math.sqrt), ("radians", math.radians)):
            dbapi_connection.create_function(name, 1, fn, deterministic=True)
    cursor.close()


READ = {"deepdiary_read": True}  # execution options of a read-only connection


def make_engine(url: str, key=None, schema: str | None = None) -> Engine:
    """An engine on the catalogue.

    On SQLite every transaction starts with BEGIN IMMEDIATE unless its connection carries
    the ``READ`` option (``reader(engine)``): a transaction that reads and then writes
    would otherwise fail at once with "database is locked" when another writer committed
    in between, busy timeout or not. Reads keep deferred transactions, which never wait
    in WAL mode.

    ``key`` (a ``sealing.LibraryKey``): the SQLite file is SQLCipher, opened through SQLAlchemy's
    pysqlcipher dialect (so its errors are SQLAlchemy's as with sqlite3) with the raw key as
    the URL's password, which the dialect sets as ``PRAGMA key`` before anything else.

    ``schema``: on a server database, the library's own schema (its namespace), so one
    database holds many libraries (a user each, a family's server) without mixing them;
    ``upgrade`` creates it."""
    if not url.startswith("sqlite"):
        args = {"options": f"-c search_path={schema}"} if schema else {}
        return create_engine(url, pool_pre_ping=True, connect_args=args)
    if key is not None:
        from sqlalchemy.engine import URL
        from sqlalchemy.pool import QueuePool

        sealed = URL.create("sqlite+pysqlcipher", password=key.sqlcipher_key.strip('"'),
                            database=url.split("///", 1)[1])
        engine = create_engine(sealed, connect_args={"check_same_thread": False}, poolclass=QueuePool)
    else:
        engine = create_engine(url, connect_args={"check_same_thread": False})

    def connect(dbapi_connection, record):
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves, below
        if key is not None:
            dbapi_connection.execute("PRAGMA cipher_log_level = NONE")
        _sqlite_pragmas(dbapi_connection, record)

    def begin(conn):
        conn.exec_driver_sql("BEGIN" if conn.get_execution_options().get("deepdiary_read") else "BEGIN IMMEDIATE")

    event.listen(engine, "connect", connect)
    event.listen(engine, "begin", begin)
    return engine


def reader(engine: Engine) -> Engine:
    """The same engine (and pool) for read-only work."""
    return engine.execution_options(**READ)


def alembic_config(engine: Engine):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # configparser treats % as interpolation; URLs carry it (socket paths, passwords).
    cfg.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    cfg.attributes["engine"] = engine
    return cfg


_REVISION = re.compile(r"^(down_)?revision\s*=\s*['\"]([^'\"]*)['\"]", re.M)


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest migration, read from the revision files without importing alembic."""
    revisions, parents = set(), set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        for down, rev in _REVISION.findall(path.read_text(encoding="utf-8")):
            (parents if down else revisions).add(rev)
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"the migrations have {len(heads)} heads: {sorted(heads)}")
    return heads.pop()


def _current_revision(engine: Engine) -> str | None:
    try:
        with reader(engine).connect() as conn:
            return conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    except OperationalError:
        return None  # a new database: no table yet
    except ProgrammingError:
        return None


@contextmanager
def _migration_lock(engine: Engine, lock_dir: Path | None) -> Iterator[None]:
    """One process migrates at a time: a file lock beside an SQLite catalogue, an
    advisory lock in PostgreSQL."""
    if engine.dialect.name == "postgresql":
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT pg_advisory_lock(72177001)")
            try:
                yield
            finally:
                conn.exec_driver_sql("SELECT pg_advisory_unlock(72177001)")
                conn.commit()
        return
    import fcntl

    folder = lock_dir or Path(engine.url.database or ".").resolve().parent
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".migrate.lock", "a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def upgrade(engine: Engine, lock_dir: Path | None = None) -> None:
    """Bring the schema to the newest revision (creates it on an empty database).

    The common case, a catalogue already at the head, costs one query. Otherwise
    processes opening one new library together take turns, and each checks again
    under the lock, so only the first one migrates."""
    if _current_revision(engine) == head_revision():
        return
    with _migration_lock(engine, lock_dir):
        if engine.dialect.name == "postgresql":
            with engine.begin() as conn:
                schema = conn.exec_driver_sql("SHOW search_path").scalar()
                if re.fullmatch(r"[a-z][a-z0-9_]{2,62}", schema or ""):  # ours, not the default "$user", public
                    conn.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        if _current_revision(engine) == head_revision():
            return
        from alembic import command

        command.upgrade(alembic_config(engine), "head")


def schema_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise

"""Opening a database: URL checks, SQLite in WAL mode, PostgreSQL through psycopg 3."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from plantqc.errors import UserError

EXAMPLE_URLS = "sqlite:///plantqc.db or postgresql+psycopg://user@host:5432/dbname"


def _parse(url: str) -> URL:
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise UserError(
            f"database URL {url!r} is malformed; expected e.g. {EXAMPLE_URLS}."
        ) from None
    backend = parsed.get_backend_name()
    if backend == "postgresql" and parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if backend not in ("sqlite", "postgresql"):
        raise UserError(
            f"database URL {safe_url(url)!r} names {backend!r}; "
            "plantqc stores to sqlite or postgresql."
        )
    return parsed


def safe_url(url: str | URL) -> str:
    """The URL with any password masked, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "<malformed URL>"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets Grafana-style readers run while the daemon writes; NORMAL is durable in WAL mode
    # except for the last transactions on power loss, which the daemon's buffer covers.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    # 64 MiB page cache: bulk inserts into the (tag, time) B-tree touch many pages per batch
    cursor.execute("PRAGMA cache_size=-65536")
    # checkpoint every ~40 MiB of WAL instead of 4 MiB: a page rewritten by many batches is
    # copied back to the database file once, not once per batch
    cursor.execute("PRAGMA wal_autocheckpoint=10000")
    cursor.close()


def open_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get WAL mode and their folder is created."""
    parsed = _parse(url)
    try:
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(parsed)
            event.listen(engine, "connect", _sqlite_pragmas)
            return engine
        return create_engine(parsed, pool_pre_ping=True, connect_args={"connect_timeout": 5})
    except NoSuchModuleError:
        raise UserError(
            f"database URL {safe_url(url)!r} names a driver that is not installed."
        ) from None


class StoreUnusable(UserError):
    """The database answers, or is a local file, but cannot be plantqc's store.

    Not a database at all (a corrupt SQLite file), a refused login, a database that does
    not exist, or a schema this version of plantqc does not know.  Waiting does not mend
    it, unlike a store that is unreachable for a while.
    """


# PostgreSQL SQLSTATE classes a retry does not mend: 28 refused login, 3D no such database
_FATAL_SQLSTATE_CLASSES = ("28", "3D")
# a refusal at connect has no SQLSTATE in psycopg, only the server's FATAL message; these are
# the refusals of the same two classes (not "too many clients" or "starting up", which pass)
_REFUSED_AT_CONNECT = (
    "does not exist",
    "authentication failed",
    "no pg_hba.conf entry",
    "permission denied",
)


def _unusable(exc: DBAPIError, dialect: str) -> bool:
    message = str(exc.orig)
    if dialect == "sqlite":
        # a local file: only a lock held by another writer passes
        return "locked" not in message
    sqlstate = getattr(exc.orig, "sqlstate", None) or ""
    if sqlstate[:2] in _FATAL_SQLSTATE_CLASSES:
        return True
    return "FATAL" in message and any(text in message for text in _REFUSED_AT_CONNECT)


def driver_reason(exc: BaseException) -> str:
    """The first line of what the database driver said, without SQLAlchemy's statement and
    link (for one-line log entries and error sentences)."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        exc = exc.orig
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def connect(url: str) -> Engine:
    """`open_engine`, then prove the database answers; if not, one sentence saying why.

    Raises `StoreUnusable` (a `UserError`) when it answers but cannot be used, and a plain
    `UserError` when it cannot be reached.
    """
    engine = open_engine(url)
    try:
        with engine.connect():
            pass
    except DBAPIError as exc:
        engine.dispose()
        reason = driver_reason(exc)
        if _unusable(exc, engine.dialect.name):
            raise StoreUnusable(
                f"the database at {safe_url(url)} cannot be used: {reason}."
            ) from None
        raise UserError(f"cannot reach the database at {safe_url(url)}: {reason}.") from None
    return engine


@contextmanager
def scratch_database(admin_url: str, prefix: str = "plantqc_scratch") -> Iterator[str]:
    """A new, empty PostgreSQL database for the duration of the block; its URL is yielded.

    ``admin_url`` must let its user create databases.  The database is dropped afterwards,
    even when connections to it are still open.
    """
    import psycopg

    admin = _parse(admin_url)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    conninfo = admin.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin.set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

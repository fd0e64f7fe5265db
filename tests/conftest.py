"""Fixtures shared by every test: the public test data beside the checkout, and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("PLANTQC_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
DEFAULT_PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data``; tests that need it skip with the reason when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"public test data not found at {SHARED_DATA} (../shared is absent)")
    return SHARED_DATA


def _pg_admin_url() -> str:
    return os.environ.get("PLANTQC_TEST_PG_URL", DEFAULT_PG_URL)


@pytest.fixture(scope="session")
def pg_admin_url() -> str:
    """URL of the test PostgreSQL; skips with the reason when no PostgreSQL answers."""
    import psycopg
    from sqlalchemy.engine import make_url

    url = _pg_admin_url()
    conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    try:
        with psycopg.connect(conninfo, connect_timeout=3):
            pass
    except psycopg.OperationalError as exc:
        reason = f"no PostgreSQL answers at {url}: {str(exc).strip().splitlines()[0]}"
        if os.environ.get("PLANTQC_REQUIRE_PG"):
            pytest.fail(f"{reason} (PLANTQC_REQUIRE_PG is set, as in CI)")
        pytest.skip(reason)
    return url


@pytest.fixture
def pg_url(pg_admin_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    from plantqc.store.db import scratch_database

    with scratch_database(pg_admin_url, "plantqc_test") as url:
        yield url


def _migrated(url: str) -> Iterator[Engine]:
    from plantqc.store import connect, upgrade

    engine = connect(url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty, migrated store on each dialect: what is checked must not depend on it."""
    if request.param == "sqlite":
        yield from _migrated(f"sqlite:///{tmp_path / 'store.db'}")
    else:
        yield from _migrated(request.getfixturevalue("pg_url"))


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Engine]:
    """An empty, migrated SQLite store."""
    yield from _migrated(f"sqlite:///{tmp_path / 'store.db'}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "pg_url" in getattr(item, "fixturenames", ()) or "pg_admin_url" in getattr(
            item, "fixturenames", ()
        ):
            item.add_marker(pytest.mark.postgres)
        if "shared_data" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.shared_data)


@pytest.fixture(autouse=True)
def _cheap_password_hashing(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Hash passwords with argon2-cffi's cheapest Argon2id parameters, except in tests/users,
    which specify the hashing itself: the RFC 9106 profile costs half a second a hash here,
    and the console and API tests log in hundreds of times (Django's test runners swap in a
    fast hasher for the same reason).  A hash made with the real profile still verifies."""
    if "users" in request.node.path.relative_to(REPO_ROOT / "tests").parts[:1]:
        yield
        return
    from argon2 import PasswordHasher, profiles

    from plantqc.users import passwords

    monkeypatch.setattr(passwords, "_HASHER", PasswordHasher.from_parameters(profiles.CHEAPEST))
    passwords._nobodys_hash.cache_clear()  # a dummy hash costs what a real one does
    yield
    passwords._nobodys_hash.cache_clear()

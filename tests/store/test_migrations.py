"""Migrations: literals only, and every downgrade undoes its upgrade, on SQLite and PostgreSQL.

The ground truth of a downgrade is the schema the database had before the upgrade: the schema
(tables, columns with types, nullability and defaults, keys, indexes, views, and on PostgreSQL
schemas, functions and triggers) is read back from the database itself after each step.
"""

from __future__ import annotations

import ast
import itertools
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, func, inspect, select

from plantqc.config import load_config
from plantqc.store import Base, SampleRow, connect, insert_samples, sync_config
from plantqc.store.migrate import MIGRATIONS, current_revision
from plantqc.store.models import Sample

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
REVISIONS = sorted((MIGRATIONS / "versions").glob("*.py"))
ALLOWED_IMPORTS = {"alembic", "sqlalchemy"} | set(sys.stdlib_module_names)
_SYSTEM_SCHEMAS = {"information_schema", "pg_catalog", "pg_toast"}


def _alembic(engine: Engine, verb: str, revision: str) -> None:
    """``alembic upgrade|downgrade revision`` on ``engine``, through the project's env.py."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, verb)(config, revision)


def _revisions_in_order() -> list[str]:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    script = ScriptDirectory.from_config(config)
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def _schema(engine: Engine) -> dict[str, Any]:
    """Everything a migration may create, read back from the database (alembic_version aside)."""
    inspector = inspect(engine)
    schemas = [s for s in inspector.get_schema_names() if s not in _SYSTEM_SCHEMAS]
    found: dict[str, Any] = {}
    for schema in schemas:
        for table in inspector.get_table_names(schema=schema):
            if table == "alembic_version":
                continue
            found[f"{schema}.{table}"] = {
                "columns": [
                    (c["name"], str(c["type"]), c["nullable"], str(c.get("default")))
                    for c in inspector.get_columns(table, schema=schema)
                ],
                "pk": inspector.get_pk_constraint(table, schema=schema)["constrained_columns"],
                "fks": sorted(
                    (tuple(f["constrained_columns"]), f["referred_table"], str(f["options"]))
                    for f in inspector.get_foreign_keys(table, schema=schema)
                ),
                "indexes": sorted(
                    (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                    for i in inspector.get_indexes(table, schema=schema)
                ),
                "uniques": sorted(
                    tuple(u["column_names"])
                    for u in inspector.get_unique_constraints(table, schema=schema)
                ),
            }
        for view in inspector.get_view_names(schema=schema):
            found[f"{schema}.{view} (view)"] = inspector.get_view_definition(view, schema=schema)
    if engine.dialect.name == "postgresql":
        with engine.connect() as connection:
            found["schemas"] = sorted(schemas)
            found["functions"] = sorted(
                connection.exec_driver_sql(
                    "SELECT n.nspname || '.' || p.proname FROM pg_proc p"
                    " JOIN pg_namespace n ON n.oid = p.pronamespace"
                    " WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')"
                ).scalars()
            )
            found["triggers"] = sorted(
                connection.exec_driver_sql(
                    "SELECT tgname || ' ON ' || tgrelid::regclass::text FROM pg_trigger"
                    " WHERE NOT tgisinternal"
                ).scalars()
            )
    return found


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """A database with no schema yet, on each dialect."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'store.db'}"
    else:
        url = request.getfixturevalue("pg_url")
    engine = connect(url)
    yield engine
    engine.dispose()


@pytest.mark.parametrize("path", REVISIONS, ids=lambda p: p.stem)
def test_revision_imports_only_alembic_sqlalchemy_and_the_standard_library(path: Path) -> None:
    """Every import statement counts, at module level or inside a function."""
    imported: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import"
            imported.add(str(node.module).split(".")[0])
    assert imported - ALLOWED_IMPORTS == set(), path.name


def test_upgrade_downgrade_base_upgrade_ends_at_exactly_the_models(empty_engine: Engine) -> None:
    _alembic(empty_engine, "upgrade", "head")
    built = _schema(empty_engine)
    _alembic(empty_engine, "downgrade", "base")
    assert current_revision(empty_engine) is None
    left = _schema(empty_engine)
    assert [name for name in left if "." in name] == []
    if empty_engine.dialect.name == "postgresql":
        assert (left["functions"], left["triggers"]) == ([], [])
    _alembic(empty_engine, "upgrade", "head")
    assert _schema(empty_engine) == built
    with empty_engine.connect() as connection:
        assert compare_metadata(MigrationContext.configure(connection), Base.metadata) == []


def test_each_downgrade_restores_the_schema_before_its_upgrade_and_keeps_rows(
    empty_engine: Engine,
) -> None:
    revisions = _revisions_in_order()
    before: dict[str, dict[str, Any]] = {}
    for revision in revisions:
        _alembic(empty_engine, "upgrade", revision)
        before[revision] = _schema(empty_engine)
    tags = sync_config(empty_engine, load_config(EXAMPLES / "casting.yaml").config)
    tag = tags[("casting-1", "dry_thickness_um")].tag_id
    insert_samples(empty_engine, [SampleRow(tag, datetime(2026, 11, 22, tzinfo=UTC), 50.0, 0)])
    for previous, revision in reversed(list(itertools.pairwise(revisions))):
        _alembic(empty_engine, "downgrade", previous)
        assert current_revision(empty_engine) == previous
        assert _schema(empty_engine) == before[previous], f"downgrade of {revision}"
        with empty_engine.connect() as connection:
            assert connection.scalar(select(func.count()).select_from(Sample)) == 1
    _alembic(empty_engine, "upgrade", "head")
    assert _schema(empty_engine) == before[revisions[-1]]

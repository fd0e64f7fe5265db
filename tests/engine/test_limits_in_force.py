"""The limits in force (`plantqc.charting.limits`): one read-only rule for the engine, reports,
the CLI and Grafana: the newest frozen version valid at a time, else the newest provisional
(learned) limits; spec-derived rows of earlier releases are never in force."""

from __future__ import annotations

from datetime import timedelta

import pytest
from engine_helpers import T0
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session

from plantqc.charting.limits import in_force_sql, limits_in_force, timeline
from plantqc.grafana.sql import LIMITS_VIEW
from plantqc.store import TagRef
from plantqc.store.models import ControlLimits


def _limits(session: Session, tag_id: int, version: int, basis: str, valid_s: float) -> None:
    session.add(
        ControlLimits(
            tag_id=tag_id,
            chart="imr",
            version=version,
            basis=basis,
            center=float(version),
            lcl=version - 3.0,
            ucl=version + 3.0,
            sigma=1.0,
            valid_from=T0 + timedelta(seconds=valid_s),
        )
    )


def _versions(store: Engine, tag_id: int) -> None:
    """v1 and v2 provisional, v3 spec-derived (stored late, when the engine ran), v4 frozen
    from 100 s, v5 frozen from 50 s: v5 is newer, so from 100 s too it is v5 that is in
    force; before 50 s the newest provisional one, v2, not the newer spec-derived v3."""
    with Session(store) as session, session.begin():
        _limits(session, tag_id, 1, "provisional", 1000)
        _limits(session, tag_id, 2, "provisional", 1000)
        _limits(session, tag_id, 3, "spec", 1000)
        _limits(session, tag_id, 4, "phase1", 100)
        _limits(session, tag_id, 5, "phase1", 50)


def test_the_newest_frozen_version_valid_at_a_time_else_the_newest_learned_one(
    store: Engine, tags: dict[str, TagRef]
) -> None:
    tag = tags["no_spec"].tag_id
    _versions(store, tag)
    with Session(store) as session:
        at = {s: limits_in_force(session, tag, "imr", T0 + timedelta(seconds=s)) for s in (0, 60)}
        assert {s: row.version for s, row in at.items() if row} == {0: 2, 60: 5}
        line = timeline(session, tag, "imr")
        assert [row.version for row in line.rows if row] == [2, 5]
        assert line.at(T0 + timedelta(seconds=120)).version == 5  # type: ignore[union-attr]


def test_reading_the_limits_in_force_writes_nothing(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    # x_imr has spec limits but no limits: nothing is derived from the spec on reading
    tag = sqlite_tags["x_imr"].tag_id
    with Session(sqlite_store) as session:
        assert limits_in_force(session, tag, "imr") is None
        assert timeline(session, tag, "imr").rows == (None,)
        assert session.scalar(select(func.count()).select_from(ControlLimits)) == 0


@pytest.mark.parametrize("store", ["postgresql"], indirect=True)  # the dashboards' view
def test_the_dashboards_query_picks_the_version_the_engine_picks(
    store: Engine, tags: dict[str, TagRef]
) -> None:
    tag = tags["no_spec"].tag_id
    _versions(store, tag)
    query = in_force_sql(LIMITS_VIEW, str(tag), "imr", ":at")
    with store.connect() as connection, Session(store) as session:
        for seconds in (0, 49, 50, 60, 100, 2000):
            at = T0 + timedelta(seconds=seconds)
            shown = connection.execute(text(query).bindparams(at=at)).mappings().one()
            engine_row = limits_in_force(session, tag, "imr", at)
            assert engine_row is not None and shown["version"] == engine_row.version

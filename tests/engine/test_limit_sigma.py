"""``limit_sigma``: the width L of an I-MR or X-bar chart's limits, in sigma of its point."""

from __future__ import annotations

from engine_helpers import feed, freeze
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from plantqc.charting.runner import SpcEngine
from plantqc.store import TagRef
from plantqc.store.models import ControlLimits, Violation


def _stored(engine: Engine, tag_id: int) -> ControlLimits:
    with Session(engine) as session:
        return session.scalars(select(ControlLimits).where(ControlLimits.tag_id == tag_id)).one()


def test_an_individuals_chart_stores_its_limits_at_center_plus_minus_l_sigma(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    freeze(sqlite_store, sqlite_tags["x_wide"])  # limit_sigma 3.5; center 10, sigma 1
    limits = _stored(sqlite_store, sqlite_tags["x_wide"].tag_id)
    assert (limits.lcl, limits.ucl, limits.params["L"]) == (10.0 - 3.5, 10.0 + 3.5, 3.5)


def test_an_xbar_chart_stores_its_limits_at_center_plus_minus_l_sigma_over_root_n(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    # subgroups of 4: sigma of the mean 1 / sqrt(4) = 0.5 (Montgomery §6.2)
    freeze(sqlite_store, sqlite_tags["x_wide_xbar"])  # limit_sigma 3.5
    limits = _stored(sqlite_store, sqlite_tags["x_wide_xbar"].tag_id)
    assert (limits.lcl, limits.ucl, limits.params["L"]) == (10.0 - 1.75, 10.0 + 1.75, 3.5)


def test_a_point_beyond_three_but_inside_l_sigma_is_not_beyond_the_limits(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    freeze(sqlite_store, sqlite_tags["x_wide"])
    tag = sqlite_tags["x_wide"].tag_id
    times = feed(sqlite_store, tag, [10.0, 13.2, 10.1, 13.6])  # 3.2 and 3.6 sigma out
    SpcEngine(sqlite_store).process(tag)
    with Session(sqlite_store) as session:
        beyond = session.execute(
            select(Violation.ts, Violation.points).where(
                Violation.tag_id == tag, Violation.chart == "i", Violation.rule == "nelson1"
            )
        ).all()
    assert [(ts, points["ucl"]) for ts, points in beyond] == [(times[3], 13.5)]

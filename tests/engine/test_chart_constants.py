"""A chart's ``constants:`` setting: the d2, d3 and c4 its limits and capability are estimated with.

Reference: the piston-ring inside diameters of D. C. Montgomery, *Introduction to Statistical
Quality Control*, 8th ed., Wiley, 2019, Example 6.1 / Table 6.3 (25 trial subgroups of 5, then
15 new ones), with the figures R's qcc prints for them (L. Scrucca, "A quick tour of qcc",
qcc 3.0, which uses d2 as Montgomery's Appendix VI prints it): center 74.00118, std. dev.
0.009785039, X-bar limits 73.98805 / 74.0143; subgroups 37, 38 and 39 above the UCL.  Montgomery
Appendix VI prints D3(5) = 0 and D4(5) = 2.114 for the R chart.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
from engine_helpers import T0, feed
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

import spc
from plantqc.charting.catalog import chart_for
from plantqc.charting.design import ChartDesign
from plantqc.charting.limits import constants_of
from plantqc.charting.phase1 import LimitsEstimate, estimate_limits, freeze_limits
from plantqc.charting.runner import SpcEngine
from plantqc.cli import app
from plantqc.config import load_config
from plantqc.errors import UserError
from plantqc.reports.compute import characteristic, subgroup_labels
from plantqc.reports.settings import ReportSettings
from plantqc.store import TagRef, sync_config
from plantqc.store.models import ControlLimits, Violation

CONFIG = """
plant: {site: test-site, area: films}
lines:
  - name: line-1
    kind: casting
    opcua: {endpoint: "opc.tcp://127.0.0.1:4840/"}
    tags:
      - {name: rings_table, node_id: "ns=2;s=t",
         spc: {chart: xbar-r, subgroup_size: 5, constants: table}}
      - {name: rings_exact, node_id: "ns=2;s=e",
         spc: {chart: xbar-r, subgroup_size: 5}}
"""


def _printed(value: float, printed: str) -> None:
    """``value`` agrees with the figure ``printed`` to every printed decimal."""
    decimals = len(printed.split(".")[1]) if "." in printed else 0
    assert abs(value - float(printed)) <= 0.5 * 10.0**-decimals * (1 + 1e-9), (value, printed)


@pytest.fixture
def rings(shared_data: Path) -> pd.DataFrame:
    return pd.read_csv(shared_data / "spc-datasets" / "tidy" / "pistonrings_phase1_phase2.csv")


@pytest.fixture
def tags(sqlite_store: Engine, tmp_path: Path) -> dict[str, TagRef]:
    path = tmp_path / "plant.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    refs = sync_config(sqlite_store, load_config(path).config)
    return {tag: ref for (_, tag), ref in refs.items()}


@pytest.fixture
def estimate(
    sqlite_store: Engine, tags: dict[str, TagRef], rings: pd.DataFrame
) -> Callable[[str], LimitsEstimate]:
    """Phase I of tag ``name`` from the 25 trial subgroups (one sample a second)."""
    trial = rings[rings.phase == "I"].value.to_numpy()

    def of(name: str) -> LimitsEstimate:
        feed(sqlite_store, tags[name].tag_id, trial)
        chart = chart_for(sqlite_store, "line-1", name)
        return estimate_limits(sqlite_store, chart, T0, T0 + timedelta(seconds=trial.size))

    return of


def test_table_constants_give_the_published_xbar_limits(estimate) -> None:
    found = estimate("rings_table")
    _printed(found.center, "74.00118")
    _printed(found.sigma, "0.009785039")
    _printed(found.lcl, "73.98805")
    _printed(found.ucl, "74.0143")
    assert (found.sigma_method, found.params["constants"]) == ("rbar/d2", "table")


def test_table_and_exact_constants_differ_only_by_d2(estimate) -> None:
    table, exact = estimate("rings_table"), estimate("rings_exact")
    assert table.center == exact.center
    assert exact.params["constants"] == "exact"
    # the same R-bar divided by d2(5) = 2.326 (Appendix VI) or 2.3259289 (integrated)
    assert table.sigma / exact.sigma == pytest.approx(spc.d2(5) / 2.326, rel=1e-12)


def test_frozen_table_limits_draw_the_r_chart_with_the_tabled_d4(
    sqlite_store: Engine, estimate, rings: pd.DataFrame
) -> None:
    chart = chart_for(sqlite_store, "line-1", "rings_table")
    freeze_limits(sqlite_store, chart, estimate("rings_table"), "q.eng")
    with Session(sqlite_store) as session:
        row = session.scalars(select(ControlLimits).where(ControlLimits.basis == "phase1")).one()
        assert row.params["constants"] == "table"
        design = ChartDesign.of(chart, chart.series[0], row)
    trial = rings[rings.phase == "I"]
    r = design.batch(trial.value.to_numpy(), trial.subgroup.to_numpy())["r"]
    r_bar = float(r.center[0])
    _printed(r_bar, "0.02276")
    _printed(float(r.ucl[0]) / r_bar, "2.114")
    assert float(r.lcl[0]) == 0.0  # D3(5) = 0


def test_the_engine_flags_the_published_subgroups_on_frozen_table_limits(
    sqlite_store: Engine, tags: dict[str, TagRef], estimate, rings: pd.DataFrame
) -> None:
    chart = chart_for(sqlite_store, "line-1", "rings_table")
    freeze_limits(sqlite_store, chart, estimate("rings_table"), "q.eng")
    new = rings[rings.phase == "II"].value.to_numpy()
    tag = tags["rings_table"].tag_id
    times = feed(sqlite_store, tag, new, start=125)
    SpcEngine(sqlite_store).process(tag)
    with Session(sqlite_store) as session:
        flagged = session.scalars(
            select(Violation.ts).where(
                Violation.tag_id == tag, Violation.chart == "xbar", Violation.rule == "nelson1"
            )
        ).all()
    # a subgroup's point is at its last sample; subgroups 26..40 are the new data
    assert sorted(26 + times.index(ts) // 5 for ts in flagged) == [37, 38, 39]


def test_limits_estimate_says_which_constants_it_used(
    sqlite_store: Engine, tags: dict[str, TagRef], rings: pd.DataFrame
) -> None:
    feed(sqlite_store, tags["rings_table"].tag_id, rings[rings.phase == "I"].value.to_numpy())
    result = CliRunner().invoke(
        app,
        ["limits", "estimate", "--tag", "line-1/rings_table", "--from", T0.isoformat(),
         "--to", "2026-11-23T00:00:00Z", "--db", sqlite_store.url.render_as_string()],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "sigma 0.00978504 (rbar/d2, table constants)" in result.output


def test_capability_of_a_table_chart_uses_the_tabled_d2(rings: pd.DataFrame) -> None:
    # qcc vignette, `process.capability(obj, spec.limits = c(73.95, 74.05))` on the 25 trial
    # subgroups (std. dev. 0.009785039): Cp 1.7033
    values = rings[rings.phase == "I"].value.to_numpy()
    labels = subgroup_labels(values.size, 5)

    def cp(constants: str) -> float:
        row = characteristic(
            "tag:rings", "rings", "process", "mm", values, (73.95, None, 74.05), "tag spec",
            ReportSettings(), subgroups=labels, constants=constants,
        )  # fmt: skip
        assert row.capability is not None and row.capability.constants == constants
        return float(row.capability.cp)

    _printed(cp("table"), "1.7033")
    assert cp("table") / cp("exact") == pytest.approx(2.326 / spc.d2(5), rel=1e-12)


def test_the_config_rejects_unknown_constants_in_one_sentence(tmp_path: Path) -> None:
    path = tmp_path / "plant.yaml"
    path.write_text(CONFIG.replace("constants: table", "constants: book"), encoding="utf-8")
    with pytest.raises(UserError) as raised:
        load_config(path)
    assert str(raised.value) == (
        f"{path}:9: lines[0].tags[0].spc.constants: input should be 'exact', 'table' or 'qcc'"
        " (got 'book')."
    )


@pytest.mark.parametrize(
    "settings",
    [
        "{chart: xbar-r, subgroup_size: 30, constants: table}",
        "{chart: xbar-s, subgroup_by: time, subgroup_window_s: 10, constants: table}",
    ],
)
def test_printed_constants_refuse_subgroups_the_tables_do_not_cover(
    tmp_path: Path, settings: str
) -> None:
    path = tmp_path / "plant.yaml"
    text = CONFIG.replace("{chart: xbar-r, subgroup_size: 5, constants: table}", settings)
    path.write_text(text, encoding="utf-8")
    with pytest.raises(UserError, match="print d2, d3 and c4 for subgroups of 2 to 25 only"):
        load_config(path)


def test_a_version_stored_before_the_choice_existed_ran_on_exact_constants() -> None:
    assert constants_of(ControlLimits(params={"rules": "we"})) == "exact"
    assert constants_of(ControlLimits(params={"constants": "table"})) == "table"

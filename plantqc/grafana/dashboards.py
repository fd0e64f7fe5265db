"""Operator dashboards generated from the plant config with grafana-foundation-sdk.

One dashboard per line (live values, charts with limits, SPC violations and alarms as
annotations, thickness profile heatmap, thickness control loops, image metrics, alarm table,
data quality) and one plant overview (a row per line: status, active alarms, capability).
Every query lives in `plantqc.grafana.sql`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, TypeVar

from grafana_foundation_sdk.builders import bargauge, heatmap, stat, table, timeseries
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders.common import ReduceDataOptions
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as model

from plantqc.alarms import kpi
from plantqc.charting.names import CD_MEAN
from plantqc.config import BUFFER_DEPTH_TAG, Line, PlantConfig, SpecLimits, Tag
from plantqc.grafana import sql
from plantqc.grafana.query import DATASOURCE_TYPE, Postgres, QueryFormat, sql_annotation

DATASOURCE_UID = "plantqc-postgres"
FOLDER_UID = "plantqc"
MAX_DATA_POINTS = 1000
"""Points per time-series panel: fixes Grafana's interval (7 days -> 10 min, 1 h -> 5 s)."""
HEATMAP_MAX_DATA_POINTS = 200
"""Time columns per profile heatmap: 7 days -> 1 h (hourly rollup), 1 day -> 5 min, 1 h -> 20 s."""
LOT_ALL = "'__all'"

T = TypeVar("T")


class _Built(cogbuilder.Builder[T]):
    """A model already built, handed to an SDK method that takes a builder."""

    def __init__(self, built: T) -> None:
        self._built = built

    def build(self) -> T:
        return self._built


@dataclass(frozen=True)
class PanelQuery:
    """A query of a generated dashboard, where it sits and what its result must look like."""

    dashboard_uid: str
    where: str  # "panel <title>", "variable <name>" or "annotation <name>"
    kind: str  # panel type, "variable" or "annotation"
    raw_sql: str
    format: str
    max_data_points: int | None = None
    """The panel's ``maxDataPoints``, from which Grafana computes ``$__interval``."""


def datasource_ref(uid: str = DATASOURCE_UID) -> model.DataSourceRef:
    return model.DataSourceRef(type_val=DATASOURCE_TYPE, uid=uid)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")


def line_uid(line: str) -> str:
    """Dashboard uid of a line (Grafana allows 40 characters)."""
    return f"plantqc-{_slug(line)}"[:40]


def _target(raw_sql: str, ds: model.DataSourceRef, fmt: QueryFormat = "time_series") -> Postgres:
    return Postgres(raw_sql, ds, fmt)


def _spec_thresholds(spec: SpecLimits | None) -> dash.ThresholdsConfig:
    """Green inside the spec limits, red outside; one-sided specs colour one side only."""
    lsl, usl = (spec.lsl, spec.usl) if spec else (None, None)
    steps = [model.Threshold(None, "red" if lsl is not None else "green")]
    if lsl is not None:
        steps.append(model.Threshold(lsl, "green"))
    if usl is not None:
        steps.append(model.Threshold(usl, "red"))
    return dash.ThresholdsConfig().mode(model.ThresholdsMode.ABSOLUTE).steps(steps)


def _stat(tag: Tag, ds: model.DataSourceRef) -> stat.Panel:
    return (
        stat.Panel()
        .title(tag.name)
        .description(tag.description or f"Latest Good value of {tag.name} [{tag.unit}].")
        .with_target(_target(sql.last_value(tag.name), ds))
        .unit(tag.unit)
        .thresholds(_spec_thresholds(tag.spec))
        .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]))
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.NONE)
        .height(4)
        .span(4)
    )


_LIMIT_STYLE = [
    model.DynamicConfigValue("custom.lineStyle", {"fill": "dash", "dash": [10, 10]}),
    model.DynamicConfigValue("custom.lineInterpolation", "stepAfter"),
]


def _limit_styles(panel: timeseries.Panel) -> timeseries.Panel:
    """Dashed step lines: control limits orange, spec limits red."""
    return panel.override_by_regexp(
        "^(LCL|UCL)$", [*_LIMIT_STYLE, _color("orange")]
    ).override_by_regexp("^(LSL|USL)$", [*_LIMIT_STYLE, _color("red")])


def _chart(tag: Tag, ds: model.DataSourceRef) -> timeseries.Panel:
    chart = tag.spc.chart if tag.spc else "imr"
    return _limit_styles(
        timeseries.Panel()
        .title(f"{tag.name} [{tag.unit}]")
        .description(
            f"{tag.name}: mean of Good samples per interval, with center line, control limits "
            f"of individual values ({chart} chart) and spec limits."
        )
        .with_target(_target(sql.value_series(tag.name), ds).ref_id("A"))
        .with_target(_target(sql.limit_series(tag.name, chart), ds).ref_id("B"))
        .unit(tag.unit)
        .max_data_points(MAX_DATA_POINTS)
        .line_width(1)
        .override_by_name(
            "CL",
            [model.DynamicConfigValue("custom.lineInterpolation", "stepAfter"), _color("green")],
        )
        .height(8)
        .span(12)
    )


def _scan_chart(tag: Tag, ds: model.DataSourceRef) -> timeseries.Panel:
    return _limit_styles(
        timeseries.Panel()
        .title(f"{tag.name}: per-scan mean and CD 2 sigma [{tag.unit}]")
        .description(
            f"{tag.name}: the per-scan statistics the SPC engine charts (cd_mean with its "
            "control and spec limits; cd_2sigma, the cross-direction uniformity, from raw "
            "scans over ranges of some hours)."
        )
        .with_target(_target(sql.profile_scan_series(tag.name), ds).ref_id("A"))
        .with_target(_target(sql.limit_series(tag.name, CD_MEAN), ds).ref_id("B"))
        .unit(tag.unit)
        .max_data_points(MAX_DATA_POINTS)
        .line_width(1)
        .height(8)
        .span(12)
    )


def _color(name: str) -> model.DynamicConfigValue:
    return model.DynamicConfigValue("color", {"mode": "fixed", "fixedColor": name})


def _heatmap(tag: Tag, ds: model.DataSourceRef) -> heatmap.Panel:
    return (
        heatmap.Panel()
        .title(f"{tag.name}: cross-direction profile [{tag.unit}]")
        .description("Mean thickness per position across the web (rows) over time.")
        .with_target(_target(sql.profile_heatmap(tag.name), ds))
        .max_data_points(HEATMAP_MAX_DATA_POINTS)
        .calculate(False)
        .color(heatmap.HeatmapColorOptions().mode("scheme").scheme("RdYlBu").reverse(True))
        .y_axis(heatmap.YAxisConfig().axis_label("position across the web"))
        .cell_values(heatmap.CellValues().unit(tag.unit))
        .height(9)
        .span(24)
    )


def _image_metrics(line: Line, config: PlantConfig, ds: model.DataSourceRef) -> timeseries.Panel:
    nominal = config.product(line.product).filler_wt_pct if line.product else None
    return (
        timeseries.Panel()
        .title("Filler dispersion and loading (images)")
        .description(
            "Per accepted image: agglomerate area fraction, Morisita index (1 = random, > 1 "
            "clustered) and filler wt% from the area fraction (Delesse) against the recipe."
        )
        .with_target(_target(sql.image_metrics(nominal), ds))
        .draw_style(common.GraphDrawStyle.POINTS)
        .show_points(common.VisibilityMode.ALWAYS)
        .override_by_name("nominal wt%", [model.DynamicConfigValue("custom.drawStyle", "line")])
        .height(8)
        .span(12)
    )


def _alarm_table(ds: model.DataSourceRef) -> table.Panel:
    return (
        table.Panel()
        .title("Alarms")
        .description("Active alarms first, then those that changed in the time range.")
        .with_target(_target(sql.alarm_table(), ds, "table"))
        .height(8)
        .span(12)
    )


def _data_quality(line: Line, ds: model.DataSourceRef) -> list[cogbuilder.Builder[model.Panel]]:
    age = (
        bargauge.Panel()
        .title("Last-sample age")
        .description(f"Seconds since each tag's latest sample; red beyond {sql.STALE_AFTER_S} s.")
        .with_target(_target(sql.sample_age(), ds, "table"))
        .unit("s")
        .thresholds(
            dash.ThresholdsConfig()
            .mode(model.ThresholdsMode.ABSOLUTE)
            .steps([model.Threshold(None, "green"), model.Threshold(sql.STALE_AFTER_S, "red")])
        )
        .height(8)
        .span(8)
    )
    bad = (
        bargauge.Panel()
        .title("Bad / Uncertain samples")
        .with_target(_target(sql.bad_quality_share(), ds, "table"))
        .unit("percent")
        .height(8)
        .span(8)
    )
    depth = (
        timeseries.Panel()
        .title("Buffer depth")
        .description(f"Samples waiting in the edge daemon's durable buffer ({BUFFER_DEPTH_TAG}).")
        .with_target(_target(sql.value_series(BUFFER_DEPTH_TAG), ds))
        .max_data_points(MAX_DATA_POINTS)
        .height(8)
        .span(8)
    )
    gaps = (
        table.Panel()
        .title("Data gaps per tag")
        .description(
            "Stretches the edge daemon could not read back from the OPC UA server's history "
            "after a restart or reconnect (the node keeps none, or beyond the maximum "
            "backfill window): their samples are missing, not late."
        )
        .with_target(_target(sql.data_gaps_per_tag(), ds, "table"))
        .height(6)
        .span(24)
    )
    return [age, bad, depth, gaps]


def _steps(*steps: tuple[float | None, str]) -> dash.ThresholdsConfig:
    return (
        dash.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value, color) for value, color in steps])
    )


def _alarm_system(ds: model.DataSourceRef) -> list[cogbuilder.Builder[model.Panel]]:
    """EEMUA 191 figures of the line over the range, as `plantqc alarms kpi` computes them.

    Colours from EEMUA 191 (3rd ed., Table 35) and ISA-18.2 §16.5: about one alarm per 10 min
    (6 per hour) is likely acceptable, two (12 per hour) the most manageable; a 10-minute
    period with more than 10 alarms is a flood, and about 1 % of the time in flood the
    target."""
    periods = "fixed 10-minute periods from the start of the range"
    figures = [
        (
            "Alarms per hour",
            "Alarms (raised, or raised again after returning) in the range per hour of it.",
            sql.alarms_per_hour(),
            _steps((None, "green"), (6, "orange"), (12, "red")),
            "short",
            1,
        ),
        (
            "Peak alarms per 10 min",
            f"The most alarms in one of the {periods}.",
            sql.peak_per_10min(),
            _steps((None, "green"), (kpi.FLOOD_ABOVE + 1, "red")),
            "short",
            0,
        ),
        (
            "Time in flood",
            f"Share of the {periods} with more than {kpi.FLOOD_ABOVE} alarms.",
            sql.flood_pct(),
            _steps((None, "green"), (1, "red")),
            "percent",
            1,
        ),
        (
            "Chattering alarms",
            f"Alarms (tag and rule) activated {kpi.CHATTER_COUNT} times within "
            f"{kpi.CHATTER_WITHIN.total_seconds():g} s in the range.",
            sql.chattering_count(),
            _steps((None, "green"), (1, "red")),
            "short",
            0,
        ),
    ]
    panels: list[cogbuilder.Builder[model.Panel]] = [
        stat.Panel()
        .title(title)
        .description(description)
        .with_target(_target(query, ds, "table"))
        .thresholds(thresholds)
        .unit(unit)
        .decimals(decimals)
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.NONE)
        .height(5)
        .span(4)
        for title, description, query, thresholds, unit, decimals in figures
    ]
    panels.append(
        table.Panel()
        .title("Most frequent alarms")
        .description(f"The {kpi.TOP} alarms (tag and rule) raised most often in the range.")
        .with_target(_target(sql.top_alarms(), ds, "table"))
        .height(5)
        .span(8)
    )
    return panels


LOOP_MODES = model.ValueMap(
    {
        "0": model.ValueMappingResult(text="OFF", color="text", index=0),
        "1": model.ValueMappingResult(text="ADVISORY", color="blue", index=1),
        "2": model.ValueMappingResult(text="CLOSED", color="green", index=2),
        "3": model.ValueMappingResult(text="HELD", color="orange", index=3),
    }
)
"""Words and colours of `plantqc.grafana.sql.loop_mode`'s numbers."""


def _loop_panels(
    loop: str, actuator: str, unit: str, ds: model.DataSourceRef
) -> list[cogbuilder.Builder[model.Panel]]:
    """Mode, setpoint and moves of one control loop."""
    mode = (
        stat.Panel()
        .title(f"{loop}: mode")
        .description(
            "off, advisory (moves proposed, a person accepts or rejects), closed (moves "
            "written); HELD: on, but an interlock holds it (gauge fault, line stopped, "
            "settling after a roll or lot change, stale measurement)."
        )
        .with_target(_target(sql.loop_mode(loop), ds, "table"))
        .reduce_options(ReduceDataOptions().calcs(["lastNotNull"]).fields("/^mode$/"))
        .mappings([LOOP_MODES])
        .color_mode(common.BigValueColorMode.BACKGROUND)
        .graph_mode(common.BigValueGraphMode.NONE)
        .height(8)
        .span(4)
    )
    setpoint = (
        timeseries.Panel()
        .title(f"{loop}: {actuator} [{unit}]")
        .description(f"The {actuator} as the loop's applied moves left it.")
        .with_target(_target(sql.loop_setpoint(loop), ds))
        .unit(unit)
        .line_interpolation(common.LineInterpolation.STEP_AFTER)
        .height(8)
        .span(8)
    )
    moves = (
        table.Panel()
        .title(f"{loop}: moves")
        .description(
            "Proposed, accepted, rejected, applied and failed moves, holds and resumes in the "
            "range, newest first, with who and why (every one is in the audit log)."
        )
        .with_target(_target(sql.loop_moves(loop), ds, "table"))
        .height(8)
        .span(12)
    )
    return [mode, setpoint, moves]


def _control(line: Line, ds: model.DataSourceRef) -> list[cogbuilder.Builder[model.Panel]]:
    """The thickness control row: each loop's panels, measured vs target, MD and CD 2 sigma."""
    control = line.control
    assert control is not None
    panels: list[cogbuilder.Builder[model.Panel]] = []
    profiles = [t.name for t in line.tags if t.kind == "profile"]
    cd_tag = control.cd.profile_tag if control.cd is not None else next(iter(profiles), None)
    md = control.md
    if md is not None:
        unit = line.tag(md.measurement_tag).unit
        panels += _loop_panels(f"{line.name}.md", "pump setpoint", "mL/min", ds)
        panels.append(
            timeseries.Panel()
            .title(f"{line.name}.md: {md.measurement_tag} vs target [{unit}]")
            .description("The MD loop's measurement (mean of Good samples per interval).")
            .with_target(_target(sql.measured_vs_target(md.measurement_tag, md.target_um), ds))
            .override_by_name("target", [*_LIMIT_STYLE, _color("green")])
            .unit(unit)
            .max_data_points(MAX_DATA_POINTS)
            .height(8)
            .span(12)
        )
    if control.cd is not None:
        panels += _loop_panels(f"{line.name}.cd", "largest |die-bolt setpoint|", "%", ds)
    two_sigma = (
        timeseries.Panel()
        .title("Thickness 2σ: MD and CD")
        .description(
            "MD 2σ: twice the rms deviation of the MD measurement from the MD loop's target "
            "(an offset counts). CD 2σ: twice the rms deviation of each profile value from its "
            "scan's mean, pooled over the interval's Good scans (raw scans: ranges up to about "
            "two days). The figures of the lot report and plantqc bench control."
        )
        .max_data_points(MAX_DATA_POINTS)
        .unit(line.tag(md.measurement_tag if md else str(cd_tag)).unit)
        .height(8)
        .span(12)
    )
    if md is not None:
        series = sql.md_two_sigma_series(md.measurement_tag, md.target_um)
        two_sigma = two_sigma.with_target(_target(series, ds).ref_id("A"))
    if cd_tag is not None:
        two_sigma = two_sigma.with_target(_target(sql.cd_two_sigma_series(cd_tag), ds).ref_id("B"))
    if md is not None or cd_tag is not None:
        panels.append(two_sigma)
    return panels


def _variables(line: Line, ds: model.DataSourceRef) -> list[dash.QueryVariable]:
    line_var = (
        dash.QueryVariable("line")
        .label("Line")
        .datasource(ds)
        .query(sql.line_variable())
        .current(model.VariableOption(selected=True, text=line.name, value=line.name))
        .refresh(model.VariableRefresh.ON_DASHBOARD_LOAD)
    )
    tags = [t.name for t in line.tags if t.kind == "scalar"][:2]
    tag_var = (
        dash.QueryVariable("tag")
        .label("Tags")
        .datasource(ds)
        .query(sql.tag_variable())
        .multi(True)
        .current(model.VariableOption(selected=True, text=tags, value=tags))
        .refresh(model.VariableRefresh.ON_DASHBOARD_LOAD)
    )
    lot_var = (
        dash.QueryVariable("lot")
        .label("Lot")
        .datasource(ds)
        .query(sql.lot_variable())
        .multi(True)
        .include_all(True)
        .all_value(LOT_ALL)
        .current(model.VariableOption(selected=True, text="All", value="$__all"))
        .refresh(model.VariableRefresh.ON_TIME_RANGE_CHANGED)
    )
    return [line_var, tag_var, lot_var]


def _base(uid: str, title: str, tags: list[str]) -> dash.Dashboard:
    return (
        dash.Dashboard(title)
        .uid(uid)
        .tags(["plantqc", *tags])
        .timezone("utc")
        .time("now-6h", "now")
        .refresh("10s")
        .readonly()
    )


def line_dashboard(
    config: PlantConfig, line: Line, ds_uid: str = DATASOURCE_UID
) -> model.Dashboard:
    """The operator dashboard of ``line``."""
    ds = datasource_ref(ds_uid)
    scalar = [t for t in line.tags if t.kind == "scalar"]
    charted = [t for t in scalar if t.spc is not None]
    builder = _base(line_uid(line.name), f"{line.name} ({line.kind})", [line.kind])
    for variable in _variables(line, ds):
        builder = builder.with_variable(variable)
    builder = builder.with_row(dash.Row("Live values"))
    for tag in scalar:
        builder = builder.with_panel(_stat(tag, ds))
    builder = builder.with_row(dash.Row("Control charts"))
    for tag in charted:
        builder = builder.with_panel(_chart(tag, ds))
    builder = builder.with_panel(
        timeseries.Panel()
        .title("Selected tags")
        .with_target(_target(sql.selected_tags_series(), ds))
        .max_data_points(MAX_DATA_POINTS)
        .height(8)
        .span(24)
    )
    profiles = [t for t in line.tags if t.kind == "profile"]
    if profiles:
        builder = builder.with_row(dash.Row("Thickness profile"))
        for tag in profiles:
            builder = builder.with_panel(_heatmap(tag, ds))
            if tag.spc is not None:
                builder = builder.with_panel(_scan_chart(tag, ds))
    if line.control is not None and (line.control.md or line.control.cd):
        builder = builder.with_row(dash.Row("Thickness control"))
        for panel in _control(line, ds):
            builder = builder.with_panel(panel)
    builder = builder.with_row(dash.Row("Images and alarms"))
    builder = builder.with_panel(_image_metrics(line, config, ds)).with_panel(_alarm_table(ds))
    builder = builder.with_row(dash.Row("Alarm system (EEMUA 191)"))
    for panel in _alarm_system(ds):
        builder = builder.with_panel(panel)
    builder = builder.with_row(dash.Row("Data quality"))
    for panel in _data_quality(line, ds):
        builder = builder.with_panel(panel)
    built = builder.build()
    annotations = [
        sql_annotation("SPC violations", sql.violations_annotation(), ds, "orange"),
        sql_annotation("Alarms", sql.alarms_annotation(), ds, "red"),
    ]
    built.annotations = model.AnnotationContainer(list_val=annotations)
    return built


def overview_dashboard(config: PlantConfig, ds_uid: str = DATASOURCE_UID) -> model.Dashboard:
    """Plant overview: one row per line with status, active alarms and capability."""
    ds = datasource_ref(ds_uid)
    builder = _base(
        "plantqc-overview", f"{config.plant.name or config.plant.site}: overview", ["overview"]
    )
    status_map = model.ValueMap(
        {
            "0": model.ValueMappingResult(text="RUNNING", color="green", index=0),
            "1": model.ValueMappingResult(text="NO DATA", color="orange", index=1),
            "2": model.ValueMappingResult(text="ALARM", color="red", index=2),
        }
    )
    for line in config.lines:
        link = (
            dash.DashboardLink(line.name)
            .type(model.DashboardLinkType.LINK)
            .url(f"/d/{line_uid(line.name)}")
        )
        builder = builder.with_row(dash.Row(f"{line.name} ({line.kind})"))
        builder = builder.with_panel(
            stat.Panel()
            .title("Status")
            .with_target(_target(sql.line_status(line.name), ds, "table"))
            .mappings([status_map])
            .color_mode(common.BigValueColorMode.BACKGROUND)
            .links([link])
            .height(5)
            .span(4)
        )
        builder = builder.with_panel(
            stat.Panel()
            .title("Active alarms")
            .with_target(_target(sql.active_alarm_count(line.name), ds, "table"))
            .thresholds(
                dash.ThresholdsConfig()
                .mode(model.ThresholdsMode.ABSOLUTE)
                .steps([model.Threshold(None, "green"), model.Threshold(1, "red")])
            )
            .color_mode(common.BigValueColorMode.BACKGROUND)
            .height(5)
            .span(4)
        )
        builder = builder.with_panel(
            table.Panel()
            .title("Capability of key characteristics")
            .description(
                "Cpk (within-subgroup sigma of the current limits) and Ppk over the range."
            )
            .with_target(_target(sql.capability(line.name), ds, "table"))
            .decimals(2)
            .height(5)
            .span(16)
        )
    return builder.build()


def dashboards(config: PlantConfig, ds_uid: str = DATASOURCE_UID) -> list[model.Dashboard]:
    """The overview, then one dashboard per line, in config order."""
    return [overview_dashboard(config, ds_uid)] + [
        line_dashboard(config, line, ds_uid) for line in config.lines
    ]


def to_json(board: model.Dashboard) -> dict[str, Any]:
    """The dashboard as the plain JSON Grafana stores."""
    return json.loads(json.dumps(board, cls=JSONEncoder))


def queries(board: dict[str, Any]) -> list[PanelQuery]:
    """Every SQL query of a dashboard's JSON: panels, template variables and annotations."""
    uid = board["uid"]
    found: list[PanelQuery] = []
    for panel in board.get("panels", []):
        for target in panel.get("targets") or []:
            where = f"panel {panel['title']} ({target['refId']})"
            found.append(
                PanelQuery(
                    uid,
                    where,
                    panel["type"],
                    target["rawSql"],
                    target["format"],
                    panel.get("maxDataPoints"),
                )
            )
    for variable in board.get("templating", {}).get("list", []):
        found.append(
            PanelQuery(uid, f"variable {variable['name']}", "variable", variable["query"], "table")
        )
    for annotation in board.get("annotations", {}).get("list", []):
        target = annotation.get("target") or {}
        if "rawSql" in target:
            found.append(
                PanelQuery(
                    uid, f"annotation {annotation['name']}", "annotation", target["rawSql"], "table"
                )
            )
    return found

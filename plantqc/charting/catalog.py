"""Which tags are charted: the `ChartConfig` of every stored tag with SPC settings."""

from __future__ import annotations

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from plantqc.charting.chart import ChartConfig, RunningTag
from plantqc.config import PlantConfig
from plantqc.errors import UserError
from plantqc.store.models import Line, Tag


def load_charts(engine: Engine, config: PlantConfig | None = None) -> dict[int, ChartConfig]:
    """Every stored scalar or profile tag with SPC settings, keyed by tag id.

    With ``config`` the charts know their tags' sampling
    intervals and their lines' running conditions.
    """
    with Session(engine) as session:
        rows = session.execute(
            select(Tag, Line.name)
            .join(Line, Line.id == Tag.line_id)
            .where(Tag.spc.is_not(None), Tag.kind.in_(("scalar", "profile")))
        ).all()
        intervals: dict[tuple[str, str], float] = {}
        running: dict[str, RunningTag] = {}
        if config is not None:
            for line in config.lines:
                for tag in line.tags:
                    intervals[(line.name, tag.name)] = tag.sampling_interval_ms / 1000.0
                if line.running is not None:
                    tag_id = session.scalar(
                        select(Tag.id)
                        .join(Line, Line.id == Tag.line_id)
                        .where(Line.name == line.name, Tag.name == line.running.tag)
                    )
                    if tag_id is not None:
                        running[line.name] = RunningTag(tag_id, line.running.above)
        return {
            tag.id: ChartConfig.from_row(
                tag, line, intervals.get((line, tag.name)), running.get(line)
            )
            for tag, line in rows
            if tag.spc
        }


def chart_for(engine: Engine, line: str, tag: str) -> ChartConfig:
    """The chart settings of one stored tag; a `UserError` if it has none."""
    from plantqc.store import find_tag

    ref = find_tag(engine, line, tag)
    charts = load_charts(engine)
    if ref.tag_id not in charts:
        raise UserError(f"tag {line}/{tag} has no SPC settings (spc:) in the config.")
    return charts[ref.tag_id]


def chart_of_row(tag: Tag, line: str) -> ChartConfig | None:
    """The chart of a stored tag row, or None when the tag is not charted."""
    if not tag.spc or tag.kind not in ("scalar", "profile"):
        return None
    return ChartConfig.from_row(tag, line)

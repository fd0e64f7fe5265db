"""Lines and tags in the store follow the plant config: added or updated, never deleted.

Tags that leave the config keep their rows, so their history stays readable.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from plantqc.charting.names import image_node_id
from plantqc.config import (
    BUFFER_DEPTH_TAG,
    PlantConfig,
    SpcSettings,
    SpecLimits,
    image_metric_tag,
)
from plantqc.config import Line as LineConfig
from plantqc.errors import UserError
from plantqc.images.settings import IMAGE_METRICS, LOADING_METRICS, ImageMetricSettings
from plantqc.store.models import Line, Tag


@dataclass(frozen=True)
class TagRef:
    """A tag's database id with its line, as the ingestion and query layers address it."""

    line_id: int
    tag_id: int
    line: str
    tag: str


def sync_config(engine: Engine, config: PlantConfig) -> dict[tuple[str, str], TagRef]:
    """Upsert every line and tag of ``config``; return refs keyed by (line name, tag name).

    The tags include one scalar tag per metric of each image input serving the line
    (`plantqc.config.image_metric_tag`), with the spec and chart settings of its ``metrics``.
    """
    refs: dict[tuple[str, str], TagRef] = {}
    with Session(engine) as session, session.begin():
        for line_cfg in config.lines:
            area = line_cfg.area or config.plant.area
            line = session.scalars(
                select(Line).where(
                    Line.site == config.plant.site, Line.area == area, Line.name == line_cfg.name
                )
            ).one_or_none()
            if line is None:
                line = Line(site=config.plant.site, area=area, name=line_cfg.name)
                session.add(line)
            line.kind = line_cfg.kind
            line.product = line_cfg.product
            line.endpoint = line_cfg.opcua.endpoint
            session.flush()
            existing = {
                tag.name: tag for tag in session.scalars(select(Tag).where(Tag.line_id == line.id))
            }
            for tag_cfg in line_cfg.tags:
                tag = existing.get(tag_cfg.name) or Tag(line_id=line.id, name=tag_cfg.name)
                session.add(tag)
                tag.node_id, tag.kind, tag.unit = tag_cfg.node_id, tag_cfg.kind, tag_cfg.unit
                _set_chart(tag, tag_cfg.spec, tag_cfg.spc)
            for name, unit, settings in _image_metric_tags(config, line_cfg):
                tag = existing.get(name) or Tag(line_id=line.id, name=name)
                session.add(tag)
                # scalar: the engine and the dashboards chart image metrics like any tag
                tag.node_id, tag.kind, tag.unit = image_node_id(name), "scalar", unit
                _set_chart(tag, settings.spec, settings.spc)
            session.flush()
            for tag in session.scalars(select(Tag).where(Tag.line_id == line.id)):
                refs[(line_cfg.name, tag.name)] = TagRef(line.id, tag.id, line_cfg.name, tag.name)
    return refs


def _set_chart(tag: Tag, spec: SpecLimits | None, spc: SpcSettings | None) -> None:
    tag.lsl, tag.target, tag.usl = (spec.lsl, spec.target, spec.usl) if spec else (None, None, None)
    tag.spc = spc.model_dump(by_alias=True) if spc else None


def _image_metric_tags(
    config: PlantConfig, line: LineConfig
) -> list[tuple[str, str, ImageMetricSettings]]:
    """(tag name, unit, settings) of every image metric recorded on ``line``.

    Loading metrics need the line's product (its densities and nominal loading).
    """
    found = []
    for image in config.images:
        if line not in config.image_lines(image):
            continue
        for metric, unit in IMAGE_METRICS[image.kind].items():
            if metric in LOADING_METRICS and line.product is None:
                continue
            settings = image.metrics.get(metric, ImageMetricSettings())
            found.append((image_metric_tag(image.name, metric), unit, settings))
    return found


def register_daemon_tags(engine: Engine, line_ids: set[int]) -> dict[int, int]:
    """Make sure each line has the daemon's own `BUFFER_DEPTH_TAG`; return line id -> tag id.

    Dashboards chart it like any tag, so an operator sees the store falling behind.
    """
    ids: dict[int, int] = {}
    with Session(engine) as session, session.begin():
        for line_id in sorted(line_ids):
            tag = session.scalars(
                select(Tag).where(Tag.line_id == line_id, Tag.name == BUFFER_DEPTH_TAG)
            ).one_or_none()
            if tag is None:
                tag = Tag(
                    line_id=line_id,
                    name=BUFFER_DEPTH_TAG,
                    node_id="plantqc:daemon/buffer_depth",
                    kind="daemon",
                    unit="samples",
                )
                session.add(tag)
                session.flush()
            ids[line_id] = tag.id
    return ids


def find_tag(engine: Engine, line: str, tag: str) -> TagRef:
    """The stored tag ``tag`` of line ``line``; a `UserError` naming what exists if absent."""
    with Session(engine) as session:
        line_rows = session.scalars(select(Line).where(Line.name == line)).all()
        if not line_rows:
            known = ", ".join(sorted(session.scalars(select(Line.name)).all())) or "none"
            raise UserError(f"the database has no line {line!r}; its lines are: {known}.")
        if len(line_rows) > 1:
            paths = ", ".join(f"{r.site}/{r.area}/{r.name}" for r in line_rows)
            raise UserError(f"line name {line!r} is ambiguous in this database: {paths}.")
        line_row = line_rows[0]
        tag_row = session.scalars(
            select(Tag).where(Tag.line_id == line_row.id, Tag.name == tag)
        ).one_or_none()
        if tag_row is None:
            names = session.scalars(select(Tag.name).where(Tag.line_id == line_row.id)).all()
            known = ", ".join(sorted(names)) or "none"
            raise UserError(f"line {line!r} has no tag {tag!r}; its tags are: {known}.")
        return TagRef(line_row.id, tag_row.id, line_row.name, tag_row.name)

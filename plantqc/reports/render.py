"""HTML of a report: one self-contained file (inline SVG, embedded thumbnails, inline CSS).

Templates are Jinja2 with autoescaping, so lot codes, tag names, alarm notes and user names
can hold any characters.  The only links are relative ones to the full-size overlays copied
beside the report; nothing is fetched from a network when the file is opened or printed.
The signature block sits between two markers so that signing replaces exactly that block.
"""

from __future__ import annotations

import base64
import math
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2
import jinja2
from markupsafe import Markup

from plantqc.reports import svg
from plantqc.reports.compute import unit_symbol
from plantqc.reports.content import ReportContent
from plantqc.reports.data import ImageRecord
from plantqc.reports.evidence import thickness_profile
from plantqc.reports.signoff import still_to_sign
from plantqc.users.esign import Signature

SIGNATURES_START = "<!-- signatures -->"
SIGNATURES_END = "<!-- /signatures -->"
THUMBNAIL_PX = 360
OVERLAY_FOLDER = "overlays"
PPM_FLOOR = 0.01
"""Expected ppm below this print as ``< 0.01``: a normal tail far beyond the spec (4.5e-121
ppm) is "none expected", not a figure anyone can act on; ``report.json`` keeps the number."""
PPM_WHOLE = 1000.0
"""Expected ppm from this on print as whole numbers with thousands separators (218,338)."""


def _number(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, int):
        return str(value)
    return f"{value:.{digits}g}"


def _ppm(value: float | None, floor: float = PPM_FLOOR) -> str:
    """ppm as a quality engineer reads it: ``< 0.01`` below ``floor``, ``0.0169``, ``218,338``
    (an observed ppm, exact, takes ``floor=0``: none observed is ``0``)."""
    if value is None or not math.isfinite(value):
        return _number(value)
    if value < floor:
        return f"< {floor:g}"
    return f"{value:,.0f}" if value >= PPM_WHOLE else _number(value, 3)


def _when(value: datetime | str | None) -> str:
    if value is None:
        return "–"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("plantqc.reports", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
_ENV.filters["num"] = _number
_ENV.filters["ppm"] = _ppm
_ENV.filters["unit"] = unit_symbol
_ENV.filters["when"] = _when
_ENV.filters["epoch"] = lambda seconds: _when(datetime.fromtimestamp(seconds, UTC))


def thumbnail(path: Path, max_px: int = THUMBNAIL_PX) -> str | None:
    """A JPEG data URI of the image at ``path`` scaled to at most ``max_px``; None if unreadable."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        return None
    scale = max_px / max(image.shape[:2])
    if scale < 1:
        size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
        image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    if not ok:
        return None
    return "data:image/jpeg;base64," + base64.b64encode(encoded.tobytes()).decode()


def _evidence_item(image: ImageRecord, value: float, out_dir: Path) -> dict[str, Any]:
    """Thumbnail and link of one image's overlay (copied beside the report), or why not."""
    source = Path(image.overlay_path) if image.overlay_path else None
    item: dict[str, Any] = {"image": image, "value": value, "thumb": None, "href": None}
    if source is None or not source.is_file():
        item["missing"] = f"overlay file not found: {image.overlay_path or 'none recorded'}"
        return item
    target = out_dir / OVERLAY_FOLDER / f"{image.id}-{source.name}"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    item["thumb"] = thumbnail(target)
    item["href"] = f"{OVERLAY_FOLDER}/{target.name}"
    item["missing"] = None if item["thumb"] else f"overlay file unreadable: {source}"
    return item


def _figures(content: ReportContent) -> dict[str, dict[str, Markup]]:
    figures: dict[str, dict[str, Markup]] = {}
    for row in content.characteristics:
        figure: dict[str, Markup] = {}
        if row.histogram is not None:
            figure["histogram"] = Markup(
                svg.histogram_svg(
                    row.histogram, row.name, unit_symbol(row.unit), row.lsl, row.target, row.usl
                )
            )
        if row.chart is not None:
            label = unit_symbol(row.unit) if row.chart.chart != "cusum" else "sigma"
            figure["chart"] = Markup(svg.chart_svg(row.chart.plot, row.name, label))
        figures[row.key] = figure
    return figures


def _evidence_figures(content: ReportContent) -> dict[str, Markup]:
    found: dict[str, Markup] = {}
    if content.sizes is not None:
        found["sizes"] = Markup(
            svg.histogram_svg(
                content.sizes.histogram, "particle equivalent diameter", "µm", width=svg.WIDTH
            )
        )
    for profile in content.profiles:
        found[f"cd:{profile.tag}"] = Markup(
            svg.profile_svg(profile, f"{profile.tag}: mean CD profile over the lot")
        )
    thin = next((g for g in content.evidence if g.title.startswith("Thinnest")), None)
    if thin is not None:
        image = thin.images[0][0]
        curve = thickness_profile(image)
        if curve is not None:
            product = content.product
            limits = []
            if product is not None:
                low = product.thickness_target_um - product.thickness_tolerance_um
                high = product.thickness_target_um + product.thickness_tolerance_um
                limits = [("LSL", low), ("USL", high)]
            found["thinnest"] = Markup(
                svg.line_svg(*curve, f"thickness along {image.path}", "µm", limits)
            )
    return found


def render_report(content: ReportContent, doc: dict[str, Any], out_dir: Path) -> str:
    """The report's HTML; overlays of the evidence images are copied to ``out_dir/overlays``."""
    evidence = [
        {"group": group, "entries": [_evidence_item(i, v, out_dir) for i, v in group.images]}
        for group in content.evidence
    ]
    return _ENV.get_template("report.html.j2").render(
        doc=doc,
        content=content,
        rows=content.characteristics,
        figures=_figures(content),
        evidence=evidence,
        evidence_figures=_evidence_figures(content),
        signatures=render_signatures(doc),
        signatures_start=Markup(SIGNATURES_START),
        signatures_end=Markup(SIGNATURES_END),
    )


def render_signatures(doc: dict[str, Any]) -> Markup:
    """The signature block of ``doc`` (§11.50): per signature its meaning, printed name, user
    name, date and time with zone and the content hash it is bound to; then what is still to
    sign (`plantqc.reports.signoff.still_to_sign`)."""
    signatures = [Signature.from_dict(s) for s in doc.get("signatures", [])]
    pending = still_to_sign(doc.get("signatures", []), doc["disposition"]["decision"])
    return Markup(
        _ENV.get_template("signatures.html.j2").render(signatures=signatures, pending=pending)
    )


def replace_signatures(html: str, doc: dict[str, Any]) -> str:
    """``html`` with its signature block re-rendered from ``doc``; everything else unchanged."""
    start = html.index(SIGNATURES_START) + len(SIGNATURES_START)
    end = html.index(SIGNATURES_END)
    return html[:start] + str(render_signatures(doc)) + html[end:]


def render_compare(
    lots: list[dict[str, Any]],
    keys: list[tuple[str, str, str]],
    between: dict[str, dict[str, Any] | None],
) -> str:
    """The side-by-side comparison page of several lots (`plantqc.reports.compare`)."""
    return _ENV.get_template("compare.html.j2").render(lots=lots, keys=keys, between=between)

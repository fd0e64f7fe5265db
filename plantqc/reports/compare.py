"""Lot comparison: the characteristics of several lots side by side, for scale-up consistency.

Each lot is computed exactly as its own report would be (`plantqc.reports.content`); the page
lists, per characteristic, every lot's mean, standard deviation, Cpk and n, and between the
lots the spread of their means (largest minus smallest, and as a share of the tolerance
USL - LSL: the practical measure of lot-to-lot consistency) with a one-way ANOVA of the lot
means (`spc.oneway_anova_from_summary`; with thousands of values per lot it flags differences
too small to matter, so read it beside the share of tolerance).  A characteristic whose spec
differs between the lots is marked.  Nothing is recorded: a comparison is a view, not a
release document.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

import spc
from plantqc.config import LoadedConfig
from plantqc.errors import UserError
from plantqc.reports.compute import Characteristic
from plantqc.reports.content import ReportContent, build_content
from plantqc.reports.data import find_lot
from plantqc.reports.issue import write_atomic
from plantqc.reports.render import render_compare

COMPARE_HTML = "compare.html"
COMPARE_JSON = "compare.json"


def _spec(row: Characteristic) -> str:
    low = f"{row.lsl:g}" if row.lsl is not None else ""
    high = f"{row.usl:g}" if row.usl is not None else ""
    return f"{low} .. {high} {row.unit}".strip() if low or high else "no spec"


def between_lots(rows: list[Characteristic]) -> dict[str, Any] | None:
    """Lot-to-lot figures of one characteristic over the lots that have data for it; None
    with fewer than two such lots."""
    rows = [row for row in rows if row.n and row.mean is not None]
    if len(rows) < 2:
        return None
    means = [float(row.mean) for row in rows]  # type: ignore[arg-type]
    spread = max(means) - min(means)
    specs = {(row.lsl, row.usl) for row in rows}
    lsl, usl = rows[0].lsl, rows[0].usl
    tolerance = usl - lsl if len(specs) == 1 and lsl is not None and usl is not None else None
    try:
        anova = spc.oneway_anova_from_summary(
            means, [row.std or 0.0 for row in rows], [row.n for row in rows]
        ).to_dict()
    except spc.SPCInputError:  # e.g. one value per lot: no variation within the lots
        anova = None
    return {
        "lots": len(rows),
        "mean_spread": spread,
        "spread_pct_of_tolerance": 100.0 * spread / tolerance if tolerance else None,
        "spec_differs": len(specs) > 1,
        "anova": anova,
    }


def _lot_view(content: ReportContent) -> dict[str, Any]:
    data = content.data
    return {
        "lot": data.lot,
        "line": data.line,
        "product": data.product,
        "start": data.start.isoformat(),
        "end": data.end.isoformat(),
        "decision": content.disposition.decision,
        "data_hash": content.data_hash,
        "rows": {row.key: row for row in content.characteristics},
    }


def compare_lots(
    engine: Engine,
    lots: list[str],
    out_dir: Path,
    *,
    line: str | None = None,
    loaded: LoadedConfig | None = None,
) -> Path:
    """Write ``compare.html`` and ``compare.json`` for ``lots``; return the HTML's path."""
    if len(lots) < 2:
        raise UserError("--compare needs at least two lots.")
    config = loaded.config if loaded is not None else None
    views = [
        _lot_view(build_content(engine, find_lot(engine, lot, line=line), config)) for lot in lots
    ]
    keys: dict[str, tuple[str, str, str]] = {}
    for view in views:
        for key, row in view["rows"].items():
            keys.setdefault(key, (key, row.name, _spec(row)))
    between = {
        key: between_lots([view["rows"][key] for view in views if key in view["rows"]])
        for key in keys
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = [
        {
            **{k: v for k, v in view.items() if k != "rows"},
            "characteristics": {
                key: {
                    "mean": row.mean,
                    "std": row.std,
                    "cpk": row.capability.to_dict()["cpk"] if row.capability else None,
                    "n": row.n,
                    "verdict": row.verdict,
                }
                for key, row in view["rows"].items()
            },
        }
        for view in views
    ]
    document = {"lots": summary, "between_lots": between}
    write_atomic(out_dir / COMPARE_JSON, json.dumps(document, indent=1, default=str))
    html = out_dir / COMPARE_HTML
    write_atomic(html, render_compare(views, list(keys.values()), between))
    return html

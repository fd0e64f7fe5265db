"""Lot comparison: the characteristics of several lots side by side, for scale-up consistency.

Each lot is computed exactly as its own report would be (`plantqc.reports.content`); the page
lists, per characteristic, every lot's mean, standard deviation, Cpk and n.  Nothing is
recorded: a comparison is a view, not a release document.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

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
    write_atomic(out_dir / COMPARE_JSON, json.dumps({"lots": summary}, indent=1, default=str))
    html = out_dir / COMPARE_HTML
    write_atomic(html, render_compare(views, list(keys.values())))
    return html

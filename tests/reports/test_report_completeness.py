"""The lot report's data completeness section: stored vs expected samples, read-back, gaps.

Exact ground truth: the lot is 600 s of 1 Hz samples (sampling interval 1 s, so 600
expected); ten of one tag's samples are taken out as if the daemon had been down with no
history on the server, and recorded as the gap the connector records.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from report_helpers import T0, store_lot
from sqlalchemy import Engine, delete, update

from plantqc.config import LoadedConfig
from plantqc.reports.issue import generate_report
from plantqc.store.gaps import GapRow, insert_gaps
from plantqc.store.models import Sample


def test_a_gap_and_read_back_samples_show_in_the_completeness_section(
    sqlite_store: Engine, config: LoadedConfig, tmp_path: Path
) -> None:
    tags = store_lot(sqlite_store, config.config)
    web = tags["web_speed_m_min"]
    with sqlite_store.begin() as connection:
        connection.execute(
            delete(Sample).where(
                Sample.tag_id == web,
                Sample.ts >= T0 + timedelta(seconds=100),
                Sample.ts < T0 + timedelta(seconds=110),
            )
        )
        connection.execute(
            update(Sample)
            .where(Sample.tag_id == web, Sample.ts >= T0 + timedelta(seconds=200))
            .where(Sample.ts < T0 + timedelta(seconds=205))
            .values(backfilled=True)
        )
    reason = "the server keeps no history of this node"
    # bounded by the samples around the hole: t = 99 s and t = 110 s
    insert_gaps(
        sqlite_store,
        [GapRow(web, T0 + timedelta(seconds=99), T0 + timedelta(seconds=110), reason)],
    )
    report = generate_report(sqlite_store, "LOT-0001", tmp_path / "out", loaded=config)
    doc = json.loads((report.folder / "report.json").read_text())
    rows = {row["tag"]: row for row in doc["completeness"]}
    assert rows["web_speed_m_min"] == {
        "tag": "web_speed_m_min",
        "interval_s": 1.0,
        "expected": 600,
        "stored": 590,
        "stored_pct": 100 * 590 / 600,
        "backfilled": 5,
        "missing_s": 11.0,
        "gaps": [
            {
                "start": (T0 + timedelta(seconds=99)).isoformat(),
                "end": (T0 + timedelta(seconds=110)).isoformat(),
                "seconds": 11.0,
                "reason": reason,
            }
        ],
    }
    assert rows["dryer_zone1_temp_c"]["stored_pct"] == 100.0
    assert rows["dryer_zone1_temp_c"]["gaps"] == []
    html = report.html.read_text()
    assert "6. Data completeness" in html
    assert "web_speed_m_min: 2026-01-15 08:01:39 UTC to 2026-01-15 08:01:50 UTC (11 s)" in html

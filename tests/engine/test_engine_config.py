"""The engine's settings in the plant config: a mistake is one sentence naming file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from plantqc.config import load_config
from plantqc.errors import UserError

LINE = """
plant: {site: s, area: a}
lines:
  - name: line-1
    kind: casting
    opcua: {endpoint: "opc.tcp://127.0.0.1:4840/"}
"""


def _load(tmp_path: Path, text: str) -> None:
    path = tmp_path / "plant.yaml"
    path.write_text(LINE + text, encoding="utf-8")
    load_config(path)


def test_a_profile_on_an_xbar_chart_is_refused(tmp_path: Path) -> None:
    tags = """    tags:
      - {name: cd, node_id: "ns=2;s=cd", kind: profile, spc: {chart: xbar-r, subgroup_size: 5}}
"""
    with pytest.raises(UserError, match=r"plant.yaml:8: .*a profile tag charts one point per scan"):
        _load(tmp_path, tags)


def test_a_running_condition_on_a_tag_the_line_lacks_is_refused(tmp_path: Path) -> None:
    tags = """    running: {tag: speed, above: 0.1}
    tags:
      - {name: x, node_id: "ns=2;s=x"}
"""
    with pytest.raises(UserError, match="running names tag 'speed', which is not a scalar tag"):
        _load(tmp_path, tags)


def test_a_priority_for_an_unknown_rule_is_refused(tmp_path: Path) -> None:
    tags = """    tags:
      - {name: x, node_id: "ns=2;s=x", spc: {rule_priority: {nelson9: high}}}
"""
    with pytest.raises(UserError, match=r"rule_priority names 'nelson9'; expected nelson1\.\.8"):
        _load(tmp_path, tags)

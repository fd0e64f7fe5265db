"""Every shipped example file is valid for the command that reads it."""

from __future__ import annotations

from pathlib import Path

from plantqc.sim.scenario import load_scenario

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_example_scenario_names_tags_of_the_casting_example() -> None:
    scenario = load_scenario(EXAMPLES / "scenario-casting.yaml")
    tags = {fault.tag for fault in scenario.faults if fault.tag is not None}
    text = (EXAMPLES / "casting.yaml").read_text()
    assert tags and all(f"name: {tag}\n" in text for tag in tags)
    assert {fault.kind for fault in scenario.faults} >= {"drift", "step", "variance", "stuck"}

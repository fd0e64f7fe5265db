"""`plantqc limits ...` and `plantqc alarms ...` on a SQLite store."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from engine_helpers import T0, feed, feed_scans, freeze
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from plantqc.charting.runner import SpcEngine
from plantqc.cli import app
from plantqc.store import TagRef
from plantqc.store.models import Alarm, AuditLog, ControlLimits
from plantqc.users import add_user

runner = CliRunner()
PASSWORD = "correct horse battery"
SIGNED = ["--user", "q.eng", "--password-stdin"]
"""`limits freeze` options of the quality engineer of `quality_engineer`, password on stdin."""


@pytest.fixture
def quality_engineer(sqlite_store: Engine) -> str:
    """Quality engineer q.eng (Quinn Eng), who may freeze limits; returns the standard input
    that gives the password to ``--password-stdin``."""
    add_user(sqlite_store, "q.eng", "quality", PASSWORD, by="root", full_name="Quinn Eng")
    return PASSWORD + "\n"


def _db(engine: Engine) -> list[str]:
    return ["--db", engine.url.render_as_string(hide_password=False)]


def _phase_one_data(engine: Engine, tag_id: int, tag: str = "x_imr") -> list[str]:
    values = 50.0 + np.random.default_rng(5).standard_normal(60)
    values[40] = 65.0
    feed(engine, tag_id, values)
    return ["--tag", f"line-1/{tag}", "--from", T0.isoformat(), "--to", "2026-11-23T00:00:00Z"]


def test_limits_estimate_shows_the_proposal_and_the_excluded_point(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    args = _phase_one_data(sqlite_store, sqlite_tags["x_imr"].tag_id)
    result = runner.invoke(app, ["limits", "estimate", *args, *_db(sqlite_store), "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["n_total"] == 60
    # the outlier, first; phase_one also drops the point after it, whose moving range (labelled
    # by the later observation) the outlier blew beyond the MR limit
    assert figures["excluded"][0]["value"] == 65.0


def test_limits_freeze_records_who_and_keeps_earlier_versions(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef], quality_engineer: str
) -> None:
    tag = sqlite_tags["x_small"].tag_id  # learns from its first 20 points
    args = _phase_one_data(sqlite_store, tag, "x_small")
    SpcEngine(sqlite_store).process(tag)  # writes the learned version 1
    frozen = runner.invoke(
        app, ["limits", "freeze", *args, *SIGNED, *_db(sqlite_store)], input=quality_engineer
    )
    assert frozen.exit_code == 0, frozen.output
    shown = runner.invoke(
        app, ["limits", "show", "--tag", "line-1/x_small", *_db(sqlite_store), "--json"]
    )
    versions = json.loads(shown.output)["versions"]
    assert [(v["version"], v["basis"], v["frozen_by"], v["in_force"]) for v in versions] == [
        (1, "provisional", None, False),
        (2, "phase1", "q.eng", True),
    ]


def test_limits_of_a_profile_statistic_are_estimated_frozen_and_shown_by_chart_name(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef], quality_engineer: str
) -> None:
    scans = 50.0 + 0.3 * np.random.default_rng(6).standard_normal((30, 40))
    feed_scans(sqlite_store, sqlite_tags["cd"].tag_id, scans)
    args = ["--tag", "line-2/cd", "--chart", "cd_2sigma", *_db(sqlite_store)]
    window = ["--from", T0.isoformat(), "--to", "2026-11-23T00:00:00Z"]
    estimated = runner.invoke(app, ["limits", "estimate", *args, *window, "--json"])
    assert estimated.exit_code == 0, estimated.output
    # phase I center of the 2-sigma chart: the mean of 2 x the sample sd of each scan (TAPPI),
    # none of them out of control
    figures = json.loads(estimated.output)
    assert (figures["chart"], figures["n_total"], figures["excluded"]) == ("cd_2sigma", 30, [])
    assert figures["center"] == pytest.approx(2.0 * scans.std(axis=1, ddof=1).mean())
    frozen = runner.invoke(
        app, ["limits", "freeze", *args, *window, *SIGNED], input=quality_engineer
    )
    assert frozen.exit_code == 0, frozen.output
    shown = runner.invoke(
        app, ["limits", "show", "--tag", "line-2/cd", *_db(sqlite_store), "--json"]
    )
    versions = json.loads(shown.output)["versions"]
    assert [(v["chart"], v["basis"], v["in_force"]) for v in versions] == [
        ("cd_2sigma", "phase1", True)
    ]


def test_limits_of_a_chart_the_tag_does_not_have_is_one_sentence(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    window = ["--from", T0.isoformat(), "--to", "2026-11-23T00:00:00Z"]
    result = runner.invoke(
        app,
        ["limits", "estimate", "--tag", "line-2/cd", "--chart", "cd_wedge", *window,
         *_db(sqlite_store)],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "has no chart 'cd_wedge'" in result.output


def test_limits_of_an_unknown_tag_is_one_sentence(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    result = runner.invoke(app, ["limits", "show", "--tag", "line-1/nope", *_db(sqlite_store)])
    assert result.exit_code == 2
    assert "line 'line-1' has no tag 'nope'" in result.output


def test_alarms_ack_shelve_and_comment_from_the_command_line_are_audited(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef]
) -> None:
    freeze(sqlite_store, sqlite_tags["x_imr"])
    tag = sqlite_tags["x_imr"].tag_id
    feed(sqlite_store, tag, [10.0, 13.5])
    SpcEngine(sqlite_store).process(tag)
    listed = json.loads(runner.invoke(app, ["alarms", "list", *_db(sqlite_store), "--json"]).output)
    [alarm_id] = [a["id"] for a in listed if a["code"] == "nelson1"]
    for command in (
        ["ack", str(alarm_id), "--user", "op.a", "--note", "seen"],
        ["comment", str(alarm_id), "--user", "q.eng", "--cause", "worn shim"],
        ["shelve", str(alarm_id), "--user", "op.a", "--minutes", "30"],
    ):
        result = runner.invoke(app, ["alarms", *command, *_db(sqlite_store)])
        assert result.exit_code == 0, result.output
    with Session(sqlite_store) as session:
        alarm = session.get(Alarm, alarm_id)
        actions = session.scalars(
            select(AuditLog.action).where(AuditLog.entity_id == str(alarm_id))
        ).all()
    assert alarm is not None and (alarm.state, alarm.cause) == ("shelved", "worn shim")
    assert actions == ["alarm-raise", "alarm-ack", "alarm-comment", "alarm-shelve"]


def test_alarms_list_migrates_a_database_never_migrated_and_lists_no_alarms(
    tmp_path: Path,
) -> None:
    result = runner.invoke(app, ["alarms", "list", "--db", f"sqlite:///{tmp_path / 'new.db'}"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("0 alarm(s)")


def test_alarms_ack_on_a_database_never_migrated_is_one_sentence(tmp_path: Path) -> None:
    db = ["--db", f"sqlite:///{tmp_path / 'new.db'}"]
    result = runner.invoke(app, ["alarms", "ack", "999", "--user", "op.a", *db])
    assert (result.exit_code, result.output) == (2, "error: there is no alarm 999.\n")


@pytest.mark.parametrize("user", ["", "   "])
@pytest.mark.parametrize(
    "command",
    [["ack"], ["shelve", "--minutes", "30"], ["comment", "--cause", "worn shim"]],
    ids=["ack", "shelve", "comment"],
)
def test_a_blank_user_is_refused_by_the_alarm_commands_and_nothing_is_audited(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef], command: list[str], user: str
) -> None:
    freeze(sqlite_store, sqlite_tags["x_imr"])
    tag = sqlite_tags["x_imr"].tag_id
    feed(sqlite_store, tag, [10.0, 13.5])
    SpcEngine(sqlite_store).process(tag)
    with Session(sqlite_store) as session:
        alarm_id = session.scalars(select(Alarm.id).where(Alarm.code == "nelson1")).one()
    verb, *options = command
    args = ["alarms", verb, str(alarm_id), "--user", user, *options, *_db(sqlite_store)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.output.endswith("needs the name of who does it (--user), not a blank one.\n")
    assert result.output.count("\n") == 1
    with Session(sqlite_store) as session:
        actions = session.scalars(
            select(AuditLog.action).where(AuditLog.entity_id == str(alarm_id))
        ).all()
    assert actions == ["alarm-raise"]


def test_a_blank_user_is_refused_by_limits_freeze_and_nothing_is_frozen(
    sqlite_store: Engine, sqlite_tags: dict[str, TagRef], quality_engineer: str
) -> None:
    args = _phase_one_data(sqlite_store, sqlite_tags["x_imr"].tag_id)
    result = runner.invoke(
        app,
        ["limits", "freeze", *args, "--user", " ", "--password-stdin", *_db(sqlite_store)],
        input=quality_engineer,
    )
    assert (result.exit_code, result.output) == (
        2,
        "error: signing needs the user name of who signs, not a blank one.\n",
    )
    with Session(sqlite_store) as session:
        assert session.scalars(select(ControlLimits)).all() == []

"""`plantqc limits freeze`: approving control limits is an electronic signature (21 CFR Part 11
§11.200), by user name and password, meaning 'approved', of a role granted limits.freeze."""

from __future__ import annotations

import getpass
import io
import json
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
import typer
from engine_helpers import T0, feed
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner, Result

from plantqc.charting.catalog import chart_for
from plantqc.charting.phase1 import estimate_hash, estimate_limits
from plantqc.cli import app
from plantqc.cli.limits_cmd import freeze_file
from plantqc.cli.signing import ask_credentials
from plantqc.config import load_config
from plantqc.store import TagRef
from plantqc.store.models import AuditLog, ControlLimits
from plantqc.users import Credentials, add_user, list_users

runner = CliRunner()
PASSWORD = "correct horse battery"
END = T0 + timedelta(hours=1)
WINDOW = ["--from", T0.isoformat(), "--to", END.isoformat()]


@pytest.fixture
def accounts(sqlite_store: Engine, sqlite_tags: dict[str, TagRef]) -> Engine:
    """The test line's store with 60 in-control samples of line-1/x_imr, quality engineer
    qe.lee (Lee Quinn) and operator op.kim (Kim Operator), both with `PASSWORD`."""
    feed(sqlite_store, sqlite_tags["x_imr"].tag_id, 10 + np.random.default_rng(2).normal(size=60))
    add_user(sqlite_store, "qe.lee", "quality", PASSWORD, by="root", full_name="Lee Quinn")
    add_user(sqlite_store, "op.kim", "operator", PASSWORD, by="root", full_name="Kim Operator")
    return sqlite_store


def _db(engine: Engine) -> list[str]:
    return ["--db", engine.url.render_as_string(hide_password=False)]


def _freeze(engine: Engine, *args: str, stdin: str | None = PASSWORD + "\n") -> Result:
    """``plantqc limits freeze --tag line-1/x_imr`` over `WINDOW` with ``args``."""
    command = ["limits", "freeze", "--tag", "line-1/x_imr", *WINDOW, *args, *_db(engine)]
    return runner.invoke(app, command, input=stdin)


def _versions(engine: Engine) -> list[ControlLimits]:
    with Session(engine) as session:
        return list(session.scalars(select(ControlLimits).order_by(ControlLimits.id)))


def _audited(engine: Engine, action: str) -> list[AuditLog]:
    with Session(engine) as session:
        return list(session.scalars(select(AuditLog).where(AuditLog.action == action)))


def test_a_freeze_stores_the_approvers_signature_bound_to_the_estimates_hash(
    accounts: Engine,
) -> None:
    result = _freeze(accounts, "--user", "qe.lee", "--password-stdin")
    assert result.exit_code == 0, result.output
    chart = chart_for(accounts, "line-1", "x_imr")
    estimate = estimate_limits(accounts, chart, T0, END)
    [version] = _versions(accounts)
    signature = version.params["signature"]
    assert (version.frozen_by, signature["user"], signature["printed_name"]) == (
        "qe.lee",
        "qe.lee",
        "Lee Quinn",
    )
    assert (signature["meaning"], signature["components"]) == ("approved", 2)
    assert signature["content_hash"] == estimate_hash(chart, estimate)


def test_the_freezes_audit_entry_holds_the_same_signature(accounts: Engine) -> None:
    _freeze(accounts, "--user", "qe.lee", "--password-stdin")
    [version] = _versions(accounts)
    [entry] = _audited(accounts, "limits-freeze")
    assert entry.user == "qe.lee"
    assert entry.detail is not None and entry.detail["signature"] == version.params["signature"]


def test_the_freeze_prints_who_signed_by_printed_name_and_what_the_signature_means(
    accounts: Engine,
) -> None:
    result = _freeze(accounts, "--user", "qe.lee", "--password-stdin")
    [line] = [s for s in result.stdout.splitlines() if s.startswith("frozen")]
    assert line.startswith(
        "frozen as version 1 of line-1/x_imr (imr), signed approved by Lee Quinn (qe.lee) at "
    )
    assert line.endswith(" UTC (UTC+00:00)")


def test_a_wrong_password_exits_1_in_one_sentence_freezes_nothing_and_counts_toward_the_lockout(
    accounts: Engine,
) -> None:
    result = _freeze(accounts, "--user", "qe.lee", "--password-stdin", stdin="nope\n")
    assert (result.exit_code, result.output) == (1, "error: unknown user or wrong password.\n")
    assert _versions(accounts) == [] and _audited(accounts, "limits-freeze") == []
    assert [u.failed_logins for u in list_users(accounts) if u.name == "qe.lee"] == [1]


def test_an_operator_is_refused_in_one_sentence_audited_and_nothing_is_frozen(
    accounts: Engine,
) -> None:
    result = _freeze(accounts, "--user", "op.kim", "--password-stdin")
    assert (result.exit_code, result.output) == (
        2,
        "error: op.kim has role operator, which may not freeze control limits (that needs "
        "limits.freeze).\n",
    )
    assert _versions(accounts) == []
    [denied] = _audited(accounts, "permission-denied")
    assert (denied.user, denied.entity, denied.entity_id, denied.detail) == (
        "op.kim",
        "control_limits",
        "line-1:x_imr:imr",
        {"action": "limits.freeze", "role": "operator"},
    )


def test_without_a_terminal_or_password_stdin_the_freeze_is_refused_in_one_sentence(
    accounts: Engine,
) -> None:
    result = _freeze(accounts, "--user", "qe.lee", stdin="")
    assert (result.exit_code, result.output) == (
        2,
        "error: standard input is not a terminal: give the password there with --password-stdin.\n",
    )
    assert _versions(accounts) == []


def test_without_a_terminal_or_user_the_freeze_asks_for_who_signs_in_one_sentence(
    accounts: Engine,
) -> None:
    result = _freeze(accounts, "--password-stdin")
    assert (result.exit_code, result.output) == (
        2,
        "error: standard input is not a terminal: give who signs with --user NAME (and the "
        "password with --password-stdin).\n",
    )


def _two_charts(path: Path) -> Path:
    """30 in-control samples each of line-1/x_imr and line-1/x_imr_b, one second apart."""
    rng = np.random.default_rng(4)
    rows = ["line,tag,source_time,value,status"] + [
        f"line-1,{tag},{(T0 + timedelta(seconds=i)).isoformat()},{10 + rng.normal()},Good"
        for tag in ("x_imr", "x_imr_b")
        for i in range(30)
    ]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _freeze_file(engine: Engine, csv: Path, config: Path, stdin: str, *args: str) -> Result:
    command = ["limits", "freeze", "--from-file", str(csv), "--config", str(config),
               "--user", "qe.lee", "--password-stdin", *args, *_db(engine)]  # fmt: skip
    return runner.invoke(app, command, input=stdin)


def test_from_a_file_each_chart_is_signed_over_its_own_numbers_with_the_password_given_once(
    accounts: Engine, tmp_path: Path, config_path: Path
) -> None:
    csv = _two_charts(tmp_path / "in-control.csv")
    result = _freeze_file(accounts, csv, config_path, PASSWORD + "\n")  # one line: one password
    assert result.exit_code == 0, result.output
    hashes = {v.params["signature"]["content_hash"] for v in _versions(accounts)}
    assert len(hashes) == 2
    for tag in ("x_imr", "x_imr_b"):
        assert f"frozen as version 1 of line-1/{tag}, signed approved by Lee Quinn (qe.lee)" in (
            result.stdout
        )


def test_from_a_file_a_wrong_password_freezes_no_chart(
    accounts: Engine, tmp_path: Path, config_path: Path
) -> None:
    csv = _two_charts(tmp_path / "in-control.csv")
    result = _freeze_file(accounts, csv, config_path, "nope\n")
    assert result.exit_code == 1
    assert result.stderr == "error: unknown user or wrong password.\n"
    assert _versions(accounts) == []


def test_from_a_file_the_json_gives_each_charts_version_and_signature(
    accounts: Engine, tmp_path: Path, config_path: Path
) -> None:
    csv = _two_charts(tmp_path / "in-control.csv")
    result = _freeze_file(accounts, csv, config_path, PASSWORD + "\n", "--json")
    charts = {c["tag"]: c for c in json.loads(result.stdout)["charts"] if "version" in c}
    stored = {v.tag_id: v.params["signature"] for v in _versions(accounts)}
    assert sorted(charts) == ["line-1/x_imr", "line-1/x_imr_b"]
    assert sorted(c["signature"]["content_hash"] for c in charts.values()) == sorted(
        s["content_hash"] for s in stored.values()
    )
    assert {c["signature"]["printed_name"] for c in charts.values()} == {"Lee Quinn"}


def test_a_system_accounts_freeze_from_a_file_asks_nothing_and_is_unsigned(
    accounts: Engine, tmp_path: Path, config_path: Path
) -> None:
    # what `plantqc demo` does with its recorded history, as account plantqc-demo
    csv = _two_charts(tmp_path / "in-control.csv")
    plant = load_config(config_path).config
    _, _, versions = freeze_file(accounts, csv, plant, "plantqc-demo")
    assert sorted(versions) == ["line-1/x_imr", "line-1/x_imr_b"]
    frozen = _versions(accounts)
    assert {v.frozen_by for v in frozen} == {"plantqc-demo"}
    assert all("signature" not in v.params for v in frozen)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_at_a_terminal_the_signers_name_is_asked_then_their_password_hidden(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    asked: list[str] = []
    monkeypatch.setattr(typer, "prompt", lambda text: asked.append(text) or "qe.lee")
    monkeypatch.setattr(getpass, "getpass", lambda prompt: asked.append(prompt) or PASSWORD)
    assert ask_credentials(None, False, _Terminal()) == Credentials("qe.lee", PASSWORD)
    assert asked == ["User name", "Password: "]

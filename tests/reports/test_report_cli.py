"""`plantqc report`: issue, compare, sign and verify from the command line; errors in one
sentence with exit status 2 (a refused password and a failed verification: exit 1)."""

from __future__ import annotations

import getpass
import io
import json
from datetime import timedelta
from pathlib import Path

import pytest
import typer
from report_helpers import LINE, T0, store_lot, write_config
from sqlalchemy import Engine
from typer.testing import CliRunner

import spc
from plantqc.cli import app
from plantqc.cli.report_cmd import expand_compare
from plantqc.cli.signing import ask_password, ask_signer
from plantqc.config import load_config
from plantqc.store import SampleRow, find_tag, insert_samples
from plantqc.store.lots import record_lot
from plantqc.users import add_user, list_users

PASSWORD = "correct horse battery"


def _run(*args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["report", *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def cli_db(sqlite_store: Engine, lot: dict[str, int], tmp_path: Path) -> list[str]:
    """``--db URL --config FILE`` of a store holding LOT-0001."""
    return ["--db", str(sqlite_store.url), "--config", str(write_config(tmp_path))]


def test_report_writes_html_and_json_and_prints_the_decision(cli_db: list[str], tmp_path: Path):
    code, out, _ = _run("--lot", "LOT-0001", "--out", str(tmp_path / "out"), *cli_db)
    assert code == 0
    assert out.startswith("issued QC-000001 version 1: RELEASE")
    assert (tmp_path / "out" / "report.html").is_file()
    assert json.loads((tmp_path / "out" / "report.json").read_text())["version"] == 1


@pytest.fixture
def issued_cli(sqlite_store: Engine, cli_db: list[str], tmp_path: Path) -> Path:
    """QC-000001 issued by the command to ``out/``, quality engineer qe.lee (Lee Quinn) and
    operator op.kim in the store; returns the folder."""
    add_user(sqlite_store, "qe.lee", "quality", PASSWORD, by="root", full_name="Lee Quinn")
    add_user(sqlite_store, "op.kim", "operator", PASSWORD, by="root", full_name="Kim Operator")
    assert _run("--lot", "LOT-0001", "--out", str(tmp_path / "out"), *cli_db)[0] == 0
    return tmp_path / "out"


def _sign(cli_db: list[str], *args: str, stdin: str | None = PASSWORD + "\n") -> tuple:
    return _run("sign", "--report", "QC-000001", *args, *cli_db, stdin=stdin)


def test_sign_authenticates_the_signer_and_prints_their_printed_name(
    cli_db: list[str], issued_cli: Path
) -> None:
    code, out, _ = _sign(cli_db, "--meaning", "reviewed", "--user", "qe.lee", "--password-stdin")
    assert (code, out.strip()) == (
        0,
        "signed QC-000001 version 1 as reviewed by Lee Quinn (qe.lee); status reviewed",
    )


def test_sign_with_a_wrong_password_is_one_sentence_exit_1_and_counts_toward_the_lockout(
    sqlite_store: Engine, cli_db: list[str], issued_cli: Path
) -> None:
    code, _, err = _sign(
        cli_db, "--meaning", "reviewed", "--user", "qe.lee", "--password-stdin", stdin="nope\n"
    )
    assert (code, err.strip()) == (1, "error: unknown user or wrong password.")
    assert [u.failed_logins for u in list_users(sqlite_store) if u.name == "qe.lee"] == [1]


def test_sign_without_a_terminal_or_password_stdin_is_refused_in_one_sentence(
    cli_db: list[str], issued_cli: Path
) -> None:
    code, _, err = _sign(cli_db, "--meaning", "reviewed", "--user", "qe.lee", stdin="")
    assert (code, err.strip()) == (
        2,
        "error: standard input is not a terminal: give the password there with --password-stdin.",
    )


def test_sign_without_a_terminal_needs_the_user_option(cli_db: list[str], issued_cli: Path) -> None:
    code, _, err = _sign(cli_db, "--meaning", "reviewed", "--password-stdin")
    assert code == 2 and err.startswith("error: standard input is not a terminal: give who signs")


def test_an_operator_may_not_sign_and_is_refused_in_one_sentence(
    sqlite_store: Engine, cli_db: list[str], issued_cli: Path
) -> None:
    code, _, err = _sign(cli_db, "--meaning", "reviewed", "--user", "op.kim", "--password-stdin")
    assert (code, err.strip()) == (
        2,
        "error: op.kim has role operator, which may not sign report QC-000001 as reviewed "
        "(that needs report.sign).",
    )


def test_the_role_option_is_replaced_by_meaning(cli_db: list[str], issued_cli: Path) -> None:
    code, _, err = _sign(cli_db, "--role", "reviewer", "--user", "qe.lee", "--password-stdin")
    assert code == 2 and "No such option: --role" in err
    code, out, _ = _run("sign", "--help")
    assert "reviewer is --meaning reviewed" in " ".join(out.replace("│", " ").split())


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_at_a_terminal_the_password_is_asked_without_echo(monkeypatch: pytest.MonkeyPatch) -> None:
    asked = []
    monkeypatch.setattr(getpass, "getpass", lambda prompt: asked.append(prompt) or PASSWORD)
    assert ask_password(False, _Terminal()) == PASSWORD and asked == ["Password: "]


def test_at_a_terminal_without_user_the_signer_is_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(typer, "prompt", lambda text: "qe.lee" if text == "User name" else None)
    assert ask_signer(None, _Terminal()) == "qe.lee"


def test_the_user_option_names_the_signer_without_asking() -> None:
    assert ask_signer("qe.lee", _Terminal()) == "qe.lee"


def _verify(cli_db: list[str]) -> tuple[int, list[str]]:
    code, out, _ = _run("verify", "--report", "1", *cli_db)
    return code, out.splitlines()


def test_verify_of_an_intact_signed_report_prints_one_line_per_check(
    cli_db: list[str], issued_cli: Path
) -> None:
    _sign(cli_db, "--meaning", "reviewed", "--user", "qe.lee", "--password-stdin")
    code, lines = _verify(cli_db)
    document = json.loads((issued_cli / "report.json").read_text())["signatures"][0]
    assert code == 0
    assert lines[0].startswith("QC-000001: data unchanged (")
    assert lines[1:] == [
        "QC-000001: report.json holds the report as issued "
        f"(document hash {document['content_hash']}).",
        "QC-000001: 1 signature(s) bound to the document hash.",
        "QC-000001: report.json holds the 1 signature(s) the store records.",
    ]


def test_verify_finds_a_number_edited_in_report_json(cli_db: list[str], issued_cli: Path) -> None:
    path = issued_cli / "report.json"
    doc = json.loads(path.read_text())
    doc["characteristics"][0]["mean"] += 0.001
    path.write_text(json.dumps(doc, indent=1))
    code, lines = _verify(cli_db)
    assert code == 1
    [failed] = [line for line in lines if "no longer holds" in line]
    assert failed.startswith("QC-000001: report.json no longer holds the report as issued: ")


def test_verify_finds_a_signature_edited_in_report_json(
    cli_db: list[str], issued_cli: Path
) -> None:
    _sign(cli_db, "--meaning", "reviewed", "--user", "qe.lee", "--password-stdin")
    path = issued_cli / "report.json"
    doc = json.loads(path.read_text())
    recorded = doc["signatures"][0]["content_hash"]
    doc["signatures"][0]["content_hash"] = "0" * 64
    path.write_text(json.dumps(doc, indent=1))
    code, lines = _verify(cli_db)
    assert code == 1
    assert lines[2:] == [
        "QC-000001: the reviewed signature by qe.lee in report.json is bound to "
        f"{'0' * 64}, not to the document hash {recorded}.",
        "QC-000001: report.json holds 1 signature(s) that differ from the 1 the store records.",
    ]


def test_verify_finds_changed_data(
    sqlite_store: Engine, cli_db: list[str], issued_cli: Path
) -> None:
    tag = find_tag(sqlite_store, LINE, "dry_thickness_um").tag_id
    insert_samples(sqlite_store, [SampleRow(tag, T0 + timedelta(seconds=100.5), 2.0)])
    code, lines = _verify(cli_db)
    assert code == 1 and lines[0].startswith("QC-000001: data changed since issue: recorded ")
    assert lines[1:] and all("data" not in line for line in lines[1:])


def test_a_lot_without_data_is_one_sentence_and_exit_2(
    sqlite_store: Engine, cli_db: list[str], tmp_path: Path
) -> None:
    line_id = find_tag(sqlite_store, LINE, "dry_thickness_um").line_id
    record_lot(sqlite_store, line_id, "EMPTY", T0 - timedelta(hours=2), None)
    record_lot(sqlite_store, line_id, "AFTER-EMPTY", T0 - timedelta(hours=1), None)
    code, _, err = _run("--lot", "EMPTY", "--out", str(tmp_path / "out"), *cli_db)
    assert code == 2
    assert err.count("\n") == 1 and err.startswith("error: lot 'EMPTY' on line 'casting-1'")
    assert err.rstrip().endswith("there is nothing to report.")
    assert not (tmp_path / "out").exists()


def test_an_unknown_lot_is_one_sentence_and_exit_2(cli_db: list[str], tmp_path: Path) -> None:
    code, _, err = _run("--lot", "NOPE", "--out", str(tmp_path / "out"), *cli_db)
    assert code == 2
    assert err.startswith("error: the database has no lot 'NOPE'; its lots are: LOT-0001")


@pytest.fixture
def compared(sqlite_store: Engine, cli_db: list[str], tmp_path: Path) -> tuple[dict, str]:
    """LOT-0001 and LOT-0002 (dry thickness 0.5 um higher) compared: compare.json and .html."""
    store_lot(sqlite_store, load_config(write_config(tmp_path)).config, "LOT-0002",
              start=T0 + timedelta(hours=1), seed=2, shift={"dry_thickness_um": 0.5})  # fmt: skip
    out = tmp_path / "cmp"
    code, stdout, _ = _run("--compare", "LOT-0001", "LOT-0002", "--out", str(out), *cli_db)
    assert code == 0 and stdout.startswith("compared 2 lots")
    return json.loads((out / "compare.json").read_text()), (out / "compare.html").read_text()


def test_compare_shows_lots_side_by_side(compared: tuple[dict, str]) -> None:
    document, html = compared
    lots = document["lots"]
    assert [lot["lot"] for lot in lots] == ["LOT-0001", "LOT-0002"]
    means = [lot["characteristics"]["tag:dry_thickness_um"]["mean"] for lot in lots]
    assert means[1] - means[0] == pytest.approx(0.5, abs=0.1)
    assert "LOT-0001" in html and "LOT-0002" in html and "dry_thickness_um" in html


def test_compare_gives_the_spread_of_lot_means_as_a_share_of_the_tolerance(
    compared: tuple[dict, str],
) -> None:
    document, _ = compared
    rows = [lot["characteristics"]["tag:dry_thickness_um"] for lot in document["lots"]]
    between = document["between_lots"]["tag:dry_thickness_um"]
    spread = abs(rows[1]["mean"] - rows[0]["mean"])
    assert between["mean_spread"] == pytest.approx(spread, rel=1e-12)
    # spec 47 .. 53 um: a tolerance of 6 um
    assert between["spread_pct_of_tolerance"] == pytest.approx(100 * spread / 6, rel=1e-12)
    assert between["spec_differs"] is False


def test_compare_tests_the_lot_means_by_a_one_way_anova(compared: tuple[dict, str]) -> None:
    document, _ = compared
    rows = [lot["characteristics"]["tag:dry_thickness_um"] for lot in document["lots"]]
    expected = spc.oneway_anova_from_summary(
        [r["mean"] for r in rows], [r["std"] for r in rows], [r["n"] for r in rows]
    )
    anova = document["between_lots"]["tag:dry_thickness_um"]["anova"]
    assert anova == pytest.approx(expected.to_dict(), rel=1e-12)
    assert anova["p_value"] < 1e-6  # 0.5 um apart at sigma 0.5 with 600 values a lot


def test_compare_takes_the_lots_after_one_option() -> None:
    assert expand_compare(["--compare", "A", "B", "--out", "x"]) == [
        "--compare", "A", "--compare", "B", "--out", "x",
    ]  # fmt: skip
    assert expand_compare(["--compare", "--out", "x"]) == ["--compare", "--out", "x"]
    assert expand_compare(["sign", "--report", "1"]) == ["sign", "--report", "1"]

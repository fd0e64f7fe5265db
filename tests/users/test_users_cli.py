"""`plantqc users add|disable|reset-password|list` as an administrator runs them."""

from __future__ import annotations

import getpass
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from plantqc.cli import app
from plantqc.cli.users_cmd import _read_password
from plantqc.errors import UserError
from plantqc.store import connect
from plantqc.users import AuthenticationError, authenticate

runner = CliRunner()
PASSWORD = "correct horse battery"
FULL = "--full-name=Quinn Mallory"


def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, list(args), input=stdin)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A database not yet created: the commands migrate it first."""
    return f"sqlite:///{tmp_path / 'plant.db'}"


def test_add_with_password_stdin_then_list_json_shows_the_user_without_a_hash(db: str) -> None:
    code, output = run(
        "users", "add", "Quinn", "--role", "quality", FULL, "--password-stdin", "--db", db,
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert (code, output.strip()) == (0, "user quinn (Quinn Mallory) added (quality)")
    code, output = run("users", "list", "--json", "--db", db)
    [user] = json.loads(output)
    assert (code, user["name"], user["full_name"], user["role"], user["disabled"]) == (
        0,
        "quinn",
        "Quinn Mallory",
        "quality",
        False,
    )
    assert "password_hash" not in user and "$argon2" not in output


def test_add_needs_the_full_name_its_signatures_show(db: str) -> None:
    code, output = run(
        "users", "add", "quinn", "--role", "quality", "--password-stdin", "--db", db,
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert code == 2 and "Missing option '--full-name'" in output


def test_list_shows_the_full_name(db: str) -> None:
    add = ("users", "add", "quinn", "--role", "quality", FULL, "--password-stdin", "--db", db)
    assert run(*add, stdin=PASSWORD + "\n")[0] == 0
    code, output = run("users", "list", "--db", db)
    assert code == 0 and "full name" in output and "Quinn Mallory" in output


def test_add_without_password_stdin_when_stdin_is_not_a_terminal_is_refused(db: str) -> None:
    code, output = run("users", "add", "quinn", "--role", "quality", FULL, "--db", db, stdin="")
    assert code == 2
    assert output.strip() == (
        "error: standard input is not a terminal: give the password there with --password-stdin."
    )


def test_add_with_a_short_password_is_one_sentence_and_exit_2(db: str) -> None:
    code, output = run(
        "users", "add", "quinn", "--role", "quality", FULL, "--password-stdin", "--db", db,
        stdin="too short\n",
    )  # fmt: skip
    assert (code, output.strip()) == (
        2,
        "error: a password needs at least 12 characters; this one has 9.",
    )


def test_add_with_an_unknown_role_is_one_sentence_and_exit_2(db: str) -> None:
    code, output = run(
        "users", "add", "quinn", "--role", "boss", FULL, "--password-stdin", "--db", db,
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert (code, output.strip()) == (
        2,
        "error: role 'boss' is not one of operator, quality, admin.",
    )


def test_reset_password_from_stdin_replaces_the_password(db: str) -> None:
    new = "a brand new passphrase"
    add = ("users", "add", "quinn", "--role", "quality", FULL, "--password-stdin", "--db", db)
    assert run(*add, stdin=PASSWORD + "\n")[0] == 0
    assert (
        run("users", "reset-password", "quinn", "--password-stdin", "--db", db, stdin=new)[0] == 0
    )
    engine = connect(db)
    try:
        assert authenticate(engine, "quinn", new, datetime.now(UTC)).name == "quinn"
    finally:
        engine.dispose()


def test_a_disabled_user_cannot_log_in(db: str) -> None:
    add = ("users", "add", "quinn", "--role", "quality", FULL, "--password-stdin", "--db", db)
    assert run(*add, stdin=PASSWORD + "\n")[0] == 0
    assert run("users", "disable", "quinn", "--user", "root", "--db", db) == (
        0,
        "user quinn disabled\n",
    )
    engine = connect(db)
    try:
        with pytest.raises(AuthenticationError, match="disabled"):
            authenticate(engine, "quinn", PASSWORD, datetime.now(UTC))
    finally:
        engine.dispose()


def test_disabling_an_unknown_user_is_one_sentence_and_exit_2(db: str) -> None:
    code, output = run("users", "disable", "nobody", "--user", "root", "--db", db)
    assert (code, output.strip()) == (2, "error: no user 'nobody' (see `plantqc users list`).")


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_at_a_terminal_the_password_is_typed_twice_and_must_match(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    typed = iter([PASSWORD, PASSWORD + "!"])
    monkeypatch.setattr(getpass, "getpass", lambda prompt: next(typed))
    with pytest.raises(UserError, match=r"^the two passwords differ\.$"):
        _read_password(False, _Terminal())

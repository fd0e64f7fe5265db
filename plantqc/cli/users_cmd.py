"""`plantqc users add|disable|reset-password|list`: the accounts of the console and the CLI."""

from __future__ import annotations

import getpass
import json
from typing import Annotated, TextIO

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from plantqc.cli.options import ConfigOption, DbOption, open_store
from plantqc.cli.signing import ask_password
from plantqc.errors import UserError

app = typer.Typer(help="Add, disable and list users; reset their passwords.", no_args_is_help=True)
console = Console(highlight=False, soft_wrap=True)

NameArgument = Annotated[str, typer.Argument(help="User name (case is ignored).")]
PasswordStdinOption = Annotated[
    bool,
    typer.Option(
        "--password-stdin", help="Read the password from standard input (its first line)."
    ),
]
ByOption = Annotated[str, typer.Option("--user", help="Who does it (recorded in the audit log).")]
ByDefaultOption = Annotated[
    str | None,
    typer.Option(
        "--user",
        help="Who does it (recorded in the audit log); default: your login name.",
        show_default=False,
    ),
]


def _by(user: str | None) -> str:
    """Who does it, for the audit log: ``--user``, else the operating-system account."""
    return user or getpass.getuser()


def _read_password(from_stdin: bool, stdin: TextIO | None = None) -> str:
    """The new password: the first line of standard input, or typed twice at a terminal."""
    first = ask_password(from_stdin, stdin)
    if not from_stdin and getpass.getpass("Password again: ") != first:
        raise UserError("the two passwords differ.")
    return first


@app.command("add")
def add(
    name: NameArgument,
    role: Annotated[str, typer.Option("--role", help="operator, quality or admin.")],
    full_name: Annotated[
        str,
        typer.Option(
            "--full-name",
            help='The printed name their electronic signatures show, e.g. "Ada Lovelace".',
        ),
    ],
    password_stdin: PasswordStdinOption = False,
    user: ByDefaultOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Add a user with a role, a full name and a password of at least 12 characters."""
    from plantqc.users import add_user

    password = _read_password(password_stdin)
    engine, _ = open_store(db, config)
    try:
        added = add_user(engine, name, role, password, by=_by(user), full_name=full_name)
    finally:
        engine.dispose()
    console.print(f"user {added.name} ({added.full_name}) added ({added.role})", markup=False)


@app.command("disable")
def disable(
    name: NameArgument,
    user: ByOption,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Disable a user: they can no longer log in; their history stays."""
    from plantqc.users import disable_user

    engine, _ = open_store(db, config)
    try:
        disable_user(engine, name, by=user)
    finally:
        engine.dispose()
    console.print(f"user {name.lower()} disabled")


@app.command("reset-password")
def reset(
    name: NameArgument,
    password_stdin: PasswordStdinOption = False,
    user: ByDefaultOption = None,
    db: DbOption = None,
    config: ConfigOption = None,
) -> None:
    """Give a user a new password (and release them from a lockout)."""
    from plantqc.users import reset_password

    password = _read_password(password_stdin)
    engine, _ = open_store(db, config)
    try:
        reset_password(engine, name, password, by=_by(user))
    finally:
        engine.dispose()
    console.print(f"password of {name.lower()} reset")


@app.command("list")
def list_(
    db: DbOption = None,
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Every user with role and state (never a password hash)."""
    from plantqc.users import list_users

    engine, _ = open_store(db, config)
    try:
        users = list_users(engine)
    finally:
        engine.dispose()
    if as_json:
        typer.echo(json.dumps([u.as_dict() for u in users], indent=1))
        return
    table = Table(title=f"{len(users)} user(s)", title_justify="left")
    for column in ("name", "full name", "role", "state", "failed logins", "password changed"):
        table.add_column(column)
    for u in users:
        state = "disabled" if u.disabled else "enabled"
        if u.locked_until is not None:
            state += f", locked until {u.locked_until.isoformat(timespec='seconds')}"
        table.add_row(
            u.name, Text(u.full_name), u.role, state, str(u.failed_logins),
            u.password_changed_at.isoformat(timespec="seconds"),
        )  # fmt: skip
    console.print(table)

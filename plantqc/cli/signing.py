"""What every command that signs electronically asks of its signer, and how it refuses them.

``plantqc report sign`` and ``plantqc limits freeze`` both take the signer's user name and
password (21 CFR Part 11 §11.200: both components at a signing outside a continuous session):
the name from ``--user`` or asked at a terminal, the password typed hidden at a terminal or,
for a script, the first line of standard input with ``--password-stdin``.  Without a terminal
nothing is asked: a script that gave neither is told so in one sentence rather than waiting on
a prompt no one sees.  A signature refused for its credentials exits 1, as a failed login does,
so that a script tells it from a mistake in its arguments (exit 2).
"""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, TextIO

import typer

from plantqc.cli.app import stderr
from plantqc.errors import UserError

if TYPE_CHECKING:  # the accounts (argon2, the store) are loaded by the commands that sign
    from plantqc.users import Credentials

SignerOption = Annotated[
    str | None,
    typer.Option(
        "--user",
        help="Who signs (default: asked); authenticated by their password all the same.",
        show_default=False,
    ),
]
PasswordStdinOption = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="Read the signer's password from standard input (its first line).",
    ),
]


def ask_signer(user: str | None, stdin: TextIO | None = None) -> str:
    """Who signs: ``user`` (``--user``), else asked at the terminal; a blank name is refused
    before any password is read (it can be no one's account)."""
    stdin = stdin or sys.stdin
    if user is None:
        if not stdin.isatty():
            raise UserError(
                "standard input is not a terminal: give who signs with --user NAME "
                "(and the password with --password-stdin)."
            )
        user = str(typer.prompt("User name"))
    if not user.strip():
        raise UserError("signing needs the user name of who signs, not a blank one.")
    return user


def ask_password(from_stdin: bool, stdin: TextIO | None = None) -> str:
    """The signer's password: the first line of standard input, or typed hidden at a terminal."""
    stdin = stdin or sys.stdin
    if from_stdin:
        return stdin.readline().rstrip("\r\n")
    if not stdin.isatty():
        raise UserError(
            "standard input is not a terminal: give the password there with --password-stdin."
        )
    return getpass.getpass("Password: ")


def ask_credentials(
    user: str | None, password_stdin: bool, stdin: TextIO | None = None
) -> Credentials:
    """The signer's user name (`ask_signer`) and password (`ask_password`), asked in that order
    before the command does any work, so that a script lacking them fails at once."""
    from plantqc.users import Credentials

    name = ask_signer(user, stdin)
    return Credentials(name, ask_password(password_stdin, stdin))


@contextmanager
def refused_signature() -> Iterator[None]:
    """A signature refused for its credentials (`plantqc.users.AuthenticationError`, e.g. a
    wrong password, which counts toward the lockout) in the block: its sentence on standard
    error and exit status 1."""
    from plantqc.users import AuthenticationError

    try:
        yield
    except AuthenticationError as refused:
        stderr.print(f"[bold red]error:[/] {refused}", markup=True)
        raise typer.Exit(code=1) from None

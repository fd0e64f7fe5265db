"""Root of the `plantqc` command: wires the sub-commands and turns user errors into one sentence."""

from __future__ import annotations

import sys
from typing import Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from plantqc.errors import UserError
from spc import SPCInputError
from vision import ImageError

# Errors a user can cause; anything else is a bug and keeps its traceback.
USER_ERRORS: tuple[type[Exception], ...] = (UserError, SPCInputError, ImageError)

stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def report_user_error(exc: Exception) -> typer.Exit:
    """Print ``exc`` as one line on stderr and return the exit that ends the command."""
    stderr.print(f"[bold red]error:[/] {exc}", markup=True)
    return typer.Exit(code=2)


class _UserErrorGroup(TyperGroup):
    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except USER_ERRORS as exc:
            raise report_user_error(exc) from None


app = typer.Typer(
    cls=_UserErrorGroup,
    name="plantqc",
    help="Process and quality control for solid-electrolyte film lines.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def main() -> None:
    """Console-script entry point."""
    sys.exit(app())

"""Root of the `plantqc` command: loads sub-commands on demand, turns user errors into one sentence.

Command groups are imported only when they run, so `plantqc run` (the edge daemon) does not
carry scipy, statsmodels, OpenCV or the Grafana SDK in its memory.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import typer
from rich.console import Console
from typer.core import TyperGroup

from plantqc.errors import UserError

# Errors a user can cause, by module: the library ones count only once their module is
# loaded (an exception of a class never imported cannot have been raised).
_LIBRARY_USER_ERRORS = (("spc.errors", "SPCInputError"), ("vision.errors", "ImageError"))

# command name -> (module, attribute): a typer app, or a function that is a single command
LAZY_COMMANDS: dict[str, tuple[str, str]] = {}

stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def is_user_error(exc: BaseException) -> bool:
    """Whether ``exc`` is a mistake of the user's (shown as one sentence) rather than a bug."""
    if isinstance(exc, UserError):
        return True
    for module_name, class_name in _LIBRARY_USER_ERRORS:
        module = sys.modules.get(module_name)
        if module is not None and isinstance(exc, getattr(module, class_name)):
            return True
    return False


def _load(name: str) -> Any:
    module_name, attribute = LAZY_COMMANDS[name]
    target = getattr(importlib.import_module(module_name), attribute)
    if isinstance(target, typer.Typer):
        # a group even when it has one sub-command, so `config check` stays `config check`
        return typer.main.get_group(target)
    single = typer.Typer()
    single.command(name)(target)
    return typer.main.get_command(single)


class _RootGroup(TyperGroup):
    def list_commands(self, ctx: typer.Context) -> list[str]:
        return [*super().list_commands(ctx), *LAZY_COMMANDS]

    def get_command(self, ctx: typer.Context, cmd_name: str) -> Any:
        if cmd_name in LAZY_COMMANDS and cmd_name not in self.commands:
            command = _load(cmd_name)
            command.name = cmd_name
            self.commands[cmd_name] = command
        return super().get_command(ctx, cmd_name)

    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            if not is_user_error(exc):
                raise
            stderr.print(f"[bold red]error:[/] {exc}", markup=True)
            raise typer.Exit(code=2) from None


app = typer.Typer(
    cls=_RootGroup,
    name="plantqc",
    help="Process and quality control for solid-electrolyte film lines.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if value:
        from plantqc import __version__

        typer.echo(f"plantqc {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Process and quality control for solid-electrolyte film lines."""


def main() -> None:
    """Console-script entry point."""
    sys.exit(app())

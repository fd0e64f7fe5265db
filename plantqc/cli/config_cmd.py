"""`plantqc config ...`: validate plant configuration files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from plantqc.config import load_config

app = typer.Typer(help="Check plant configuration files.", no_args_is_help=True)
console = Console(highlight=False, soft_wrap=True)


@app.command("check")
def check(
    files: Annotated[list[Path], typer.Argument(help="Config YAML files to validate.")],
) -> None:
    """Validate each file; the first problem ends the command with its file, line and field."""
    for path in files:
        config = load_config(path).config
        tags = sum(len(line.tags) for line in config.lines)
        console.print(
            f"{path}: ok — site {config.plant.site}, {len(config.lines)} line(s), {tags} tag(s), "
            f"{len(config.products)} product(s), {len(config.images)} image input(s)"
        )

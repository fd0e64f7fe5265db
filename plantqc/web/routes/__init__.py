"""The console's routes, one module per area: each module's ``routes(console)`` returns its
`fastapi.APIRouter`, and `plantqc.web.app.create_app` includes every module found here, so an
area is added by adding its module."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator

from fastapi import APIRouter

from plantqc.web.console import Console


def routers(console: Console) -> Iterator[APIRouter]:
    """The router of every route module, by module name."""
    for module in sorted(m.name for m in pkgutil.iter_modules(__path__)):
        yield importlib.import_module(f"{__name__}.{module}").routes(console)

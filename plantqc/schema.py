"""Building blocks of every settings model: the plant config and each plugin's own section.

A plugin (connector, store backend, notifier, image analysis) defines its settings beside its
code on `SettingsModel`, so that an unknown field is an error and a loaded config cannot be
changed; `plantqc.config` composes them into the plant config.  Secrets are never in the YAML:
a field ending in ``_env`` names an environment variable, read with `env_secret`.
"""

from __future__ import annotations

import os
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from plantqc.errors import UserError

Name = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_.-]*$", max_length=64)]
"""A name of the config (line, tag, product, image input): a letter, then letters, digits,
``_ . -``."""
EnvVarName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
"""The name of an environment variable that holds a secret (fields ending in ``_env``)."""


class SettingsModel(BaseModel):
    """A config section: unknown fields refused, frozen once loaded, aliases or names."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def env_secret(variable: str, field: str) -> str:
    """Value of environment variable ``variable``, named by config field ``field``."""
    value = os.environ.get(variable)
    if value is None:
        raise UserError(f"environment variable {variable} (named by {field}) is not set.")
    return value

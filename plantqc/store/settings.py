"""Settings of the store backend: the plant config's ``storage:`` section.

SQLite (embedded default) or PostgreSQL, by SQLAlchemy URL (`plantqc.store.db` checks and
opens it).  Pydantic only, so that reading a config never imports SQLAlchemy.  The sample
section is ``plantqc/store/samples/storage.yaml``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Self

from pydantic import model_validator

from plantqc.schema import EnvVarName, SettingsModel, env_secret

DEFAULT_URL = "sqlite:///plantqc.db"
"""The store of a config without ``storage:``: a SQLite file beside the config."""
_SQLITE = "sqlite:///"


class Storage(SettingsModel):
    """Where samples go: a SQLAlchemy URL, given directly or through an environment variable."""

    url: str | None = None
    url_env: EnvVarName | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if self.url is not None and self.url_env is not None:
            raise ValueError("give url or url_env, not both")
        return self

    def resolved_url(self, base_dir: Path) -> str:
        """The database URL: read from the environment when ``url_env`` names a variable; a
        relative SQLite path taken from ``base_dir`` (the config file's folder)."""
        if self.url_env is not None:
            return env_secret(self.url_env, "storage.url_env")
        url = self.url or DEFAULT_URL
        relative = url.removeprefix(_SQLITE)
        if url.startswith(_SQLITE) and relative and relative[0] != "/" and relative != ":memory:":
            return _SQLITE + str((base_dir / relative).resolve())
        return url

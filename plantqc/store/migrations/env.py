"""Alembic environment: runs on the connection handed over by `plantqc.store.migrate`.

The revisions in ``versions/`` hold literals and import nothing from plantqc; only this file
reads the models, as the metadata that autogenerate and the schema test compare against.
"""

from alembic import context

import plantqc.store.engine_state  # noqa: F401  (registers EngineState on Base.metadata)
from plantqc.store.models import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()

"""Grafana's read-only access: the group role, its grants and an optional login.

Migration 0002 creates the NOLOGIN role ``plantqc_grafana_ro`` when the migrating user may
create roles; `grant_grafana` does it later with an administrator's connection and adds the
LOGIN user Grafana's datasource connects as.
"""

from __future__ import annotations

import re

from psycopg import sql as pgsql
from sqlalchemy import Engine

from plantqc.errors import UserError

READ_ONLY_ROLE = "plantqc_grafana_ro"
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def grafana_schema(store_schema: str) -> str:
    """Name of the schema holding the Grafana objects of a store living in ``store_schema``."""
    return "grafana" if store_schema == "public" else f"{store_schema}_grafana"


def grant_statements(schema: str, role: str = READ_ONLY_ROLE) -> list[str]:
    """SQL giving ``role`` read access to ``schema`` and nothing else."""
    return [
        f"GRANT USAGE ON SCHEMA {schema} TO {role}",
        f"GRANT SELECT ON ALL TABLES IN SCHEMA {schema} TO {role}",
    ]


def grant_grafana(engine: Engine, login: str | None = None, password: str | None = None) -> str:
    """Create the read-only role (and ``login`` as a member of it); return the schema granted.

    The login also gets ``default_transaction_read_only``, a second guard beside the grants.
    """
    if engine.dialect.name != "postgresql":
        raise UserError("Grafana access is granted on PostgreSQL; this store is SQLite.")
    if login is not None and not _ROLE_NAME.match(login):
        raise UserError(f"login {login!r} is not a plain lower-case PostgreSQL role name.")
    if login is not None and not password:
        raise UserError(f"login {login!r} needs a password.")
    with engine.begin() as connection:
        schema = grafana_schema(connection.exec_driver_sql("SELECT current_schema()").scalar_one())
        if (
            connection.exec_driver_sql(
                "SELECT 1 FROM pg_namespace WHERE nspname = %(s)s", {"s": schema}
            ).first()
            is None
        ):
            raise UserError(f"schema {schema} is missing; run `plantqc db upgrade` first.")
        exists = "SELECT 1 FROM pg_roles WHERE rolname = %(r)s"
        if connection.exec_driver_sql(exists, {"r": READ_ONLY_ROLE}).first() is None:
            connection.exec_driver_sql(f"CREATE ROLE {READ_ONLY_ROLE} NOLOGIN")
        for statement in grant_statements(schema):
            connection.exec_driver_sql(statement)
        if login is None:
            return schema
        verb = "ALTER" if connection.exec_driver_sql(exists, {"r": login}).first() else "CREATE"
        driver = connection.connection.driver_connection
        assert driver is not None
        with driver.cursor() as cursor:
            cursor.execute(
                pgsql.SQL("{} ROLE {} LOGIN PASSWORD {}").format(
                    pgsql.SQL(verb), pgsql.Identifier(login), pgsql.Literal(password)
                )
            )
        connection.exec_driver_sql(f"GRANT {READ_ONLY_ROLE} TO {login}")
        connection.exec_driver_sql(f"ALTER ROLE {login} SET default_transaction_read_only = on")
    return schema

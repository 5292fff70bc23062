"""Alembic environment: the same database resolution as every edgar-insider command.

The URL comes from ``config.attributes["database_url"]`` (set by ``ingest.db``), else
from ``ingest.db.resolve()`` (DATABASE_URL or the embedded server). It is never put in
the ini file nor logged.
"""

from __future__ import annotations

import logging
from logging.config import fileConfig

from alembic import context
from sqlalchemy import create_engine, pool

from ingest import db
from models.schema import metadata

config = context.config

# Only when run by the `alembic` command itself: `edgar-insider migrate` keeps its own
# logging setup (the ini's handlers would double every line).
if config.config_file_name is not None and not config.attributes.get("database_url"):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = metadata
log = logging.getLogger("alembic.env")

MIGRATION_LOCK_KEY = 0x6564676172  # "edgar": arbitrary, fixed advisory-lock key


def _url() -> str:
    return config.attributes.get("database_url") or db.resolve().url


def run_migrations_offline() -> None:
    """Emit SQL to stdout (``alembic upgrade head --sql``) without connecting."""
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = _url()
    log.info("migrating %s", db.mask_url(url))
    engine = create_engine(url, poolclass=pool.NullPool)
    try:
        with engine.connect() as connection:
            context.configure(connection=connection, target_metadata=target_metadata)
            with context.begin_transaction():
                # Two commands starting at once on a fresh database must not both create
                # the tables: the second waits here, then finds the schema at head.
                connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
                context.run_migrations()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()

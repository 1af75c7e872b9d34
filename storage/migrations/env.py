"""Alembic environment. The bot always hands Alembic an open connection (storage.migrate), so
migrations run inside the bot's event loop on the same async driver as everything else."""

from alembic import context

from storage.tables import Base

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `producer-bot db upgrade`")

# render_as_batch: SQLite cannot ALTER most things in place; batch mode copies the table.
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True,
                  compare_type=True)
with context.begin_transaction():
    context.run_migrations()

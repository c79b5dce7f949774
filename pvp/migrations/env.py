"""Alembic environment: runs against the engine PVP hands over (never a URL in a file)."""

from alembic import context

from pvp.model import Base

engine = context.config.attributes["engine"]

with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
        compare_type=True,
    )
    context.run_migrations()

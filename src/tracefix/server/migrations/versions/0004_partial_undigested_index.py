"""the undigested events' index holds only them

Revision ID: 0004
Revises: 0003

The digest takes undigested events in id order. Its index was ``(digested, id)`` over every
event, so each event the intake files in its open issue, most of them under load, added an
entry the digest never reads: one more index page written and flushed with the intake's
commit. It is now an index of ``id`` over the undigested events only, whose condition is the
one the digest's queries say (SQLAlchemy writes ``digested IS 0`` on SQLite and ``digested IS
false`` on PostgreSQL, and SQLite uses a partial index only for a query that repeats its
condition).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_event_undigested", table_name="event")
    op.create_index(
        "ix_event_undigested",
        "event",
        ["id"],
        sqlite_where=sa.text("digested IS 0"),
        postgresql_where=sa.text("digested IS false"),
    )


def downgrade() -> None:
    op.drop_index("ix_event_undigested", table_name="event")
    op.create_index("ix_event_undigested", "event", ["digested", "id"])

"""A fill is identified by venue, instrument, trade id and client order id.

A trade between two of our own orders is two fills with one venue trade id;
the old unique key (venue, instrument_id, trade_id) kept only one of them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD = ["venue", "instrument_id", "trade_id"]
NEW = ["venue", "instrument_id", "trade_id", "client_order_id"]


def upgrade() -> None:
    with op.batch_alter_table("fills") as batch:  # SQLite rebuilds the table; PostgreSQL alters it
        batch.drop_constraint("uq_fills_venue_instrument_id_trade_id", type_="unique")
        batch.create_unique_constraint("uq_fills_venue_instrument_id_trade_id_client_order_id", NEW)


def downgrade() -> None:
    """Fails if two stored fills share a trade id (self-trades): they cannot be told apart under the old key."""
    with op.batch_alter_table("fills") as batch:
        batch.drop_constraint("uq_fills_venue_instrument_id_trade_id_client_order_id", type_="unique")
        batch.create_unique_constraint("uq_fills_venue_instrument_id_trade_id", OLD)

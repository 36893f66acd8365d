"""Initial tables: instruments, orders, fills, positions, pnl_snapshots, runs, data_quality.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the schema's types, so that this migration never changes when schema.py does.
# ExactDecimal: NUMERIC without precision limit on PostgreSQL, text on SQLite.
EXACT_DECIMAL = sa.Text().with_variant(postgresql.NUMERIC(), "postgresql")
SURROGATE_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "instruments",
        sa.Column("instrument_id", sa.Text(), nullable=False),
        sa.Column("venue", sa.Text(), nullable=False),
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("base", sa.Text(), nullable=False),
        sa.Column("quote", sa.Text(), nullable=False),
        sa.Column("settle", sa.Text(), nullable=False),
        sa.Column("price_increment", EXACT_DECIMAL, nullable=False),
        sa.Column("size_increment", EXACT_DECIMAL, nullable=False),
        sa.Column("lot_size", EXACT_DECIMAL, nullable=True),
        sa.Column("min_quantity", EXACT_DECIMAL, nullable=True),
        sa.Column("min_notional", EXACT_DECIMAL, nullable=False),
        sa.Column("maker_fee", EXACT_DECIMAL, nullable=False),
        sa.Column("taker_fee", EXACT_DECIMAL, nullable=False),
        sa.Column("contract_size", EXACT_DECIMAL, nullable=False),
        sa.PrimaryKeyConstraint("instrument_id", name=op.f("pk_instruments")),
    )

    op.create_table(
        "orders",
        sa.Column("account_id", sa.Text(), nullable=False),
        sa.Column("client_order_id", sa.Text(), nullable=False),
        sa.Column("instrument_id", sa.Text(), nullable=False),
        sa.Column("side", sa.Text(), nullable=False),
        sa.Column("order_type", sa.Text(), nullable=False),
        sa.Column("quantity_lots", sa.BigInteger(), nullable=False),
        sa.Column("price_ticks", sa.BigInteger(), nullable=True),
        sa.Column("trigger_ticks", sa.BigInteger(), nullable=True),
        sa.Column("time_in_force", sa.Text(), nullable=False),
        sa.Column("reduce_only", sa.Boolean(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("filled_lots", sa.BigInteger(), nullable=False),
        sa.Column("venue_order_id", sa.Text(), nullable=True),
        sa.Column("strategy_id", sa.Text(), nullable=False),
        sa.Column("ts_init", sa.BigInteger(), nullable=False),
        sa.Column("ts_last", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "client_order_id", name=op.f("pk_orders")),
    )
    op.create_index(op.f("ix_orders_status_account_id"), "orders", ["status", "account_id"])
    op.create_index(op.f("ix_orders_instrument_id"), "orders", ["instrument_id"])

    op.create_table(
        "fills",
        sa.Column("id", SURROGATE_ID, autoincrement=True, nullable=False),
        sa.Column("venue", sa.Text(), nullable=False),
        sa.Column("instrument_id", sa.Text(), nullable=False),
        sa.Column("trade_id", sa.Text(), nullable=False),
        sa.Column("account_id", sa.Text(), nullable=False),
        sa.Column("client_order_id", sa.Text(), nullable=False),
        sa.Column("venue_order_id", sa.Text(), nullable=False),
        sa.Column("side", sa.Text(), nullable=False),
        sa.Column("price_ticks", sa.BigInteger(), nullable=False),
        sa.Column("size_lots", sa.BigInteger(), nullable=False),
        sa.Column("liquidity", sa.Text(), nullable=False),
        sa.Column("fee", EXACT_DECIMAL, nullable=False),
        sa.Column("fee_currency", sa.Text(), nullable=False),
        sa.Column("ts_event", sa.BigInteger(), nullable=False),
        sa.Column("ts_recv", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fills")),
        sa.UniqueConstraint("venue", "instrument_id", "trade_id", name=op.f("uq_fills_venue_instrument_id_trade_id")),
    )
    op.create_index(op.f("ix_fills_account_id_ts_event"), "fills", ["account_id", "ts_event"])
    op.create_index(op.f("ix_fills_account_id_client_order_id"), "fills", ["account_id", "client_order_id"])

    op.create_table(
        "positions",
        sa.Column("account_id", sa.Text(), nullable=False),
        sa.Column("instrument_id", sa.Text(), nullable=False),
        sa.Column("net_lots", sa.BigInteger(), nullable=False),
        sa.Column("avg_entry", EXACT_DECIMAL, nullable=False),
        sa.Column("realised_pnl", EXACT_DECIMAL, nullable=False),
        sa.Column("fees", EXACT_DECIMAL, nullable=False),
        sa.Column("ts_last", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_id", "instrument_id", name=op.f("pk_positions")),
    )

    op.create_table(
        "pnl_snapshots",
        sa.Column("account_id", sa.Text(), nullable=False),
        sa.Column("instrument_id", sa.Text(), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("realised", EXACT_DECIMAL, nullable=False),
        sa.Column("unrealised", EXACT_DECIMAL, nullable=False),
        sa.Column("fees", EXACT_DECIMAL, nullable=False),
        sa.Column("mark", EXACT_DECIMAL, nullable=True),
        sa.PrimaryKeyConstraint("account_id", "instrument_id", "ts", name=op.f("pk_pnl_snapshots")),
    )
    op.create_index(op.f("ix_pnl_snapshots_ts"), "pnl_snapshots", ["ts"])

    op.create_table(
        "runs",
        sa.Column("run_id", sa.Text(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("ts_started", sa.BigInteger(), nullable=False),
        sa.Column("ts_finished", sa.BigInteger(), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_runs")),
    )
    op.create_index(op.f("ix_runs_kind_ts_started"), "runs", ["kind", "ts_started"])

    op.create_table(
        "data_quality",
        sa.Column("dataset", sa.Text(), nullable=False),
        sa.Column("venue", sa.Text(), nullable=False),
        sa.Column("symbol", sa.Text(), nullable=False),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("rows", sa.BigInteger(), nullable=False),
        sa.Column("rejects", sa.BigInteger(), nullable=False),
        sa.Column("gaps", sa.BigInteger(), nullable=False),
        sa.Column("crossed", sa.BigInteger(), nullable=False),
        sa.Column("ts_checked", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("dataset", "venue", "symbol", "date", "source", name=op.f("pk_data_quality")),
    )


def downgrade() -> None:
    # Indexes go with their tables.
    for table in ("data_quality", "runs", "pnl_snapshots", "positions", "fills", "orders", "instruments"):
        op.drop_table(table)

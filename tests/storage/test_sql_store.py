"""The SQL store keeps orders, fills, positions, PnL, runs and data quality exactly, on SQLite and PostgreSQL.

Every test takes ``sql_url`` and so runs twice: on a fresh SQLite file and on a
fresh database of the session's throwaway PostgreSQL 15 cluster.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from jtrader.config import load_settings
from jtrader.domain import (
    Fill,
    Instrument,
    InstrumentId,
    InstrumentKind,
    LiquiditySide,
    Order,
    OrderStatus,
    OrderType,
    Position,
    Price,
    Quantity,
    Side,
    TimeInForce,
    Venue,
)
from jtrader.storage.sql import (
    ConflictError,
    DataQualityRecord,
    InvalidRecord,
    PnlSnapshot,
    RunStatus,
    SqlStore,
    StoreError,
    StoreUnavailable,
    UnknownRun,
)

BTC = InstrumentId("BTCUSDT", Venue.BINANCE_USDM)
ETH = InstrumentId("ETHUSDT", Venue.BINANCE_USDM)
XBT = InstrumentId("XBTUSD", Venue.BITMEX)
TS = 1_723_161_255_123_456_789  # 2024-08-08T23:54:15.123456789Z in ns: beyond 32 and 53 bits
LONG_FEE = Decimal("0.001515151515151515151515151520")


@pytest.fixture
def store(sql_url: str) -> Iterator[SqlStore]:
    with SqlStore(sql_url) as opened:
        yield opened


def btc_perp() -> Instrument:
    return Instrument(
        BTC,
        InstrumentKind.LINEAR_PERPETUAL,
        "BTC",
        "USDT",
        "USDT",
        Price("0.10"),
        Quantity("0.001"),
        lot_size=Quantity("0.010"),
        min_quantity=Quantity("0.001"),
        min_notional=Decimal("100"),
        maker_fee=Decimal("-0.00005"),
        taker_fee=Decimal("0.0004"),
    )


def xbt_inverse() -> Instrument:
    return Instrument(
        XBT,
        InstrumentKind.INVERSE_PERPETUAL,
        "XBT",
        "USD",
        "XBT",
        Price("0.5"),
        Quantity("1"),
        contract_size=Decimal("1"),
    )


def order(client_order_id: str = "c1", **changes: object) -> Order:
    fields: dict[str, object] = {
        "client_order_id": client_order_id,
        "instrument_id": BTC,
        "side": Side.BUY,
        "order_type": OrderType.LIMIT,
        "quantity_lots": 5,
        "price_ticks": 618_003,
        "account_id": "acct-1",
        "strategy_id": "mm",
        "ts_init": TS,
        "ts_last": TS,
    }
    fields.update(changes)
    return Order(**fields)  # type: ignore[arg-type]


def fill(trade_id: str = "t1", **changes: object) -> Fill:
    fields: dict[str, object] = {
        "client_order_id": "c1",
        "venue_order_id": "v1",
        "trade_id": trade_id,
        "instrument_id": BTC,
        "side": Side.BUY,
        "price_ticks": 618_003,
        "size_lots": 2,
        "liquidity": LiquiditySide.MAKER,
        "fee": LONG_FEE,
        "fee_currency": "USDT",
        "account_id": "acct-1",
        "ts_event": TS,
        "ts_recv": TS + 1_270_000_000,
    }
    fields.update(changes)
    return Fill(**fields)  # type: ignore[arg-type]


# -- instruments ------------------------------------------------------------------


def test_instrument_round_trips_with_exact_increments_and_fees(store: SqlStore) -> None:
    store.upsert_instrument(btc_perp())

    got = store.get_instrument(BTC)

    assert got == btc_perp()
    assert str(got.price_increment) == "0.10"  # the precision survives, not just the value
    assert str(got.lot_size) == "0.010"
    assert got.maker_fee == Decimal("-0.00005")
    assert got.parse_price_ticks("61800.30") == 618003


def test_upserting_an_instrument_again_replaces_its_definition(store: SqlStore) -> None:
    store.upsert_instrument(btc_perp())
    changed = Instrument(BTC, InstrumentKind.LINEAR_PERPETUAL, "BTC", "USDT", "USDT", Price("0.01"), Quantity("0.0001"))

    store.upsert_instrument(changed)

    assert store.get_instrument(BTC) == changed
    assert len(store.get_instruments()) == 1


def test_get_instruments_filters_by_venue_and_unknown_id_gives_none(store: SqlStore) -> None:
    assert store.upsert_instruments([btc_perp(), xbt_inverse()]) == 2

    assert [i.id for i in store.get_instruments()] == [BTC, XBT]
    assert [i.id for i in store.get_instruments(Venue.BITMEX)] == [XBT]
    assert store.get_instrument(ETH) is None


# -- orders -----------------------------------------------------------------------


def test_order_round_trips_every_field(store: SqlStore) -> None:
    stop = order(
        order_type=OrderType.STOP_LIMIT,
        price_ticks=2**40,
        trigger_ticks=2**40 - 7,
        time_in_force=TimeInForce.IOC,
        reduce_only=True,
        venue_order_id="8389765561029304221",
        status=OrderStatus.PARTIALLY_FILLED,
        filled_lots=3,
        quantity_lots=2**35,
        ts_last=TS + 5,
    )
    store.upsert_order(stop)

    assert store.get_order("c1", "acct-1") == stop


def test_upserting_the_same_order_twice_keeps_one_row_with_the_latest_state(store: SqlStore) -> None:
    store.upsert_order(order())
    filled = order(status=OrderStatus.FILLED, filled_lots=5, venue_order_id="v1", ts_last=TS + 10)

    store.upsert_order(filled)
    store.upsert_order(filled)

    assert store.get_order("c1", "acct-1") == filled
    assert store.open_orders() == []


def test_same_client_order_id_in_two_accounts_is_two_orders(store: SqlStore) -> None:
    store.upsert_orders([order(account_id="acct-1"), order(account_id="acct-2", quantity_lots=9)])

    assert store.get_order("c1", "acct-1").quantity_lots == 5
    assert store.get_order("c1", "acct-2").quantity_lots == 9
    assert store.get_order("c1") is None  # the default account is another account


def test_open_orders_lists_only_new_acked_and_partially_filled_orders(store: SqlStore) -> None:
    for i, status in enumerate(OrderStatus):
        filled = 1 if status in (OrderStatus.PARTIALLY_FILLED, OrderStatus.FILLED) else 0
        store.upsert_order(order(status.value, status=status, filled_lots=filled, ts_init=TS + i))

    open_ids = [o.client_order_id for o in store.open_orders()]

    assert open_ids == ["new", "acked", "partially_filled"]  # oldest first


def test_open_orders_filters_by_account_and_instrument(store: SqlStore) -> None:
    store.upsert_orders(
        [
            order("a-btc", account_id="a"),
            order("a-eth", account_id="a", instrument_id=ETH, ts_init=TS + 1),
            order("b-btc", account_id="b"),
            order("a-done", account_id="a", status=OrderStatus.CANCELLED),
        ]
    )

    assert [o.client_order_id for o in store.open_orders(account="a")] == ["a-btc", "a-eth"]
    assert [o.client_order_id for o in store.open_orders(account="a", instrument=ETH)] == ["a-eth"]
    assert [o.client_order_id for o in store.open_orders(instrument=BTC)] == ["a-btc", "b-btc"]


# -- fills ------------------------------------------------------------------------


def test_inserting_the_same_fill_twice_stores_one_row(store: SqlStore) -> None:
    assert store.insert_fill(fill()) is True

    assert store.insert_fill(fill()) is False

    assert store.fills() == [fill()]


def test_fill_fee_round_trips_exactly(store: SqlStore) -> None:
    store.insert_fill(fill(fee=LONG_FEE))

    (got,) = store.fills()

    assert got.fee == LONG_FEE
    assert str(got.fee) == "0.001515151515151515151515151520"  # trailing zero and all 30 places kept


def test_same_trade_id_on_another_instrument_or_venue_is_another_fill(store: SqlStore) -> None:
    assert store.insert_fill(fill("42"))
    assert store.insert_fill(fill("42", instrument_id=ETH))
    assert store.insert_fill(fill("42", instrument_id=XBT))

    assert len(store.fills()) == 3


def test_a_self_trade_is_two_fills_with_one_trade_id(store: SqlStore) -> None:
    buy = fill("42", client_order_id="c-buy", liquidity=LiquiditySide.TAKER)
    sell = fill("42", client_order_id="c-sell", side=Side.SELL, venue_order_id="v2")

    assert store.insert_fill(buy) and store.insert_fill(sell)
    assert not store.insert_fill(sell)  # still stored once

    assert sorted(f.client_order_id for f in store.fills()) == ["c-buy", "c-sell"]


def test_same_trade_id_with_different_content_raises_conflict_and_keeps_the_first(store: SqlStore) -> None:
    store.insert_fill(fill())

    with pytest.raises(ConflictError, match="t1"):
        store.insert_fill(fill(price_ticks=618_004))

    assert store.fills() == [fill()]


def test_insert_fills_counts_only_new_fills(store: SqlStore) -> None:
    store.insert_fill(fill("t1"))

    assert store.insert_fills([fill("t1"), fill("t2"), fill("t3"), fill("t2")]) == 2

    assert [f.trade_id for f in store.fills()] == ["t1", "t2", "t3"]


def test_fills_filter_by_account_order_and_half_open_time_window(store: SqlStore) -> None:
    store.insert_fills(
        [
            fill("t1", ts_event=TS),
            fill("t2", ts_event=TS + 10, client_order_id="c2"),
            fill("t3", ts_event=TS + 20, account_id="other"),
            fill("t4", ts_event=TS + 30),
        ]
    )

    assert [f.trade_id for f in store.fills(account="acct-1")] == ["t1", "t2", "t4"]
    assert [f.trade_id for f in store.fills(client_order_id="c2")] == ["t2"]
    assert [f.trade_id for f in store.fills(since_ns=TS + 10, until_ns=TS + 30)] == ["t2", "t3"]
    assert [f.trade_id for f in store.fills(instrument=ETH)] == []


# -- positions --------------------------------------------------------------------


def test_position_from_fills_round_trips_exactly(store: SqlStore) -> None:
    xbt = xbt_inverse()
    position = Position(instrument_id=XBT, account_id="acct-1")
    for i, (side, ticks, lots) in enumerate([(Side.BUY, 123_601, 7), (Side.BUY, 123_457, 11), (Side.SELL, 124_001, 5)]):
        trade = fill(f"x{i}", instrument_id=XBT, side=side, price_ticks=ticks, size_lots=lots, fee=Decimal("1E-8"))
        position.apply_fill(xbt, trade)
    assert len(str(position.avg_entry)) > 20  # a harmonic mean: many digits to keep

    store.upsert_position(position)
    got = store.get_position(XBT, "acct-1")

    assert got == position
    assert str(got.avg_entry) == str(position.avg_entry)
    assert got.realised_pnl == position.realised_pnl != 0


def test_upserting_a_position_replaces_its_values(store: SqlStore) -> None:
    store.upsert_position(Position(instrument_id=BTC, account_id="a", net_lots=5, avg_entry=Decimal("61800.3")))
    flat = Position(instrument_id=BTC, account_id="a", realised_pnl=Decimal("-12.75"), fees=LONG_FEE, ts_last=TS)

    store.upsert_position(flat)

    assert store.positions() == [flat]


def test_positions_filter_by_account_and_can_leave_out_flat_ones(store: SqlStore) -> None:
    store.upsert_positions(
        [
            Position(instrument_id=BTC, account_id="a", net_lots=-3, avg_entry=Decimal("61800.3")),
            Position(instrument_id=ETH, account_id="a"),
            Position(instrument_id=BTC, account_id="b", net_lots=1, avg_entry=Decimal("61000")),
        ]
    )

    assert [(p.account_id, p.instrument_id) for p in store.positions()] == [("a", BTC), ("a", ETH), ("b", BTC)]
    assert [p.instrument_id for p in store.positions(account="a", include_flat=False)] == [BTC]
    assert store.get_position(ETH, "b") is None


def test_a_float_in_a_money_field_is_rejected_not_rounded(store: SqlStore) -> None:
    bad = Position(instrument_id=BTC, account_id="a", net_lots=1, avg_entry=61800.3)  # type: ignore[arg-type]

    with pytest.raises(InvalidRecord, match="floats are inexact"):
        store.upsert_position(bad)

    assert store.positions() == []


def test_a_nan_decimal_is_rejected(store: SqlStore) -> None:
    with pytest.raises(InvalidRecord, match="finite"):
        store.insert_fill(fill(fee=Decimal("NaN")))


# -- PnL snapshots ------------------------------------------------------------------


def test_pnl_snapshot_at_the_same_time_is_replaced_not_duplicated(store: SqlStore) -> None:
    first = PnlSnapshot(TS, BTC, Decimal("1.5"), Decimal("-0.25"), LONG_FEE, Decimal("61800.30"), "a")
    rerun = PnlSnapshot(TS, BTC, Decimal("1.50"), Decimal("-0.30"), LONG_FEE, Decimal("61800.40"), "a")

    store.insert_pnl_snapshot(first)
    store.insert_pnl_snapshot(rerun)

    assert store.pnl_snapshots() == [rerun]
    assert str(store.pnl_snapshots()[0].mark) == "61800.40"


def test_pnl_snapshots_filter_by_account_instrument_and_time(store: SqlStore) -> None:
    zero = Decimal(0)
    store.insert_pnl_snapshots(
        [
            PnlSnapshot(TS, BTC, zero, zero, account_id="a"),
            PnlSnapshot(TS + 60, BTC, Decimal(1), zero, account_id="a"),
            PnlSnapshot(TS + 60, ETH, zero, zero, account_id="a"),
            PnlSnapshot(TS + 120, BTC, zero, zero, account_id="b"),
        ]
    )

    assert [s.ts for s in store.pnl_snapshots(account="a", instrument=BTC)] == [TS, TS + 60]
    assert [(s.ts, s.account_id) for s in store.pnl_snapshots(since_ns=TS + 60)] == [
        (TS + 60, "a"),
        (TS + 60, "a"),
        (TS + 120, "b"),
    ]
    assert store.pnl_snapshots(until_ns=TS) == []
    assert store.pnl_snapshots(instrument=ETH)[0].mark is None


@hypothesis_settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.decimals(min_value=-(10**30), max_value=10**30, allow_nan=False, allow_infinity=False))
def test_any_finite_decimal_round_trips_exactly(store: SqlStore, value: Decimal) -> None:
    ts = abs(hash(str(value))) % 10**18  # a fresh key per example: the store is shared between examples
    store.insert_pnl_snapshot(PnlSnapshot(ts, BTC, value, -value, value))

    got = store.pnl_snapshots(since_ns=ts, until_ns=ts + 1)[0]

    assert (got.realised, got.unrealised, got.fees) == (value, -value, value)
    if value.as_tuple().exponent <= 0:  # a fixed-point value keeps its number of places
        assert got.realised.as_tuple().exponent == value.as_tuple().exponent


# -- runs -------------------------------------------------------------------------


def test_run_records_status_params_and_summary_from_start_to_finish(store: SqlStore) -> None:
    params = {"strategy": "mm", "symbols": ["BTCUSDT"], "spread_bps": 2.5, "size": Decimal("0.010")}

    run_id = store.start_run("backtest", params, ts_started=TS)
    running = store.get_run(run_id)
    store.finish_run(run_id, RunStatus.SUCCEEDED, {"pnl": Decimal("12.50"), "fills": 31}, ts_finished=TS + 1)
    done = store.get_run(run_id)

    assert (running.status, running.ts_finished, running.summary) == (RunStatus.RUNNING, None, None)
    assert running.params == {"strategy": "mm", "symbols": ["BTCUSDT"], "spread_bps": 2.5, "size": "0.010"}
    assert (done.kind, done.status, done.ts_started, done.ts_finished) == ("backtest", "succeeded", TS, TS + 1)
    assert done.summary == {"pnl": "12.50", "fills": 31}  # decimals kept exact, as strings


def test_finishing_a_run_that_was_never_started_raises_unknown_run(store: SqlStore) -> None:
    with pytest.raises(UnknownRun, match="start_run"):
        store.finish_run("nope", RunStatus.FAILED)


def test_finishing_a_run_as_running_is_rejected(store: SqlStore) -> None:
    run_id = store.start_run("ingest")

    with pytest.raises(InvalidRecord, match="succeeded, failed, cancelled"):
        store.finish_run(run_id, "running")

    assert store.get_run(run_id).status is RunStatus.RUNNING


def test_starting_a_run_id_again_restarts_it(store: SqlStore) -> None:
    store.start_run("ingest", {"date": date(2024, 8, 8)}, run_id="ingest-2024-08-08", ts_started=TS)
    store.finish_run("ingest-2024-08-08", RunStatus.FAILED, {"error": "timeout"})

    store.start_run("ingest", {"date": "2024-08-08", "retry": 1}, run_id="ingest-2024-08-08", ts_started=TS + 9)

    run = store.get_run("ingest-2024-08-08")
    assert (run.status, run.ts_started, run.ts_finished, run.summary) == (RunStatus.RUNNING, TS + 9, None, None)
    assert run.params == {"date": "2024-08-08", "retry": 1}
    assert [r.run_id for r in store.runs(kind="ingest")] == ["ingest-2024-08-08"]


def test_runs_are_listed_newest_first_by_kind(store: SqlStore) -> None:
    for i, kind in enumerate(["ingest", "backtest", "backtest", "paper"]):
        store.start_run(kind, run_id=f"r{i}", ts_started=TS + i)

    assert [r.run_id for r in store.runs()] == ["r3", "r2", "r1", "r0"]
    assert [r.run_id for r in store.runs(kind="backtest", limit=1)] == ["r2"]
    assert store.get_run("missing") is None


def test_run_params_that_are_not_json_raise_invalid_record(store: SqlStore) -> None:
    with pytest.raises(InvalidRecord, match="not JSON-serialisable"):
        store.start_run("backtest", {"model": object()})

    assert store.runs() == []


# -- data quality -----------------------------------------------------------------


def test_data_quality_upsert_replaces_the_counts_of_the_same_partition_and_source(store: SqlStore) -> None:
    first = DataQualityRecord("trades", "binance_usdm", "BTCUSDT", "2024-08-08", "capture", 100, 2, 1, 0, TS)
    rerun = DataQualityRecord("trades", "binance_usdm", "BTCUSDT", date(2024, 8, 8), "capture", 98, 0, 0, 0, TS + 1)
    other_source = DataQualityRecord("trades", "binance_usdm", "BTCUSDT", "2024-08-08", "archive", 97, 0, 0, 0, TS)

    store.upsert_data_quality(first)
    store.upsert_data_quality(rerun)
    store.upsert_data_quality(other_source)

    assert store.data_quality() == [other_source, rerun]


def test_data_quality_filters_by_dataset_symbol_and_inclusive_dates(store: SqlStore) -> None:
    records = [
        DataQualityRecord(dataset, "binance", symbol, f"2024-08-{day:02d}", "capture", 10, ts_checked=TS)
        for dataset in ("trades", "depth")
        for symbol in ("BTCUSDT", "ETHUSDT")
        for day in (7, 8, 9)
    ]
    assert store.upsert_data_quality_many(records) == 12

    got = store.data_quality(dataset="trades", symbol="ETHUSDT", date_from=date(2024, 8, 8), date_to=date(2024, 8, 9))

    assert [(r.dataset, r.symbol, r.date) for r in got] == [
        ("trades", "ETHUSDT", date(2024, 8, 8)),
        ("trades", "ETHUSDT", date(2024, 8, 9)),
    ]


def test_data_quality_record_rejects_a_bad_date_and_negative_counts() -> None:
    with pytest.raises(InvalidRecord, match="YYYY-MM-DD"):
        DataQualityRecord("trades", "binance", "BTCUSDT", "08/08/2024", "capture", 1)
    with pytest.raises(InvalidRecord, match="rejects must not be negative"):
        DataQualityRecord("trades", "binance", "BTCUSDT", "2024-08-08", "capture", 1, rejects=-1)


# -- opening the store ----------------------------------------------------------------


def test_store_from_settings_opens_the_configured_database(sql_url: str, tmp_path: Path) -> None:
    settings = load_settings(env={}, toml_path=None, root=tmp_path, db_url=sql_url)

    with SqlStore.from_settings(settings) as first:
        first.upsert_order(order())
    with SqlStore.from_settings(settings) as reopened:
        assert reopened.get_order("c1", "acct-1") == order()


def test_default_settings_put_the_sqlite_file_under_var_creating_the_folder(tmp_path: Path) -> None:
    settings = load_settings(env={}, toml_path=None, root=tmp_path)

    with SqlStore.from_settings(settings) as store:
        store.start_run("paper")

    assert (tmp_path / "var" / "jtrader.db").is_file()


def test_unreachable_server_raises_store_unavailable_without_the_password() -> None:
    with pytest.raises(StoreUnavailable) as raised:
        SqlStore("postgresql+psycopg2://trader:s3cret@127.0.0.1:1/jtrader")

    assert "s3cret" not in str(raised.value)
    assert "127.0.0.1:1" in str(raised.value) and "server is running" in str(raised.value)


def test_an_unsupported_database_url_is_rejected_with_the_supported_ones() -> None:
    with pytest.raises(StoreError, match="sqlite, postgresql"):
        SqlStore("mysql://u:p@localhost/db")

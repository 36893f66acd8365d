from pathlib import Path

import pytest

from jtrader.live.config import RunConfigError, load_run_config, parse_run_config

REPO = Path(__file__).resolve().parents[2]


def test_shipped_paper_config_loads():
    config = load_run_config(REPO / "infra" / "desk" / "paper.toml")
    assert config.run.mode == "paper" and config.strategies[0].instruments == ["BTCUSDT.sim"]
    assert config.risk.price_band_bps == 200


def test_unknown_key_is_named_with_its_path():
    with pytest.raises(RunConfigError, match=r"unknown field `transprt` - at `\$\.run`"):
        parse_run_config({"run": {"transprt": "ipc"}})


def test_bad_risk_value_is_named():
    with pytest.raises(RunConfigError, match="price_band_bps: expected >= 0"):
        parse_run_config({"risk": {"price_band_bps": -5}})


def test_missing_file_says_what_to_pass(tmp_path):
    with pytest.raises(RunConfigError, match="pass --config"):
        load_run_config(tmp_path / "nope.toml")


def test_tcp_endpoints_bind_loopback_only(tmp_path):
    endpoints = parse_run_config({"run": {"transport": "tcp", "base_port": 5000}}).endpoints(tmp_path)
    assert all(e.startswith("tcp://127.0.0.1:") for e in (endpoints.oms_commands, endpoints.venue_commands))


def test_ipc_endpoints_live_in_the_run_dir(tmp_path):
    endpoints = parse_run_config({"run": {"run_dir": "r"}}).endpoints(tmp_path)
    assert endpoints.oms_commands == f"ipc://{tmp_path}/r/oms.sock"


def test_jtrader_run_refuses_the_inproc_transport_with_a_message_not_a_traceback(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from jtrader.cli import app

    monkeypatch.chdir(tmp_path)
    config = tmp_path / "desk.toml"
    config.write_text('[run]\ntransport = "inproc"\nrun_dir = "run"\n')
    result = CliRunner().invoke(app, ["run", "--config", str(config), "--mode", "paper"])
    assert result.exit_code == 2, result.output
    assert "use ipc or tcp" in " ".join(result.output.split())
    assert not (tmp_path / "run" / "venue.pid").exists()  # nothing was started

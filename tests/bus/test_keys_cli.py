import stat

import zmq.auth
from typer.testing import CliRunner

from jtrader.cli import app


def test_keys_command_writes_private_secrets_and_never_prints_key_material(tmp_path):
    directory = tmp_path / "keys"
    result = CliRunner().invoke(app, ["keys", str(directory)])
    assert result.exit_code == 0, result.output
    public, secret = zmq.auth.load_certificate(directory / "server.key_secret")
    assert public.decode() not in result.output and secret.decode() not in result.output
    assert stat.S_IMODE((directory / "client.key_secret").stat().st_mode) == 0o600
    assert (directory / "allowed_clients" / "client.key").exists()


def test_keys_command_refuses_to_overwrite_without_force(tmp_path):
    directory = tmp_path / "keys"
    runner = CliRunner()
    assert runner.invoke(app, ["keys", str(directory)]).exit_code == 0
    before = (directory / "server.key_secret").read_bytes()
    refused = runner.invoke(app, ["keys", str(directory)])
    assert refused.exit_code == 1 and "--force" in refused.output
    assert (directory / "server.key_secret").read_bytes() == before
    assert runner.invoke(app, ["keys", str(directory), "--force"]).exit_code == 0
    assert (directory / "server.key_secret").read_bytes() != before

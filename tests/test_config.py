from pathlib import Path

import pytest

from jtrader.config import SettingsError, load_settings


def test_defaults_are_the_embedded_ones(tmp_path):
    settings = load_settings(env={}, toml_path=None, root=tmp_path)
    assert settings.resolved_db_url == f"sqlite:///{tmp_path}/var/jtrader.db"
    assert settings.lake_dir == tmp_path / "var" / "lake"
    assert settings.resolved_mlflow_uri == f"sqlite:///{tmp_path}/var/mlflow.db"
    assert settings.spark_master == "local[2]"
    assert settings.data_dir == (tmp_path / ".." / "shared" / "data").resolve()
    assert settings.mongo_uri is None


def test_environment_overrides_toml_and_toml_overrides_defaults(tmp_path):
    toml = tmp_path / "jtrader.toml"
    toml.write_text('[jtrader]\nspark_master = "local[1]"\nlake_path = "/data/lake"\n')
    settings = load_settings(env={"JTRADER_SPARK_MASTER": "local[4]"}, toml_path=toml)
    assert settings.spark_master == "local[4]"
    assert settings.lake_path == Path("/data/lake")


def test_config_file_is_found_through_jtrader_config(tmp_path):
    toml = tmp_path / "other.toml"
    toml.write_text('log_level = "debug"\n')
    assert load_settings(env={"JTRADER_CONFIG": str(toml)}).log_level == "DEBUG"


def test_unknown_environment_key_stops_start_up_naming_it():
    with pytest.raises(SettingsError, match=r"unknown setting JTRADER_LAKE_PTH='x'.*JTRADER_LAKE_PATH"):
        load_settings(env={"JTRADER_LAKE_PTH": "x"}, toml_path=None)


def test_unknown_toml_key_stops_start_up_naming_it_and_the_file(tmp_path):
    toml = tmp_path / "jtrader.toml"
    toml.write_text("sparkmaster = 'local'\n")
    with pytest.raises(SettingsError, match=rf"unknown setting 'sparkmaster' = 'local' in {toml}"):
        load_settings(env={}, toml_path=toml)


def test_bad_value_names_key_value_and_expectation():
    with pytest.raises(SettingsError) as err:
        load_settings(env={"JTRADER_DB_URL": "mysql://x"}, toml_path=None)
    message = str(err.value)
    assert "JTRADER_DB_URL='mysql://x'" in message and "'sqlite' or 'postgresql'" in message


def test_bad_secret_value_is_not_echoed():
    with pytest.raises(SettingsError) as err:
        load_settings(env={"JTRADER_MONGO_URI": ""}, toml_path=None, mongo_uri=["mongodb://u:hunter2@h"])
    assert "hunter2" not in str(err.value)


def test_malformed_toml_says_fix_the_syntax(tmp_path):
    toml = tmp_path / "jtrader.toml"
    toml.write_text("spark_master = \n")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(env={}, toml_path=toml)


def test_test_only_variables_are_not_settings():
    load_settings(env={"JTRADER_TEST_MONGO_URI": "mongodb://x"}, toml_path=None)


def test_settings_are_frozen(tmp_path):
    settings = load_settings(env={}, toml_path=None, root=tmp_path)
    with pytest.raises(Exception, match="frozen"):
        settings.spark_master = "local[8]"  # type: ignore[misc]


def test_config_files_are_read_as_toml_or_json_with_errors_that_say_the_fix(tmp_path):
    from jtrader.config import read_config_file

    (tmp_path / "a.toml").write_text('[run]\nname = "x"\n')
    (tmp_path / "a.json").write_text('{"run": {"name": "x"}}')
    assert read_config_file(tmp_path / "a.toml", "desk", ValueError) == read_config_file(
        tmp_path / "a.json", "desk", ValueError
    )
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="must hold a table"):
        read_config_file(tmp_path / "bad.json", "desk", ValueError)
    with pytest.raises(ValueError, match="pass --config"):
        read_config_file(tmp_path / "none.toml", "desk", ValueError)

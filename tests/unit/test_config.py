import pytest

from stock_pipeline.config import Settings
from stock_pipeline.domain.errors import ConfigError


def test_settings_come_from_the_template_environment():
    settings = Settings.from_env(
        {"STOCK_TABLE_NAME": "t", "DATA_BUCKET_NAME": "b", "LAKE_PREFIX": "lake", "WRITE_CONCURRENCY": "8"}
    )
    assert (settings.table_name, settings.bucket_name, settings.lake_prefix) == ("t", "b", "lake/")
    assert settings.write_concurrency == 8
    assert settings.default_restock_threshold == 10


def test_every_problem_is_named_at_cold_start():
    with pytest.raises(ConfigError) as error:
        Settings.from_env({"WRITE_CONCURRENCY": "many", "DEFAULT_RESTOCK_THRESHOLD": "-1", "CONSOLE_MFA": "maybe"})
    message = str(error.value)
    for expected in (
        "STOCK_TABLE_NAME",
        "DATA_BUCKET_NAME",
        "WRITE_CONCURRENCY='many'",
        "DEFAULT_RESTOCK_THRESHOLD=-1",
        "CONSOLE_MFA='maybe' is not one of OFF, OPTIONAL, ON",
    ):
        assert expected in message

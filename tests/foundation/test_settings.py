from __future__ import annotations

from pathlib import Path

import pytest

from settings import SettingsError, load_settings


def test_defaults_are_embedded_with_sqlite_under_var() -> None:
    s = load_settings(environ={})
    assert s.mode == "embedded"
    assert s.port == 8000
    assert s.database_url.startswith("sqlite:///") and s.database_url.endswith("var/waybill.db")
    assert s.redis_url is None
    assert s.queue.names == ["intake", "orders", "inventory", "shipping", "tracking", "returns", "reconcile"]
    assert s.shopify.api_version == "2026-10"


def test_environment_overrides_by_the_names_in_config() -> None:
    env = {
        "DATABASE_URL": "postgresql://u@h/db",
        "REDIS_URL": "redis://localhost:6379/0",
        "PORT": "9001",
        "SHOPIFY_API_SECRET": "shh",
        "WAYBILL_PUBLIC_URL": "https://waybill.example.com/",
    }
    s = load_settings(environ=env)
    assert s.mode == "production"  # REDIS_URL implies production
    assert s.database_url == "postgresql+psycopg://u@h/db"
    assert s.port == 9001
    assert s.shopify.api_secret is not None and s.shopify.api_secret.get_secret_value() == "shh"
    assert s.public_url == "https://waybill.example.com"


def test_waybill_config_file_is_merged_over_defaults(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text("port: 8100\nqueue:\n  retry:\n    max: 2\n")
    s = load_settings(environ={"WAYBILL_CONFIG": str(path)})
    assert s.port == 8100
    assert s.queue.retry.max == 2
    assert s.queue.retry.base_s == 2.0  # untouched keys keep their defaults
    assert s.queue.policy_for("intake").max == 8  # per-queue override from config.yaml


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"PORT": "eighty"}, "port"),
        ({"PORT": "70000"}, "port"),
        ({"REDIS_URL": "http://nope"}, "redis_url"),
        ({"DATABASE_URL": "mysql://x"}, "database_url"),
        ({"WAYBILL_MODE": "production"}, "redis_url"),  # production without Redis
        ({"WAYBILL_PUBLIC_URL": "ftp://x"}, "public_url"),
    ],
)
def test_bad_values_name_the_key(env: dict[str, str], key: str) -> None:
    with pytest.raises(SettingsError) as err:
        load_settings(environ=env)
    assert f"'{key}'" in str(err.value)


def test_secret_values_are_not_echoed_in_errors() -> None:
    with pytest.raises(SettingsError) as err:
        load_settings({"shopify": {"api_secret": ["not", "a", "string-sekrit"]}}, environ={})
    assert "shopify.api_secret" in str(err.value)
    assert "sekrit" not in str(err.value)


def test_missing_config_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="file not found"):
        load_settings(environ={"WAYBILL_CONFIG": str(tmp_path / "absent.yaml")})


def test_unknown_keys_are_refused() -> None:
    with pytest.raises(SettingsError, match=r"'queue\.nmaes'"):
        load_settings({"queue": {"nmaes": ["x"]}}, environ={})


def test_queue_names_must_be_rq_safe() -> None:
    with pytest.raises(SettingsError, match=r"queue\.names"):
        load_settings({"queue": {"names": ["intake", "ship:ping"]}}, environ={})

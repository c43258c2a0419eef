"""A configuration error names the setting and the problem, never a secret's value.

Every secret is set to a recognisable string; each bad configuration must be refused with a
message (and, from the entry points, a stderr) that holds none of them.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]
CANARIES = {
    "WAYBILL_SECRET_KEY": "canary-secret-key-1111",
    "SHOPIFY_API_SECRET": "canary-shopify-secret-2222",
    "EASYPOST_API_KEY": "canary-easypost-key-3333",
    "EASYPOST_WEBHOOK_SECRET": "canary-easypost-hook-4444",
    "DATABASE_URL": "postgresql://waybill:canary-db-password-5555@db.internal/waybill",
}
SECRETS = [
    "canary-secret-key-1111",
    "canary-shopify-secret-2222",
    "canary-easypost-key-3333",
    "canary-easypost-hook-4444",
    "canary-db-password-5555",
    "canary-redis-password-6666",
]


def _assert_clean(text: str) -> None:
    leaked = [s for s in SECRETS if s in text]
    assert not leaked, f"secrets in the message: {leaked}\n{text}"


@pytest.mark.parametrize(
    ("env", "key"),
    [
        ({"WAYBILL_MODE": "production"}, "redis_url"),  # production without Redis
        ({"REDIS_URL": "http://:canary-redis-password-6666@cache.internal:6379/0"}, "redis_url"),
        ({"REDIS_URL": "redis:/:canary-redis-password-6666@cache"}, "redis_url"),
        ({"DATABASE_URL": "mysql://waybill:canary-db-password-5555@db.internal/waybill"}, "database_url"),
        ({"DATABASE_URL": "canary-db-password-5555"}, "database_url"),
        ({"PORT": "eighty", "WAYBILL_MODE": "production"}, "port"),
        ({"WAYBILL_PUBLIC_URL": "ftp://admin:canary-redis-password-6666@x"}, "public_url"),
    ],
)
def test_a_config_error_names_the_key_without_secret_values(env: dict[str, str], key: str) -> None:
    with pytest.raises(SettingsError) as err:
        load_settings(environ={**CANARIES, **env})
    message = str(err.value)
    assert f"'{key}'" in message
    _assert_clean(message)


def test_a_mistyped_secret_is_named_not_shown() -> None:
    with pytest.raises(SettingsError) as err:
        load_settings({"shopify": {"api_secret": ["canary-shopify-secret-2222"]}}, environ=CANARIES)
    assert "'shopify.api_secret'" in str(err.value)
    _assert_clean(str(err.value))


def test_a_urls_password_is_masked_but_the_rest_is_shown() -> None:
    with pytest.raises(SettingsError) as err:
        load_settings(environ={"DATABASE_URL": "mysql://u:canary-db-password-5555@db.internal:3306/x"})
    assert "mysql://***@db.internal:3306/x" in str(err.value)
    _assert_clean(str(err.value))


def test_a_broken_config_file_is_located_not_echoed(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text("easypost:\n  api_key: canary-easypost-key-3333\n   bad: [\n")
    with pytest.raises(SettingsError) as err:
        load_settings(environ={"WAYBILL_CONFIG": str(path)})
    assert "not valid YAML at line" in str(err.value)
    _assert_clean(str(err.value))


@pytest.mark.parametrize("command", [["app.py"], ["worker.py"]])
def test_the_entry_points_print_no_secret(command: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("WAYBILL_", "REDIS_URL", "DATABASE_URL"))}
    env.update(CANARIES, WAYBILL_MODE="production")
    done = subprocess.run(
        [sys.executable, *command], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    assert "redis_url" in done.stderr
    _assert_clean(done.stderr + done.stdout)

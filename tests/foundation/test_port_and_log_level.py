"""PORT moves the public URL with it; log levels in any case; a port in use is one line."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from settings import SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[2]


def test_the_public_url_follows_the_port_when_it_is_not_set() -> None:
    s = load_settings(environ={"PORT": "8040"})
    assert s.port == 8040
    assert s.public_url == "http://localhost:8040"  # install and webhook callbacks reach this port
    assert load_settings(environ={}).public_url == "http://localhost:8000"


def test_a_public_url_that_is_set_wins_over_the_port(tmp_path: Path) -> None:
    env = {"PORT": "8040", "WAYBILL_PUBLIC_URL": "https://waybill.example.com"}
    assert load_settings(environ=env).public_url == "https://waybill.example.com"
    site = tmp_path / "site.yaml"
    site.write_text("public_url: https://ops.example.com/\n")
    s = load_settings(environ={"PORT": "8040", "WAYBILL_CONFIG": str(site)})
    assert (s.port, s.public_url) == (8040, "https://ops.example.com")


@pytest.fixture
def port_8040(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "8040")
    monkeypatch.delenv("WAYBILL_PUBLIC_URL", raising=False)


def test_the_app_started_on_a_port_gives_platforms_that_port(port_8040: None, app: Any) -> None:
    settings = app.extensions["waybill"].settings
    assert (settings.port, settings.public_url) == (8040, "http://localhost:8040")


@pytest.mark.parametrize(
    ("given", "level"),
    [("debug", "DEBUG"), ("Info", "INFO"), ("warning", "WARNING"), ("warn", "WARNING"), ("ERROR", "ERROR")],
)
def test_log_levels_are_accepted_in_any_case(given: str, level: str) -> None:
    assert load_settings(environ={"WAYBILL_LOG_LEVEL": given}).log_level == level


def test_an_unknown_log_level_names_the_key() -> None:
    with pytest.raises(SettingsError) as err:
        load_settings(environ={"WAYBILL_LOG_LEVEL": "chatty"})
    assert "'log_level'" in str(err.value)


def test_a_port_in_use_is_one_line_and_a_non_zero_exit(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("0.0.0.0", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {
            **os.environ,
            "PORT": str(port),
            "WAYBILL_VAR_DIR": str(tmp_path / "var"),
            "WAYBILL_LOG_LEVEL": "warning",
        }
        done = subprocess.run(
            [sys.executable, "-c", "import entry; entry.main(['run'])"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [
        f"waybill: port {port} is already in use (is another Waybill running?); stop it or choose a "
        f"free port: PORT={port + 1} ./waybill run"
    ]
    assert "Traceback" not in done.stdout + done.stderr


def _waybill(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", f"import entry; entry.main({args!r})"],
        cwd=ROOT,
        env={**os.environ, "WAYBILL_VAR_DIR": str(tmp_path / "var"), **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_waybill_runs_with_a_lower_case_log_level_and_refuses_an_unknown_one(tmp_path: Path) -> None:
    listed = _waybill(["orders", "list"], tmp_path, WAYBILL_LOG_LEVEL="debug")
    assert listed.returncode == 0, listed.stderr
    refused = _waybill(["orders", "list"], tmp_path, WAYBILL_LOG_LEVEL="chatty")
    assert refused.returncode == 2
    assert refused.stderr.startswith("waybill: invalid configuration:") and "'log_level'" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_a_key_can_be_generated_before_production_has_one(tmp_path: Path) -> None:
    # The README's production lines export REDIS_URL, then WAYBILL_SECRET_KEY=$(./waybill keys generate).
    made = _waybill(["keys", "generate"], tmp_path, REDIS_URL="redis://127.0.0.1:1/0")
    assert made.returncode == 0, made.stderr
    assert len(made.stdout.strip()) == 44  # a Fernet key
    needs = _waybill(["orders", "list"], tmp_path, REDIS_URL="redis://127.0.0.1:1/0")
    assert needs.returncode == 2
    assert needs.stderr.strip() == (
        "waybill: WAYBILL_SECRET_KEY is required in production mode (make one: ./waybill keys generate)"
    )

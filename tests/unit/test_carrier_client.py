"""One EasyPost client per runtime, built again when its settings change."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import SecretStr

from core.errors import Permanent
from sync.carriers import easypost_client


def _rt(api_key: str | None = "EZTK_one", base_url: str = "http://127.0.0.1:9/v2") -> Any:
    easypost = SimpleNamespace(
        api_key=SecretStr(api_key) if api_key is not None else None, base_url=base_url, timeout_s=5.0
    )
    return SimpleNamespace(
        settings=SimpleNamespace(easypost=easypost, shipping=SimpleNamespace(customs_signer="Ops")),
        clients={},
    )


def test_the_client_is_kept_between_calls() -> None:
    rt = _rt()
    first = easypost_client(rt)
    assert easypost_client(rt) is first
    assert first.api_base == "http://127.0.0.1:9/v2"
    assert first.customs_signer == "Ops"
    assert easypost_client(_rt()) is not first  # another runtime, another client


def test_changed_settings_build_a_new_client() -> None:
    rt = _rt()
    first = easypost_client(rt)
    rt.settings.easypost.api_key = SecretStr("EZTK_two")
    second = easypost_client(rt)
    assert second is not first
    rt.settings.easypost.base_url = "http://127.0.0.1:10/v2"
    third = easypost_client(rt)
    assert third is not second and third.api_base == "http://127.0.0.1:10/v2"
    rt.settings.shipping.customs_signer = "Someone else"
    assert easypost_client(rt) is not third


def test_no_key_is_permanent() -> None:
    with pytest.raises(Permanent):
        easypost_client(_rt(api_key=None))


def test_the_environment_is_read_once_and_answers_as_requests_would(monkeypatch: pytest.MonkeyPatch) -> None:
    import requests

    from connectors.easypost.client import EasyPost

    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "internal.example")
    kept = EasyPost("EZTK_one", "https://api.easypost.com")._client._requests_session
    plain = requests.Session()
    for url in ("https://api.easypost.com/v2/shipments", "https://internal.example/v2/x"):
        assert kept.merge_environment_settings(url, {}, None, True, None) == (
            plain.merge_environment_settings(url, {}, None, True, None)
        )
    first = kept.merge_environment_settings("https://api.easypost.com/v2/a", {}, None, True, None)
    first["proxies"]["https"] = "http://changed.example"  # a caller's copy, not the kept answer
    monkeypatch.setenv("HTTPS_PROXY", "http://other.example:3128")  # read once: not seen
    again = kept.merge_environment_settings("https://api.easypost.com/v2/b", {}, None, True, None)
    assert again["proxies"]["https"] == "http://proxy.example:3128"
    named = kept.merge_environment_settings(
        "https://api.easypost.com/v2/c", {"https": "http://mine.example"}, None, True, None
    )
    assert named["proxies"]["https"] == "http://mine.example"

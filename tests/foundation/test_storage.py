"""Migrations, secrets at rest and start-up refusals."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import inspect

from db.crypto import PLAIN_KEPT, SecretKeyError, Vault, embedded_key, generate_key
from db.models import Base, Store, StoreState
from db.session import (
    DatabaseNotReady,
    check_ready,
    current_revision,
    downgrade,
    head_revision,
    make_engine,
    upgrade,
)


def _roundtrip(url: str) -> None:
    engine = make_engine(url)
    upgrade(url)
    assert current_revision(engine) == head_revision(url)
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    downgrade(url, "base")
    assert current_revision(engine) is None
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    upgrade(url)
    assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    engine.dispose()


def test_migrations_round_trip_on_sqlite(tmp_path: Path) -> None:
    _roundtrip(f"sqlite:///{tmp_path / 'm.db'}")


def test_migrations_round_trip_on_postgres(postgres_url: str) -> None:
    _roundtrip(postgres_url)


def test_models_match_the_migrations(tmp_path: Path) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    url = f"sqlite:///{tmp_path / 'diff.db'}"
    upgrade(url)
    with make_engine(url).connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_production_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    with pytest.raises(DatabaseNotReady, match=r"\./waybill db upgrade"):
        check_ready(make_engine(url), url)


def test_unreachable_database_is_a_clear_error() -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    with pytest.raises(DatabaseNotReady, match="database unreachable"):
        check_ready(make_engine(url), url)


def test_production_without_a_secret_key_refuses_to_start(tmp_path: Path) -> None:
    from settings import load_settings
    from sync.runtime import secret_key_for

    settings = load_settings({"redis_url": "redis://127.0.0.1:6379/0", "var_dir": str(tmp_path)}, environ={})
    with pytest.raises(SecretKeyError, match="WAYBILL_SECRET_KEY is required"):
        secret_key_for(settings)


def test_embedded_key_file_is_created_once_with_mode_0600(tmp_path: Path) -> None:
    key = embedded_key(tmp_path)
    assert embedded_key(tmp_path) == key
    assert stat.S_IMODE(os.stat(tmp_path / "secret.key").st_mode) == 0o600


def test_vault_round_trip_and_bad_keys() -> None:
    vault = Vault(generate_key())
    token = vault.encrypt_json({"access_token": "shpat_x"})
    assert b"shpat_x" not in token
    assert vault.decrypt_json(token) == {"access_token": "shpat_x"}
    with pytest.raises(SecretKeyError):
        Vault("not-a-key")
    with pytest.raises(SecretKeyError, match="wrong WAYBILL_SECRET_KEY"):
        Vault(generate_key()).decrypt(token)


def test_a_vault_keeps_what_it_decrypted_bounded_and_still_refuses_a_foreign_token() -> None:
    vault = Vault(generate_key())
    tokens = {vault.encrypt(f"secret-{n}"): f"secret-{n}" for n in range(PLAIN_KEPT + 10)}
    for _ in range(2):  # the second pass reads what was kept (or decrypts again past the bound)
        assert {token: vault.decrypt(token) for token in tokens} == tokens
    assert 0 < len(vault._plain) <= PLAIN_KEPT
    foreign = Vault(generate_key()).encrypt("secret-1")
    with pytest.raises(SecretKeyError, match="wrong WAYBILL_SECRET_KEY"):
        vault.decrypt(foreign)


def test_key_rotation_re_encrypts_every_credential(app: Any, rt: Any) -> None:
    from db.accounts import get_or_create_account

    with rt.session() as s:
        account = get_or_create_account(s, "rot")
        s.add(
            Store(
                account_id=account.id,
                platform="shopify",
                domain="rot.myshopify.com",
                state=StoreState.active,
                credentials=rt.vault.encrypt("tok"),
                webhook_secret=rt.vault.encrypt("whsec"),
            )
        )
    new_key = generate_key()
    result = app.test_cli_runner().invoke(args=["keys", "rotate", "--new-key", new_key])
    assert result.exit_code == 0, result.output
    assert "re-encrypted 1 store credential(s)" in result.output
    only_new = Vault(new_key)
    with rt.session() as s:
        store = s.query(Store).one()
        assert only_new.decrypt(store.credentials) == "tok"
        assert only_new.decrypt(store.webhook_secret) == "whsec"

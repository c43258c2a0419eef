"""The operator's administration commands (``db``, ``accounts``, ``jobs``, ``keys``) on a
real database and queue, on both backends: what each prints, what it changes, and how
it refuses."""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet
from sqlalchemy import select

from db.accounts import token_for
from db.crypto import KEY_FILE_NAME, Vault
from db.models import Account, ApiToken, DeadLetter, Store, TimelineEntry
from db.session import current_revision, head_revision
from sync.runtime import secret_key_for


def invoke(app: Any, *args: str) -> Any:
    return app.test_cli_runner().invoke(args=list(args))


def refused(result: Any) -> str:
    assert result.exit_code == 1, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    return str(result.output)


def test_db_current_downgrade_and_upgrade_move_the_database_and_say_where_it_is(app: Any, rt: Any) -> None:
    head = head_revision(rt.settings.database_url)
    assert invoke(app, "db", "current").output == f"database: {head}  code: {head}\n"

    down = invoke(app, "db", "downgrade", "base")
    assert (down.exit_code, down.output) == (0, "database at base\n")
    assert current_revision(rt.engine) is None
    assert invoke(app, "db", "current").output == f"database: None  code: {head}\n"
    # A command that needs the tables refuses, naming the command that migrates.
    assert "./waybill db upgrade" in refused(invoke(app, "accounts", "create", "North Wind"))

    up = invoke(app, "db", "upgrade")
    assert (up.exit_code, up.output) == (0, f"database at {head}\n")
    assert invoke(app, "accounts", "create", "North Wind").exit_code == 0


def test_accounts_create_is_idempotent_and_a_token_is_issued_only_for_an_existing_account(
    app: Any, rt: Any
) -> None:
    first = invoke(app, "accounts", "create", "North Wind")
    again = invoke(app, "accounts", "create", "North Wind")
    other = invoke(app, "accounts", "create", "South Sea")
    with rt.session() as s:
        ids = {a.name: a.id for a in s.scalars(select(Account))}
    assert first.output == again.output == f"account {ids['North Wind']} North Wind\n"
    assert other.output == f"account {ids['South Sea']} South Sea\n" and len(ids) == 2

    unknown = refused(invoke(app, "accounts", "token", "Nobody"))
    assert "no account named 'Nobody'; create it with `accounts create`" in unknown
    issued = invoke(app, "accounts", "token", "North Wind")
    token = issued.output.strip()
    assert issued.exit_code == 0 and token.startswith("wb_")
    with rt.session() as s:
        row = token_for(s, token)
        assert row is not None and row.account_id == ids["North Wind"]
        assert token not in {r.token_hash for r in s.scalars(select(ApiToken))}  # only its hash is kept


def test_revoking_a_token_by_id_twice_says_it_was_already_revoked(app: Any, rt: Any) -> None:
    invoke(app, "accounts", "create", "North Wind")
    token = invoke(app, "accounts", "token", "North Wind").output.strip()
    with rt.session() as s:
        row = token_for(s, token)
        assert row is not None
        token_id, prefix = row.id, row.prefix
    revoked = invoke(app, "accounts", "revoke", str(token_id))
    assert revoked.output == f"token {token_id} {prefix}... of account North Wind revoked; 0 sessions ended\n"
    with rt.session() as s:
        assert token_for(s, token) is None
    again = invoke(app, "accounts", "revoke", str(token_id))
    assert again.exit_code == 0
    assert again.output == (
        f"token {token_id} {prefix}... of account North Wind was already revoked; 0 sessions ended\n"
    )


def test_a_prefix_two_tokens_share_revokes_neither_and_names_both_ids(app: Any, rt: Any) -> None:
    invoke(app, "accounts", "create", "North Wind")
    with rt.session() as s:
        account = s.scalar(select(Account))
        assert account is not None
        rows = [ApiToken(account_id=account.id, token_hash=f"h{i}" * 32, prefix="wb_Shared0") for i in (1, 2)]
        s.add_all(rows)
        s.flush()
        ids = [r.id for r in rows]
    said = refused(invoke(app, "accounts", "revoke", "wb_Shared0"))
    assert f"2 tokens match 'wb_Shared0' (ids {ids[0]}, {ids[1]}); give the id" in said
    with rt.session() as s:
        assert [r.revoked_at for r in s.scalars(select(ApiToken))] == [None, None]


def test_failed_jobs_are_listed_as_text_and_json_and_only_a_dead_one_can_be_retried(
    app: Any, rt: Any
) -> None:
    assert invoke(app, "jobs", "failed").output == "no failed jobs\n"
    with rt.session() as s:
        dead = DeadLetter(
            job_id="order-77",
            name="no_such_job",
            queue="orders",
            kwargs={},
            error="Permanent: x" * 20,
            attempts=4,
        )
        done = DeadLetter(
            job_id="order-78",
            name="no_such_job",
            queue="orders",
            kwargs={},
            error="old",
            attempts=1,
            state="retried",
        )
        s.add_all([dead, done])
        s.flush()
        dead_id, done_id = dead.id, done.id
    text = invoke(app, "jobs", "failed").output.splitlines()
    assert len(text) == 1  # the retried one is not listed
    assert text[0].split()[:4] == [str(dead_id), "order-77", "4", "attempts"]
    assert text[0].endswith(("Permanent: x" * 20)[:80])
    [item] = json.loads(invoke(app, "jobs", "failed", "--json").output)
    assert (item["id"], item["job_id"], item["job"], item["attempts"]) == (
        dead_id,
        "order-77",
        "no_such_job",
        4,
    )
    assert f"no failed job {done_id}" in refused(invoke(app, "jobs", "retry", str(done_id)))
    assert "no failed job 999" in refused(invoke(app, "jobs", "retry", "999"))


def stored_store(rt: Any, vault: Vault) -> None:
    with rt.session() as s:
        account = Account(name="North Wind")
        s.add(account)
        s.flush()
        store = Store(account_id=account.id, platform="shopify", domain="a.myshopify.com", settings={})
        store.credentials = vault.encrypt('{"token": "shpat_1"}')
        store.webhook_secret = vault.encrypt("hook")
        bare = Store(account_id=account.id, platform="woocommerce", domain="shop.example", settings={})
        s.add_all([store, bare])


def stored_secrets(rt: Any) -> tuple[bytes, bytes]:
    with rt.session() as s:
        row = s.scalar(select(Store).where(Store.domain == "a.myshopify.com"))
        assert row is not None and row.credentials is not None and row.webhook_secret is not None
        return row.credentials, row.webhook_secret


def test_rotating_without_a_new_key_re_encrypts_every_credential_with_the_first_key(
    app: Any, rt: Any
) -> None:
    vault = Vault(secret_key_for(rt.settings))
    stored_store(rt, vault)
    before = stored_secrets(rt)
    rotated = invoke(app, "keys", "rotate")
    assert rotated.output == (
        "re-encrypted 1 store credential(s) with the first key; older keys may now be removed\n"
    )
    after = stored_secrets(rt)
    assert after[0] != before[0] and after[1] != before[1]  # new tokens...
    assert (vault.decrypt(after[0]), vault.decrypt(after[1])) == (
        '{"token": "shpat_1"}',
        "hook",
    )  # ...same secrets
    with rt.session() as s:
        entry = s.scalar(select(TimelineEntry).where(TimelineEntry.action == "keys.rotated"))
        assert entry is not None and entry.reason == "1 stores"


def test_rotating_to_a_new_key_keeps_it_where_the_old_one_came_from(app: Any, rt: Any) -> None:
    stored_store(rt, Vault(secret_key_for(rt.settings)))
    new_key = Fernet.generate_key().decode()
    rotated = invoke(app, "keys", "rotate", "--new-key", new_key)
    key_file = rt.settings.var_dir / KEY_FILE_NAME
    if rt.settings.secret_key is None:  # embedded: the key file is the key
        assert rotated.output == f"re-encrypted 1 store credential(s); {key_file} holds the new key\n"
        assert key_file.read_text() == new_key + "\n"
    else:  # a configured key: the operator changes the setting
        assert (
            rotated.output
            == "re-encrypted 1 store credential(s); now set WAYBILL_SECRET_KEY to the new key\n"
        )
        assert not key_file.exists()
    credentials, hook = stored_secrets(rt)
    assert (Vault(new_key).decrypt(credentials), Vault(new_key).decrypt(hook)) == (
        '{"token": "shpat_1"}',
        "hook",
    )

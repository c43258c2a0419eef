"""Users, invitations, password resets, API tokens, the Shopify session-token sign-in and the
API used from a signed-in browser, through the Flask test client: what is refused, and that
nothing changed when it is."""

from __future__ import annotations

import json
import re
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from db.accounts import get_or_create_account, issue_token
from db.models import ApiToken, ConsoleSession, Platform, Role, Store, StoreState, User, UserLink, utcnow
from db.timeline import entries
from db.users import create_user

PASSWORD = "correct horse battery"
KEY, SECRET = "users-app-key", "users-app-secret-0123456789abcdef"
SHOP = "north-wind.myshopify.com"
CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')
LINK = re.compile(r"(/(?:invite|password/reset)/wbl_[A-Za-z0-9_-]+)")


@pytest.fixture
def config(config: dict[str, Any]) -> dict[str, Any]:
    config["shopify"] = {"api_key": KEY, "api_secret": SECRET}
    config["public_url"] = "http://localhost"
    return config


def outbox(config: dict[str, Any]) -> list[dict[str, Any]]:
    folder = Path(config["var_dir"]) / "outbox"
    return [
        json.loads(p.read_text()) for p in sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime_ns)
    ]


def link_in(mail: dict[str, Any]) -> str:
    found = LINK.search(mail["body"])
    assert found is not None, mail["body"]
    return found.group(1)


def new_user(rt: Any, role: Role, account: str = "Acme", email: str | None = None) -> tuple[int, int, str]:
    """(account id, user id, e-mail)."""
    with rt.session() as s:
        row = get_or_create_account(s, account)
        user = create_user(s, row, email or f"{role.value}-{account.lower()}@example.com", PASSWORD, role)
        return row.id, user.id, str(user.email)


def csrf(client: Any, path: str = "/login") -> str:
    found = CSRF.search(client.get(path).data.decode())
    assert found is not None
    return found.group(1)


def sign_in(client: Any, email: str, password: str = PASSWORD) -> Any:
    return client.post("/login", data={"email": email, "password": password, "csrf_token": csrf(client)})


def post(client: Any, path: str, **data: str) -> Any:
    return client.post(path, data={"csrf_token": csrf(client, "/"), **data})


def signed_in(client: Any) -> bool:
    return client.get("/").status_code == 200


# --------------------------------------------------------------------------- invitations


def test_an_owner_invites_a_packer_who_joins_once(
    client: Any, rt: Any, config: dict[str, Any], app: Any
) -> None:
    account_id, _, owner = new_user(rt, Role.owner)
    assert sign_in(client, owner).status_code == 302
    answer = post(client, "/app/users/invite", email="Pat@Example.com", role="packer")
    assert answer.status_code == 302
    (mail,) = outbox(config)
    assert mail["to"] == "pat@example.com" and "as packer" in mail["body"]
    path = link_in(mail)
    assert mail["body"].count("http://localhost/invite/wbl_") == 1

    invitee = app.test_client()
    page = invitee.get(path)
    assert page.status_code == 200 and page.headers["Referrer-Policy"] == "same-origin"
    token = CSRF.search(page.data.decode()).group(1)  # type: ignore[union-attr]
    short = invitee.post(
        path, data={"name": "Pat", "password": "short", "confirm": "short", "csrf_token": token}
    )
    assert short.status_code == 400 and b"at least 10" in short.data
    joined = invitee.post(
        path, data={"name": "Pat", "password": PASSWORD, "confirm": PASSWORD, "csrf_token": token}
    )
    assert joined.status_code == 302 and signed_in(invitee)
    with rt.session() as s:
        user = s.scalar(select(User).where(User.email == "pat@example.com"))
        assert user is not None and (user.role, user.name, user.account_id) == (
            Role.packer,
            "Pat",
            account_id,
        )
    # Used once: the same link no longer works, for anyone.
    again = app.test_client()
    assert again.get(path).status_code == 410
    stale = again.post(
        path, data={"name": "X", "password": PASSWORD, "confirm": PASSWORD, "csrf_token": csrf(again)}
    )
    assert stale.status_code == 410
    # The packer may not open the users page nor change anything an owner does.
    assert invitee.get("/app/users").status_code == 403
    assert post(invitee, "/app/users/invite", email="x@example.com", role="owner").status_code == 403
    assert post(invitee, "/app/tokens").status_code == 403
    assert invitee.get("/app/settings").status_code in (403, 404)


def test_an_expired_or_unknown_invitation_is_refused(client: Any, rt: Any, config: dict[str, Any]) -> None:
    _, _, owner = new_user(rt, Role.owner)
    sign_in(client, owner)
    post(client, "/app/users/invite", email="late@example.com", role="staff")
    path = link_in(outbox(config)[0])
    with rt.session() as s:
        link = s.scalar(select(UserLink).where(UserLink.email == "late@example.com"))
        assert link is not None
        link.expires_at = utcnow() - timedelta(seconds=1)
    other = client.application.test_client()
    assert other.get(path).status_code == 410
    assert other.get("/invite/wbl_" + "x" * 43).status_code == 410
    assert other.get("/invite/not-a-link").status_code == 410
    with rt.session() as s:
        assert s.scalar(select(User).where(User.email == "late@example.com")) is None


def test_an_invitation_to_an_existing_user_or_a_bad_role_changes_nothing(
    client: Any, rt: Any, config: dict[str, Any]
) -> None:
    _, _, owner = new_user(rt, Role.owner)
    sign_in(client, owner)
    taken = post(client, "/app/users/invite", email=owner.upper(), role="staff")
    assert taken.status_code == 400 and b"already exists" in taken.data
    bad = post(client, "/app/users/invite", email="new@example.com", role="admin")
    assert bad.status_code == 400
    assert outbox(config) == []
    with rt.session() as s:
        assert s.scalars(select(UserLink)).all() == []


# --------------------------------------------------------------------------- roles and disabling


def test_another_accounts_user_is_not_found(client: Any, rt: Any) -> None:
    _, _, owner = new_user(rt, Role.owner, "Acme")
    _, theirs, _ = new_user(rt, Role.staff, "Rival")
    sign_in(client, owner)
    assert post(client, f"/app/users/{theirs}/role", role="owner").status_code == 404
    assert post(client, f"/app/users/{theirs}/disable").status_code == 404
    with rt.session() as s:
        user = s.get(User, theirs)
        assert user is not None and user.role == Role.staff and user.disabled_at is None


def test_the_last_owner_stays_and_disabling_ends_sessions(client: Any, rt: Any, app: Any) -> None:
    _, owner_id, owner = new_user(rt, Role.owner)
    _, staff_id, staff = new_user(rt, Role.staff)
    sign_in(client, owner)
    demote = post(client, f"/app/users/{owner_id}/role", role="staff")
    assert demote.status_code == 302
    assert b"at least one owner" in client.get("/app/users").data
    assert post(client, f"/app/users/{owner_id}/disable").status_code == 302
    with rt.session() as s:
        me = s.get(User, owner_id)
        assert me is not None and me.role == Role.owner and me.disabled_at is None

    theirs = app.test_client()
    sign_in(theirs, staff)
    assert signed_in(theirs)
    assert post(client, f"/app/users/{staff_id}/disable").status_code == 302
    assert not signed_in(theirs)  # their session ended
    assert sign_in(theirs, staff).status_code == 401  # and they cannot sign in again
    assert post(client, f"/app/users/{staff_id}/enable").status_code == 302
    assert sign_in(theirs, staff).status_code == 302
    # With a second owner, the first may step down.
    assert post(client, f"/app/users/{staff_id}/role", role="owner").status_code == 302
    assert post(client, f"/app/users/{owner_id}/role", role="packer").status_code == 302
    with rt.session() as s:
        assert s.get(User, owner_id).role == Role.packer  # type: ignore[union-attr]
        trail = [(e.actor, e.action, e.data) for e in entries(s, s.get(User, owner_id).account_id, "users")]  # type: ignore[union-attr]
    assert trail == [
        (f"user:{owner}", "user.disabled", {"user_id": staff_id, "sessions_ended": 1}),
        (f"user:{owner}", "user.enabled", {"user_id": staff_id, "sessions_ended": 0}),
        (f"user:{owner}", "user.role_changed", {"user_id": staff_id, "before": "staff", "after": "owner"}),
        (f"user:{owner}", "user.role_changed", {"user_id": owner_id, "before": "owner", "after": "packer"}),
    ]


# --------------------------------------------------------------------------- password reset


def test_password_reset_answers_alike_and_ends_other_sessions(
    client: Any, rt: Any, app: Any, config: dict[str, Any]
) -> None:
    _, user_id, email = new_user(rt, Role.staff)
    elsewhere = app.test_client()
    sign_in(elsewhere, email)
    assert signed_in(elsewhere)

    unknown = client.post(
        "/password/forgot", data={"email": "nobody@example.com", "csrf_token": csrf(client)}
    )
    known = client.post("/password/forgot", data={"email": email.upper(), "csrf_token": csrf(client)})
    assert unknown.status_code == known.status_code == 200
    # The same page, whether or not the e-mail has a user. Its CSRF token carries the second it
    # was signed in: two requests either side of a second differ there, and only there.
    token = re.compile(rb'<meta name="csrf-token" content="[^"]*">')
    assert token.sub(b"", unknown.data) == token.sub(b"", known.data)
    assert token.search(unknown.data) and token.search(known.data)
    (mail,) = outbox(config)
    assert mail["to"] == email
    path = link_in(mail)
    token = csrf(client, path)
    differ = client.post(
        path, data={"password": "new password 123", "confirm": "other password", "csrf_token": token}
    )
    assert differ.status_code == 400
    done = client.post(
        path, data={"password": "new password 123", "confirm": "new password 123", "csrf_token": token}
    )
    assert done.status_code == 302 and signed_in(client)
    assert not signed_in(elsewhere)  # every other session ended
    assert sign_in(app.test_client(), email).status_code == 401
    assert sign_in(app.test_client(), email, "new password 123").status_code == 302
    assert app.test_client().get(path).status_code == 410  # used once
    with rt.session() as s:
        live = s.scalars(
            select(ConsoleSession).where(ConsoleSession.user_id == user_id, ConsoleSession.ended_at.is_(None))
        ).all()
        assert len(live) == 2  # the browser that reset it and the last sign-in


def test_sign_in_and_forgot_are_rate_limited(client: Any, rt: Any) -> None:
    rt.settings.console.sign_in_rate_limit = "3 per minute"
    token = csrf(client)
    answers = [
        client.post("/login", data={"email": "a@example.com", "password": "x", "csrf_token": token})
        for _ in range(3)
    ]
    assert [a.status_code for a in answers] == [401, 401, 401]
    limited = client.post("/password/forgot", data={"email": "a@example.com", "csrf_token": token})
    assert limited.status_code == 429 and "Retry-After" in limited.headers


# --------------------------------------------------------------------------- API tokens


def test_tokens_are_shown_once_and_revoking_ends_their_sessions(client: Any, rt: Any, app: Any) -> None:
    _, _, owner = new_user(rt, Role.owner)
    sign_in(client, owner)
    created = post(client, "/app/tokens")
    assert created.status_code == 200 and created.headers["Cache-Control"] == "no-store"
    token = re.search(r'value="(wb_[^"]+)"', created.data.decode()).group(1)  # type: ignore[union-attr]
    assert token not in client.get("/app/users").data.decode()  # shown once
    assert client.get("/api/v1/account", headers={"Authorization": f"Bearer {token}"}).status_code == 200

    by_token = app.test_client()
    by_token.post("/login", data={"token": token, "csrf_token": csrf(by_token)})
    assert signed_in(by_token)
    with rt.session() as s:
        row = s.scalar(select(ApiToken).where(ApiToken.prefix == token[:10]))
        assert row is not None
        token_id = row.id
    assert post(client, f"/app/tokens/{token_id}/revoke").status_code == 302
    assert not signed_in(by_token)
    assert client.get("/api/v1/account", headers={"Authorization": f"Bearer {token}"}).status_code == 401

    _, _, rival = new_user(rt, Role.owner, "Rival")
    other = app.test_client()
    sign_in(other, rival)
    with rt.session() as s:
        account = get_or_create_account(s, "Acme")
        issue_token(s, account)
        mine = s.scalar(select(ApiToken.id).where(ApiToken.revoked_at.is_(None)))
    assert post(other, f"/app/tokens/{mine}/revoke").status_code == 404


# --------------------------------------------------------------------------- the API from the browser


@pytest.mark.parametrize(
    "path", ["/api/v1/returns/2.0149156766576534e-288/receive", "/no-such-page", "/api/v1/no-such-thing"]
)
def test_a_post_from_another_site_to_no_route_is_not_found_not_refused(client: Any, path: str) -> None:
    # Refusing it would answer a 403 the API does not document for a path it never served.
    answer = client.post(path, headers={"Referer": "<N", "Origin": "https://evil.example"}, json={})
    assert answer.status_code == 404


def test_the_api_accepts_the_session_with_csrf_and_role(client: Any, rt: Any, app: Any) -> None:
    _, _, owner = new_user(rt, Role.owner)
    _, _, packer = new_user(rt, Role.packer)
    assert client.get("/api/v1/account").status_code == 401  # no token, no session
    sign_in(client, owner)
    assert client.get("/api/v1/account").get_json()["name"] == "Acme"
    with rt.session() as s:
        account = get_or_create_account(s, "Acme")
        issue_token(s, account)
        token_id = s.scalar(select(ApiToken.id))
    no_csrf = client.post(f"/api/v1/tokens/{token_id}/revoke")
    assert no_csrf.status_code == 400
    cross = client.post(
        f"/api/v1/tokens/{token_id}/revoke",
        headers={"X-CSRFToken": csrf(client, "/"), "Origin": "https://evil.example"},
    )
    assert cross.status_code == 403
    with rt.session() as s:
        assert s.get(ApiToken, token_id).revoked_at is None  # type: ignore[union-attr]
    done = client.post(f"/api/v1/tokens/{token_id}/revoke", headers={"X-CSRFToken": csrf(client, "/")})
    assert done.status_code == 200 and done.get_json()["revoked_at"]

    theirs = app.test_client()
    sign_in(theirs, packer)
    assert theirs.get("/api/v1/pick-list").status_code != 403
    assert theirs.get("/api/v1/tokens").status_code == 403
    assert theirs.get("/api/v1/orders").status_code == 403
    assert theirs.get("/api/v1/account").status_code == 200
    client.post("/logout", data={"csrf_token": csrf(client, "/")})
    assert client.get("/api/v1/account").status_code == 401  # signed out: the cookie no longer works


# --------------------------------------------------------------------------- Shopify session tokens


def session_token(secret: str = SECRET, shop: str = SHOP, user: str = "9001", **over: Any) -> str:
    now = int(time.time())
    claims = {
        "iss": f"https://{shop}/admin",
        "dest": f"https://{shop}",
        "aud": KEY,
        "sub": user,
        "exp": now + 60,
        "nbf": now - 1,
        "iat": now - 1,
        "jti": "j-1",
        "sid": "s-1",
    }
    claims.update(over)
    return jwt.encode(claims, secret, algorithm="HS256")


def add_store(rt: Any, account: str = "Acme", shop: str = SHOP, state: StoreState = StoreState.active) -> int:
    with rt.session() as s:
        row = get_or_create_account(s, account)
        s.add(Store(account_id=row.id, platform=Platform.shopify, domain=shop, state=state))
        return row.id


def test_a_session_token_in_a_link_opened_as_a_page_signs_nobody_in(client: Any, rt: Any) -> None:
    """Login CSRF: someone's valid token sent as a link must not sign a victim's browser in."""
    add_store(rt)
    linked = client.get(
        f"/app/embedded?shop={SHOP}&host=x&id_token={session_token()}", headers={"Sec-Fetch-Dest": "document"}
    )
    assert linked.status_code == 403 and "Shopify admin" in linked.get_data(as_text=True)
    assert client.get("/").status_code == 302  # to the login page: no session began
    with rt.session() as s:
        assert s.scalar(select(User).where(User.shopify_user_id == "9001")) is None
        assert s.scalars(select(ConsoleSession)).all() == []
    framed = client.get(
        f"/app/embedded?shop={SHOP}&host=x&id_token={session_token()}", headers={"Sec-Fetch-Dest": "iframe"}
    )
    assert framed.status_code == 302 and client.get("/").status_code == 200


def test_a_session_token_signs_a_shopify_user_in_framed_by_the_shop(client: Any, rt: Any) -> None:
    account_id = add_store(rt)
    entry = client.get(f"/app/embedded?shop={SHOP}&host=x&id_token={session_token()}")
    assert entry.status_code == 302
    ancestors = f"frame-ancestors https://{SHOP} https://admin.shopify.com"
    assert ancestors in entry.headers["Content-Security-Policy"]
    home = client.get("/")
    assert home.status_code == 200 and ancestors in home.headers["Content-Security-Policy"]
    assert client.get("/app/users").status_code == 403  # a new Shopify user is staff
    with rt.session() as s:
        user = s.scalar(select(User).where(User.shopify_user_id == "9001"))
        assert user is not None and (user.account_id, user.role) == (account_id, Role.staff)
        session = s.scalar(select(ConsoleSession).where(ConsoleSession.user_id == user.id))
        assert session is not None and session.embedded_shop == SHOP
    # A second sign-in finds the same user.
    again = client.application.test_client()
    assert (
        again.post("/app/session-token", headers={"Authorization": f"Bearer {session_token()}"}).status_code
        == 200
    )
    with rt.session() as s:
        assert len(s.scalars(select(User).where(User.shopify_user_id == "9001")).all()) == 1
    # A console session signed in otherwise is never framed.
    _, _, owner = new_user(rt, Role.owner, "Plain")
    plain = client.application.test_client()
    sign_in(plain, owner)
    assert "frame-ancestors 'none'" in plain.get("/").headers["Content-Security-Policy"]


@pytest.mark.parametrize(
    ("token", "status"),
    [
        (lambda: session_token(secret="another-secret-0123456789abcdef!!"), 401),  # forged
        (lambda: session_token(exp=int(time.time()) - 60), 401),  # expired
        (lambda: session_token(aud="another-app"), 401),  # for another app
        (lambda: "", 401),
        (lambda: session_token(shop="south-wind.myshopify.com"), 403),  # no store for that shop
    ],
)
def test_a_bad_session_token_signs_nobody_in(client: Any, rt: Any, token: Any, status: int) -> None:
    add_store(rt)
    add_store(rt, "Gone", "south-wind.myshopify.com", StoreState.uninstalled) if status == 403 else None
    answer = client.get(f"/app/embedded?shop={SHOP}&id_token={token()}")
    assert answer.status_code == status
    assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]
    assert not signed_in(client)
    with rt.session() as s:
        assert s.scalars(select(User)).all() == []
    assert (
        client.post("/app/session-token", headers={"Authorization": f"Bearer {token()}"}).status_code
        == status
    )


def test_a_disabled_shopify_user_is_refused(client: Any, rt: Any) -> None:
    add_store(rt)
    assert client.get(f"/app/embedded?id_token={session_token()}").status_code == 302
    with rt.session() as s:
        user = s.scalar(select(User).where(User.shopify_user_id == "9001"))
        assert user is not None
        user.disabled_at = utcnow()
    assert not signed_in(client)
    assert client.get(f"/app/embedded?id_token={session_token()}").status_code == 403
    assert not signed_in(client)


# --------------------------------------------------------------------------- the CLI


def test_the_cli_creates_the_first_owner_and_lists_users(app: Any, rt: Any) -> None:
    runner = app.test_cli_runner()
    assert b"No user exists yet" in app.test_client().get("/login").data
    made = runner.invoke(
        args=["users", "create-owner", "New Shop", "First@Example.com", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert made.exit_code == 0, made.output
    assert "owner" in made.output and "first@example.com" in made.output
    assert b"No user exists yet" not in app.test_client().get("/login").data
    again = runner.invoke(
        args=["users", "create-owner", "New Shop", "first@example.com", "--password-stdin"],
        input=PASSWORD + "\n",
    )
    assert again.exit_code != 0 and "already exists" in again.output
    short = runner.invoke(
        args=["users", "create-owner", "New Shop", "b@example.com", "--password-stdin"], input="short\n"
    )
    assert short.exit_code != 0 and "at least 10" in short.output
    listed = runner.invoke(args=["users", "list", "New Shop"])
    assert listed.exit_code == 0 and "first@example.com" in listed.output and "owner" in listed.output
    assert "b@example.com" not in listed.output
    assert runner.invoke(args=["users", "list", "Nobody"]).exit_code != 0
    client = app.test_client()
    assert sign_in(client, "first@example.com").status_code == 302


def test_cli_prompts_for_the_password_twice(app: Any) -> None:
    runner: CliRunner = app.test_cli_runner()
    made = runner.invoke(
        args=["users", "create-owner", "Prompted", "p@example.com"], input=f"{PASSWORD}\n{PASSWORD}\n"
    )
    assert made.exit_code == 0, made.output


def test_the_service_says_how_to_create_the_first_owner(rt: Any, capsys: pytest.CaptureFixture[str]) -> None:
    from app import _print_welcome

    _print_welcome(rt)
    assert "./waybill users create-owner" in capsys.readouterr().err
    new_user(rt, Role.owner)
    _print_welcome(rt)
    assert "create-owner" not in capsys.readouterr().err

"""Users and roles, invitations, password resets, API tokens, and the Shopify embedded sign-in.

- ``/app/users`` (owner): the account's users (change a role, disable, enable), invitations
  (an e-mail with a one-time link, ``console.invite_hours``), and the API tokens (create:
  shown once; revoke: the console sessions signed in with it end). An account always keeps
  one live owner.
- ``/invite/<secret>``: the invited person chooses a name and a password and is signed in.
- ``/password/forgot`` answers the same page whether or not the e-mail has a user, and sends
  a one-time link (``console.reset_hours``) to a user that exists;
  ``/password/reset/<secret>`` sets the new password and ends every session of the user.
- ``/app/embedded`` (``id_token`` in the query, as Shopify admin loads the app; in a frame
  only) and
  ``POST /app/session-token`` (``Authorization: Bearer``): a Shopify App Bridge session
  token (``connectors.shopify.session_token``) signs the Shopify admin user in to the
  account of the shop's active store; a first-time Shopify user joins as staff.

The one-time links carry their secret in the path: their pages send no Referer to another site.
"""

from __future__ import annotations

from typing import Any

import structlog
from flask import Response, flash, g, redirect, request, session, url_for
from sqlalchemy import select

from connectors.shopify.session_token import InvalidSessionToken, verify
from db.accounts import issue_token, revoke_token
from db.models import Account, ApiToken, Platform, Role, Store, StoreState, User, UserLink, utcnow
from db.timeline import record
from db.users import (
    INVITE,
    RESET,
    UserError,
    accept_invite,
    account_user,
    invite,
    live_link,
    reset_link,
    reset_password,
    set_disabled,
    set_role,
    shopify_user,
    start_user_session,
    users_of,
)
from sync.user_mail import send_link
from web import runtime
from web.console import bp, page, render
from web.console.auth import begin, sign_in_limit
from web.security import csrf

log = structlog.get_logger("waybill.console.users")
ROLES = [Role.owner, Role.staff, Role.packer]
GONE = "This link has expired or has been used already. Ask for a new one."


def _page(rendered: tuple[str, int], **headers: str) -> Response:
    body, status = rendered
    response = Response(body, status, mimetype="text/html")
    response.headers.update(headers)
    return response


def _no_referrer(rendered: tuple[str, int]) -> Response:
    """A page reached by a secret link must not hand the link to another site (``same-origin``;
    ``no-referrer`` would make the browser send ``Origin: null`` on the page's own form, which
    the Origin check refuses)."""
    return _page(rendered, **{"Referrer-Policy": "same-origin", "Cache-Control": "no-store"})


# --------------------------------------------------------------------------- users and roles


def _page_context(s: Any) -> dict[str, Any]:
    now = utcnow()
    invites = list(
        s.scalars(
            select(UserLink)
            .where(
                UserLink.account_id == g.account_id,
                UserLink.purpose == INVITE,
                UserLink.used_at.is_(None),
                UserLink.expires_at > now,
            )
            .order_by(UserLink.id)
        )
    )
    tokens = list(
        s.scalars(select(ApiToken).where(ApiToken.account_id == g.account_id).order_by(ApiToken.id))
    )
    return {"users": users_of(s, g.account_id), "invites": invites, "tokens": tokens, "roles": ROLES}


@bp.get("/app/users")
@page(Role.owner)
def users() -> Any:
    with runtime().session() as s:
        return render("users.html", **_page_context(s))


def _user_or_404(s: Any, user_id: int) -> User:
    from flask import abort

    user = account_user(s, g.account_id, user_id)
    if user is None:
        abort(404)
    return user


def _audit(s: Any, action: str, **data: Any) -> None:
    """The account's audit trail of user and token changes (timeline subject ``users``)."""
    record(s, g.account_id, "users", g.actor, action, data=data)


def _who(user: User) -> str:
    return user.email or user.name or f"Shopify user {user.shopify_user_id}"


@bp.post("/app/users/<int:user_id>/role")
@page(Role.owner)
def change_role(user_id: int) -> Any:
    wanted = request.form.get("role", "")
    with runtime().session() as s:
        user = _user_or_404(s, user_id)
        if wanted not in Role.__members__:
            flash("Choose owner, staff or packer.", "error")
            return redirect(url_for("console.users"))
        try:
            before = user.role.value
            set_role(s, user, wanted)
        except UserError as exc:
            s.rollback()
            flash(f"{_who(user)}: {exc}.", "error")
            return redirect(url_for("console.users"))
        _audit(s, "user.role_changed", user_id=user.id, before=before, after=wanted)
        flash(f"{_who(user)} is now {wanted}.", "ok")
    log.info("users.role_changed", user_id=user_id, role=wanted, by=g.user_id)
    return redirect(url_for("console.users"))


def _set_disabled(user_id: int, disabled: bool) -> Any:
    with runtime().session() as s:
        user = _user_or_404(s, user_id)
        try:
            ended = set_disabled(s, user, disabled)
        except UserError as exc:
            s.rollback()
            flash(f"{_who(user)}: {exc}.", "error")
            return redirect(url_for("console.users"))
        _audit(s, "user.disabled" if disabled else "user.enabled", user_id=user.id, sessions_ended=ended)
        what = f"disabled ({ended} session{'s' if ended != 1 else ''} ended)" if disabled else "enabled"
        flash(f"{_who(user)} is {what}.", "ok")
    log.info("users.disabled" if disabled else "users.enabled", user_id=user_id, by=g.user_id)
    return redirect(url_for("console.users"))


@bp.post("/app/users/<int:user_id>/disable")
@page(Role.owner)
def disable_user(user_id: int) -> Any:
    return _set_disabled(user_id, True)


@bp.post("/app/users/<int:user_id>/enable")
@page(Role.owner)
def enable_user(user_id: int) -> Any:
    return _set_disabled(user_id, False)


@bp.post("/app/users/invite")
@page(Role.owner)
def invite_user() -> Any:
    rt = runtime()
    email, wanted = request.form.get("email", "").strip(), request.form.get("role", "")
    hours = rt.settings.console.invite_hours
    with rt.session() as s:
        if wanted not in Role.__members__:
            return render("users.html", 400, error="Choose owner, staff or packer.", **_page_context(s))
        try:
            link, secret = invite(s, g.account_id, email, wanted, hours, g.user_id)
        except UserError as exc:
            s.rollback()
            return render("users.html", 400, error=f"Not invited: {exc}.", email=email, **_page_context(s))
        _audit(s, "user.invited", link_id=link.id, role=wanted)
        link_id, to, account_id = link.id, link.email, g.account_id
    url = f"{rt.settings.public_url.rstrip('/')}/invite/{secret}"
    try:
        send_link(
            rt,
            link_id,
            INVITE,
            to,
            url,
            account_id=account_id,
            account=g.account_name,
            role=wanted,
            hours=hours,
        )
    except Exception as exc:  # the mail server refused or did not answer: say so, keep the invitation
        log.warning("users.invite_not_sent", link_id=link_id, error=type(exc).__name__)
        flash(f"The invitation to {to} could not be sent ({type(exc).__name__}); try again later.", "error")
        return redirect(url_for("console.users"))
    flash(f"Invitation sent to {to} (as {wanted}; the link works for {hours:g} hours).", "ok")
    log.info("users.invited", link_id=link_id, role=wanted, by=g.user_id)
    return redirect(url_for("console.users"))


@bp.post("/app/users/invites/<int:link_id>/cancel")
@page(Role.owner)
def cancel_invite(link_id: int) -> Any:
    from flask import abort

    with runtime().session() as s:
        link = s.get(UserLink, link_id)
        if link is None or link.account_id != g.account_id or link.purpose != INVITE:
            abort(404)
        if link.used_at is None:
            link.expires_at = utcnow()
            _audit(s, "user.invite_cancelled", link_id=link.id)
        flash(f"The invitation to {link.email} no longer works.", "ok")
    return redirect(url_for("console.users"))


# --------------------------------------------------------------------------- API tokens


@bp.post("/app/tokens")
@page(Role.owner)
def create_token() -> Any:
    with runtime().session() as s:
        account = s.get(Account, g.account_id)
        assert account is not None
        token = issue_token(s, account)
        s.flush()
        _audit(s, "token.created", prefix=token[:10])
        log.info("users.token_created", prefix=token[:10], by=g.user_id)
        rendered = render("users.html", new_token=token, **_page_context(s))
    return _page(rendered, **{"Cache-Control": "no-store"})  # the token is shown once, never cached


@bp.post("/app/tokens/<int:token_id>/revoke")
@page(Role.owner)
def revoke(token_id: int) -> Any:
    from flask import abort

    with runtime().session() as s:
        row = s.get(ApiToken, token_id)
        if row is None or row.account_id != g.account_id:
            abort(404)
        ended = revoke_token(s, row)
        prefix = row.prefix
        _audit(s, "token.revoked", token_id=row.id, prefix=prefix, sessions_ended=ended)
    flash(f"Token {prefix}… revoked; {ended} console session{'s' if ended != 1 else ''} ended.", "ok")
    log.info("users.token_revoked", token_id=token_id, by=g.user_id)
    return redirect(url_for("console.users"))


# --------------------------------------------------------------------------- invitations


@bp.route("/invite/<secret>", methods=["GET", "POST"])
def accept(secret: str) -> Any:
    rt = runtime()
    error = None
    with rt.session() as s:
        link = live_link(s, secret, INVITE)
        if link is None:
            return _no_referrer(render("link_gone.html", 410, message=GONE))
        account = s.get(Account, link.account_id)
        context = {"email": link.email, "role": link.role, "account": account.name if account else ""}
        if request.method == "POST":
            name, password = request.form.get("name", ""), request.form.get("password", "")
            try:
                if password != request.form.get("confirm", ""):
                    raise UserError("the two passwords differ")
                user = accept_invite(s, link, name, password)
            except UserError as exc:
                s.rollback()
                error = f"{str(exc)[:1].upper()}{str(exc)[1:]}."
            else:
                begin(start_user_session(s, user), user.account_id)
                log.info("users.invite_accepted", link_id=link.id, user_id=user.id)
                flash("Welcome to Waybill.", "ok")
                return redirect(url_for("console.home"))
    return _no_referrer(render("invite.html", 400 if error else 200, error=error, secret=secret, **context))


# --------------------------------------------------------------------------- password reset


@bp.route("/password/forgot", methods=["GET", "POST"])
@sign_in_limit
def forgot() -> Any:
    if request.method == "GET":
        return render("password_forgot.html")
    rt = runtime()
    hours = rt.settings.console.reset_hours
    email = request.form.get("email", "")
    with rt.session() as s:
        found = reset_link(s, email, hours)
        if found is not None:
            link, secret = found
            link_id, to, account_id, role = link.id, link.email, link.account_id, str(link.role)
            account = s.get(Account, account_id)
            account_name = account.name if account else ""
    if found is not None:
        url = f"{rt.settings.public_url.rstrip('/')}/password/reset/{secret}"
        try:
            send_link(
                rt,
                link_id,
                RESET,
                to,
                url,
                account_id=account_id,
                account=account_name,
                role=role,
                hours=hours,
            )
        except Exception as exc:  # the answer must not tell whether the e-mail exists
            log.warning("users.reset_not_sent", error=type(exc).__name__)
    # The same page, whatever the e-mail: it does not tell who has an account.
    return render("password_forgot.html", sent=True)


@bp.route("/password/reset/<secret>", methods=["GET", "POST"])
def reset(secret: str) -> Any:
    error = None
    with runtime().session() as s:
        link = live_link(s, secret, RESET)
        if link is None:
            return _no_referrer(render("link_gone.html", 410, message=GONE))
        if request.method == "POST":
            password = request.form.get("password", "")
            try:
                if password != request.form.get("confirm", ""):
                    raise UserError("the two passwords differ")
                user = reset_password(s, link, password)
            except UserError as exc:
                s.rollback()
                error = f"{str(exc)[:1].upper()}{str(exc)[1:]}."
            else:
                begin(start_user_session(s, user), user.account_id)
                log.info("users.password_reset", user_id=user.id)
                flash("Your password is changed; every other session of yours has ended.", "ok")
                return redirect(url_for("console.home"))
        email = link.email
    return _no_referrer(
        render("password_reset.html", 400 if error else 200, error=error, secret=secret, email=email)
    )


# --------------------------------------------------------------------------- Shopify embedded sign-in


def _embedded_sign_in(token: str) -> tuple[str | None, str, int]:
    """Sign the browser in with a session token: (shop, message, status); shop None when refused."""
    rt = runtime()
    key, secret = rt.settings.shopify.api_key, rt.settings.shopify.api_secret
    try:
        claims = verify(token, key or "", secret.get_secret_value() if secret else "")
    except InvalidSessionToken as exc:
        log.warning("users.session_token_refused", reason=str(exc))
        return None, "The Shopify session token is not valid. Open the app again from Shopify admin.", 401
    with rt.session() as s:
        store = s.scalar(
            select(Store).where(
                Store.platform == Platform.shopify,
                Store.domain == claims.shop,
                Store.state == StoreState.active,
            )
        )
        if store is None:
            log.warning("users.session_token_unknown_shop")
            return None, "This shop is not connected to Waybill. Install the app first.", 403
        user = shopify_user(s, store.account_id, claims.user_id)
        if user.disabled_at is not None:
            return None, "Your Waybill user is disabled. Ask the account's owner.", 403
        user.last_login_at = utcnow()
        begin(start_user_session(s, user, embedded_shop=claims.shop), store.account_id)
        session["embedded"] = True  # the cookie must reach us inside Shopify admin's frame
        g.embedded_shop = claims.shop  # this response may be framed by the shop's admin
        log.info("users.embedded_sign_in", store_id=store.id, user_id=user.id)
    return claims.shop, "", 200


@bp.get("/app/embedded")
def embedded() -> Any:
    """Shopify admin loads the app here with ``id_token`` (the session token) in the query.

    Only inside a frame: a browser that says it is opening a top-level page (``Sec-Fetch-Dest:
    document``) is refused, so a link to someone else's token cannot sign a victim's browser
    in to another account (login CSRF). Browsers send the header on every request to a secure
    origin; a client without it (no browser) is judged by the token alone."""
    dest = request.headers.get("Sec-Fetch-Dest")
    if dest is not None and dest != "iframe":
        log.warning("users.embedded_entry_not_framed", dest=dest[:16])
        return render(
            "link_gone.html",
            403,
            message="Open Waybill from your Shopify admin (Apps), not from a link.",
            heading="Cannot sign in",
        )
    shop, message, status = _embedded_sign_in(request.args.get("id_token", ""))
    if shop is None:
        session.clear()
        return render("link_gone.html", status, message=message, heading="Cannot sign in")
    return redirect(url_for("console.home"))


@bp.post("/app/session-token")
def session_token() -> Any:
    """App Bridge's ``Authorization: Bearer <session token>``: starts the embedded session (JSON)."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return {"error": "missing bearer session token"}, 401
    shop, message, status = _embedded_sign_in(token.strip())
    if shop is None:
        session.clear()
        return {"error": message}, status
    return {"shop": shop, "next": url_for("console.home")}


# Authenticated by the Shopify-signed token in its header, not by a cookie: no CSRF form token.
csrf.exempt(session_token)

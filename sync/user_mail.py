"""The console's e-mails to people: invitations and password-reset links.

Each is sent once through the effects ledger (``usermail:<link id>``) by the configured
notifier (``sync.notify``). The link's secret is in the message only: neither the ledger's
request nor its result holds it, and nothing here logs an address.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from connectors.notify import Message
from sync.notify import notifier_for

if TYPE_CHECKING:
    from sync.runtime import Runtime

SUBJECTS = {
    "invite": "You are invited to {account} on Waybill",
    "reset": "Reset your Waybill password",
}
BODIES = {
    "invite": (
        "Hello,\n\nYou are invited to join {account} on Waybill as {role}.\n"
        "Choose your name and password here (the link works once, for {hours:g} hours):\n{url}\n\n"
        "If you did not expect this invitation, ignore this e-mail."
    ),
    "reset": (
        "Hello,\n\nSomeone asked to reset the password of your Waybill account.\n"
        "Choose a new password here (the link works once, for {hours:g} hours):\n{url}\n\n"
        "If it was not you, ignore this e-mail: your password stays as it is."
    ),
}


def send_link(
    rt: Runtime,
    link_id: int,
    purpose: str,
    to: str,
    url: str,
    *,
    account_id: int,
    account: str,
    role: str,
    hours: float,
) -> dict[str, Any]:
    """E-mail the one-time link ``url`` (an invitation or a password reset) to ``to``, once."""
    key = f"usermail:{link_id}"
    text = {"account": account, "role": role, "hours": hours, "url": url}

    def act(_progress: Any) -> dict[str, Any]:
        message = Message(
            key=key,
            to=to,
            subject=SUBJECTS[purpose].format(**text),
            body=BODIES[purpose].format(**text),
            sender_name="Waybill",
        )
        return {"sent": True, "ref": notifier_for(rt).send(message)}

    return rt.ledger.run(
        key, "notice", {"link_id": link_id, "purpose": purpose}, act, None, account_id=account_id
    )

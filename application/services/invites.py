"""Invite codes: the owner makes, lists, prints and revokes them; a code's holder votes once.

The owner sees each code's label and whether it was used, never how it voted (the ballot of a
secret poll is not even linked to it; on other polls only the voter is shown their vote).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from application.keys import DB, INVITES
from application.services.refusals import InvalidInvites, InviteNotFound, InviteNotValid, InviteUsed
from application.web.forms import text_problem, whole_number
from application.web.i18n import N_
from models import invite
from models.db import MAX_ID, Row

LABEL_MAX = 200
MAX_PER_CALL = invite.MAX_PER_CALL
grouped = invite.grouped  # a code as it is printed: 7KQ2-9XMV-4DH0


@dataclass(frozen=True)
class Turnout:
    voted: int
    invited: int  # codes not revoked


def check_request(count: Any, labels: Any) -> list[str | None]:
    """What the owner asked for, as one label (or None) per code: ``count`` codes, or one per
    label (a list of texts; blank ones ignored). ``InvalidInvites`` otherwise."""
    if labels not in (None, "", []):
        return _check_labels(labels)
    number = whole_number(count) if count not in (None, "") else None
    if number is None or not 1 <= number <= MAX_PER_CALL:
        raise InvalidInvites(
            {"count": N_("Give a number of codes from 1 to %(most)s, or a list of names.", most=MAX_PER_CALL)}
        )
    return [None] * number


def _check_labels(labels: Any) -> list[str | None]:
    if not isinstance(labels, list) or not all(isinstance(item, str) for item in labels):
        raise InvalidInvites({"labels": N_("Give the names as a list of texts.")})
    texts = [item.strip() for item in labels if item.strip()]
    if not 1 <= len(texts) <= MAX_PER_CALL:
        raise InvalidInvites({"labels": N_("Give from 1 to %(most)s names, one per line.", most=MAX_PER_CALL)})
    for text in texts:
        if problem := text_problem(text, LABEL_MAX):
            raise InvalidInvites({"labels": problem})
    return list(texts)


async def create(app: web.Application, poll: Row, labels: list[str | None]) -> list[Row]:
    return await invite.create_many(app[DB], poll["id"], labels)


async def listed(app: web.Application, poll: Row) -> list[Row]:
    return await invite.for_question(app[DB], poll["id"])


async def turnout(app: web.Application, poll: Row) -> Turnout:
    return Turnout(*await invite.turnout(app[DB], poll["id"]))


async def revoke(app: web.Application, poll: Row, invite_id: int) -> None:
    """Revoke an unused code of the poll: ``InviteNotFound`` when there is no such code,
    ``InviteUsed`` once it has voted."""
    found = await invite.get(app[DB], poll["id"], invite_id) if 0 < invite_id <= MAX_ID else None
    if found is None:
        raise InviteNotFound
    if not await invite.revoke(app[DB], poll["id"], invite_id):
        raise InviteUsed


def is_code(word: str) -> bool:
    """Whether ``word`` is written like an invite code (it may still be nobody's)."""
    return invite.normalise(word) is not None


async def held(app: web.Application, typed: str) -> Row:
    """The invite a typed code names, used or not (what its holder may read): ``InviteNotValid``
    when unknown or revoked."""
    code = invite.normalise(typed)
    found = await app[INVITES].submit(code) if code else None
    if found is None or found["revoked"]:
        raise InviteNotValid
    return found


async def usable(app: web.Application, typed: str) -> Row:
    """The invite a typed code names, while it may vote: ``InviteNotValid`` when unknown or
    revoked, ``InviteUsed`` once used."""
    found = await held(app, typed)
    if found["used"]:
        raise InviteUsed
    return found

"""Accounts: registering, logging in, enabling and disabling, API tokens; shared by the pages, the
API and the command line. A change to an account is announced (``cluster/changes.py``, kind
ACCOUNT): every process forgets its tokens and checks its live sockets."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from typing import Any

from aiohttp import web

from application.cluster.changes import Change, Kind
from application.keys import CHANGES, DB, DUMMY_HASH, FAILED_LOGINS
from application.services.refusals import (
    AccountDisabled,
    AccountTaken,
    BadCredentials,
    InvalidRegistration,
    OwnAccount,
    TokenNotFound,
    TooManyAttempts,
    UserNotFound,
)
from application.services.viewer import Viewer
from application.web.forms import NAME_MAX, PASSWORD_PROBLEMS, is_phone, normalize_email, text_fields, text_problem
from application.web.i18n import N_
from models import api_token, user
from models.db import Database, IntegrityError, Row
from models.passwords import hash_password, password_problem, verify_password

EMAIL_TAKEN = N_("This email address is already registered.")
PHONE_TAKEN = N_("This mobile number is already registered.")
EITHER_TAKEN = N_("This email address or mobile number is already registered.")


def check_registration(data: Mapping[str, Any]) -> dict[str, str]:
    """Clean registration fields, or ``InvalidRegistration`` with a message per bad field."""
    values, errors = text_fields(data, ("name", "email", "phone", "password"))
    if "name" in values and (problem := text_problem(values["name"], NAME_MAX)):
        errors["name"] = problem
    if "email" in values:
        try:
            values["email"] = normalize_email(values["email"])
        except ValueError as exc:
            errors["email"] = exc.args[0]  # keeps the N_() text
    if "phone" in values and not is_phone(values["phone"]):
        errors["phone"] = N_("Enter a mainland mobile number: 11 digits starting with 13-19.")
    if "password" in values and (weakness := password_problem(values["password"])):
        errors["password"] = PASSWORD_PROBLEMS[weakness]
    if errors:
        raise InvalidRegistration(errors)
    return values


async def register(db: Database, fields: dict[str, str], is_admin: bool = False) -> Row:
    """Create the account from checked fields; ``AccountTaken`` when the email or phone is."""
    taken = {}
    if await user.by_account(db, fields["email"]):
        taken["email"] = EMAIL_TAKEN
    if await user.by_account(db, fields["phone"]):
        taken["phone"] = PHONE_TAKEN
    if taken:
        raise AccountTaken(taken)
    password_hash = await hash_password(fields["password"])
    try:
        user_id = await user.create(
            db,
            name=fields["name"],
            phone=fields["phone"],
            email=fields["email"],
            password_hash=password_hash,
            is_admin=is_admin,
        )
    except IntegrityError:  # registered by a concurrent request in between
        raise AccountTaken({"email": EITHER_TAKEN}) from None
    created = await user.get(db, user_id)
    if created is None:
        raise UserNotFound
    return created


class DummyHash:
    """A hash to check passwords against when the account does not exist, so that both failures
    take as long; made once per app, when first needed (hashing is slow on purpose)."""

    def __init__(self) -> None:
        self.value: str | None = None

    async def get(self) -> str:
        if self.value is None:
            self.value = await hash_password(secrets.token_urlsafe(16))
        return self.value


def _throttle_key(account: str, found: Row | None, client_ip: str) -> str:
    """Per account and client IP. The account is the user, whichever of their identifiers was
    typed; an identifier that matches nobody counts for itself, so unknown accounts behave alike."""
    who = f"user {found['id']}" if found is not None else f"typed {account.lower()}"
    return hashlib.sha256(f"{who}|{client_ip}".encode()).hexdigest()


async def authenticate(app: web.Application, account: str, password: str, client_ip: str) -> Row:
    """The active user with these credentials. Each attempt is counted before its password is
    checked, so parallel guesses get no more tries than sequential ones; a success resets the count."""
    counter = app[FAILED_LOGINS]
    found = await user.by_account(app[DB], account)
    key = _throttle_key(account, found, client_ip)
    if not await counter.attempt(key):
        raise TooManyAttempts
    if found is None:
        await verify_password(await app[DUMMY_HASH].get(), password)
    if found is None or not await verify_password(found["password"], password):
        raise BadCredentials
    await counter.reset(key)
    if not found["is_active"]:
        raise AccountDisabled
    return found


async def _changed(app: web.Application, user_id: int) -> None:
    """Every process forgets the account's tokens and checks its live sockets."""
    await app[CHANGES].announce(Change(Kind.ACCOUNT, (user_id,)))


async def set_active(app: web.Application, user_id: int, active: bool, by: Viewer) -> None:
    """Enable or disable an account (``by`` an administrator): a disabled one's sessions and
    tokens stop working at once, in every process."""
    if by.user is not None and user_id == by.user["id"] and not active:
        raise OwnAccount
    if not await user.set_active(app[DB], user_id, active):
        raise UserNotFound
    await _changed(app, user_id)


async def count_matching(app: web.Application, text: str) -> int:
    """Users whose name, email or phone contains ``text``."""
    return await user.count_matching(app[DB], text)


async def list_matching(app: web.Application, text: str, limit: int, offset: int) -> list[Row]:
    return await user.list_matching(app[DB], text, limit, offset)


async def tokens_of(app: web.Application, user_id: int) -> list[Row]:
    """The account's API tokens, without their secrets."""
    return await api_token.for_user(app[DB], user_id)


async def create_token(app: web.Application, user_id: int, name: str) -> tuple[int, str]:
    """A new token's id and its secret, which is never stored and cannot be shown again."""
    return await api_token.create(app[DB], user_id, name)


async def revoke_token(app: web.Application, token_id: int, user_id: int) -> None:
    """Revoke one of the account's tokens: no process accepts it any more."""
    if not await api_token.delete(app[DB], token_id, user_id):
        raise TokenNotFound
    await _changed(app, user_id)

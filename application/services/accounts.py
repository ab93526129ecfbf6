"""Accounts: registering, logging in, enabling and disabling, API tokens; shared by the pages, the
API and the command line. A change to an account is announced (``cluster/changes.py``, kind
ACCOUNT): every process forgets its tokens and checks its live sockets."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from aiohttp import web

from application.cluster.changes import Change, Kind
from application.keys import CHANGES, DB, DUMMY_HASH, FAILED_LOGINS, SETTINGS
from application.services.refusals import (
    AccountDisabled,
    AccountTaken,
    BadCredentials,
    InvalidAccountChange,
    InvalidRegistration,
    OwnAccount,
    TokenNotFound,
    TooManyAttempts,
    UserNotFound,
    WrongPassword,
)
from application.services.viewer import Viewer
from application.web.forms import (
    NAME_MAX,
    PASSWORD_PROBLEMS,
    normalize_email,
    normalize_phone,
    text_fields,
    text_problem,
)
from application.web.i18n import N_
from models import account_session, api_token, ballot, password_reset, question, user
from models.clock import utcnow
from models.db import Database, IntegrityError, Row
from models.passwords import hash_password, password_problem, verify_password

EMAIL_TAKEN = N_("This email address is already registered.")
PHONE_TAKEN = N_("This mobile number is already registered.")
EITHER_TAKEN = N_("This email address or mobile number is already registered.")


def check_registration(data: Mapping[str, Any]) -> dict[str, str | None]:
    """Clean registration fields, or ``InvalidRegistration`` with a message per bad field. The
    phone is optional (None when left out or blank) and stored in E.164 form."""
    values, errors = _details(data, ("password",))
    if isinstance(values.get("password"), str) and (weakness := password_problem(str(values["password"]))):
        errors["password"] = PASSWORD_PROBLEMS[weakness]
    if errors:
        raise InvalidRegistration(errors)
    return values


def _details(data: Mapping[str, Any], more: tuple[str, ...] = ()) -> tuple[dict[str, str | None], dict[str, str]]:
    """Name, email and the optional phone, cleaned, with the text fields ``more``; a message per bad field."""
    values, errors = text_fields(data, ("name", "email", *more))
    if "name" in values and (problem := text_problem(values["name"], NAME_MAX)):
        errors["name"] = problem
    if "email" in values:
        try:
            values["email"] = normalize_email(values["email"])
        except ValueError as exc:
            errors["email"] = exc.args[0]  # keeps the N_() text
    phone = optional_phone(data.get("phone"), errors)
    return {**values, "phone": phone}, errors


def optional_phone(raw: Any, errors: dict[str, str]) -> str | None:
    """The phone field in E.164 form, or None when left out or blank; its problem goes into ``errors``."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if not isinstance(raw, str):
        errors["phone"] = N_("This field must be text.")
        return None
    try:
        return normalize_phone(raw)
    except ValueError as exc:
        errors["phone"] = exc.args[0]
        return None


async def register(db: Database, fields: Mapping[str, str | None], is_admin: bool = False, language: str = "en") -> Row:
    """Create the account from checked fields; ``AccountTaken`` when the email or phone is."""
    email, phone, password = str(fields["email"]), fields["phone"], str(fields["password"])
    taken = {}
    if await user.by_account(db, email):
        taken["email"] = EMAIL_TAKEN
    if phone is not None and await user.by_account(db, phone):
        taken["phone"] = PHONE_TAKEN
    if taken:
        raise AccountTaken(taken)
    password_hash = await hash_password(password)
    try:
        user_id = await user.create(
            db,
            name=str(fields["name"]),
            phone=phone,
            email=email,
            password_hash=password_hash,
            is_admin=is_admin,
            language=language,
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
    return f"{who}|{client_ip}"


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


async def remember_language(app: web.Application, user_id: int, code: str) -> None:
    """The language the user chose last: their mails are written in it."""
    await user.set_language(app[DB], user_id, code)


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


# --- Self-service (/account) ----------------------------------------------------------------


async def end_sessions(app: web.Application, user_id: int) -> None:
    """End every session of the account, in every process: they carry an older generation now,
    their live sockets close, and the sessions list forgets them. A view that keeps the user
    signed in logs them in again (a new session)."""
    await user.next_session_generation(app[DB], user_id)
    for key in await account_session.end_all(app[DB], user_id):
        await app[CHANGES].announce(Change(Kind.SESSION, (key,)))
    await _changed(app, user_id)


async def fresh(app: web.Application, user_id: int) -> Row | None:
    """The account as it is now (after a change)."""
    return await user.get(app[DB], user_id)


async def sessions_of(app: web.Application, user_id: int) -> list[Row]:
    """The account's signed-in sessions that can still be in use, most recently seen first."""
    settings, now = app[SETTINGS], utcnow()
    return await account_session.of_user(
        app[DB],
        user_id,
        seen_since=now - timedelta(seconds=settings.session_idle_seconds),
        started_since=now - timedelta(seconds=settings.session_absolute_seconds),
    )


async def check_password(app: web.Application, me: Row, password: str, client_ip: str) -> None:
    """``WrongPassword`` unless this is the account's password; guesses count as failed logins."""
    counter = app[FAILED_LOGINS]
    key = _throttle_key("", me, client_ip)
    if not await counter.attempt(key):
        raise TooManyAttempts
    stored = await user.password_of(app[DB], me["id"])
    if stored is None or not await verify_password(stored, password):
        raise WrongPassword
    await counter.reset(key)


def check_profile(data: Mapping[str, Any]) -> dict[str, str | None]:
    """New name, email and phone (optional), cleaned; ``InvalidAccountChange`` per bad field."""
    values, errors = _details(data)
    if errors:
        raise InvalidAccountChange(errors)
    return values


def check_new_password(data: Mapping[str, Any]) -> str:
    """The new password (fields ``password`` and ``password2``, the same again)."""
    values, errors = text_fields(data, ("password", "password2"))
    if "password" in values and (weakness := password_problem(values["password"])):
        errors["password"] = PASSWORD_PROBLEMS[weakness]
    elif "password2" in values and values["password"] != values["password2"]:
        errors["password2"] = N_("The two passwords are not the same.")
    if errors:
        raise InvalidAccountChange(errors)
    return values["password"]


async def change_profile(app: web.Application, me: Row, fields: Mapping[str, str | None]) -> None:
    """Save checked name, email and phone; ``AccountTaken`` when another account has one of them.
    A new email cancels the reset links not used yet."""
    db, email, phone = app[DB], str(fields["email"]), fields["phone"]
    taken = {}
    if (owner := await user.by_account(db, email)) is not None and owner["id"] != me["id"]:
        taken["email"] = EMAIL_TAKEN
    if phone is not None and (owner := await user.by_account(db, phone)) is not None and owner["id"] != me["id"]:
        taken["phone"] = PHONE_TAKEN
    if taken:
        raise AccountTaken(taken)
    try:
        async with db.transaction() as tx:
            await user.update_profile(tx, me["id"], name=str(fields["name"]), email=email, phone=phone)
            if email != me["email"]:  # a link mailed to the old address must not open the account
                await password_reset.use_all_of(tx, me["id"], utcnow())
    except IntegrityError:
        raise AccountTaken({"email": EITHER_TAKEN}) from None
    await _changed(app, me["id"])


async def change_password(app: web.Application, me: Row, password: str) -> None:
    """Set a checked new password; every session of the account ends (the view signs this one in
    again) and every reset link not used yet stops working."""
    password_hash = await hash_password(password)
    async with app[DB].transaction() as tx:
        await user.set_password(tx, me["id"], password_hash)
        # A reset link mailed earlier would undo the change: it stops working, as after a reset.
        await password_reset.use_all_of(tx, me["id"], utcnow())
    await end_sessions(app, me["id"])


async def delete_account(app: web.Application, me: Row) -> None:
    """Delete the account: its polls are deleted, its ballots stay counted but point to nobody,
    its tokens, links and sessions end, and nothing personal stays."""
    db = app[DB]
    async with db.transaction() as tx:
        polls = await question.delete_all_of(tx, me["id"])
        voted_in = await ballot.orphan_all_of(tx, me["id"])
        await api_token.delete_all_of(tx, me["id"])
        await password_reset.delete_all_of(tx, me["id"])
        await user.erase(tx, me["id"])
    await end_sessions(app, me["id"])
    for question_id in sorted({*polls, *voted_in}):
        await app[CHANGES].announce(Change(Kind.POLL, (question_id,)))


async def data_of(app: web.Application, me: Row) -> dict[str, Any]:
    """Everything the app keeps about the account, to download: the account, its polls (with
    their choices and counts), its votes and its API tokens (never their secrets)."""
    db = app[DB]
    polls = [await question.get_with_choices(db, row["id"]) for row in await question.owned_by(db, me["id"])]
    votes: dict[int, dict[str, Any]] = {}
    for row in await ballot.choices_by_voter(db, me["id"]):
        vote = votes.setdefault(
            row["question_id"],
            {
                "question_id": row["question_id"],
                "question_text": row["question_text"],
                "cast_at": row["create_time"],
                "choices": [],
            },
        )
        if row["choice_id"] is not None:
            vote["choices"].append({"id": row["choice_id"], "choice_text": row["choice_text"]})
    account = {key: me[key] for key in ("id", "name", "email", "phone", "language", "create_time")}
    return {
        "account": account,
        "polls": [poll for poll in polls if poll is not None],
        "votes": list(votes.values()),
        "api_tokens": await api_token.for_user(db, me["id"]),
    }

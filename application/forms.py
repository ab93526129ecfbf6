"""Reading and checking input: form and JSON bodies, accounts, registration fields.

Every problem becomes a 4xx with a message per field; nothing is stored from a bad request.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from aiohttp import web
from email_validator import EmailNotValidError, validate_email
from multidict import MultiDictProxy

from application.errors import AppError, ErrorCode
from application.i18n import N_
from models.passwords import MAX_LENGTH, MIN_LENGTH, password_problem

PHONE_RE = re.compile(r"1[3-9][0-9]{9}")
NAME_MAX = 40
EMAIL_MAX = 254

# models/ speaks English only: its password messages, marked here so pages can translate them.
PASSWORD_PROBLEMS = {
    str(text): text
    for text in (
        N_("Use at least %(count)s characters.", count=MIN_LENGTH),
        N_("Use at most %(count)s characters.", count=MAX_LENGTH),
        N_("This password is too common; choose another."),
    )
}


def page_number(request: web.Request, name: str = "page") -> int:
    """The page of a listing asked for in the query parameter ``name`` (1 when absent), or 400."""
    raw = request.query.get(name, "1")
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9) or int(raw) < 1:
        message = N_("%(name)s must be a positive whole number.", name=name)
        raise AppError(400, message, fields={name: N_("Not a page number.")})
    return int(raw)


async def read_form(request: web.Request) -> MultiDictProxy[str | bytes | Any]:
    try:
        form = await request.post()
    except UnicodeDecodeError:
        form = None
    # aiohttp decodes bad bytes as U+FFFD; such a field would be stored mangled.
    if form is None or any(isinstance(value, str) and "\ufffd" in value for value in form.values()):
        raise AppError(400, N_("The form is not valid UTF-8."))
    return form


async def read_json(request: web.Request) -> dict[str, Any]:
    """The JSON object in the body; 415 for another content type, 400 when it is not one."""
    if request.content_type != "application/json":
        raise AppError(415, "Send the body as application/json.")
    raw = await request.read()
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise AppError(400, "The body is not valid UTF-8 JSON.") from None
    if not isinstance(data, dict):
        raise AppError(400, "The body must be a JSON object.")
    return data


def text_fields(data: Mapping[str, Any], names: tuple[str, ...]) -> tuple[dict[str, str], dict[str, str]]:
    """The named fields as stripped strings, and an error for each one missing or not text."""
    values: dict[str, str] = {}
    errors: dict[str, str] = {}
    for name in names:
        value = data.get(name)
        if not isinstance(value, str):
            errors[name] = N_("This field is required.") if value is None else N_("This field must be text.")
        elif name != "password" and not value.strip():
            errors[name] = N_("This field is required.")
        else:
            values[name] = value if name == "password" else value.strip()
    return values, errors


def is_phone(account: str) -> bool:
    return PHONE_RE.fullmatch(account) is not None


def normalize_email(value: str) -> str:
    """The email in canonical form; ValueError with a reason when it is not an address."""
    if len(value) > EMAIL_MAX:
        raise ValueError(N_("Use at most %(count)s characters.", count=EMAIL_MAX))
    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError(N_("Enter a valid email address (%(reason)s).", reason=str(exc))) from None


def check_account(account: str) -> str:
    """An email or mainland mobile number as stored; 400 (20003) otherwise."""
    if is_phone(account):
        return account
    try:
        return normalize_email(account)
    except ValueError:
        raise AppError(
            400,
            N_("Enter an email address or a mainland mobile number (11 digits starting with 1)."),
            ErrorCode.ACCOUNT_MALFORMED,
            {"account": N_("Not an email address or mobile number.")},
        ) from None


def check_registration(data: Mapping[str, Any]) -> dict[str, str]:
    """Clean registration fields, or 400 (20002) with a message per bad field."""
    values, errors = text_fields(data, ("name", "email", "phone", "password"))
    if "name" in values and len(values["name"]) > NAME_MAX:
        errors["name"] = N_("Use at most %(count)s characters.", count=NAME_MAX)
    if "email" in values:
        try:
            values["email"] = normalize_email(values["email"])
        except ValueError as exc:
            errors["email"] = exc.args[0]  # keeps the N_() text
    if "phone" in values and not is_phone(values["phone"]):
        errors["phone"] = N_("Enter a mainland mobile number: 11 digits starting with 13-19.")
    if "password" in values and (problem := password_problem(values["password"])):
        errors["password"] = PASSWORD_PROBLEMS.get(problem, problem)
    if errors:
        raise AppError(
            400, N_("Registration failed: please correct the fields."), ErrorCode.REGISTRATION_FAILED, errors
        )
    return values


def check_login(data: Mapping[str, Any]) -> tuple[str, str]:
    values, errors = text_fields(data, ("account", "password"))
    if "password" in values and len(values["password"]) > MAX_LENGTH:
        errors["password"] = N_("Use at most %(count)s characters.", count=MAX_LENGTH)
    if errors:
        raise AppError(400, N_("Enter your account and password."), ErrorCode.INVALID_INPUT, errors)
    return check_account(values["account"]), values["password"]

"""Reading and checking input: form and JSON bodies, whole numbers, ids, texts people write,
accounts and passwords.

Every problem becomes a 4xx with a message per field; nothing is stored from a bad request.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Mapping
from typing import Any, NoReturn

import phonenumbers
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from email_validator import EmailNotValidError, validate_email
from multidict import MultiDictProxy

from application.web.errors import AppError, ErrorCode
from application.web.i18n import N_
from models.db import MAX_ID
from models.passwords import MAX_LENGTH, MIN_LENGTH, PasswordProblem

PHONE_RE = re.compile(r"1[3-9][0-9]{9}")
# What people type between a phone number's digits; dropped before it is read.
PHONE_SEPARATORS_RE = re.compile(r"[\s\-().]")
PHONE_INPUT_MAX = 32
MAINLAND_PREFIX = "+86"
NAME_MAX = 40
EMAIL_MAX = 254
# Whole numbers in a query, form or JSON body: more digits than this is out of every range we have.
NUMBER_DIGITS_MAX = 20
# The last page number a listing accepts: far beyond any real listing, far below OFFSET overflows.
PAGE_MAX = 1_000_000
# Deeper than any body we accept needs; far below the point where parsing would recurse too far.
JSON_DEPTH_MAX = 32
TOO_DEEP = f"The JSON is nested more than {JSON_DEPTH_MAX} levels deep."
SURROGATE_RE = re.compile("[\ud800-\udfff]")
# How aiohttp words its 413 for a form with more fields than its client_max_fields.
TOO_MANY_FIELDS = "Maximum number of form fields"

# Embeddings, overrides and isolates: they reorder how the text around them is displayed.
# (The marks U+200E, U+200F and U+061C stay allowed: they only help mixed-direction text.)
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
# Characters that render as nothing and are not format characters (category Cf): the rest of
# Unicode's Default_Ignorable_Code_Point, and the blanks used to fake an empty name.
INVISIBLE_RE = re.compile(
    "[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u2800\u3164\ufe00-\ufe0f\uffa0"
    "\U0001bca0-\U0001bca3\U000e0100-\U000e01ef]"
)

# Zero-width characters with no place in a name or a poll text: they make two texts that look the
# same differ. The joiners (ZWNJ, ZWJ) are written between letters and emoji, and only there.
ZERO_WIDTH = frozenset("\u200b\u2060\ufeff\u180e")
JOINERS = frozenset("\u200c\u200d")

# What a password field says about each of models/passwords.py's problems.
PASSWORD_PROBLEMS = {
    PasswordProblem.TOO_SHORT: N_("Use at least %(count)s characters.", count=MIN_LENGTH),
    PasswordProblem.TOO_LONG: N_("Use at most %(count)s characters.", count=MAX_LENGTH),
    PasswordProblem.TOO_COMMON: N_("This password is too common; choose another."),
}


async def read_form(request: web.Request) -> MultiDictProxy[str]:
    """The submitted form's text fields; 400 when it cannot be read or is not UTF-8 text."""
    if (request.charset or "utf-8").lower() not in ("utf-8", "utf8"):
        raise AppError(400, N_("The form is not valid UTF-8."))
    try:
        form = await request.post()
    except (ValueError, LookupError, RuntimeError, HttpProcessingError):  # malformed multipart, encodings
        raise AppError(400, N_("The form could not be read.")) from None
    except web.HTTPRequestEntityTooLarge as exc:
        # aiohttp says 413 for a small form with too many fields, too: that one is bad input.
        if not (exc.text or "").startswith(TOO_MANY_FIELDS):
            raise
        raise AppError(400, N_("The form has too many fields.")) from None
    if not all(isinstance(value, str) for value in form.values()):  # file uploads: no form of ours has one
        raise AppError(400, N_("The form could not be read."))
    # aiohttp decodes bad bytes as U+FFFD; such a field would be stored mangled.
    if any("\ufffd" in value or SURROGATE_RE.search(value) for value in form.values()):
        raise AppError(400, N_("The form is not valid UTF-8."))
    return form  # type: ignore[return-value]  # every value was checked to be a str


class _NumberRefused(ValueError):
    """A number in a JSON body that no field takes: NaN, Infinity, or one too large to be a count."""


def _no_constant(name: str) -> NoReturn:
    raise _NumberRefused(name)


def _json_int(text: str) -> int:
    if len(text.lstrip("-")) > NUMBER_DIGITS_MAX:
        raise _NumberRefused(text)
    return int(text)


def _json_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400
        raise _NumberRefused(text)
    return value


def _json_problem(document: Any) -> str | None:
    """Why a parsed document is refused although it parsed: too deep, or a string that is not text."""
    pending = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            if SURROGATE_RE.search(value):
                return "The JSON holds a string that is not valid Unicode (a lone surrogate such as \\ud83d)."
        elif isinstance(value, (list, dict)):
            if depth > JSON_DEPTH_MAX:
                return TOO_DEEP
            items = [*value, *value.values()] if isinstance(value, dict) else value  # keys are strings too
            pending.extend((item, depth + 1) for item in items)
    return None


async def read_json(request: web.Request) -> dict[str, Any]:
    """The JSON object in the body; 415 for another content type, 400 when it is not one, or holds
    NaN, Infinity or a huge number, nests deeper than ``JSON_DEPTH_MAX`` or has a string that is
    not Unicode text (a lone surrogate can be neither stored nor hashed)."""
    if request.content_type != "application/json":
        raise AppError(415, "Send the body as application/json.")
    raw = await request.read()
    try:
        data = json.loads(
            raw.decode("utf-8"), parse_constant=_no_constant, parse_int=_json_int, parse_float=_json_float
        )
    except RecursionError:
        raise AppError(400, TOO_DEEP) from None
    except _NumberRefused:
        message = f"The JSON holds a number no field takes (NaN, Infinity, or more than {NUMBER_DIGITS_MAX} digits)."
        raise AppError(400, message) from None
    except (UnicodeDecodeError, ValueError):
        raise AppError(400, "The body is not valid UTF-8 JSON.") from None
    if problem := _json_problem(data):
        raise AppError(400, problem)
    if not isinstance(data, dict):
        raise AppError(400, "The body must be a JSON object.")
    return data


def whole_number(raw: Any) -> int | None:
    """A JSON integer, or a text of ASCII digits, as an int; None for anything else (floats,
    booleans, ``"²"``, ``"٣"``, signs, more than ``NUMBER_DIGITS_MAX`` digits). Callers check the range."""
    if isinstance(raw, str):
        digits = raw.strip()
        if 0 < len(digits) <= NUMBER_DIGITS_MAX and digits.isascii() and digits.isdigit():
            return int(digits)
        return None
    return raw if isinstance(raw, int) and not isinstance(raw, bool) else None


def query_number(request: web.Request, name: str, default: int, maximum: int) -> int:
    """The query parameter ``name`` as a whole number from 1 to ``maximum``; 400 naming it otherwise."""
    raw = request.query.get(name)
    if raw is None:
        return default
    value = whole_number(raw)
    if value is None or not 1 <= value <= maximum:
        problem = N_("%(name)s must be a whole number from 1 to %(maximum)s.", name=name, maximum=maximum)
        raise AppError(400, problem, fields={name: problem})
    return value


def choice_ids(raw: Any, field: str) -> list[int]:
    """Choice ids from a form or JSON; anything that is not a whole number is refused (400 naming
    ``field``, the request's name for them)."""
    ids = []
    for value in raw if isinstance(raw, list) else [raw]:
        choice_id = whole_number(value)
        if choice_id is None:
            raise AppError(400, N_("Choices are identified by whole numbers."), fields={field: N_("Not a choice id.")})
        ids.append(choice_id)
    if any(not 0 < choice_id <= MAX_ID for choice_id in ids):
        raise AppError(400, N_("That choice does not belong to this poll."), fields={field: N_("Unknown choice.")})
    return ids


def _is_invisible(char: str) -> bool:
    return char.isspace() or unicodedata.category(char) == "Cf" or INVISIBLE_RE.match(char) is not None


def _stray_zero_width(text: str) -> bool:
    """A zero-width space, word joiner or BOM anywhere, or a (non-)joiner that joins nothing: a
    joiner is kept only between two visible characters (emoji sequences, Persian, Indic scripts)."""
    if any(char in ZERO_WIDTH for char in text):
        return True
    padded = f" {text} "
    return any(
        char in JOINERS and (_is_invisible(padded[n - 1]) or _is_invisible(padded[n + 1]))
        for n, char in enumerate(padded)
    )


def text_problem(text: str, max_length: int) -> str | None:
    """Why a human-written line (a name, a question, a choice) is refused, or None.

    Refused: more than ``max_length`` characters; control characters (line breaks and tabs
    included: every such field is one line); bidirectional embeddings, overrides and isolates; a
    text with nothing visible in it (only spaces, zero-width and other invisible characters); and
    zero-width characters that hide in a text (``_stray_zero_width``). Joiners between visible
    characters stay: emoji sequences joined by U+200D and Persian words by U+200C need them."""
    if len(text) > max_length:
        return N_("Use at most %(count)s characters.", count=max_length)
    for char in text:
        if char in BIDI_CONTROLS:
            return N_("Remove the characters that change the writing direction (such as U+202E).")
        if unicodedata.category(char) in ("Cc", "Cs", "Zl", "Zp"):
            return N_("Remove the control characters (such as tabs or line breaks).")
    if all(_is_invisible(char) for char in text):
        return N_("Write something visible: this text has only invisible characters.")
    if _stray_zero_width(text):
        return N_("Remove the zero-width characters (such as U+200B): they hide in the text.")
    return None


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


def normalize_phone(value: str) -> str:
    """The phone number in E.164 form (``+8613812345678``): a mainland mobile number with or without
    +86, or any valid number in international form (``+44 7911 123456``), spaces, dashes and
    brackets allowed; ValueError with a reason otherwise."""
    digits = PHONE_SEPARATORS_RE.sub("", value)[: PHONE_INPUT_MAX + 1]
    if digits.startswith("00"):  # the international prefix dialled from China and Europe
        digits = "+" + digits[2:]
    # A mainland mobile is one rule (SPEC section 5) whether typed with +86 or without: phonenumbers
    # does not know every prefix the rule allows (140, 141, 144, 154...), so it never decides these.
    national = digits.removeprefix(MAINLAND_PREFIX)
    if PHONE_RE.fullmatch(national):
        return MAINLAND_PREFIX + national
    if digits.startswith("+") and len(digits) <= PHONE_INPUT_MAX and digits[1:].isascii() and digits[1:].isdigit():
        try:
            number = phonenumbers.parse(digits)
        except phonenumbers.NumberParseException:
            number = None
        if number is not None and phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    raise ValueError(
        N_("Enter a mainland mobile number (11 digits starting with 1) or an international one starting with +.")
    )


def normalize_email(value: str) -> str:
    """The email in canonical form; ValueError with a reason when it is not an address."""
    if len(value) > EMAIL_MAX:
        raise ValueError(N_("Use at most %(count)s characters.", count=EMAIL_MAX))
    try:
        return validate_email(value, check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ValueError(N_("Enter a valid email address (%(reason)s).", reason=str(exc))) from None


def check_account(account: str) -> str:
    """An email or phone number as stored (E.164 for a phone, however it was typed); 400 (20003)
    otherwise."""
    try:
        return normalize_email(account) if "@" in account else normalize_phone(account)
    except ValueError:
        raise AppError(
            400,
            N_("Enter an email address or a mobile number."),
            ErrorCode.ACCOUNT_MALFORMED,
            {"account": N_("Not an email address or mobile number.")},
        ) from None


def check_login(data: Mapping[str, Any]) -> tuple[str, str]:
    values, errors = text_fields(data, ("account", "password"))
    if "password" in values and len(values["password"]) > MAX_LENGTH:
        errors["password"] = PASSWORD_PROBLEMS[PasswordProblem.TOO_LONG]
    if errors:
        raise AppError(400, N_("Enter your account and password."), ErrorCode.INVALID_INPUT, errors)
    return check_account(values["account"]), values["password"]

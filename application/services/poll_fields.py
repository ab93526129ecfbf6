"""A new or edited poll's fields, checked against the rules: the same for the form and the API."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from application.services.refusals import InvalidPoll
from application.web.forms import text_problem, whole_number
from application.web.i18n import N_
from models.clock import utcnow

TEXT_MAX = 200
MIN_CHOICES = 2
MAX_CHOICES = 20
VISIBILITIES = ("always", "after_vote", "after_close", "on_reveal")
METHODS = ("choice", "ranked", "score")  # SPEC section 12, docs/voting-methods.md
ACCESS_MODES = ("account", "link", "invite")  # who may vote (SPEC section 11)
# What a form's checkbox or a JSON body may say for yes and no (besides true and false).
YES, NO = ("1", "on", "true"), ("", "0", "off", "false")
# Times a poll may name, in UTC: within what both databases store, and a day inside what a
# datetime holds, so that every zone can show them.
EARLIEST = datetime(1970, 1, 1)
LATEST = datetime(9999, 12, 30, 23, 59, 59)


def parse_time(value: Any, field: str, errors: dict[str, str], zone: tzinfo = UTC) -> datetime | None:
    """ISO 8601 to naive UTC. An offset in the value is honoured; without one the time is in
    ``zone`` (a form's: the visitor's; the API's: UTC). A local time a daylight-saving change
    makes ambiguous or skips reads with the offset in force before the change (PEP 495's fold=0):
    01:30 on a night that repeats it is its first occurrence, 02:30 on a night that skips it is
    03:30 after the change."""
    if value in (None, ""):
        return None
    try:
        parsed = datetime.fromisoformat(str(value).strip())
    except ValueError:
        errors[field] = N_("Use an ISO 8601 date and time, e.g. 2026-12-31T18:00.")
        return None
    utc = _in_utc(parsed if parsed.tzinfo else parsed.replace(tzinfo=zone))
    if utc is None:
        errors[field] = N_(
            "Use a time between %(earliest)s and %(latest)s.",
            earliest=f"{EARLIEST:%Y-%m-%d}",
            latest=f"{LATEST:%Y-%m-%d}",
        )
        return None
    return utc


def _in_utc(moment: datetime) -> datetime | None:
    """An aware time as naive UTC in whole seconds, or None outside EARLIEST..LATEST."""
    try:
        utc = moment.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    except OverflowError:  # the offset took it before year 1 or after 9999
        return None
    return utc if EARLIEST <= utc <= LATEST else None


@dataclass(frozen=True)
class PollFields:
    question_text: str
    choices: list[str]
    pub_date: datetime
    closes_at: datetime | None
    max_choices: int
    results_visibility: str
    method: str
    scheduled: bool  # published later than when the fields were checked
    access: str = "account"  # chosen at creation only: an edit keeps the poll's
    secret: bool = False


def _check_text(value: Any, field: str, errors: dict[str, str]) -> str:
    if not isinstance(value, str) or not value.strip():
        errors[field] = N_("This field is required.") if value in (None, "") else N_("This field must be text.")
        return ""
    if problem := text_problem(value.strip(), TEXT_MAX):
        errors[field] = problem
    return value.strip()


def _check_choices(raw: Any, field: str, errors: dict[str, str]) -> list[str]:
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        errors[field] = N_("Give the choices as a list of texts.")
        return []
    texts = [item.strip() for item in raw if item.strip()]  # blank ones are ignored
    lowered = [text.casefold() for text in texts]
    problems = [problem for text in texts if (problem := text_problem(text, TEXT_MAX))]
    if not MIN_CHOICES <= len(texts) <= MAX_CHOICES:
        errors[field] = N_("Give between %(low)s and %(high)s choices.", low=MIN_CHOICES, high=MAX_CHOICES)
    elif any(len(text) > TEXT_MAX for text in texts):
        errors[field] = N_("Each choice may have at most %(count)s characters.", count=TEXT_MAX)
    elif problems:
        errors[field] = problems[0]
    elif len(set(lowered)) != len(lowered):
        errors[field] = N_("Each choice must be different.")
    return texts


def _check_max_choices(raw: Any, count: int, errors: dict[str, str]) -> int:
    if raw in (None, ""):
        return 1
    value = whole_number(raw)
    if value is None:
        errors["max_choices"] = N_("Enter a whole number.")
        return 1
    if not 1 <= value <= max(count, 1):
        errors["max_choices"] = N_("Between 1 and the number of choices.")
    return value


def check_poll(data: Mapping[str, Any], choices: Any, zone: tzinfo = UTC, choices_field: str = "choice") -> PollFields:
    """A new or edited poll's fields, or ``InvalidPoll`` with a message per bad field; times
    without an offset are in ``zone``; ``choices_field`` is the request's name for the choices
    (the form's repeated ``choice``, the API's ``choices``)."""
    now = utcnow()
    errors: dict[str, str] = {}
    text = _check_text(data.get("question_text"), "question_text", errors)
    texts = _check_choices(choices, choices_field, errors)
    pub_date = parse_time(data.get("pub_date"), "pub_date", errors, zone) or now
    closes_at = parse_time(data.get("closes_at"), "closes_at", errors, zone)
    if closes_at is not None and "closes_at" not in errors and closes_at <= max(pub_date, now):
        errors["closes_at"] = N_("The closing time must be in the future and after the publication time.")
    visibility = data.get("results_visibility")
    if visibility in (None, ""):
        visibility = "always"
    elif visibility not in VISIBILITIES:
        errors["results_visibility"] = N_("Choose always, after_vote, after_close or on_reveal.")
    method = data.get("method")
    if method in (None, ""):
        method = "choice"
    elif method not in METHODS:
        errors["method"] = N_("Choose choice, ranked or score.")
    # A ranked or score ballot marks every choice it likes: the limit is a choice poll's.
    max_choices = _check_max_choices(data.get("max_choices"), len(texts), errors) if method == "choice" else 1
    access = _check_access(data.get("access"), errors)
    secret = _check_secret(data.get("secret"), errors)
    if errors:
        raise InvalidPoll(errors)
    return PollFields(
        text, texts, pub_date, closes_at, max_choices, str(visibility), str(method), pub_date > now, str(access), secret
    )


def _check_access(value: Any, errors: dict[str, str]) -> str:
    if value in (None, ""):
        return "account"
    if value not in ACCESS_MODES:
        errors["access"] = N_("Choose account, link or invite.")
        return "account"
    return str(value)


def _check_secret(value: Any, errors: dict[str, str]) -> bool:
    said = value.strip().lower() if isinstance(value, str) else None
    if value is True or said in YES:
        return True
    if value is False or value is None or said in NO:
        return False
    errors["secret"] = N_("Say yes or no: true or false.")
    return False

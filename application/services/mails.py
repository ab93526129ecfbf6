"""The mails the app writes, in the language their reader chose last (English or Chinese)."""

from __future__ import annotations

from email.message import EmailMessage

from aiohttp import web

from application.keys import SETTINGS
from application.web.i18n import BY_CODE, ENGLISH, N_, catalogue, translate_with
from models.db import Row
from models.mailer import message


def _in_language_of(reader: Row, texts: list[str]) -> list[str]:
    translations = catalogue(BY_CODE.get(reader["language"], ENGLISH))
    return [translate_with(translations, text) for text in texts]


def password_reset(app: web.Application, reader: Row, link: str, minutes: int) -> EmailMessage:
    """The reset link for ``reader``; the link is the only way in, so it stands on a line of its own."""
    subject, greeting, why, validity, ignore = _in_language_of(
        reader,
        [
            N_("Reset your password"),
            N_("Hello %(name)s,", name=reader["name"]),
            N_(
                "someone (hopefully you) asked to reset the password of your account."
                " Open this link to choose a new one:"
            ),
            N_("The link works once, for %(minutes)s minutes.", minutes=minutes),
            N_("If you did not ask for it, ignore this mail: your password stays as it is."),
        ],
    )
    body = f"{greeting}\n\n{why}\n\n{link}\n\n{validity}\n{ignore}\n"
    return message(app[SETTINGS].mail_from, reader["email"], subject, body)

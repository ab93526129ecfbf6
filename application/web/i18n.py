"""Languages of the pages: English and Simplified Chinese, from Babel's compiled catalogues.

The language is the visitor's choice (cookie ``lang``, set by the footer's switch), else the best
``Accept-Language`` match, else English. It is worked out only when a page is rendered, so API
calls, static files and WebSockets pay nothing. Python code marks user-facing texts with ``N_()``
(English, and extracted into the catalogue); pages translate them when they render.
"""

from __future__ import annotations

import gettext
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from aiohttp import web

TRANSLATIONS_DIR = Path(__file__).resolve().parents[2] / "translations"
DOMAIN = "messages"
COOKIE_NAME = "lang"
COOKIE_MAX_AGE = 365 * 24 * 3600


@dataclass(frozen=True)
class Language:
    code: str  # BCP 47: <html lang>, the cookie and the switch's URL
    name: str  # in its own language, for the switch
    catalogue: str  # directory under translations/; "" for the source language


ENGLISH = Language("en", "English", "")
CHINESE = Language("zh-Hans", "简体中文", "zh_Hans")
LANGUAGES = (ENGLISH, CHINESE)
BY_CODE = {language.code: language for language in LANGUAGES}

LANGUAGE: web.RequestKey[Language] = web.RequestKey("language")


class Msg(str):
    """An English text that keeps its msgid and parameters, so a page can show it translated.

    It is a ``str`` (the English, filled in), so the JSON API and logs use it unchanged.
    """

    msgid: str
    params: Mapping[str, object]

    def __new__(cls, msgid: str, params: Mapping[str, object]) -> Msg:
        text = super().__new__(cls, msgid % params)
        text.msgid = msgid
        text.params = params
        return text


def N_(msgid: str, **params: object) -> str:
    """Mark a text for the catalogue; with parameters (``%(name)s``), keep them for translation."""
    return Msg(msgid, params) if params else msgid


@cache
def catalogue(language: Language) -> gettext.NullTranslations:
    """The compiled catalogue, read once per process (the first page, or ``load_catalogues``)."""
    if not language.catalogue:
        return gettext.NullTranslations()
    path = TRANSLATIONS_DIR / language.catalogue / "LC_MESSAGES" / f"{DOMAIN}.mo"
    with path.open("rb") as file:
        return gettext.GNUTranslations(file)


def load_catalogues() -> None:
    """Read every catalogue at start-up: a missing .mo stops the app now, not on a visitor's page."""
    for language in LANGUAGES:
        catalogue(language)


def _from_accept_language(header: str) -> Language | None:
    """The best supported language of an Accept-Language header (q-values respected)."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            ranked.append((-quality, index, tag.strip().lower()))
    for _, _, tag in sorted(ranked):
        primary = tag.split("-")[0]
        if primary == "en":
            return ENGLISH
        if primary == "zh":  # our one Chinese serves every variant better than English would
            return CHINESE
    return None


def language(request: web.Request) -> Language:
    """This request's language, worked out once: cookie, then Accept-Language, then English."""
    chosen = request.get(LANGUAGE)
    if chosen is None:
        chosen = BY_CODE.get(request.cookies.get(COOKIE_NAME, ""))
        chosen = chosen or _from_accept_language(request.headers.get("Accept-Language", "")) or ENGLISH
        request[LANGUAGE] = chosen
    return chosen


def translate_with(translations: gettext.NullTranslations, text: str) -> str:
    if isinstance(text, Msg):
        return translations.gettext(text.msgid) % text.params
    return translations.gettext(text) if text else text


def _context_translations(context: jinja2.runtime.Context) -> gettext.NullTranslations:
    chosen = context.get("lang")
    return catalogue(chosen) if isinstance(chosen, Language) else catalogue(ENGLISH)


@jinja2.pass_context
def _gettext(context: jinja2.runtime.Context, message: str) -> str:
    return _context_translations(context).gettext(message)


@jinja2.pass_context
def _ngettext(context: jinja2.runtime.Context, singular: str, plural: str, count: int) -> str:
    # int(): MySQL's SUM() comes back as a Decimal.
    return _context_translations(context).ngettext(singular, plural, int(count))


@jinja2.pass_context
def _translate_filter(context: jinja2.runtime.Context, text: Any) -> str:
    """``{{ error|t }}``: a text from Python (plain msgid or ``Msg``) in the page's language."""
    return translate_with(_context_translations(context), str(text) if not isinstance(text, str) else text)


def install(env: jinja2.Environment) -> None:
    """Jinja's i18n extension, translating through the ``lang`` of each render's context.

    The callables read the language from the context rather than being installed per request,
    so concurrent requests in different languages never share state.
    """
    env.add_extension("jinja2.ext.i18n")
    env.policies["ext.i18n.trimmed"] = True
    env.install_gettext_callables(_gettext, _ngettext, newstyle=True)  # type: ignore[attr-defined]
    env.filters["t"] = _translate_filter
    env.globals["languages"] = LANGUAGES

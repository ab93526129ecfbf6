"""GET /language/{code}?next=/path: the footer's language switch; a cookie, no session, no JavaScript.
A signed-in user's choice is remembered on the account too: their mails are written in it."""

from __future__ import annotations

from aiohttp import web

from application.keys import SETTINGS
from application.services import accounts
from application.web import i18n
from application.web.auth import USER, safe_next
from application.web.errors import not_found


class SwitchLanguage(web.View):
    async def get(self) -> web.StreamResponse:
        chosen = i18n.BY_CODE.get(self.request.match_info["code"])
        if chosen is None:
            raise not_found()
        if (me := self.request[USER]) is not None:
            await accounts.remember_language(self.request.app, me["id"], chosen.code)
        response = web.HTTPFound(safe_next(self.request.query.get("next")))
        response.set_cookie(
            i18n.COOKIE_NAME,
            chosen.code,
            max_age=i18n.COOKIE_MAX_AGE,
            path="/",
            samesite="Lax",
            secure=self.request.app[SETTINGS].cookie_secure,
        )
        raise response

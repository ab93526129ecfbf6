"""JSON API for accounts: register, and bearer tokens to call the API with."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

from application.keys import DB
from application.services import accounts
from application.web.auth import require_user
from application.web.errors import AppError
from application.web.forms import check_account, read_json, text_fields, text_problem
from application.web.jsonutil import json_response
from application.web.security import client_ip

if TYPE_CHECKING:
    from models.db import Row

TOKEN_NAME_MAX = 100


def public_user(found: Row) -> dict[str, object]:
    return {key: found[key] for key in ("id", "name", "email", "phone", "create_time")}


class ApiRegister(web.View):
    async def post(self) -> web.Response:
        fields = accounts.check_registration(await read_json(self.request))
        created = await accounts.register(self.request.app[DB], fields)
        return json_response(public_user(created), status=201)


class ApiTokens(web.View):
    async def get(self) -> web.Response:
        me = require_user(self.request)
        return json_response({"items": await accounts.tokens_of(self.request.app, me["id"])})

    async def post(self) -> web.Response:
        """Exchange account + password for a token; the secret is shown in this answer only."""
        data = await read_json(self.request)
        values, errors = text_fields(data, ("account", "password", "name"))
        if "name" in values and (problem := text_problem(values["name"], TOKEN_NAME_MAX)):
            errors["name"] = problem
        if errors:
            raise AppError(400, "Send account, password and a name for the token.", fields=errors)
        app = self.request.app
        account = check_account(values["account"])
        owner = await accounts.authenticate(app, account, values["password"], client_ip(self.request))
        token_id, token = await accounts.create_token(app, owner["id"], values["name"])
        return json_response({"id": token_id, "name": values["name"], "token": token}, status=201)


class ApiToken(web.View):
    async def delete(self) -> web.Response:
        me = require_user(self.request)
        await accounts.revoke_token(self.request.app, int(self.request.match_info["token_id"]), me["id"])
        return web.Response(status=204)

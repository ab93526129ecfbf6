"""JSON API for accounts: register, and bearer tokens to call the API with."""

from __future__ import annotations

from aiohttp import web

from application.cluster.changes import Change, Kind
from application.keys import CHANGES, DB
from application.services import accounts
from application.web.auth import authenticate, require_user
from application.web.errors import AppError, not_found
from application.web.forms import check_account, check_registration, read_json, text_fields, text_problem
from application.web.jsonutil import json_response
from models import api_token
from models.db import Row

TOKEN_NAME_MAX = 100


def public_user(found: Row) -> dict[str, object]:
    return {key: found[key] for key in ("id", "name", "email", "phone", "create_time")}


class ApiRegister(web.View):
    async def post(self) -> web.Response:
        fields = check_registration(await read_json(self.request))
        created = await accounts.register(self.request.app[DB], fields)
        return json_response(public_user(created), status=201)


class ApiTokens(web.View):
    async def get(self) -> web.Response:
        me = require_user(self.request)
        return json_response({"items": await api_token.for_user(self.request.app[DB], me["id"])})

    async def post(self) -> web.Response:
        """Exchange account + password for a token; the secret is shown in this answer only."""
        data = await read_json(self.request)
        values, errors = text_fields(data, ("account", "password", "name"))
        if "name" in values and (problem := text_problem(values["name"], TOKEN_NAME_MAX)):
            errors["name"] = problem
        if errors:
            raise AppError(400, "Send account, password and a name for the token.", fields=errors)
        owner = await authenticate(self.request, check_account(values["account"]), values["password"])
        token_id, token = await api_token.create(self.request.app[DB], owner["id"], values["name"])
        return json_response({"id": token_id, "name": values["name"], "token": token}, status=201)


class ApiToken(web.View):
    async def delete(self) -> web.Response:
        me = require_user(self.request)
        if not await api_token.delete(self.request.app[DB], int(self.request.match_info["token_id"]), me["id"]):
            raise not_found("Token not found.")
        await self.request.app[CHANGES].announce(Change(Kind.ACCOUNT, (me["id"],)))  # no process may still accept it
        return web.Response(status=204)

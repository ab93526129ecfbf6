"""Every URL of the app, in one table."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from application.views import accounts, admin, api_accounts, questions, system

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def setup_routes(app: web.Application) -> None:
    router = app.router
    router.add_view("/", questions.QuestionIndex, name="index")
    router.add_view("/questions", questions.QuestionIndex, name="questions")
    router.add_view(r"/questions/{question_id:\d+}", questions.QuestionDetail, name="question")
    router.add_view(r"/questions/{question_id:\d+}/choice", questions.QuestionChoices, name="question_choices")

    router.add_view("/register", accounts.Register, name="register")
    router.add_view("/login", accounts.Login, name="login")
    router.add_view("/logout", accounts.Logout, name="logout")
    router.add_view("/me", accounts.Me, name="me")
    router.add_view("/admin", admin.AdminHome, name="admin")
    router.add_view(r"/admin/users/{user_id:\d+}/{action:enable|disable}", admin.AdminUserActive, name="admin_user")

    router.add_view("/api/v1/register", api_accounts.ApiRegister, name="api_register")
    router.add_view("/api/v1/tokens", api_accounts.ApiTokens, name="api_tokens")
    router.add_view(r"/api/v1/tokens/{token_id:\d+}", api_accounts.ApiToken, name="api_token")

    router.add_view("/hello", system.Hello, name="hello")
    router.add_view("/healthz", system.Healthz, name="healthz")
    router.add_view("/readyz", system.Readyz, name="readyz")

    router.add_static("/static", STATIC_DIR, name="static", append_version=True)

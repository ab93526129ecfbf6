"""Every URL of the app, in one table."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from application.views import questions, system

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def setup_routes(app: web.Application) -> None:
    router = app.router
    router.add_view("/", questions.QuestionIndex, name="index")
    router.add_view("/questions", questions.QuestionIndex, name="questions")
    router.add_view(r"/questions/{question_id:\d+}", questions.QuestionDetail, name="question")
    router.add_view(r"/questions/{question_id:\d+}/choice", questions.QuestionChoices, name="question_choices")

    router.add_view("/hello", system.Hello, name="hello")
    router.add_view("/healthz", system.Healthz, name="healthz")
    router.add_view("/readyz", system.Readyz, name="readyz")

    router.add_static("/static", STATIC_DIR, name="static", append_version=True)

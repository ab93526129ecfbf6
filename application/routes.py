"""Every URL of the app, in one table."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from application.views import (
    account,
    accounts,
    admin,
    api_accounts,
    api_invites,
    api_questions,
    invites,
    language,
    live,
    present,
    questions,
    system,
)
from application.wechat import callback as wechat

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"


def setup_routes(app: web.Application) -> None:
    router = app.router
    router.add_view("/", questions.QuestionIndex, name="index")
    router.add_view("/questions", questions.QuestionIndex, name="questions")
    router.add_view("/questions/new", questions.QuestionNew, name="question_new")
    question = r"/questions/{question_id:[0-9]{1,18}}"
    router.add_view(question, questions.QuestionDetail, name="question")
    router.add_view(question + "/vote", questions.QuestionVote, name="question_vote")
    router.add_view(question + "/results", questions.QuestionResults, name="question_results")
    router.add_view(question + "/results.csv", questions.QuestionResultsCsv, name="question_results_csv")
    router.add_view(question + "/edit", questions.QuestionEdit, name="question_edit")
    router.add_view(question + "/close", questions.QuestionClose, name="question_close")
    router.add_view(question + "/delete", questions.QuestionDelete, name="question_delete")
    router.add_view(question + "/choice", questions.QuestionChoices, name="question_choices")
    router.add_view(question + "/live", live.LiveResults, name="question_live")
    router.add_view(question + "/receipt", invites.QuestionReceipt, name="question_receipt")
    router.add_view(question + "/ballots.csv", invites.QuestionBallotsCsv, name="question_ballots_csv")
    router.add_view(question + "/invites", invites.QuestionInvites, name="question_invites")
    router.add_view(question + "/invites.csv", invites.InvitesCsv, name="question_invites_csv")
    router.add_view(question + "/invites/print", invites.InvitesPrint, name="question_invites_print")
    router.add_view(
        question + r"/invites/{invite_id:[0-9]{1,18}}/revoke", invites.InviteRevoke, name="question_invite_revoke"
    )
    router.add_view("/v", invites.InviteEntry, name="invite_entry")
    router.add_view(r"/v/{code:[0-9A-Za-z-]{1,40}}", invites.InviteVote, name="invite_vote")
    router.add_view(question + "/present", present.Present, name="question_present")
    router.add_view(question + "/reveal", present.Reveal, name="question_reveal")
    router.add_view("/join", present.Join, name="join")
    router.add_view(r"/j/{join_code:[0-9]{6}}", present.JoinCode, name="join_code")

    router.add_view("/register", accounts.Register, name="register")
    router.add_view("/login", accounts.Login, name="login")
    router.add_view("/logout", accounts.Logout, name="logout")
    router.add_view("/me", accounts.Me, name="me")
    router.add_view("/account", account.AccountHome, name="account")
    router.add_view("/account/profile", account.AccountProfile, name="account_profile")
    router.add_view("/account/password", account.AccountPassword, name="account_password")
    router.add_view("/account/tokens", account.AccountTokens, name="account_tokens")
    router.add_view(
        r"/account/tokens/{token_id:[0-9]{1,18}}/revoke", account.AccountTokenRevoke, name="account_token_revoke"
    )
    router.add_view("/account/sessions/end", account.AccountSessionsEnd, name="account_sessions_end")
    router.add_view("/account/data.json", account.AccountData, name="account_data")
    router.add_view("/account/delete", account.AccountDelete, name="account_delete")
    router.add_view("/password/forgot", account.PasswordForgot, name="password_forgot")
    router.add_view("/password/reset/{token}", account.PasswordReset, name="password_reset")
    router.add_view("/admin", admin.AdminHome, name="admin")
    router.add_view(
        r"/admin/users/{user_id:[0-9]{1,18}}/{action:enable|disable}", admin.AdminUserActive, name="admin_user"
    )
    router.add_view(
        r"/admin/questions/{question_id:[0-9]{1,18}}/{action:delete|restore}",
        admin.AdminQuestionDeleted,
        name="admin_question",
    )

    router.add_view("/api/v1/register", api_accounts.ApiRegister, name="api_register")
    router.add_view("/api/v1/tokens", api_accounts.ApiTokens, name="api_tokens")
    router.add_view(r"/api/v1/tokens/{token_id:[0-9]{1,18}}", api_accounts.ApiToken, name="api_token")
    router.add_view("/api/v1/questions", api_questions.ApiQuestions, name="api_questions")
    api_question = r"/api/v1/questions/{question_id:[0-9]{1,18}}"
    router.add_view(api_question, api_questions.ApiQuestion, name="api_question")
    router.add_view(api_question + "/votes", api_questions.ApiVotes, name="api_votes")
    router.add_view(api_question + "/results", api_questions.ApiResults, name="api_results")
    router.add_view(api_question + "/close", api_questions.ApiClose, name="api_close")
    router.add_view(api_question + "/invites", api_invites.ApiInvites, name="api_invites")
    router.add_view(api_question + r"/invites/{invite_id:[0-9]{1,18}}", api_invites.ApiInvite, name="api_invite")
    router.add_view(api_question + "/ballots", api_invites.ApiBallots, name="api_ballots")
    router.add_view("/api/v1/openapi.yaml", api_questions.OpenApiSpec, name="openapi")

    router.add_view("/language/{code}", language.SwitchLanguage, name="language")
    router.add_view("/hello", system.Hello, name="hello")
    router.add_view("/healthz", system.Healthz, name="healthz")
    router.add_view("/readyz", system.Readyz, name="readyz")
    router.add_view("/metrics", system.Metrics, name="metrics")
    router.add_view("/WeiXin", wechat.WeChatCallback, name="wechat")

    router.add_static("/static", STATIC_DIR, name="static", append_version=True)

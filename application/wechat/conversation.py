# ruff: noqa: RUF001  # the Chinese replies use Chinese (full-width) punctuation, on purpose
"""The conversation with a WeChat follower: what they said, and the reply in their language.

Commands list, show, vote on and show the results of polls; votes go through the site's one vote
path with the follower's openid as the voter, or on an invite poll, the invite code they add as
the last word (``3 1 7KQ2-9XMV-4DH0``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING

from aiohttp import web

from application.services import invites, polls, voting
from application.services.refusals import (
    AlreadyVoted,
    InviteNotValid,
    InviteRequired,
    InviteUsed,
    PollClosed,
    PollNotFound,
    RankUsedTwice,
    Refused,
    ScoredTwice,
    ScoreOutOfRange,
    TooManyChoices,
)
from application.services.viewer import Viewer
from application.web import timezones

if TYPE_CHECKING:
    from models.db import Row

LIST_SIZE = 10
TEXT_SHOWN = 60  # characters of a poll or choice text in a list (replies hold ~2000 bytes)

# Each text in Chinese, then English.
TEXTS: dict[str, tuple[str, str]] = {
    "welcome": ("欢迎关注！在这里发消息就能参与投票。", "Welcome! You can vote on our polls right here by message."),
    "help": (
        "发送：\n列表 — 进行中的投票\n<编号> — 查看投票，例如 3\n<编号> <选项> — 投票，例如 3 1\n"
        "结果 <编号> — 查看结果，例如 结果 3\n帮助 — 本说明",
        "Send:\nlist — the open polls\n<id> — a poll, e.g. 3\n<id> <n> — vote for choice n, e.g. 3 1\n"
        "result <id> — its results, e.g. result 3\nhelp — this message",
    ),
    "unknown": (
        "没看懂这条消息。发送“帮助”查看指令。",
        'Sorry, I did not understand that. Send "help" for the commands.',
    ),
    "not_text": ("目前只能读文字消息。发送“帮助”查看指令。", 'I can only read text. Send "help" for the commands.'),
    "no_poll": (
        "没有编号为 {id} 的投票。发送“列表”查看进行中的投票。",
        'There is no poll {id}. Send "list" for the open polls.',
    ),
    "none_open": ("目前没有进行中的投票。", "No polls are open right now."),
    "list": ("进行中的投票：", "Open polls:"),
    "list_more": ("回复编号查看投票，例如 {id}", "Reply with an id to see that poll, e.g. {id}"),
    "invite_required": (
        "这个投票只接受邀请码：回复“{id} 选项编号 邀请码”，例如 {id} 1 7KQ2-9XMV-4DH0",
        'This poll takes invite codes only: reply "{id} <n> <your code>", e.g. {id} 1 7KQ2-9XMV-4DH0',
    ),
    "invite_invalid": (
        "这个邀请码无效，请核对，或向投票发起人索取新的。",
        "This invite code is not valid: check it, or ask the poll's owner for a new one.",
    ),
    "voted_secret": (
        "你已投票。这是无记名投票：只有凭回执才能查看你的选票。",
        "You have voted. The ballot is secret: only your receipt finds it.",
    ),
    "invite_used": ("这个邀请码已经投过票了。", "This invite code has already been used to vote."),
    "receipt": (
        "这是无记名投票。你的回执：{receipt}\n请记下它（只显示这一次），凭它可查看你的选票。",
        "This is a secret ballot. Your receipt: {receipt}\nWrite it down (shown only this once): it finds your ballot.",
    ),
    "how_to_vote": ("回复“{id} 选项编号”投票，例如 {id} 1", 'Reply "{id} <n>" to vote, e.g. {id} 1'),
    "how_many": ("最多可选 {max} 项，例如 {id} 1 2", "Pick up to {max}, e.g. {id} 1 2"),
    "how_to_rank": (
        "回复“{id}”和按喜好排序的选项编号投票，例如 {id} 2 1",
        'Reply "{id}" and the choice numbers, favourite first, e.g. {id} 2 1',
    ),
    "how_to_score": (
        "回复“{id}”和每个选项的星数（0 到 5，按选项顺序），例如 {id} {example}",
        'Reply "{id}" and 0 to 5 stars for each choice in order, e.g. {id} {example}',
    ),
    "rank_twice": ("每个选项只能排一次。", "Rank each choice only once."),
    "score_each": (
        "请按顺序给全部 {n} 个选项各打 0 到 5 星。",
        "Give each of the {n} choices 0 to 5 stars, in order.",
    ),
    "closes": ("截止时间 {time}（{zone}）", "Closes {time} ({zone})."),
    "closed": ("投票已结束。", "This poll is closed."),
    "you_voted": ("你的投票：{choices}", "Your vote: {choices}"),
    "see_results": ("发送“结果 {id}”查看结果。", 'Send "result {id}" for the results.'),
    "counted": ("投票成功：{choices}。谢谢！", "Thanks, your vote for {choices} is counted."),
    "already_voted": ("你已经在这个投票中投过票了。", "You have already voted in this poll."),
    "choose_between": ("请回复 1 到 {n} 之间的选项编号。", "Choose a number from 1 to {n}."),
    "too_many": ("这个投票最多可选 {max} 项。", "This poll allows at most {max} choices."),
    "after_vote": ("投票后才能查看结果。", "The results are shown once you have voted."),
    "after_close": ("投票结束后公布结果。", "The results are shown when the poll closes."),
    "on_reveal": ("结果将由主持人公布。", "The results are shown when the presenter reveals them."),
    "result_line": ("{n}. {text}：{votes} 票（{percent}%）", "{n}. {text}: {votes} ({percent}%)"),
    "total": ("共 {total} 票", "Total votes: {total}"),
    "score_line": (
        "{n}. {text}：平均 {average} 星（共 {total} 星）",
        "{n}. {text}: {average} stars on average ({total} in all)",
    ),
    "ranked_winner": ("即时决选胜者：{text}", "Instant-runoff winner: {text}"),
    "score_winner": ("STAR 胜者：{text}", "STAR winner: {text}"),
}

HELP_WORDS = {"帮助", "help", "h"}
LIST_WORDS = {"列表", "list"}
RESULT_WORDS = {"结果", "result", "results"}
VOTE_WORDS = {"投票", "vote"}
# Numbers and runs of letters (Chinese included); spaces and punctuation only separate them.
# NFKC first turns full-width digits, letters and spaces into plain ones.
_WORDS = re.compile(r"\d+|[^\W\d_]+")
_CHINESE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_LATIN = re.compile(r"[A-Za-z]")


def _language_of(text: str) -> str | None:
    """zh or en when the text shows which; None for bare numbers and symbols."""
    if _CHINESE.search(text):
        return "zh"
    return "en" if _LATIN.search(text) else None


def _number(word: str) -> int | None:
    return int(word) if word.isdecimal() and len(word) <= 12 else None


# What a refused vote is answered with (keys of TEXTS); any other refusal: "choose_between"
# (no choice, or a choice removed meanwhile).
REFUSED_VOTES: dict[type[Refused], str] = {
    AlreadyVoted: "already_voted",
    InviteUsed: "invite_used",
    InviteNotValid: "invite_invalid",
    InviteRequired: "invite_required",
    PollClosed: "closed",
    PollNotFound: "no_poll",  # deleted meanwhile
    TooManyChoices: "too_many",
    RankUsedTwice: "rank_twice",
    ScoredTwice: "score_each",  # a reply gives each choice its stars once, in order; kept for completeness
    ScoreOutOfRange: "score_each",
}


class Conversation:
    """One follower's message and its answer.

    The answer is in Chinese when the message has Chinese characters, in English
    when it has Latin letters; bare numbers are answered in the poll's language,
    and anything else (and the welcome) in both.
    """

    def __init__(self, app: web.Application, openid: str, said: str | None) -> None:
        self.app = app
        self.viewer = Viewer(openid=openid)
        self.said = unicodedata.normalize("NFKC", said).strip() if said is not None else None
        self.lang = _language_of(self.said or "")

    def t(self, key: str, **values: object) -> str:
        chinese, english = TEXTS[key]
        if self.lang is None:
            return chinese.format(**values) + "\n" + english.format(**values)
        return (chinese if self.lang == "zh" else english).format(**values)

    def welcome(self) -> str:
        return self.t("welcome") + "\n\n" + self.t("help")

    async def reply(self) -> str:
        if self.said is None:
            return self.t("not_text")
        words = _WORDS.findall(self.said.casefold())
        if words and words[0] in VOTE_WORDS:  # "投票 3 1" is "3 1"
            words = words[1:]
        if not words:
            return self.t("unknown")
        code = self._invite_code()
        if code is not None:
            words = _WORDS.findall(self.said.casefold().rsplit(maxsplit=1)[0])
            words = words[1:] if words and words[0] in VOTE_WORDS else words
        head, *tail = words
        rest = [number for number in map(_number, tail) if number is not None]
        if len(rest) != len(tail):
            return self.t("unknown")
        if head in HELP_WORDS and not rest:
            return self.t("help")
        if head in LIST_WORDS and not rest:
            return await self.list_open()
        if head in RESULT_WORDS and len(rest) == 1:
            return await self.results(rest[0])
        poll_id = _number(head)
        if poll_id is None:
            return self.t("unknown")
        if code is not None and not rest:
            return self.t("unknown")
        return await (self.vote(poll_id, rest, code) if rest else self.show(poll_id))

    def _invite_code(self) -> str | None:
        """The invite code a vote ends with (``3 1 7KQ2-9XMV-4DH0``), or None."""
        said = (self.said or "").split()
        return said[-1] if len(said) >= 3 and invites.is_code(said[-1]) else None

    def _speak_as(self, poll: Row) -> Row:
        """Bare numbers are answered in the poll's language."""
        if self.lang is None:
            self.lang = _language_of(poll["question_text"]) or "en"
        return poll

    async def _view(self, poll_id: int) -> polls.PollView | None:
        """A published poll as the follower sees it (followers never see scheduled or deleted ones)."""
        try:
            found = await polls.visible_poll(self.app, poll_id, self.viewer)
        except PollNotFound:
            return None
        return await polls.poll_view(self.app, self._speak_as(found.poll), self.viewer)

    async def list_open(self) -> str:
        found = await polls.open_polls(self.app, LIST_SIZE)
        if not found:
            return self.t("none_open")
        lines = [self.t("list")]
        lines += [f"#{poll['id']} {_shorten(poll['question_text'])}" for poll in found]
        return "\n".join([*lines, "", self.t("list_more", id=found[0]["id"])])

    async def show(self, poll_id: int) -> str:
        view = await self._view(poll_id)
        if view is None:
            return self.t("no_poll", id=poll_id)
        poll, choices, is_open = view.poll, view.choices, view.status is polls.Status.OPEN
        lines = [_title(poll)]
        lines += [f"{n}. {_shorten(item['choice_text'])}" for n, item in enumerate(choices, 1)]
        lines.append("")
        if not is_open:
            lines.append(self.t("closed"))
        if view.my_vote is not None:
            lines.append(self.t("you_voted", choices=_named(choices, view.my_vote)))
        elif view.voted:
            lines.append(self.t("voted_secret"))
        elif is_open and poll["access"] == "invite":
            lines.append(self.t("invite_required", id=poll_id))
        elif is_open and poll["method"] == "ranked":
            lines.append(self.t("how_to_rank", id=poll_id))
        elif is_open and poll["method"] == "score":
            lines.append(self.t("how_to_score", id=poll_id, example=" ".join(["3"] * len(choices))))
        elif is_open:
            lines.append(self.t("how_to_vote", id=poll_id))
            if poll["max_choices"] > 1:
                lines.append(self.t("how_many", max=poll["max_choices"], id=poll_id))
            if poll["closes_at"] is not None:
                lines.append(self.closing_time(poll["closes_at"]))
        lines.append(self.t("see_results", id=poll_id))
        return "\n".join(lines)

    def closing_time(self, closes_at: datetime) -> str:
        """In the site's default zone, named: a follower's own zone is unknown."""
        local = timezones.local(closes_at, timezones.default_zone(self.app))
        return self.t("closes", time=local.strftime("%Y-%m-%d %H:%M"), zone=local.tzinfo)

    async def vote(self, poll_id: int, numbers: list[int], code: str | None = None) -> str:
        """Vote through the site's one vote path: for choices by their number on the poll (1..n);
        on a ranked poll the numbers rank them, favourite first; on a score poll they are each
        choice's stars, in order. With ``code``, as that invite code."""
        try:
            poll = self._speak_as(await polls.votable_poll(self.app, poll_id, self.viewer))
        except PollNotFound:
            return self.t("no_poll", id=poll_id)
        choices = poll["choices"]
        if poll["method"] == "score":
            if len(numbers) != len(choices):
                return self.t("score_each", n=len(choices))
            content: voting.Content = voting.Scores(tuple((c["id"], n) for c, n in zip(choices, numbers, strict=True)))
            chosen = [c["id"] for c, n in zip(choices, numbers, strict=True) if n]
        elif not all(1 <= n <= len(choices) for n in numbers):
            return self.t("choose_between", n=len(choices))
        else:
            chosen = [choices[n - 1]["id"] for n in numbers]
            content = voting.Ranking(tuple(chosen)) if poll["method"] == "ranked" else voting.Choices(tuple(chosen))
        try:
            viewer = replace(self.viewer, invite=await invites.usable(self.app, code)) if code else self.viewer
            counted = await voting.cast(self.app, poll, content, viewer)
        except Refused as refusal:
            reply = REFUSED_VOTES.get(type(refusal), "choose_between")
            return self.t(reply, id=poll_id, max=poll["max_choices"], n=len(choices))
        if counted.receipt is not None:
            return self.t("receipt", receipt=counted.receipt) + "\n" + self.t("see_results", id=poll_id)
        return self.t("counted", choices=_named(choices, chosen)) + "\n" + self.t("see_results", id=poll_id)

    async def results(self, poll_id: int) -> str:
        """Counts and percentages, hidden exactly as on the site for a voter who is not the owner."""
        view = await self._view(poll_id)
        if view is None:
            return self.t("no_poll", id=poll_id)
        if not view.results_visible:
            return self.t(view.poll["results_visibility"])  # the texts "after_vote", "after_close", "on_reveal"
        tally = view.results()
        lines = [_title(view.poll)]
        lines += [self._result_line(n, item, tally["method"]) for n, item in enumerate(tally["choices"], 1)]
        lines.append(self.t("total", total=tally["total"]))
        if tally["method"] != "choice" and tally["winner"] is not None:
            winner = next(item for item in tally["choices"] if item["id"] == tally["winner"])
            lines.append(self.t(f"{tally['method']}_winner", text=_shorten(winner["choice_text"])))
        if view.status is not polls.Status.OPEN:
            lines.append(self.t("closed"))
        return "\n".join(lines)

    def _result_line(self, n: int, item: Row, method: str) -> str:
        """A choice's line of the results: its votes, or on a score poll its stars."""
        text = _shorten(item["choice_text"])
        if method == "score":
            return self.t("score_line", n=n, text=text, average=f"{item['average']:.2f}", total=item["total_score"])
        return self.t("result_line", n=n, text=text, votes=item["votes"], percent=item["percent"])


def _named(choices: list[Row], ids: list[int]) -> str:
    """The chosen choices as "2. green", in the poll's order."""
    return ", ".join(f"{n}. {item['choice_text']}" for n, item in enumerate(choices, 1) if item["id"] in ids)


def _title(poll: Row) -> str:
    return f"#{poll['id']} {poll['question_text']}"


def _shorten(text: str) -> str:
    return text if len(text) <= TEXT_SHOWN else text[: TEXT_SHOWN - 1] + "…"

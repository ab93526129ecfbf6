"""The one base of every refusal: a rule of the product said no, and nothing changed.

It lives here, below every layer, because some rules are the data's own (a ballot the database
refuses: ``ballot.VoteRefused``). ``application/services/refusals.py`` lists every refusal; the
web layer answers each through one table (``application/views/refusals.py``).
"""

from __future__ import annotations

from collections.abc import Mapping


class Refused(Exception):
    """``fields``: what was wrong with each named input, when the refusal is about a form's or a
    body's fields (texts marked for translation, English as they are)."""

    def __init__(self, fields: Mapping[str, str] | None = None) -> None:
        super().__init__(dict(fields or {}))
        self.fields = dict(fields or {})


class PollNotFound(Refused):
    """No such poll for this viewer: unknown, deleted (perhaps since the voter saw it), or not
    published yet and not theirs to see."""

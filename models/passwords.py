"""Password hashing (Argon2id) and policy. Hashing runs in a thread: it is slow on purpose.

Random tokens handed out (API tokens, reset links) are kept as a fast hash instead: ``hash_token``.
"""

from __future__ import annotations

import asyncio
import hashlib
from enum import Enum
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 8
MAX_LENGTH = 128
COMMON_PASSWORDS = Path(__file__).with_name("common_passwords.txt")

_hasher = PasswordHasher()


def hash_token(token: str) -> str:
    """How a random token is stored and looked up. It has 256 random bits, so a fast hash is
    enough: there is no dictionary to attack."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password_hash: str, password: str) -> bool:
    try:
        return await asyncio.to_thread(_hasher.verify, password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


@cache
def _common_passwords() -> frozenset[str]:
    lines = COMMON_PASSWORDS.read_text(encoding="utf-8").splitlines()
    return frozenset(line for line in lines if line and not line.startswith("# "))


class PasswordProblem(Enum):
    """Why a new password is refused; what each says is the accounts service's (one table)."""

    TOO_SHORT = "too short"
    TOO_LONG = "too long"
    TOO_COMMON = "too common"


def password_problem(password: str) -> PasswordProblem | None:
    """Why a new password is refused, or None when it is acceptable."""
    if len(password) < MIN_LENGTH:
        return PasswordProblem.TOO_SHORT
    if len(password) > MAX_LENGTH:
        return PasswordProblem.TOO_LONG
    if password.lower() in _common_passwords():
        return PasswordProblem.TOO_COMMON
    return None

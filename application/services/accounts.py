"""Creating accounts, shared by the registration form, the API and the command line."""

from __future__ import annotations

from application.web.errors import AppError, ErrorCode
from models import user
from models.db import Database, IntegrityError, Row
from models.passwords import hash_password


async def register(db: Database, fields: dict[str, str], is_admin: bool = False) -> Row:
    """Create the account from checked fields; 409 (20001) when the email or phone is taken."""
    taken = {}
    if await user.by_account(db, fields["email"]):
        taken["email"] = "This email address is already registered."
    if await user.by_account(db, fields["phone"]):
        taken["phone"] = "This mobile number is already registered."
    if not taken:
        password_hash = await hash_password(fields["password"])
        try:
            user_id = await user.create(
                db,
                name=fields["name"],
                phone=fields["phone"],
                email=fields["email"],
                password_hash=password_hash,
                is_admin=is_admin,
            )
        except IntegrityError:  # registered by a concurrent request in between
            taken["email"] = "This email address or mobile number is already registered."
        else:
            created = await user.get(db, user_id)
            assert created is not None
            return created
    raise AppError(409, "This email or mobile number is already registered.", ErrorCode.ACCOUNT_TAKEN, taken)

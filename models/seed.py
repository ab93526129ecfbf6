"""Sample data: the seed article's three users, their questions and choices.

The seed's third question objectified women; it is replaced by a neutral one
with the same shape. Vote counts are the seed's tallies (3, 2, 1), cast as the
ballots of six sample WeChat followers: every count has its ballots
(``check-counts`` finds nothing), and the demo accounts have not voted yet.
"""

from __future__ import annotations

from models import ballot, choice, question, user
from models.ballot import Choices, Voter
from models.clock import utcnow
from models.db import Database
from models.passwords import hash_password

DEMO_USERS = [
    {"name": "露西", "phone": "+8616666666661", "email": "luxi@qq.com", "password": "luxi-demo-2018"},
    {"name": "南希", "phone": "+8616666666662", "email": "nanxi@qq.com", "password": "nanxi-demo-2018"},
    {"name": "雪灵", "phone": "+8616666666663", "email": "xueling@qq.com", "password": "xueling-demo-2018"},
]

# Which choice (by position) each sample follower voted for: the seed's tallies 3, 2, 1.
SAMPLE_BALLOTS = (0, 0, 0, 1, 1, 2)
SAMPLE_FOLLOWER = "sample-follower-"

DEMO_QUESTIONS = [
    ("最受欢迎的计算机语言?", ["python", "java", "go"]),
    ("最受欢迎的水果?", ["香蕉", "苹果", "草莓"]),
    ("最喜欢的季节?", ["春天", "秋天", "冬天"]),
]


async def load_sample_data(db: Database) -> bool:
    """Insert the sample data; False (and nothing written) when it is already there."""
    if await user.by_account(db, DEMO_USERS[0]["email"]):
        return False
    hashes = [await hash_password(demo["password"]) for demo in DEMO_USERS]
    now = utcnow()
    async with db.transaction() as tx:
        for demo, password_hash, (text, choices) in zip(DEMO_USERS, hashes, DEMO_QUESTIONS, strict=True):
            user_id = await user.create(
                tx, name=demo["name"], phone=demo["phone"], email=demo["email"], password_hash=password_hash
            )
            question_id = await question.create(tx, user_id=user_id, question_text=text, pub_date=now)
            choice_ids = [await choice.create(tx, question_id=question_id, choice_text=item) for item in choices]
            for follower, choice_id in enumerate(choice_ids[i] for i in SAMPLE_BALLOTS):
                voter = Voter(openid=f"{SAMPLE_FOLLOWER}{follower + 1}")
                letter = await ballot.write_in(tx, question_id, Choices((choice_id,)), voter, now)
                assert letter == "V", letter  # a fresh poll, open now, each follower once
    return True

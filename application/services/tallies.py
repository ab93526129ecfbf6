"""The results of ranked and score polls, counted from grouped ballots (docs/voting-methods.md).

Ballots come grouped: each distinct ballot once, with the number of voters who cast it, as
``SELECT ranking, COUNT(*) ... GROUP BY ranking`` gives them. A ranking is a tuple of choice ids,
first preference first, possibly partial; a score ballot is a tuple of 0..5 stars aligned with the
poll's choice ids (an unscored choice is stored as 0). Every count is an integer, so results are
exact; only the displayed average is rounded. Each rule works on distinct ballots, never on the
individual ones, so 100,000 ballots cost what their distinct rankings cost (docs/performance.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from itertools import accumulate, chain, compress
from operator import eq, gt, lt, mul
from typing import Any

from models.ballot import MAX_STARS

ChoiceId = int
Ranking = tuple[ChoiceId, ...]
Scores = tuple[int, ...]
Matrix = list[list[int]]


@dataclass(frozen=True)
class Round:
    """One instant-runoff round: the ballots counting for each choice still in the race, the
    ballots that rank none of them, and the choice eliminated after it (none in the last round)."""

    tallies: dict[ChoiceId, int]
    exhausted: int
    eliminated: list[ChoiceId]

    def to_json(self) -> dict[str, Any]:
        return {"tallies": _keyed(self.tallies), "exhausted": self.exhausted, "eliminated": self.eliminated}


@dataclass(frozen=True)
class RankedResult:
    winner: ChoiceId | None  # the instant-runoff winner
    rounds: list[Round]
    condorcet_winner: ChoiceId | None
    schulze: list[list[ChoiceId]]  # places, best first; the choices tied at a place in listed order
    borda: dict[ChoiceId, int]
    pairwise: dict[ChoiceId, dict[ChoiceId, int]]  # pairwise[a][b]: ballots preferring a to b

    def to_json(self) -> dict[str, Any]:
        return {
            "winner": self.winner,
            "rounds": [round_.to_json() for round_ in self.rounds],
            "condorcet_winner": self.condorcet_winner,
            "schulze": self.schulze,
            "borda": _keyed(self.borda),
            "pairwise": {str(a): _keyed(row) for a, row in self.pairwise.items()},
        }


@dataclass(frozen=True)
class ChoiceScore:
    id: ChoiceId
    total_score: int
    average: Decimal  # stars per ballot, two decimals, rounded half up


@dataclass(frozen=True)
class Runoff:
    """The STAR runoff: on how many ballots each finalist has more stars than the other."""

    finalists: tuple[ChoiceId, ChoiceId]
    preferred: dict[ChoiceId, int]
    equal: int

    def to_json(self) -> dict[str, Any]:
        return {"finalists": list(self.finalists), "preferred": _keyed(self.preferred), "equal": self.equal}


@dataclass(frozen=True)
class ScoreResult:
    winner: ChoiceId | None  # the STAR winner
    choices: list[ChoiceScore]
    runoff: Runoff | None  # none without ballots or with a single choice

    def to_json(self, choice_texts: Mapping[ChoiceId, str]) -> dict[str, Any]:
        return {
            "winner": self.winner,
            "choices": [
                {
                    "id": choice.id,
                    "choice_text": choice_texts[choice.id],
                    "total_score": choice.total_score,
                    "average": float(choice.average),
                }
                for choice in self.choices
            ],
            "runoff": None if self.runoff is None else self.runoff.to_json(),
        }


def _keyed(by_choice: Mapping[ChoiceId, int]) -> dict[str, int]:
    """JSON object keys are strings."""
    return {str(choice_id): value for choice_id, value in by_choice.items()}


# Ranked ballots


def tally_ranked(choice_ids: Sequence[ChoiceId], rankings: Mapping[Ranking, int]) -> RankedResult:
    """Every result of a ranked poll from its rankings, each distinct ranking with its count."""
    _check_rankings(choice_ids, rankings)
    winner, rounds = instant_runoff(choice_ids, rankings)
    preferences = pairwise_preferences(choice_ids, rankings)
    return RankedResult(
        winner=winner,
        rounds=rounds,
        # No ballot ranks a choice: nobody wins anything (a lone choice would beat no one vacuously).
        condorcet_winner=condorcet_winner(choice_ids, preferences) if rounds else None,
        schulze=schulze_order(choice_ids, preferences),
        borda=borda(choice_ids, preferences),
        pairwise={
            a: {b: preferences[i][j] for j, b in enumerate(choice_ids) if j != i} for i, a in enumerate(choice_ids)
        },
    )


def _check_rankings(choice_ids: Sequence[ChoiceId], rankings: Mapping[Ranking, int]) -> None:
    # A ranking's known choices number its length only if it names no other choice and none twice.
    if not all(map(eq, map(len, rankings), map(len, map(set(choice_ids).intersection, rankings)))):
        raise ValueError("a ranking names a choice twice or one that is not in the poll")


def instant_runoff(
    choice_ids: Sequence[ChoiceId], rankings: Mapping[Ranking, int]
) -> tuple[ChoiceId | None, list[Round]]:
    """Rounds until a choice holds more than half of the ballots still counting; each round the
    choice with the fewest is eliminated (ties: fewer first preferences, then the later-listed).
    No ballot ranking any choice: no winner and no rounds."""
    groups = list(rankings.items())
    tallies = dict.fromkeys(choice_ids, 0)
    # The groups counting for each choice still in the race (its keys are the race, in listed order).
    piles: dict[ChoiceId, list[int]] = {choice_id: [] for choice_id in choice_ids}
    exhausted = 0
    for group, (ranking, count) in enumerate(groups):
        if ranking:
            tallies[ranking[0]] += count
            piles[ranking[0]].append(group)
        else:
            exhausted += count
    total = exhausted + sum(tallies.values())
    if exhausted == total:
        return None, []
    elimination_order = _elimination_order(choice_ids, first_preferences=tallies)
    depth = [0] * len(groups)  # the place in its ranking of the choice each group counts for
    rounds: list[Round] = []
    while True:
        standing = {choice_id: tallies[choice_id] for choice_id in piles}
        leader = max(standing, key=standing.__getitem__)
        if 2 * standing[leader] > total - exhausted:
            rounds.append(Round(standing, exhausted, []))
            return leader, rounds
        loser = min(standing, key=lambda c: (standing[c], elimination_order[c]))
        rounds.append(Round(standing, exhausted, [loser]))
        exhausted += _transfer(groups, depth, piles, tallies, piles.pop(loser))


def _transfer(
    groups: list[tuple[Ranking, int]],
    depth: list[int],
    piles: dict[ChoiceId, list[int]],
    tallies: dict[ChoiceId, int],
    moving: list[int],
) -> int:
    """Move the ``moving`` groups to their next choice still in the race; the ballots that have none left."""
    exhausted = 0
    for group in moving:
        ranking, count = groups[group]
        place = depth[group] + 1
        while place < len(ranking) and ranking[place] not in piles:
            place += 1
        if place < len(ranking):
            depth[group] = place
            tallies[ranking[place]] += count
            piles[ranking[place]].append(group)
        else:
            exhausted += count
    return exhausted


def _elimination_order(
    choice_ids: Sequence[ChoiceId], first_preferences: Mapping[ChoiceId, int]
) -> dict[ChoiceId, int]:
    """Among choices with equally few ballots, the one eliminated first has the lowest rank here:
    fewer first preferences, then listed later."""
    ranked = sorted(range(len(choice_ids)), key=lambda i: (first_preferences[choice_ids[i]], -i))
    return {choice_ids[i]: rank for rank, i in enumerate(ranked)}


def pairwise_preferences(choice_ids: Sequence[ChoiceId], rankings: Mapping[Ranking, int]) -> Matrix:
    """``d[i][j]``: ballots preferring choice i to choice j (by position in ``choice_ids``). A ballot
    prefers a ranked choice to every choice ranked below it and to every unranked one; it prefers
    nothing among its unranked choices.

    So ``d[i][j]`` is the ballots ranking i less those ranking j above i, and for each choice i only
    the sets of choices ranked at or above it are summed, not pairs: each set is a packed integer,
    one ``width``-bit field per choice, wide enough that no field (at most the ballot count) carries.
    """
    width = max(sum(rankings.values()).bit_length(), 1)
    field = {choice_id: 1 << (width * i) for i, choice_id in enumerate(choice_ids)}
    at_or_above = dict.fromkeys(choice_ids, 0)
    for ranking, count in rankings.items():
        prefixes = zip(ranking, accumulate(map(field.__getitem__, ranking)), strict=True)
        if count == 1:  # most rankings when they are many: spare the multiplication
            for choice_id, packed in prefixes:
                at_or_above[choice_id] += packed
        else:
            for choice_id, packed in prefixes:
                at_or_above[choice_id] += packed * count
    mask = (1 << width) - 1
    d: Matrix = []
    for i, choice_id in enumerate(choice_ids):
        above = [(at_or_above[choice_id] >> (width * j)) & mask for j in range(len(choice_ids))]
        d.append([above[i] - above[j] for j in range(len(choice_ids))])  # above[i]: ballots ranking i
    return d


def condorcet_winner(choice_ids: Sequence[ChoiceId], d: Matrix) -> ChoiceId | None:
    """The choice that more ballots prefer to each other choice than the other way round, if any."""
    for i, choice_id in enumerate(choice_ids):
        if all(d[i][j] > d[j][i] for j in range(len(choice_ids)) if j != i):
            return choice_id
    return None


def strongest_paths(d: Matrix) -> Matrix:
    """Schulze's ``p[i][j]``: the strength of the strongest path from i to j, a path's strength being
    its weakest link, and a link i -> j existing where more ballots prefer i to j than j to i, with
    the strength ``d[i][j]`` (winning votes). Floyd-Warshall, O(n^3)."""
    n = len(d)
    p = [[d[i][j] if d[i][j] > d[j][i] else 0 for j in range(n)] for i in range(n)]
    for k in range(n):
        through = p[k]
        for i in range(n):
            to_k = p[i][k]
            if i == k or not to_k:
                continue
            row = p[i]
            for j in range(n):
                if j != i and j != k:
                    row[j] = max(row[j], min(to_k, through[j]))
    return p


def schulze_order(choice_ids: Sequence[ChoiceId], d: Matrix) -> list[list[ChoiceId]]:
    """Places, best first. i beats j when ``p[i][j] > p[j][i]``; a place holds the choices that no
    choice left after the earlier places beats (the first place: the Schulze winners)."""
    p = strongest_paths(d)
    left = list(range(len(choice_ids)))
    places = []
    while left:
        place = [i for i in left if not any(p[j][i] > p[i][j] for j in left)]
        places.append([choice_ids[i] for i in place])
        left = [i for i in left if i not in place]
    return places


def borda(choice_ids: Sequence[ChoiceId], d: Matrix) -> dict[ChoiceId, int]:
    """Points: n-1 for a first place, n-i for the i-th, nothing for an unranked choice. The i-th
    choice of a ballot is preferred to exactly n-i others (those below it and those unranked), so
    its points are its row of the pairwise matrix."""
    return {choice_id: sum(d[i]) for i, choice_id in enumerate(choice_ids)}


# Score ballots


def tally_score(choice_ids: Sequence[ChoiceId], ballots: Mapping[Scores, int]) -> ScoreResult:
    """Every result of a score poll from its ballots, each distinct one with its count."""
    _check_scores(choice_ids, ballots)
    totals = total_scores(choice_ids, ballots)
    count = sum(ballots.values())
    winner, runoff = star(choice_ids, ballots, totals)
    return ScoreResult(
        winner=winner,
        choices=[
            ChoiceScore(choice_id, totals[choice_id], average(totals[choice_id], count)) for choice_id in choice_ids
        ],
        runoff=runoff,
    )


def _check_scores(choice_ids: Sequence[ChoiceId], ballots: Mapping[Scores, int]) -> None:
    if not set(map(len, ballots)) <= {len(choice_ids)}:
        raise ValueError("a score ballot does not have one score per choice")
    if not set(chain.from_iterable(ballots)) <= set(range(MAX_STARS + 1)):
        raise ValueError(f"a score is not a whole number of stars from 0 to {MAX_STARS}")


def total_scores(choice_ids: Sequence[ChoiceId], ballots: Mapping[Scores, int]) -> dict[ChoiceId, int]:
    columns = list(zip(*ballots, strict=True)) or [()] * len(choice_ids)  # each choice's scores, by distinct ballot
    counts = list(ballots.values())
    return {choice_id: sum(map(mul, column, counts)) for choice_id, column in zip(choice_ids, columns, strict=True)}


def average(total: int, ballots: int) -> Decimal:
    """Stars per ballot to two decimals, rounded half up, computed in integers so that it is exact
    (11 stars on 3 ballots: 3.67; 5 on 8: 0.63). No ballots: 0."""
    if not ballots:
        return Decimal("0.00")
    hundredths = (200 * total + ballots) // (2 * ballots)
    return Decimal(hundredths).scaleb(-2)


def star(
    choice_ids: Sequence[ChoiceId], ballots: Mapping[Scores, int], totals: Mapping[ChoiceId, int]
) -> tuple[ChoiceId | None, Runoff | None]:
    """The two highest totals (equal totals: the earlier-listed) go to a runoff won by the finalist
    with more stars than the other on more ballots; a tied runoff goes to the higher total, then to
    the earlier-listed. No ballots: no winner; a lone choice wins without a runoff."""
    if not ballots:
        return None, None
    listed = {choice_id: i for i, choice_id in enumerate(choice_ids)}
    ranked = sorted(choice_ids, key=lambda c: (-totals[c], listed[c]))
    if len(ranked) == 1:
        return ranked[0], None
    first, second = ranked[0], ranked[1]
    scores_first = [scores[listed[first]] for scores in ballots]
    scores_second = [scores[listed[second]] for scores in ballots]
    counts = list(ballots.values())
    preferred = {
        first: sum(compress(counts, map(gt, scores_first, scores_second))),
        second: sum(compress(counts, map(lt, scores_first, scores_second))),
    }
    equal = sum(compress(counts, map(eq, scores_first, scores_second)))
    winner = min((first, second), key=lambda c: (-preferred[c], -totals[c], listed[c]))
    return winner, Runoff((first, second), preferred, equal)

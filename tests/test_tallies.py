"""The counting rules of ranked and score polls (application/services/tallies.py).

Worked examples and every tie-break by hand, then thousands of random profiles against an
independent implementation, pref-voting, wherever it defines a result the same way as
docs/voting-methods.md does.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal

import pytest
from pref_voting.grade_methods import star as oracle_star
from pref_voting.grade_profiles import GradeProfile
from pref_voting.iterative_methods import instant_runoff_with_explanation
from pref_voting.margin_based_methods import beat_path
from pref_voting.profiles import Profile
from pref_voting.profiles_with_ties import ProfileWithTies
from pref_voting.scoring_methods import domination_borda_scores

from application.services.tallies import (
    ChoiceScore,
    Ranking,
    Round,
    Runoff,
    Scores,
    average,
    tally_ranked,
    tally_score,
)

# Choice ids unlike their places in the list, so that a rule confusing the two shows.
A, B, C, D, E = 21, 22, 23, 24, 25


# Classic worked examples


def test_tennessee_capital_instant_runoff_elects_knoxville_condorcet_schulze_and_borda_nashville() -> None:
    memphis, nashville, chattanooga, knoxville = 31, 32, 33, 34
    result = tally_ranked(
        [memphis, nashville, chattanooga, knoxville],
        {
            (memphis, nashville, chattanooga, knoxville): 42,
            (nashville, chattanooga, knoxville, memphis): 26,
            (chattanooga, knoxville, nashville, memphis): 15,
            (knoxville, chattanooga, nashville, memphis): 17,
        },
    )
    assert result.winner == knoxville
    assert result.rounds == [
        Round({memphis: 42, nashville: 26, chattanooga: 15, knoxville: 17}, 0, [chattanooga]),
        Round({memphis: 42, nashville: 26, knoxville: 32}, 0, [nashville]),
        Round({memphis: 42, knoxville: 58}, 0, []),
    ]
    assert result.condorcet_winner == nashville
    assert result.schulze == [[nashville], [chattanooga], [knoxville], [memphis]]
    # 3 points for a first place, 2, 1, 0: Nashville 42*2 + 26*3 + 15 + 17 = 194.
    assert result.borda == {memphis: 126, nashville: 194, chattanooga: 173, knoxville: 107}
    assert result.pairwise[nashville] == {memphis: 58, chattanooga: 68, knoxville: 68}
    assert result.pairwise[chattanooga] == {memphis: 58, nashville: 32, knoxville: 83}


def test_schulze_orders_every_choice_through_a_majority_cycle() -> None:
    # 45 voters, no Condorcet winner: A beats C beats B, B beats A... The strongest paths give
    # E > A > C > B > D (the example Markus Schulze's papers use).
    result = tally_ranked(
        [A, B, C, D, E],
        {
            (A, C, B, E, D): 5,
            (A, D, E, C, B): 5,
            (B, E, D, A, C): 8,
            (C, A, B, E, D): 3,
            (C, A, E, B, D): 7,
            (C, B, A, D, E): 2,
            (D, C, E, B, A): 7,
            (E, B, A, D, C): 8,
        },
    )
    assert result.condorcet_winner is None
    assert result.schulze == [[E], [A], [C], [B], [D]]
    assert result.pairwise[A][B] == 20 and result.pairwise[B][A] == 25


def test_schulze_overrules_the_weakest_link_of_a_majority_cycle() -> None:
    # docs/voting-methods.md: A beats B 6-3, B beats C 7-2, C beats A 5-4.
    result = tally_ranked([A, B, C], {(A, B, C): 4, (B, C, A): 3, (C, A, B): 2})
    assert result.pairwise == {A: {B: 6, C: 4}, B: {A: 3, C: 7}, C: {A: 5, B: 2}}
    assert result.condorcet_winner is None
    assert result.schulze == [[A], [B], [C]]
    assert result.winner == A


# Instant runoff: rounds, exhausted ballots, tie-breaks


def test_exhausted_ballots_are_counted_each_round_and_the_majority_is_of_the_ballots_still_counting() -> None:
    result = tally_ranked([A, B, C, D], {(A,): 4, (B, A): 3, (C,): 2, (D, C): 1})
    assert result.rounds == [
        Round({A: 4, B: 3, C: 2, D: 1}, 0, [D]),
        Round({A: 4, B: 3, C: 3}, 0, [C]),  # B and C tied: C has fewer first preferences
        Round({A: 4, B: 3}, 3, []),  # 4 of the 7 ballots still counting, not of all 10
    ]
    assert result.winner == A


def test_an_elimination_tie_goes_to_the_choice_with_fewer_first_preferences_even_if_listed_earlier() -> None:
    # Round 2: C and B have 4 each; C, listed before B, had 3 first preferences to B's 4.
    result = tally_ranked([A, C, B, D], {(A,): 6, (B,): 4, (C, B): 3, (D, C): 1})
    assert [round_.eliminated for round_ in result.rounds] == [[D], [C], []]
    assert result.rounds[1].tallies == {A: 6, C: 4, B: 4}
    assert result.winner == B


def test_an_elimination_tie_with_equal_first_preferences_goes_to_the_later_listed_choice() -> None:
    result = tally_ranked([A, B, C], {(A,): 3, (B, C): 2, (C, B): 2})
    assert result.rounds[0] == Round({A: 3, B: 2, C: 2}, 0, [C])
    assert result.winner == B


def test_the_last_two_tied_eliminate_the_one_with_fewer_first_preferences() -> None:
    # B is listed first, so "later-listed" alone would eliminate A.
    result = tally_ranked([B, A, C], {(A,): 3, (B,): 2, (C, B): 1})
    assert result.rounds[1] == Round({B: 3, A: 3}, 0, [B])
    assert result.rounds[2] == Round({A: 3}, 3, [])
    assert result.winner == A


def test_the_last_two_tied_with_equal_first_preferences_eliminate_the_later_listed() -> None:
    result = tally_ranked([A, B], {(A,): 2, (B,): 2})
    assert result.rounds == [Round({A: 2, B: 2}, 0, [B]), Round({A: 2}, 2, [])]
    assert result.winner == A


def test_a_choice_with_a_majority_of_first_preferences_wins_in_the_first_round() -> None:
    result = tally_ranked([A, B, C], {(C, A): 3, (A,): 1, (B,): 1})
    assert result.rounds == [Round({A: 1, B: 1, C: 3}, 0, [])]
    assert result.winner == C


# Pairwise, Condorcet, Schulze and Borda with partial rankings


def test_a_ranked_choice_beats_every_unranked_one_and_unranked_ones_tie() -> None:
    result = tally_ranked([A, B, C, D], {(B, A): 1})
    assert result.pairwise == {
        A: {B: 0, C: 1, D: 1},
        B: {A: 1, C: 1, D: 1},
        C: {A: 0, B: 0, D: 0},
        D: {A: 0, B: 0, C: 0},
    }
    assert result.condorcet_winner == B
    assert result.schulze == [[B], [A], [C, D]]


def test_borda_gives_n_minus_i_points_to_the_ith_ranked_choice_and_none_to_unranked_ones() -> None:
    result = tally_ranked([A, B, C, D], {(C, A): 2, (D, A, B, C): 1})
    # 4 choices: (C, A) gives C 3 and A 2; (D, A, B, C) gives 3, 2, 1, 0.
    assert result.borda == {A: 2 * 2 + 2, B: 1, C: 2 * 3 + 0, D: 3}


def test_no_condorcet_winner_when_the_top_two_tie_head_to_head() -> None:
    result = tally_ranked([A, B, C], {(A, B, C): 1, (B, A, C): 1})
    assert result.condorcet_winner is None
    assert result.schulze == [[A, B], [C]]


# Edge cases


def test_a_ranked_poll_without_ballots_has_no_winner_and_no_rounds() -> None:
    result = tally_ranked([A, B, C], {})
    assert result.to_json() == {
        "winner": None,
        "rounds": [],
        "condorcet_winner": None,
        "schulze": [[A, B, C]],
        "borda": {str(A): 0, str(B): 0, str(C): 0},
        "pairwise": {
            str(A): {str(B): 0, str(C): 0},
            str(B): {str(A): 0, str(C): 0},
            str(C): {str(A): 0, str(B): 0},
        },
    }


def test_ballots_ranking_no_choice_count_as_exhausted_from_the_start() -> None:
    assert tally_ranked([A, B], {(): 3}).winner is None
    result = tally_ranked([A, B], {(): 3, (B,): 1})
    assert result.rounds == [Round({A: 0, B: 1}, 3, [])]
    assert result.winner == B


def test_a_single_choice_wins_every_method_once_ranked() -> None:
    result = tally_ranked([A], {(A,): 2})
    assert (result.winner, result.condorcet_winner, result.schulze) == (A, A, [[A]])
    assert result.rounds == [Round({A: 2}, 0, [])]
    assert tally_ranked([A], {}).condorcet_winner is None


def test_rankings_naming_a_choice_outside_the_poll_or_twice_are_refused() -> None:
    with pytest.raises(ValueError, match="not in the poll"):
        tally_ranked([A, B], {(A, C): 1})
    with pytest.raises(ValueError, match="twice"):
        tally_ranked([A, B], {(B,): 2, (A, B, A): 1})


def test_ranked_json_has_the_spec_fields_with_string_keys() -> None:
    result = tally_ranked([A, B, C], {(A, B): 2, (C,): 1, (B, C, A): 2})
    document = json.loads(json.dumps(result.to_json()))
    assert document == {
        "winner": A,
        "rounds": [
            {"tallies": {str(A): 2, str(B): 2, str(C): 1}, "exhausted": 0, "eliminated": [C]},
            {"tallies": {str(A): 2, str(B): 2}, "exhausted": 1, "eliminated": [B]},
            {"tallies": {str(A): 4}, "exhausted": 1, "eliminated": []},
        ],
        "condorcet_winner": None,  # A and B tie head to head
        "schulze": [[B], [C], [A]],  # B beats C 4 to 1, C beats A 3 to 2
        "borda": {str(A): 2 * 2, str(B): 2 * 1 + 2 * 2, str(C): 2 + 2 * 1},
        "pairwise": {
            str(A): {str(B): 2, str(C): 2},
            str(B): {str(A): 2, str(C): 4},
            str(C): {str(A): 3, str(B): 1},
        },
    }


# Score ballots: totals, averages, STAR


def test_totals_and_averages_rounded_half_up_to_two_decimals() -> None:
    result = tally_score([A, B, C], {(5, 0, 1): 1, (3, 1, 0): 1, (3, 4, 0): 1})
    assert result.choices == [
        ChoiceScore(A, 11, Decimal("3.67")),
        ChoiceScore(B, 5, Decimal("1.67")),
        ChoiceScore(C, 1, Decimal("0.33")),
    ]
    assert average(5, 8) == Decimal("0.63")  # 0.625: half up
    assert average(1, 8) == Decimal("0.13")
    assert average(3, 2) == Decimal("1.50")


def test_star_runoff_elects_the_finalist_preferred_on_more_ballots_over_the_higher_total() -> None:
    # A has the highest total, but more ballots score B above A.
    result = tally_score([A, B, C], {(5, 0, 1): 2, (3, 4, 2): 3, (0, 1, 3): 1})
    assert [choice.total_score for choice in result.choices] == [19, 13, 11]
    assert result.runoff == Runoff((A, B), {A: 2, B: 4}, 0)
    assert result.winner == B


def test_star_finalists_with_equal_totals_are_the_earlier_listed() -> None:
    result = tally_score([A, B, C, D], {(1, 4, 4, 4): 1, (2, 1, 1, 1): 1})
    # B, C and D all total 5: the earlier-listed B and C go to the runoff, tied 0 to 0 on equal scores.
    assert result.runoff == Runoff((B, C), {B: 0, C: 0}, 2)
    assert result.winner == B


def test_a_tied_runoff_goes_to_the_finalist_with_the_higher_total() -> None:
    result = tally_score([A, B, C], {(1, 5, 0): 1, (2, 0, 4): 1, (4, 3, 0): 1})
    # Totals A 7, B 8, C 4: finalists B and A, each scored higher on one ballot, equal on none... and
    # one more ballot: B above A on (1, 5), A above B on (2, 0) and (4, 3).
    assert result.runoff == Runoff((B, A), {B: 1, A: 2}, 0)
    assert result.winner == A
    tied = tally_score([A, B, C], {(1, 5, 0): 1, (2, 0, 0): 1, (3, 3, 0): 1})
    # Totals A 6, B 8: B above A once, A above B once, equal once: B has the higher total.
    assert tied.runoff == Runoff((B, A), {B: 1, A: 1}, 1)
    assert tied.winner == B


def test_a_tied_runoff_between_equal_totals_goes_to_the_earlier_listed() -> None:
    result = tally_score([C, B, A], {(1, 4, 0): 1, (4, 1, 0): 1})
    assert result.runoff == Runoff((C, B), {C: 1, B: 1}, 0)
    assert result.winner == C


def test_a_score_poll_without_ballots_has_no_winner_and_no_runoff() -> None:
    result = tally_score([A, B], {})
    assert result.to_json({A: "Tea", B: "Coffee"}) == {
        "winner": None,
        "choices": [
            {"id": A, "choice_text": "Tea", "total_score": 0, "average": 0.0},
            {"id": B, "choice_text": "Coffee", "total_score": 0, "average": 0.0},
        ],
        "runoff": None,
    }


def test_a_single_scored_choice_wins_without_a_runoff() -> None:
    result = tally_score([A], {(0,): 2})
    assert (result.winner, result.runoff) == (A, None)


def test_score_json_has_the_spec_fields_with_string_keys() -> None:
    result = tally_score([A, B], {(5, 2): 1, (0, 4): 2})
    document = json.loads(json.dumps(result.to_json({A: "Tea", B: "Coffee"})))
    assert document == {
        "winner": B,
        "choices": [
            {"id": A, "choice_text": "Tea", "total_score": 5, "average": 1.67},
            {"id": B, "choice_text": "Coffee", "total_score": 10, "average": 3.33},
        ],
        "runoff": {"finalists": [B, A], "preferred": {str(B): 2, str(A): 1}, "equal": 0},
    }


def test_score_ballots_of_the_wrong_length_or_out_of_range_are_refused() -> None:
    with pytest.raises(ValueError, match="one score per choice"):
        tally_score([A, B], {(5,): 1})
    with pytest.raises(ValueError, match="0 to 5"):
        tally_score([A, B], {(6, 0): 1})


# Random profiles against pref-voting
#
# pref-voting (test-only) is an independent implementation. What it defines as we do is compared
# on every profile: the pairwise counts and the Borda points (its "domination Borda" on truncated
# rankings: a choice scores one per choice it is strictly preferred to, unranked choices below
# ranked ones), the Condorcet winner, the Schulze winners against our first place (its beat path
# with winning votes as the strength), and the instant-runoff eliminations and winner (its
# one-at-a-time tie-breaker given our static order: fewer first preferences, then later-listed).
# Its STAR keeps every winner of the ways a tie could go; ours must be one of them, and the
# same when there is only one.

PROFILES = 2000  # random profiles per comparison; small ones, so that ties are frequent


def random_choice_ids(rng: random.Random) -> list[int]:
    return rng.sample(range(1, 100), rng.randint(2, 5))  # listed order unrelated to the ids' order


def random_rankings(seed: int, complete: bool = False) -> Iterator[tuple[list[int], Counter[Ranking]]]:
    rng = random.Random(seed)
    for _ in range(PROFILES):
        choice_ids = random_choice_ids(rng)
        n = len(choice_ids)
        rankings = [
            tuple(rng.sample(choice_ids, n if complete else rng.randint(1, n))) for _ in range(rng.randint(1, 14))
        ]
        yield choice_ids, Counter(rankings)


def random_scores(seed: int) -> Iterator[tuple[list[int], Counter[Scores]]]:
    rng = random.Random(seed)
    for _ in range(PROFILES):
        choice_ids = random_choice_ids(rng)
        ballots = [tuple(rng.randint(0, 5) for _ in choice_ids) for _ in range(rng.randint(1, 14))]
        yield choice_ids, Counter(ballots)


def oracle_profile(choice_ids: list[int], rankings: Counter[Ranking]) -> ProfileWithTies:
    profile = ProfileWithTies(
        [{choice_id: place for place, choice_id in enumerate(ranking, 1)} for ranking in rankings],
        rcounts=list(rankings.values()),
        candidates=choice_ids,
    )
    profile.use_extended_strict_preference()  # ranked above unranked, as in our pairwise counts
    return profile


def test_pairwise_and_borda_match_pref_voting() -> None:
    for choice_ids, rankings in random_rankings(seed=1):
        result = tally_ranked(choice_ids, rankings)
        oracle = oracle_profile(choice_ids, rankings)
        expected = {a: {b: oracle.support(a, b) for b in choice_ids if b != a} for a in choice_ids}
        assert result.pairwise == expected, (choice_ids, rankings)
        assert result.borda == domination_borda_scores(oracle), (choice_ids, rankings)


def test_borda_of_complete_rankings_matches_pref_voting() -> None:
    for choice_ids, rankings in random_rankings(seed=2, complete=True):
        places = {choice_id: i for i, choice_id in enumerate(choice_ids)}
        oracle = Profile([[places[c] for c in ranking] for ranking in rankings], rcounts=list(rankings.values()))
        expected = oracle.borda_scores()
        assert tally_ranked(choice_ids, rankings).borda == {c: expected[places[c]] for c in choice_ids}, rankings


def test_condorcet_and_schulze_winners_match_pref_voting() -> None:
    for choice_ids, rankings in random_rankings(seed=3):
        result = tally_ranked(choice_ids, rankings)
        oracle = oracle_profile(choice_ids, rankings)
        assert result.condorcet_winner == oracle.condorcet_winner(), (choice_ids, rankings)
        assert sorted(result.schulze[0]) == beat_path(oracle, strength_function=oracle.support), (choice_ids, rankings)
        assert sorted(c for place in result.schulze for c in place) == sorted(choice_ids)


def test_instant_runoff_matches_pref_voting() -> None:
    for choice_ids, rankings in random_rankings(seed=4):
        result = tally_ranked(choice_ids, rankings)
        first_preferences = Counter(dict.fromkeys(choice_ids, 0))
        for ranking, count in rankings.items():
            first_preferences[ranking[0]] += count
        listed = {choice_id: i for i, choice_id in enumerate(choice_ids)}
        eliminated_first = sorted(choice_ids, key=lambda c: (first_preferences[c], -listed[c]))
        oracle = oracle_profile(choice_ids, rankings)
        winners, eliminations = instant_runoff_with_explanation(oracle, tie_breaker=eliminated_first)
        assert [result.winner] == winners, (choice_ids, rankings)
        # pref-voting eliminates down to one choice; a majority ends our count as soon as it shows.
        ours = [round_.eliminated for round_ in result.rounds if round_.eliminated]
        assert ours == eliminations[: len(ours)], (choice_ids, rankings)


def test_every_round_accounts_for_every_ballot_and_the_last_has_a_majority() -> None:
    for choice_ids, rankings in random_rankings(seed=5):
        result = tally_ranked(choice_ids, rankings)
        ballots = sum(rankings.values())
        for round_ in result.rounds:
            assert sum(round_.tallies.values()) + round_.exhausted == ballots, (choice_ids, rankings)
        last = result.rounds[-1]
        assert 2 * last.tallies[result.winner] > ballots - last.exhausted, (choice_ids, rankings)
        assert [len(round_.tallies) for round_ in result.rounds] == list(
            range(len(choice_ids), len(choice_ids) - len(result.rounds), -1)
        )


def test_star_matches_pref_voting() -> None:
    for choice_ids, ballots in random_scores(seed=6):
        result = tally_score(choice_ids, ballots)
        oracle = GradeProfile(
            [dict(zip(choice_ids, scores, strict=True)) for scores in ballots],
            [0, 1, 2, 3, 4, 5],
            gcounts=list(ballots.values()),
            candidates=choice_ids,
        )
        assert [choice.total_score for choice in result.choices] == [oracle.sum(c) for c in choice_ids]
        winners = oracle_star(oracle)
        assert result.winner in winners, (choice_ids, ballots)
        if len(winners) == 1:
            assert result.winner == winners[0], (choice_ids, ballots)

"""The tally of 100,000 ranked or score ballots (application/services/tallies.py), by number of choices.

Generates the ballots of realistic polls (a few popular choices, voters who rank only some), groups
identical ballots as the database's GROUP BY will (a Counter stands in for it here), and times
the grouping and the tally apart: CPU time of this process, median of several runs, so that other
work on the shared machine inflates it little. Prints a table and writes it into docs/performance.md.

Usage: .venv/bin/python bench/tally_bench.py [--ballots 100000] [--runs 7] [--no-docs]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common import write_section

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from application.services.tallies import tally_ranked, tally_score  # noqa: E402

DOCS = ROOT / "docs" / "performance.md"
SEED = 18


@dataclass(frozen=True)
class Scenario:
    name: str
    choices: int
    ballot: Callable[[random.Random, list[int], list[float]], tuple[int, ...]]
    tally: Callable[[list[int], Counter[tuple[int, ...]]], Any]


def popularity(rng: random.Random, n: int) -> list[float]:
    """A few choices draw most voters (weights 1, 1/2^0.8, 1/3^0.8, ...), in a random listed order."""
    weights = [1 / (place + 1) ** 0.8 for place in range(n)]
    rng.shuffle(weights)
    return weights


def plackett_luce(rng: random.Random, choice_ids: list[int], weights: list[float]) -> list[int]:
    """A full ranking where each next choice is drawn in proportion to its weight among those left."""
    keys = [rng.expovariate(weight) for weight in weights]
    return [choice_id for _, choice_id in sorted(zip(keys, choice_ids, strict=True))]


def mostly_complete(rng: random.Random, choice_ids: list[int], weights: list[float]) -> tuple[int, ...]:
    """Most voters rank every choice; some stop early."""
    ranking = plackett_luce(rng, choice_ids, weights)
    return tuple(ranking if rng.random() < 0.6 else ranking[: rng.randint(1, len(ranking) - 1)])


def top_few(rng: random.Random, choice_ids: list[int], weights: list[float]) -> tuple[int, ...]:
    """Voters rank their favourites only: 1 + a geometric number more, 5 on average."""
    length = min(len(choice_ids), 1 + int(rng.expovariate(1 / 4)))
    return tuple(plackett_luce(rng, choice_ids, weights)[:length])


def every_choice_at_random(rng: random.Random, choice_ids: list[int], weights: list[float]) -> tuple[int, ...]:
    """The worst case: full rankings in uniformly random order, so that hardly any two are equal."""
    return tuple(rng.sample(choice_ids, len(choice_ids)))


def stars(rng: random.Random, choice_ids: list[int], weights: list[float]) -> tuple[int, ...]:
    """Stars around each choice's appeal (its weight scaled to 0..5), many choices left at 0."""
    top = max(weights)
    return tuple(
        0 if rng.random() < 0.3 else max(0, min(5, round(5 * weight / top + rng.gauss(0, 1.2)))) for weight in weights
    )


SCENARIOS = [
    Scenario("ranked, 5 choices, 60% complete", 5, mostly_complete, tally_ranked),
    Scenario("ranked, 10 choices, 60% complete", 10, mostly_complete, tally_ranked),
    Scenario("ranked, 20 choices, favourites only (5 on average)", 20, top_few, tally_ranked),
    Scenario("ranked, 20 choices, complete, uniformly random (worst case)", 20, every_choice_at_random, tally_ranked),
    Scenario("score, 5 choices", 5, stars, tally_score),
    Scenario("score, 10 choices", 10, stars, tally_score),
    Scenario("score, 20 choices", 20, stars, tally_score),
]


def cpu_time(work: Callable[[], Any]) -> tuple[float, Any]:
    start = time.process_time()
    result = work()
    return time.process_time() - start, result


def yardstick(runs: int) -> float:
    """A fixed pure-Python loop (a million dict increments), to read this run's figures against:
    the machine is shared, and the same code takes up to twice as long when it is busy."""
    counts = dict.fromkeys(range(10), 0)

    def loop() -> None:
        for i in range(1_000_000):
            counts[i % 10] += 1

    return statistics.median(cpu_time(loop)[0] for _ in range(runs))


def measure(scenario: Scenario, ballots: int, runs: int) -> dict[str, Any]:
    rng = random.Random(SEED)
    choice_ids = list(range(101, 101 + scenario.choices))
    weights = popularity(rng, scenario.choices)
    cast = [scenario.ballot(rng, choice_ids, weights) for _ in range(ballots)]
    grouping, tally = [], []
    for _ in range(runs):
        seconds, grouped = cpu_time(lambda: Counter(cast))
        grouping.append(seconds)
        seconds, _ = cpu_time(lambda grouped=grouped: scenario.tally(choice_ids, grouped))
        tally.append(seconds)
    return {
        "scenario": scenario.name,
        "distinct": len(grouped),
        "grouping": statistics.median(grouping),
        "tally": statistics.median(tally),
    }


def report(rows: list[dict[str, Any]], ballots: int, runs: int, loop: float) -> str:
    lines = [
        f"{ballots:,} ballots each; CPU time, median of {runs} runs. Yardstick: a million dict increments"
        f" in a Python loop took {loop * 1000:.0f} ms in this run.",
        "",
        "| poll | distinct ballots | grouping (Counter) | tally of the distinct ballots |",
        "|---|---|---|---|",
    ]
    for row in rows:
        grouping, tally = f"{row['grouping'] * 1000:.1f} ms", f"{row['tally'] * 1000:.1f} ms"
        lines.append(f"| {row['scenario']} | {row['distinct']:,} | {grouping} | {tally} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ballots", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--no-docs", action="store_true", help="print only")
    arguments = parser.parse_args()
    loop = yardstick(arguments.runs)
    rows = []
    for scenario in SCENARIOS:
        rows.append(measure(scenario, arguments.ballots, arguments.runs))
        print(f"{scenario.name}: {rows[-1]['tally'] * 1000:.1f} ms", file=sys.stderr)
    table = report(rows, arguments.ballots, arguments.runs, loop)
    print(table)
    if not arguments.no_docs:
        write_section(DOCS, "tally-bench", table)


if __name__ == "__main__":
    main()

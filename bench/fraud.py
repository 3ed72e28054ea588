"""Fraud Guard against a simulated day of SMS pumping, compared with the static controls alone.

.venv/bin/python -m bench.fraud [--scale 1.0] [--output bench/results/fraud.json]

Both runs replay the same seeded day (`tests/fraud/simulation.py`) against the real handlers on
moto: once with Fraud Guard switched off (the country list, premium-rate refusal and the
per-user and per-destination limits only), once with its defaults.
"""

from __future__ import annotations

import argparse
import datetime
import json
import time
from pathlib import Path
from typing import Any

from .environment import isolate_from_aws


def measure(scale: float) -> dict[str, Any]:
    """Both runs and the comparison the issue asks for."""
    isolate_from_aws()
    from otp_service.handlers.fraud import FraudPolicy
    from tests.fraud.simulation import Scenario, attacked_share, run_day

    def at(seed: int) -> Scenario:
        return Scenario(
            legit_per_hour=100 * scale,
            attack_first_per_hour=20 * scale,
            attack_last_per_hour=400 * scale,
            seed=seed,
        )

    scenario = at(Scenario().seed)
    runs: dict[str, Any] = {}
    for name, guard in (("static", FraudPolicy(enabled=False)), ("guard", FraudPolicy())):
        started = time.perf_counter()
        runs[name] = run_day(guard, scenario).as_json()
        runs[name]["seconds"] = round(time.perf_counter() - started, 1)
    static, guard = runs["static"]["attacker_sent"], runs["guard"]["attacker_sent"]
    # One day's refusals are a handful of legitimate numbers that happen to fall in the
    # attacker's ranges; the share of such numbers over many seeded days is what to expect.
    shares = [attacked_share(at(seed)) for seed in range(1, COLLATERAL_SEEDS + 1)]
    in_ranges, legit = sum(hit for hit, _ in shares), sum(total for _, total in shares)
    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "scenario": scenario.__dict__,
        "runs": runs,
        "attacker_spend_cut": 1 - guard / max(static, 1),
        "legit_refused_share": runs["guard"]["legit_refused_share"],
        "collateral_bound": {
            "seeds": COLLATERAL_SEEDS,
            "legit_requests": legit,
            "in_attacked_ranges": in_ranges,
            "share": in_ranges / max(legit, 1),
        },
    }


COLLATERAL_SEEDS = 100
"""Seeded days over which the share of legitimate numbers in the attacker's ranges is taken."""


def render(result: dict[str, Any]) -> str:
    """The README's table."""
    static, guard = result["runs"]["static"], result["runs"]["guard"]
    rows = [
        ("attacker requests", static["attacker_requests"], guard["attacker_requests"]),
        (
            "attacker SMS before the first block",
            "-",
            f"{guard['attacker_sent_before_first_block']} (at {_hours(guard)})",
        ),
        ("attacker SMS in the day", static["attacker_sent"], guard["attacker_sent"]),
        ("legitimate requests", static["legit_requests"], guard["legit_requests"]),
        (
            "legitimate requests refused",
            f"{static['legit_refused']} ({static['legit_refused_share']:.2%})",
            f"{guard['legit_refused']} ({guard['legit_refused_share']:.2%})",
        ),
        ("prefix blocks", "-", f"{guard['blocks']} ({', '.join(guard['block_reasons'])})"),
    ]
    lines = ["| measure | static controls alone | with Fraud Guard |", "| --- | --- | --- |"]
    lines += [f"| {name} | {a} | {b} |" for name, a, b in rows]
    lines.append(
        f"\nAttacker spend cut: **{result['attacker_spend_cut']:.1%}** (target >= 95%); "
        f"legitimate requests refused: **{result['legit_refused_share']:.2%}** (target <= 0.1%)."
    )
    bound = result["collateral_bound"]
    lines.append(
        f"Legitimate requests to numbers in the attacker's ranges over {bound['seeds']} seeded "
        f"days (the most the guard refuses while it blocks only those ranges): "
        f"{bound['in_attacked_ranges']} of {bound['legit_requests']}, **{bound['share']:.3%}**."
    )
    return "\n".join(lines)


def _hours(run: dict[str, Any]) -> str:
    seconds = run["first_block_at_seconds"]
    return "never" if seconds is None else f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.fraud", description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every rate")
    parser.add_argument("--output", type=Path, default=Path(__file__).parent / "results")
    arguments = parser.parse_args()
    result = measure(arguments.scale)
    arguments.output.mkdir(parents=True, exist_ok=True)
    (arguments.output / "fraud.json").write_text(json.dumps(result, indent=2) + "\n")
    (arguments.output / "fraud.md").write_text(render(result) + "\n")
    print(render(result))


if __name__ == "__main__":
    main()

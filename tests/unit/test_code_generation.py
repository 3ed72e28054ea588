"""Codes: drawn from the OS CSPRNG (`secrets`), uniform over every digit and every position.

The thresholds are chi-square critical values at p = 1e-6, so an honest generator fails one
run in about 200 000; a biased one (e.g. `randbits(20) % 10**6`) fails every run.
"""

from __future__ import annotations

import secrets
from collections import Counter
from itertools import pairwise

import pytest

from otp_service.handlers.sending import generate_code

SAMPLES = 100_000
CHI2_DF9_P1E6 = 46.0
CHI2_DF99_P1E6 = 181.1
CHI2_DF999_P1E6 = 1226.1


def _chi_square(counts: Counter[str], buckets: int, total: int) -> float:
    expected = total / buckets
    assert len(counts) <= buckets
    observed = [*counts.values(), *[0] * (buckets - len(counts))]
    return sum((seen - expected) ** 2 / expected for seen in observed)


@pytest.fixture(scope="module")
def codes() -> list[str]:
    return [generate_code(6) for _ in range(SAMPLES)]


def test_codes_have_the_configured_number_of_digits_leading_zeros_included(
    codes: list[str],
) -> None:
    assert all(len(code) == 6 and code.isdigit() for code in codes)
    assert any(code.startswith("0") for code in codes)


def test_every_position_is_uniform_over_the_ten_digits(codes: list[str]) -> None:
    for position in range(6):
        counts = Counter(code[position] for code in codes)
        assert _chi_square(counts, 10, SAMPLES) < CHI2_DF9_P1E6, f"position {position}"


def test_the_first_and_last_three_digits_are_uniform_over_a_thousand_values(
    codes: list[str],
) -> None:
    for part in (slice(0, 3), slice(3, 6)):
        counts = Counter(code[part] for code in codes)
        assert _chi_square(counts, 1000, SAMPLES) < CHI2_DF999_P1E6, f"digits {part}"


def test_consecutive_codes_are_independent(codes: list[str]) -> None:
    """Pairs of successive first digits: a generator that repeats or alternates fails."""
    pairs = Counter(a[0] + b[0] for a, b in pairwise(codes))
    assert _chi_square(pairs, 100, SAMPLES - 1) < CHI2_DF99_P1E6


@pytest.mark.parametrize("length", [1, 2])
def test_every_value_can_come_out(length: int) -> None:
    """10**length values in 50x as many draws: missing one has odds of about e**-50."""
    drawn = {generate_code(length) for _ in range(50 * 10**length)}
    assert drawn == {f"{n:0{length}d}" for n in range(10**length)}


def test_the_draw_is_secrets_randbelow_over_the_whole_range(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The generator is the OS CSPRNG, not `random`: a swapped module fails here."""
    bounds: list[int] = []

    def randbelow(bound: int) -> int:
        bounds.append(bound)
        return 42

    monkeypatch.setattr(secrets, "randbelow", randbelow)
    assert (generate_code(6), generate_code(8)) == ("000042", "00000042")
    assert bounds == [10**6, 10**8]

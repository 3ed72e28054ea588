"""Fraud Guard's pure rules: prefixes, floors, conversion, block growth, velocity, safe list."""

from __future__ import annotations

from itertools import product

import pytest
from pydantic import ValidationError

from otp_service.handlers.fraud import (
    Counts,
    FraudPolicy,
    NumberPrefixes,
    Offences,
    PrefixView,
    block_reason,
    day_of,
    is_surging,
    might_block,
    next_offence,
    volume_floor,
)

POLICY = FraudPolicy()
NOW = 1_800_000_000
HOUR = 3600


def _view(prefix: str = "+44 7911", sends: int = 0, verified: int = 0, **kw: object) -> PrefixView:
    offences = kw.get("offences", Offences())
    assert isinstance(offences, Offences)
    return PrefixView(prefix, Counts(sends, verified), offences, proven=bool(kw.get("proven")))


def test_a_number_has_prefixes_of_two_three_and_four_national_digits() -> None:
    where = NumberPrefixes.of("+447911123456", 44)
    assert where.calling_code == "44"
    assert where.prefixes == ("+44 79", "+44 791", "+44 7911")
    assert NumberPrefixes.parse(where.finest) == where


def test_a_prefix_never_spans_the_whole_national_number() -> None:
    assert NumberPrefixes.of("+2901234", 290).prefixes == ("+290 12", "+290 123")


def test_coarser_prefixes_need_more_sends_before_they_are_judged() -> None:
    floors = [volume_floor(p, POLICY) for p in ("+44 79", "+44 791", "+44 7911")]
    assert floors == [320, 80, 20]


def test_a_prefix_at_the_floor_with_low_conversion_is_blocked() -> None:
    assert block_reason(_view(sends=20, verified=3), False, NOW, POLICY) == "conversion"


def test_a_prefix_too_slow_for_one_window_is_judged_on_its_day() -> None:
    slow = PrefixView("+44 7911", Counts(2, 0), Offences(), proven=False, day=Counts(20, 3))
    assert block_reason(slow, False, NOW, POLICY) == "conversion"
    converting = PrefixView("+44 7911", Counts(2, 0), Offences(), proven=False, day=Counts(20, 4))
    assert block_reason(converting, False, NOW, POLICY) is None


def test_a_prefix_below_the_floor_or_converting_is_not_blocked() -> None:
    assert block_reason(_view(sends=19, verified=0), False, NOW, POLICY) is None
    assert block_reason(_view(sends=20, verified=4), False, NOW, POLICY) is None


def test_a_coarse_prefix_is_judged_on_its_own_higher_floor() -> None:
    assert block_reason(_view("+44 79", sends=319), False, NOW, POLICY) is None
    assert block_reason(_view("+44 79", sends=320, verified=63), False, NOW, POLICY) == (
        "conversion"
    )


def test_a_safe_prefix_or_a_prefix_under_a_safe_entry_is_never_blocked() -> None:
    safe = FraudPolicy(safe_list=("+4479",))
    assert block_reason(_view(sends=1000), True, NOW, safe) is None
    assert safe.is_safe("+447911123456") and not safe.is_safe("+447811123456")


def test_a_disabled_guard_blocks_nothing() -> None:
    off = FraudPolicy(enabled=False)
    assert block_reason(_view(sends=1000), True, NOW, off) is None


def test_the_block_doubles_per_repeat_offence_up_to_the_cap() -> None:
    policy = FraudPolicy(block_seconds=HOUR, max_block_seconds=5 * HOUR)
    history, lengths = Offences(), []
    for n in range(5):
        now = NOW + n * 10 * HOUR
        history = next_offence(history, now, policy)
        lengths.append(history.blocked_until - now)
    assert lengths == [HOUR, 2 * HOUR, 4 * HOUR, 5 * HOUR, 5 * HOUR]
    assert history.count == 5


def test_an_offence_past_the_memory_counts_as_a_first_offence_again() -> None:
    policy = FraudPolicy(offence_memory_seconds=24 * HOUR)
    history = next_offence(next_offence(Offences(), NOW, policy), NOW + HOUR, policy)
    assert history.count == 2
    later = next_offence(history, NOW + HOUR + 24 * HOUR, policy)
    assert (later.count, later.blocked_until - later.last_at) == (1, policy.block_seconds)


def test_a_blocked_prefix_is_not_blocked_again_until_its_block_ends() -> None:
    blocked = Offences(1, NOW, NOW + HOUR)
    assert block_reason(_view(sends=50, offences=blocked), False, NOW, POLICY) is None


def test_a_repeat_offender_is_blocked_again_on_probation_sends() -> None:
    past = Offences(1, NOW - 2 * HOUR, NOW - HOUR)
    assert block_reason(_view(sends=5, offences=past), False, NOW, POLICY) == "repeat"
    assert block_reason(_view(sends=5, verified=1, offences=past), False, NOW, POLICY) is None
    assert block_reason(_view(sends=4, offences=past), False, NOW, POLICY) is None


def test_a_surge_blocks_an_unproven_prefix_before_its_floor() -> None:
    assert block_reason(_view(sends=5), True, NOW, POLICY) == "velocity"
    assert block_reason(_view(sends=5), False, NOW, POLICY) is None
    assert block_reason(_view(sends=5, proven=True), True, NOW, POLICY) is None
    assert block_reason(_view("+44 791", sends=5), True, NOW, POLICY) is None


def test_a_prefix_never_verified_is_blocked_on_its_day_s_unproven_sends() -> None:
    def today(sends: int, verified: int = 0, proven: bool = False) -> PrefixView:
        return PrefixView("+44 7911", Counts(1, 0), Offences(), proven, day=Counts(sends, verified))

    assert block_reason(today(8), False, NOW, POLICY) == "unproven"
    assert block_reason(today(7), False, NOW, POLICY) is None
    assert block_reason(today(8, verified=1), False, NOW, POLICY) is None
    assert block_reason(today(8, proven=True), False, NOW, POLICY) is None
    coarse = PrefixView("+44 791", Counts(1, 0), Offences(), False, day=Counts(8, 0))
    assert block_reason(coarse, False, NOW, POLICY) is None


_EDGES = [
    Counts(sends, verified) for sends in (0, 4, 5, 7, 8, 19, 20, 80) for verified in (0, 1, 4)
]
"""Counts on each side of the default thresholds (probation 5, unproven 8, floors 20 and 80)."""


def test_counts_that_rule_out_a_block_rule_it_out_whatever_the_history() -> None:
    """The guard skips the history read on `might_block`'s word; it must never skip a block."""
    histories = [Offences(), Offences(1, NOW - HOUR, NOW - 1), Offences(1, NOW - 30 * 86_400, 0)]
    for prefix, counts, day in product(["+44 791", "+44 7911"], _EDGES, _EDGES):
        if might_block(prefix, counts, day, POLICY):
            continue
        for offences, proven, surging in product(histories, (False, True), (False, True)):
            view = PrefixView(prefix, counts, offences, proven, day)
            assert block_reason(view, surging, NOW, POLICY) is None, view


def test_a_window_must_divide_a_day() -> None:
    assert FraudPolicy(window_seconds=900).window_seconds == 900
    with pytest.raises(ValidationError, match="windowSeconds"):
        FraudPolicy.model_validate({"windowSeconds": 7000})


def test_a_country_surges_at_a_multiple_of_its_last_window_above_a_minimum() -> None:
    assert is_surging(500, 100, POLICY)
    assert not is_surging(499, 100, POLICY)
    assert not is_surging(99, 0, POLICY)
    assert is_surging(100, 0, POLICY)


def test_days_are_utc_days() -> None:
    assert day_of(86_399) == 0 and day_of(86_400) == 1


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"minConversion": 1.5}, "minConversion"),
        ({"safeList": ["447911"]}, "safeList"),
        ({"countryDailyBudgets": {"+44": 10}}, "countryDailyBudgets"),
        ({"blockSeconds": 7200, "maxBlockSeconds": 3600}, "maxBlockSeconds"),
        ({"minSends": 0}, "minSends"),
        ({"blockSecond": 60}, "blockSecond"),
    ],
)
def test_bad_configuration_is_refused_naming_the_key(config: dict[str, object], named: str) -> None:
    with pytest.raises(ValidationError, match=named):
        FraudPolicy.model_validate(config)

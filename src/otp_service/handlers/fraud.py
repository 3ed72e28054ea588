"""Fraud Guard's rules against SMS pumping: prefixes, conversion, blocks, velocity, budgets.

Pure functions over plain numbers; the DynamoDB side is `fraud_store.py`. A pumper sends codes
to number ranges whose operators share the termination fee and never verifies them, so a
prefix whose sends reach a volume floor with a conversion below a threshold is blocked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

PREFIX_DEPTHS = (2, 3, 4)
"""National digits after the country code at which sends and conversions are counted."""

DAY_SECONDS = 86_400
_FLOOR_GROWTH = 4
"""A coarser prefix spans more numbers, so its volume floor is this much higher per digit."""


class FraudPolicy(BaseModel):
    """Fraud Guard's configuration (`fraudGuard` in stack configuration)."""

    # Built on first validation, by the functions that read Fraud Guard's policy.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True, defer_build=True)

    enabled: bool = True
    window_seconds: Annotated[int, Field(alias="windowSeconds", ge=300, le=86_400)] = 3600
    """Fixed window over which a prefix's sends and verifications are counted; divides a day."""
    min_sends: Annotated[int, Field(alias="minSends", ge=3, le=100_000)] = 20
    """Volume floor: sends in a window before the finest prefix's conversion is judged."""
    min_conversion: Annotated[float, Field(alias="minConversion", gt=0.0, lt=1.0)] = 0.2
    """A judged prefix verifying fewer than this share of its sends is blocked."""
    block_seconds: Annotated[int, Field(alias="blockSeconds", ge=60, le=86_400)] = 3600
    """The first block's length; each repeat offence doubles it."""
    max_block_seconds: Annotated[
        int, Field(alias="maxBlockSeconds", ge=60, le=30 * DAY_SECONDS)
    ] = 7 * DAY_SECONDS
    offence_memory_seconds: Annotated[
        int, Field(alias="offenceMemorySeconds", ge=3600, le=90 * DAY_SECONDS)
    ] = 7 * DAY_SECONDS
    """An offence this long after the previous one counts as a first offence again."""
    velocity_multiple: Annotated[float, Field(alias="velocityMultiple", ge=1.5, le=1000.0)] = 5.0
    """A country sending this multiple of its previous window's sends is surging."""
    velocity_min_sends: Annotated[int, Field(alias="velocityMinSends", ge=1, le=1_000_000)] = 100
    """Sends in a window below which a country is never considered to surge."""
    probation_sends: Annotated[int, Field(alias="probationSends", ge=1, le=1000)] = 5
    """Sends with no verification that block an unproven prefix in a surge, or a past offender."""
    unproven_sends: Annotated[int, Field(alias="unprovenSends", ge=1, le=1000)] = 8
    """Sends in a UTC day, none verified, that block a prefix no code ever verified under."""
    handset_memory_seconds: Annotated[
        int, Field(alias="handsetMemorySeconds", ge=0, le=365 * DAY_SECONDS)
    ] = 90 * DAY_SECONDS
    """How long a user's number that verified a code passes range blocks for that user (a proven
    handset); 0: never."""
    safe_list: Annotated[tuple[str, ...], Field(alias="safeList", max_length=1000)] = ()
    """E.164 prefixes or numbers (`+4479`, `+447911123456`) that are never auto-blocked."""
    daily_budget: Annotated[int, Field(alias="dailyBudget", ge=1, le=100_000_000)] = 100_000
    """SMS per UTC day for the whole service; past it every SMS request is refused."""
    country_daily_budgets: Annotated[
        dict[str, Annotated[int, Field(ge=0, le=100_000_000)]],
        Field(alias="countryDailyBudgets", max_length=300),
    ] = {}
    """SMS per UTC day per calling code (`{"44": 2000}`); a code not named has only the total."""

    @field_validator("safe_list")
    @classmethod
    def _e164_prefixes(cls, entries: tuple[str, ...]) -> tuple[str, ...]:
        for entry in entries:
            digits = entry.removeprefix("+")
            if not (entry.startswith("+") and digits.isascii() and digits.isdigit()):
                raise ValueError("each entry must be + and 1-15 digits, e.g. +4479")
            if not 1 <= len(digits) <= 15:
                raise ValueError("each entry must be + and 1-15 digits, e.g. +4479")
        return entries

    @field_validator("country_daily_budgets")
    @classmethod
    def _calling_codes(cls, budgets: dict[str, int]) -> dict[str, int]:
        for code in budgets:
            if not (code.isascii() and code.isdigit() and 1 <= len(code) <= 3):
                raise ValueError("each key must be a calling code of 1-3 digits, e.g. 44")
        return budgets

    @field_validator("window_seconds")
    @classmethod
    def _divides_a_day(cls, seconds: int) -> int:
        if DAY_SECONDS % seconds:
            raise ValueError("must divide a day (86400) evenly, e.g. 900, 1800, 3600")
        return seconds

    @model_validator(mode="after")
    def _block_fits(self) -> Self:
        if self.max_block_seconds < self.block_seconds:
            raise ValueError("maxBlockSeconds must be at least blockSeconds")
        return self

    def to_env(self) -> str:
        """The policy as the JSON the functions read from `OTP_FRAUD_GUARD`."""
        return self.model_dump_json(by_alias=True)

    def country_budget(self, calling_code: str) -> int | None:
        """The daily SMS budget of one calling code, if it has its own."""
        return self.country_daily_budgets.get(calling_code)

    def is_safe(self, destination_or_prefix: str) -> bool:
        """Whether a number, or every number under a prefix, is on the safe list."""
        digits = destination_or_prefix.replace(" ", "")
        return any(digits.startswith(entry) for entry in self.safe_list)


@dataclass(frozen=True)
class NumberPrefixes:
    """Where an E.164 number sits: its calling code and its prefixes, coarsest first."""

    calling_code: str
    prefixes: tuple[str, ...]

    @classmethod
    def of(cls, e164: str, calling_code: int) -> NumberPrefixes:
        """`+447911123456` with code 44: `+44 79`, `+44 791`, `+44 7911`."""
        code = str(calling_code)
        national = e164.removeprefix("+").removeprefix(code)
        depths = [depth for depth in PREFIX_DEPTHS if depth < len(national)]
        return cls(code, tuple(f"+{code} {national[:depth]}" for depth in depths))

    @classmethod
    def parse(cls, finest: str) -> NumberPrefixes:
        """The prefixes named by the finest one, as stored on a pending code."""
        code, _, national = finest.removeprefix("+").partition(" ")
        depths = [depth for depth in PREFIX_DEPTHS if depth <= len(national)]
        return cls(code, tuple(f"+{code} {national[:depth]}" for depth in depths))

    @property
    def finest(self) -> str:
        """The longest prefix, which names all the others."""
        return self.prefixes[-1] if self.prefixes else f"+{self.calling_code}"


def prefix_depth(prefix: str) -> int:
    """How many national digits a prefix has."""
    return len(prefix.partition(" ")[2])


@dataclass(frozen=True)
class Counts:
    """Sends and successful verifications in one window."""

    sends: int = 0
    verified: int = 0

    def converts_below(self, share: float) -> bool:
        """Whether fewer than `share` of the sends were verified."""
        return self.verified < share * self.sends


@dataclass(frozen=True)
class Offences:
    """A prefix's block history: how many offences, the latest, and until when it is blocked."""

    count: int = 0
    last_at: int = 0
    blocked_until: int = 0

    def is_blocked(self, now: int) -> bool:
        """Whether a block is in force at `now`."""
        return self.blocked_until > now

    def is_remembered(self, now: int, policy: FraudPolicy) -> bool:
        """Whether a previous offence still makes this prefix a repeat offender."""
        return self.count > 0 and now - self.last_at < policy.offence_memory_seconds


def next_offence(previous: Offences, now: int, policy: FraudPolicy) -> Offences:
    """The history after one more offence: the block doubles per remembered offence."""
    count = previous.count + 1 if previous.is_remembered(now, policy) else 1
    length = min(policy.block_seconds * 2 ** (count - 1), policy.max_block_seconds)
    return Offences(count=count, last_at=now, blocked_until=now + length)


def volume_floor(prefix: str, policy: FraudPolicy) -> int:
    """Sends in a window before a prefix is judged; coarser prefixes need more."""
    coarser_by = PREFIX_DEPTHS[-1] - prefix_depth(prefix)
    return int(policy.min_sends * _FLOOR_GROWTH**coarser_by)


def is_surging(current: int, previous: int, policy: FraudPolicy) -> bool:
    """Whether a country's sends this window are a sudden multiple of the last window's."""
    return current >= policy.velocity_min_sends and current >= policy.velocity_multiple * max(
        previous, 1
    )


@dataclass(frozen=True)
class PrefixView:
    """What the guard knows about one prefix when it judges it."""

    prefix: str
    counts: Counts
    """This window's sends and verifications."""
    offences: Offences
    proven: bool
    """Whether numbers under it ever verified a code (within the offence memory)."""
    day: Counts = Counts()
    """Today's (UTC) sends and verifications, which catch a pumper too slow for one window."""


def block_reason(view: PrefixView, surging: bool, now: int, policy: FraudPolicy) -> str | None:
    """Why this prefix should be blocked now (`conversion`, `repeat`, `velocity`, `unproven`)."""
    if not policy.enabled or view.offences.is_blocked(now) or policy.is_safe(view.prefix):
        return None
    if _converts_too_little(view.prefix, view.counts, view.day, policy):
        return "conversion"
    if prefix_depth(view.prefix) != PREFIX_DEPTHS[-1]:
        return None  # only the finest prefix is judged on a handful of sends
    return _finest_reason(view, surging, now, policy)


def _finest_reason(view: PrefixView, surging: bool, now: int, policy: FraudPolicy) -> str | None:
    counts = view.counts
    on_probation = counts.sends >= policy.probation_sends and counts.verified == 0
    if on_probation and view.offences.is_remembered(now, policy):
        return "repeat"
    if on_probation and surging and not view.proven:
        return "velocity"
    # Pumped ranges never verify; a real range verifies most codes within minutes.
    if _never_verified_today(view.day, policy) and not view.proven:
        return "unproven"
    return None


def might_block(prefix: str, counts: Counts, day: Counts, policy: FraudPolicy) -> bool:
    """Whether the counts alone leave `block_reason` any rule to apply.

    When they do not, the guard skips reading the prefix's history and its country's surge.
    """
    if _converts_too_little(prefix, counts, day, policy):
        return True
    if prefix_depth(prefix) != PREFIX_DEPTHS[-1]:
        return False
    on_probation = counts.sends >= policy.probation_sends and counts.verified == 0
    return on_probation or _never_verified_today(day, policy)


def _converts_too_little(prefix: str, counts: Counts, day: Counts, policy: FraudPolicy) -> bool:
    floor = volume_floor(prefix, policy)
    return any(
        judged.sends >= floor and judged.converts_below(policy.min_conversion)
        for judged in (counts, day)
    )


def _never_verified_today(day: Counts, policy: FraudPolicy) -> bool:
    return day.sends >= policy.unproven_sends and day.verified == 0


def window_of(now: int, policy: FraudPolicy) -> int:
    """The index of the fixed Fraud Guard window that holds `now`."""
    return now // policy.window_seconds


def day_of(now: int) -> int:
    """The UTC day that holds `now`, as days since the epoch."""
    return now // DAY_SECONDS

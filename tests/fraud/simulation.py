"""A simulated day of SMS pumping against the real handlers on moto, with and without Fraud Guard.

Legitimate users in five countries request a code and most verify it within two minutes; some
(`RETURNING_SHARE`) use a number that verified a code on an earlier day, replayed first; an
attacker requests codes to fresh numbers in a few prefixes, each under a fresh user id, never
verifies, and ramps up through the day. The table's change stream is read from moto and fed
to Fraud Guard's consumer (`fraud_events.consume`) as Lambda would, and items past their TTL
are swept every simulated hour as DynamoDB's TTL would (the rules never rely on it).
"""

from __future__ import annotations

import contextlib
import heapq
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import boto3
import phonenumbers
from moto import mock_aws
from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.dynamodb.models import dynamodb_backends
from moto.sns.models import sns_backends

from otp_service.handlers.events import process
from otp_service.handlers.fraud import DAY_SECONDS, FraudPolicy
from otp_service.handlers.fraud_events import FraudConsumer
from otp_service.handlers.settings import Policy
from otp_service.handlers.table import TTL_ATTRIBUTE
from otp_service.local.atomic import make_dynamodb_atomic
from otp_service.local.moto_resources import REGION, create_service_resources
from tests.support.moto_service import FakeClock, Service, code_in

HOUR = 3600
DAY_START = 20_800 * DAY_SECONDS
"""A UTC midnight, so the day's budget and the simulated day line up."""

COUNTRIES = {"US": 0.40, "GB": 0.20, "DE": 0.15, "FR": 0.10, "IN": 0.15}
"""Where legitimate users are, by share of requests."""
CONVERSION = {"US": 0.85, "GB": 0.80, "DE": 0.90, "FR": 0.75, "IN": 0.70}
"""The share of legitimate requests that end in a successful verification, per country."""
RETURNING_SHARE = 0.3
"""The share of legitimate requests from a number that verified a code in the last weeks.

Login and step-up codes mostly go to such numbers; sign-up and number-change codes never do.
30 % is deliberately low (a service that also sends login codes sees far more), so the proven
handset rule is not flattered; the first-time users' figure is reported apart.
"""
ATTACKED = ("GB", "IN", "IN")
"""The countries of the attacker's prefixes, one prefix each."""
STATIC_POLICY = Policy(allowed_country_codes=("1", "44", "49", "33", "91"))


@dataclass(frozen=True)
class Scenario:
    """How big the day is."""

    hours: int = 24
    """How long the simulated day is."""
    legit_per_hour: float = 100.0
    """Legitimate requests per hour at the daily peak."""
    attack_start_hour: int = 6
    attack_first_per_hour: float = 20.0
    attack_last_per_hour: float = 400.0
    """The attacker ramps linearly from the first rate to the last until midnight."""
    seed: int = 15


@dataclass
class DayResult:
    """What the day cost and whom it refused."""

    legit_requests: int = 0
    legit_sent: int = 0
    legit_refused: int = 0
    """Legitimate requests answered 403 `destination_not_allowed` (none are outside the list)."""
    legit_verified: int = 0
    """Legitimate requests whose code the user then verified (200)."""
    returning_requests: int = 0
    """Legitimate requests from a number that verified a code before the day."""
    returning_refused: int = 0
    attacker_requests: int = 0
    attacker_sent: int = 0
    attacker_sent_before_first_block: int = 0
    first_block_at: int | None = None
    """Seconds into the day of the first block."""
    blocks: list[dict[str, Any]] = field(default_factory=list)
    other_statuses: dict[int, int] = field(default_factory=dict)

    @property
    def legit_refused_share(self) -> float:
        return self.legit_refused / max(self.legit_requests, 1)

    @property
    def first_time_requests(self) -> int:
        return self.legit_requests - self.returning_requests

    @property
    def first_time_refused(self) -> int:
        return self.legit_refused - self.returning_refused

    def as_json(self) -> dict[str, Any]:
        return {
            "legit_requests": self.legit_requests,
            "legit_sent": self.legit_sent,
            "legit_refused": self.legit_refused,
            "legit_refused_share": self.legit_refused_share,
            "legit_verified": self.legit_verified,
            "first_time_requests": self.first_time_requests,
            "first_time_refused": self.first_time_refused,
            "returning_requests": self.returning_requests,
            "returning_refused": self.returning_refused,
            "attacker_requests": self.attacker_requests,
            "attacker_sent": self.attacker_sent,
            "attacker_sent_before_first_block": self.attacker_sent_before_first_block,
            "first_block_at_seconds": self.first_block_at,
            "blocks": len(self.blocks),
            "block_reasons": sorted({b["reason"] for b in self.blocks}),
            "other_statuses": {str(k): v for k, v in sorted(self.other_statuses.items())},
        }


_MOBILE = (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)


def random_number(rng: random.Random, region: str, prefix: str | None = None) -> str:
    """A valid mobile number in `region`, under the E.164 `prefix` when one is given."""
    example = phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    assert example is not None
    template = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.E164)
    # Legitimate numbers spread over the country's mobile ranges, not one two-digit block.
    head = prefix or template[: len(f"+{example.country_code}") + 1]
    for _ in range(1000):
        tail = "".join(rng.choice("0123456789") for _ in range(len(template) - len(head)))
        number = phonenumbers.parse(head + tail, None)
        if phonenumbers.number_type(number) in _MOBILE:
            return head + tail
    raise RuntimeError(f"no valid mobile number under {head}")


def attack_prefixes(rng: random.Random) -> list[tuple[str, str]]:
    """The attacker's ranges, each a region and an E.164 prefix of four national digits."""
    prefixes = []
    for region in ATTACKED:
        number = random_number(rng, region)
        code = phonenumbers.parse(number, None).country_code
        prefixes.append((region, number[: len(f"+{code}") + 4]))
    return prefixes


def _legit_rate(hour: int, peak: float) -> float:
    """A day-shaped rate: quiet at night, busiest in the afternoon."""
    shape = [0.2, 0.15, 0.1, 0.1, 0.15, 0.25, 0.4, 0.6, 0.8, 0.9, 1.0, 1.0]
    shape += [0.95, 0.95, 1.0, 1.0, 0.95, 0.9, 0.85, 0.8, 0.7, 0.55, 0.4, 0.3]
    return peak * shape[hour]


def _arrivals(rng: random.Random, hours: int, rate_at: Callable[[int], float]) -> Iterator[float]:
    """Poisson arrivals through the day, at a rate (per hour) that is constant within an hour."""
    for hour in range(hours):
        rate, t = rate_at(hour), 0.0
        while rate > 0:
            t += rng.expovariate(rate)
            if t >= 1:
                break
            yield (hour + t) * HOUR


@contextlib.contextmanager
def _service(guard: FraudPolicy) -> Iterator[tuple[Service, FraudConsumer, Any]]:
    make_dynamodb_atomic()
    with mock_aws():
        settings = replace(create_service_resources(STATIC_POLICY), fraud_guard_json=guard.to_env())
        session = boto3.session.Session(region_name=REGION)
        clock = FakeClock(float(DAY_START))
        service = Service(settings, clock, session)
        # The events function is another Lambda: its own client over the same account.
        consumer = FraudConsumer(session.client("dynamodb"), settings.table_name, guard, clock)
        yield service, consumer, _Table(settings.table_name)


@dataclass(frozen=True)
class _Table:
    """moto's copy of the table, looked up afresh: a cancelled transaction replaces it."""

    name: str

    def current(self) -> Any:
        return dynamodb_backends[DEFAULT_ACCOUNT_ID][REGION].tables[self.name]


def _drain_stream(table: _Table) -> list[dict[str, Any]]:
    """The change records since the last drain (a cancelled transaction leaves none)."""
    shard = table.current().stream_shard
    records = [record.to_json() for record in shard.items]
    shard.items.clear()
    return records


def _sweep_expired(table: _Table, now: int) -> None:
    items = table.current().items
    for key, item in list(items.items()):
        expires = item.attrs.get(TTL_ATTRIBUTE)
        if expires is not None and int(expires.value) <= now:
            del items[key]


Call = tuple[float, int, str, str, str]
"""One call: (seconds into the day, tie-breaker, kind, user id, number).

Kinds: `legit` (a first-time user), `returning` (a number that verified before the day),
`verify`, `attack`, and the `history` sends before the day that made the returning numbers
proven (each followed by its `verify`).
"""


def plan_day(scenario: Scenario) -> tuple[list[tuple[str, str]], list[Call]]:
    """The attacker's ranges and every call of the day, in time order (a heap)."""
    rng = random.Random(scenario.seed)
    # Its own stream, so the day's numbers and times do not depend on the returning share.
    history = random.Random(f"{scenario.seed}-returning")
    prefixes = attack_prefixes(rng)
    queue: list[Call] = []
    regions = list(COUNTRIES)
    for n, t in enumerate(
        _arrivals(rng, scenario.hours, lambda h: _legit_rate(h, scenario.legit_per_hour))
    ):
        region = rng.choices(regions, weights=[COUNTRIES[r] for r in regions])[0]
        number, user = random_number(rng, region), f"user-{n}"
        kind = "returning" if history.random() < RETURNING_SHARE else "legit"
        if kind == "returning":
            # The number's earlier verification, on one of the 30 days before this one.
            before = -history.randint(1, 30) * DAY_SECONDS + t
            heapq.heappush(queue, (before, n, "history", user, number))
            heapq.heappush(queue, (before + history.uniform(15, 120), n, "verify", user, ""))
        heapq.heappush(queue, (t, n, kind, user, number))
        if rng.random() < CONVERSION[region]:
            heapq.heappush(queue, (t + rng.uniform(15, 120), n, "verify", user, ""))

    def attack_rate(hour: int) -> float:
        if hour < scenario.attack_start_hour:
            return 0.0
        length = scenario.hours - scenario.attack_start_hour
        progress = (hour + 0.5 - scenario.attack_start_hour) / length
        first, last = scenario.attack_first_per_hour, scenario.attack_last_per_hour
        return first + (last - first) * progress

    for n, t in enumerate(_arrivals(rng, scenario.hours, attack_rate)):
        region, prefix = prefixes[n % len(prefixes)]
        number = random_number(rng, region, prefix)
        heapq.heappush(queue, (t, -n - 1, "attack", f"bot-{n}-{rng.getrandbits(32):x}", number))
    return prefixes, queue


def attacked_share(scenario: Scenario) -> tuple[int, int]:
    """Legitimate requests to a number in one of the attacker's ranges, and all of them.

    Only a block on those ranges can refuse such a request, so when the guard blocks no other
    range this bounds its collateral from above (without running the handlers).
    """
    prefixes, queue = plan_day(scenario)
    ranges = tuple(prefix.replace(" ", "") for _, prefix in prefixes)
    legit = [number for _, _, kind, _, number in queue if kind in ("legit", "returning")]
    return sum(number.startswith(ranges) for number in legit), len(legit)


def run_day(guard: FraudPolicy, scenario: Scenario = Scenario()) -> DayResult:
    """Replay one day (and the returning numbers' earlier verifications) on the handlers.

    Every SMS is a real handler call that reached moto's SNS.
    """
    _, queue = plan_day(scenario)
    result = DayResult()
    with _service(guard) as (service, consumer, table):
        swept_hour = int(queue[0][0] // HOUR) if queue else 0
        while queue:
            t, _, kind, user_id, number = heapq.heappop(queue)
            service.clock.now = DAY_START + t
            if int(t // HOUR) > swept_hour:
                swept_hour = int(t // HOUR)
                _sweep_expired(table, int(service.clock.now))
            if kind == "verify":
                code = _codes.get(user_id)
                if code is not None and service.verify(code, user_id=user_id).status == 200:
                    result.legit_verified += t >= 0  # the earlier days' are history
            else:
                _request(service, result, kind, user_id, number, int(t))
            seen = len(consumer.blocks)
            assert process(_drain_stream(table), (), (consumer,)) == []
            for event in consumer.blocks[seen:]:
                if result.first_block_at is None:
                    result.first_block_at = int(t)
                    result.attacker_sent_before_first_block = result.attacker_sent
                result.blocks.append(event)
    _codes.clear()
    return result


_codes: dict[str, str] = {}
"""The code each legitimate user received, as the user reads it from their phone."""


def _request(
    service: Service, result: DayResult, kind: str, user_id: str, number: str, t: int
) -> None:
    messages = sns_backends[DEFAULT_ACCOUNT_ID][REGION].sms_messages
    before = len(messages)
    _codes.pop(user_id, None)  # a refused request leaves nothing to verify
    reply = service.request(user_id=user_id, destination=number)
    sent = len(messages) > before
    if kind == "history":
        if sent:
            _codes[user_id] = code_in(str(next(reversed(messages.values()))[1]))
        return
    if kind in ("legit", "returning"):
        result.legit_requests += 1
        result.legit_sent += sent
        result.legit_refused += reply.status == 403
        if kind == "returning":
            result.returning_requests += 1
            result.returning_refused += reply.status == 403
        if sent:
            _, text = next(reversed(messages.values()))
            _codes[user_id] = code_in(str(text))
    else:
        result.attacker_requests += 1
        result.attacker_sent += sent
    if reply.status not in (202, 403):
        result.other_statuses[reply.status] = result.other_statuses.get(reply.status, 0) + 1

"""Fraud Guard against the real handlers on moto: blocks, budgets, the safe list, the consumer."""

from __future__ import annotations

import json
import time
from dataclasses import replace
from fnmatch import fnmatchcase
from typing import Any

import pytest

from otp_service import fraud_cli
from otp_service.components.fraud_admin import fraud_admin_statements
from otp_service.handlers.events import process
from otp_service.handlers.fraud import FraudPolicy, NumberPrefixes, day_of, window_of
from otp_service.handlers.fraud_events import FraudConsumer
from otp_service.handlers.fraud_store import (
    BLOCKS_KEY,
    FraudLedger,
    Signal,
    prefix_count_key,
    prefix_key,
)
from otp_service.handlers.settings import Policy
from otp_service.handlers.table import PARTITION_KEY, TTL_ATTRIBUTE, handset_key
from tests.support.moto_service import Service

NUMBER = "+14155550123"
SAME_PREFIX = "+14155550199"
DAY = 86_400


def _guarded(service: Service, **policy: Any) -> FraudPolicy:
    guard = FraudPolicy.model_validate(policy)
    service.settings = replace(service.settings, fraud_guard_json=guard.to_env())
    service.cold_start()
    return guard


def _block(service: Service, prefix: str, until: int) -> None:
    """A block as the consumer leaves it: on the prefix's item and named in the registry."""
    dynamodb = service.session.client("dynamodb")
    table = service.settings.table_name
    dynamodb.put_item(
        TableName=table,
        Item={PARTITION_KEY: {"S": prefix_key(prefix)}, "blocked_until": {"N": str(until)}},
    )
    dynamodb.update_item(
        TableName=table,
        Key={PARTITION_KEY: {"S": BLOCKS_KEY}},
        UpdateExpression="SET #prefix = :until",
        ExpressionAttributeNames={"#prefix": prefix},
        ExpressionAttributeValues={":until": {"N": str(until)}},
    )


def _registry(service: Service) -> dict[str, Any]:
    item = service.session.client("dynamodb").get_item(
        TableName=service.settings.table_name, Key={PARTITION_KEY: {"S": BLOCKS_KEY}}
    )["Item"]
    return {name: int(value["N"]) for name, value in item.items() if name != PARTITION_KEY}


def _stream(service: Service) -> list[dict[str, Any]]:
    """The table's change records so far, as the events function would receive them."""
    from moto.core.models import DEFAULT_ACCOUNT_ID
    from moto.dynamodb.models import dynamodb_backends

    table = dynamodb_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].tables[service.settings.table_name]
    shard = table.stream_shard
    assert shard is not None
    records = [record.to_json() for record in shard.items]
    shard.items.clear()
    return records


def test_a_blocked_prefix_answers_like_a_country_outside_the_list_and_sends_nothing(
    service: Service,
) -> None:
    now = int(service.clock.now)
    _block(service, "+1 4155", now + 60)
    blocked = service.request(user_id="a", destination=NUMBER)
    outside = service.request(user_id="b", destination="+447911123456")
    assert (blocked.status, blocked.body) == (outside.status, outside.body)
    assert blocked.body["error"]["code"] == "destination_not_allowed"
    assert service.sms() == []
    service.clock.advance(60)
    assert service.request(user_id="a", destination=NUMBER).status == 202


@pytest.mark.parametrize("prefix", ["+1 41", "+1 415", "+1 4155"])
def test_a_block_at_any_depth_refuses_the_numbers_under_it(service: Service, prefix: str) -> None:
    _block(service, prefix, int(service.clock.now) + 60)
    assert service.request(destination=NUMBER).status == 403
    assert service.request(user_id="other", destination="+12125550123").status == 202


def test_a_safe_listed_number_is_sent_under_a_blocked_prefix(service: Service) -> None:
    _guarded(service, safeList=[NUMBER])
    _block(service, "+1 4155", int(service.clock.now) + 60)
    assert service.request(user_id="a", destination=NUMBER).status == 202
    assert service.request(user_id="b", destination=SAME_PREFIX).status == 403
    assert [phone for phone, _ in service.sms()] == [NUMBER]


def test_a_disabled_guard_checks_no_block(service: Service) -> None:
    _guarded(service, enabled=False)
    _block(service, "+1 4155", int(service.clock.now) + 60)
    assert service.request(destination=NUMBER).status == 202


def test_the_daily_budget_fails_closed_and_renews_the_next_day(service: Service) -> None:
    _guarded(service, dailyBudget=3)
    service.clock.now = 20_000 * DAY + 10
    statuses = [service.request(user_id=f"u{n}", destination=NUMBER).status for n in range(4)]
    assert statuses == [202, 202, 202, 403]
    assert service.request(user_id="mail", channel="email", destination="a@example.com").status == (
        202
    )
    service.clock.now = 20_001 * DAY
    assert service.request(user_id="u9", destination=NUMBER).status == 202
    assert len(service.sms()) == 4


@pytest.mark.parametrize("policy", [Policy(allowed_country_codes=("1", "44"))])
def test_a_country_budget_refuses_only_that_country(service: Service) -> None:
    _guarded(service, countryDailyBudgets={"44": 1})
    assert service.request(user_id="a", destination="+447911123456").status == 202
    assert service.request(user_id="b", destination="+447911123457").status == 403
    assert service.request(user_id="c", destination=NUMBER).status == 202


def test_an_undelivered_send_gives_its_budget_back(service: Service) -> None:
    _guarded(service, dailyBudget=1)
    service.fail("sns.Publish", "InvalidParameter")
    assert service.request(user_id="a", destination=NUMBER).status == 502
    service.heal()
    assert service.request(user_id="b", destination=NUMBER).status == 202


def _counts(output: str) -> list[set[str]]:
    """The metric names of each EMF blob written, in order."""
    blobs = [json.loads(line) for line in output.splitlines() if line.startswith('{"_aws"')]
    return [
        {metric["Name"] for metric in blob["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
        for blob in blobs
    ]


def test_a_spent_budget_counts_budget_exhausted_and_a_blocked_prefix_does_not(
    service: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    _guarded(service, dailyBudget=1)
    _block(service, "+1 4155", int(service.clock.now) + 60)
    capsys.readouterr()
    assert service.request(user_id="a", destination=NUMBER).status == 403
    assert _counts(capsys.readouterr().out) == [{"BlockedSend"}]
    assert service.request(user_id="b", destination="+12125550123").status == 202
    capsys.readouterr()
    assert service.request(user_id="c", destination="+12125550124").status == 403
    assert _counts(capsys.readouterr().out) == [{"BlockedSend"}, {"SmsBudgetExhausted"}]


def _pump(service: Service, count: int, first: int = 0) -> list[int]:
    statuses = []
    for n in range(first, first + count):
        statuses.append(service.request(user_id=f"bot{n}", destination=f"+1415555{n:04d}").status)
        service.clock.advance(1)
    return statuses


def test_the_consumer_blocks_a_prefix_that_never_verifies_at_the_floor(service: Service) -> None:
    guard = _guarded(service, minSends=5)
    consumer = FraudConsumer(
        service.session.client("dynamodb"), service.settings.table_name, guard, service.clock
    )
    assert _pump(service, 5) == [202] * 5
    assert process(_stream(service), (), (consumer,)) == []
    assert [(e["type"], e["prefix"], e["reason"]) for e in consumer.blocks] == [
        ("fraud.prefix_blocked", "+1 4155", "conversion")
    ]
    assert _pump(service, 3, first=5) == [403] * 3
    assert len(service.sms()) == 5
    ledger = FraudLedger(service.session.client("dynamodb"), service.settings.table_name, guard)
    assert [prefix for prefix, _ in ledger.blocks(int(service.clock.now))] == ["+1 4155"]


def test_a_new_block_drops_lapsed_ones_from_the_registry(service: Service) -> None:
    guard = _guarded(service, minSends=5)
    now = int(service.clock.now)
    _block(service, "+1 2125", now - 1)
    _block(service, "+1 3105", now + 600)
    consumer = FraudConsumer(
        service.session.client("dynamodb"), service.settings.table_name, guard, service.clock
    )
    assert _pump(service, 5) == [202] * 5
    process(_stream(service), (), (consumer,))
    assert set(_registry(service)) == {"+1 3105", "+1 4155"}


def test_verified_codes_keep_a_busy_prefix_open(service: Service) -> None:
    guard = _guarded(service, minSends=5)
    consumer = FraudConsumer(
        service.session.client("dynamodb"), service.settings.table_name, guard, service.clock
    )
    for n in range(10):
        user = f"person{n}"
        assert service.request(user_id=user, destination=f"+1415555{n:04d}").status == 202
        if n % 5:  # four in five verify
            assert service.verify(service.last_code(), user_id=user).status == 200
        process(_stream(service), (), (consumer,))
    assert consumer.blocks == []


def test_an_operator_sees_and_lifts_a_block(service: Service) -> None:
    now = int(service.clock.now)
    _block(service, "+1 4155", now + 600)
    ledger = FraudLedger(
        service.session.client("dynamodb"), service.settings.table_name, FraudPolicy()
    )
    assert [prefix for prefix, _ in ledger.blocks(now)] == ["+1 4155"]
    assert ledger.lift("+1 4155", now) is True
    assert ledger.lift("+1 4155", now) is False
    assert ledger.blocks(now) == []
    assert _registry(service) == {}
    assert service.request(destination=NUMBER).status == 202


def test_the_operator_cli_lists_and_lifts_a_block(
    service: Service, capsys: pytest.CaptureFixture[str]
) -> None:
    until = int(time.time()) + 3600
    _block(service, "+1 4155", until)
    table = ["--table", service.settings.table_name, "--region", "us-east-1"]
    assert fraud_cli.main([*table, "list"]) == 0
    assert "+1 4155\t0\t" in capsys.readouterr().out
    assert fraud_cli.main([*table, "lift", "+1 4155"]) == 0
    assert fraud_cli.main([*table, "lift", "+1 4155"]) == 1
    capsys.readouterr()
    assert fraud_cli.main([*table, "list"]) == 0
    assert capsys.readouterr().out == "PREFIX\tOFFENCES\tBLOCKED_UNTIL\n"


def test_a_failing_guard_never_holds_up_the_lifecycle_events(service: Service) -> None:
    """The events function's batch succeeds; the record simply goes uncounted."""
    guard = _guarded(service, minSends=5)
    consumer = FraudConsumer(
        service.session.client("dynamodb"), service.settings.table_name, guard, service.clock
    )
    assert _pump(service, 5) == [202] * 5
    service.fail("dynamodb.UpdateItem", "AccessDeniedException")
    assert process(_stream(service), (), (consumer,)) == []
    assert consumer.blocks == []


def _allowed(statements: list[Any], operation: str, key: str | None) -> bool:
    """IAM's answer for one DynamoDB call, for the statement shapes the component writes.

    `ForAllValues` over a request with no key values (a `Scan`) is true, as in IAM.
    """
    for statement in statements:
        if statement["Effect"] != "Allow" or f"dynamodb:{operation}" not in statement["Action"]:
            continue
        condition = statement.get("Condition", {}).get("ForAllValues:StringLike", {})
        patterns = condition.get("dynamodb:LeadingKeys")
        if patterns is None or key is None or any(fnmatchcase(key, p) for p in patterns):
            return True
    return False


def test_the_operator_policy_allows_every_call_otp_fraud_makes_and_no_user_item(
    service: Service,
) -> None:
    now = int(service.clock.now)
    _block(service, "+1 4155", now + 600)
    calls: list[tuple[str, str | None]] = []
    dynamodb = service.session.client("dynamodb")

    def record(params: dict[str, Any], model: Any, **_: Any) -> None:
        key = params.get("Key", {}).get(PARTITION_KEY, {}).get("S")
        calls.append((model.name, key))

    dynamodb.meta.events.register("provide-client-params.dynamodb.*", record)
    ledger = FraudLedger(dynamodb, service.settings.table_name, FraudPolicy())
    assert [prefix for prefix, _ in ledger.blocks(now)] == ["+1 4155"]
    assert ledger.lift("+1 4155", now) is True
    assert ledger.lift("+1 4155", now) is False
    statements = fraud_admin_statements("table-arn", "key-arn", "dynamodb.us-east-1.amazonaws.com")
    assert {operation for operation, _ in calls} == {"GetItem", "UpdateItem"}
    assert all(_allowed(statements, operation, key) for operation, key in calls), calls
    assert not _allowed(statements, "GetItem", "user#someone")
    assert not _allowed(statements, "UpdateItem", "fraud#budget#20000#all")
    assert not _allowed(statements, "UpdateItem", handset_key("ab12")), "no forged handsets"
    assert not _allowed(statements, "Scan", None)


def _counted_consumer(service: Service, guard: FraudPolicy) -> tuple[FraudConsumer, list[str]]:
    """A consumer over a client that notes each DynamoDB operation it is asked for."""
    dynamodb = service.session.client("dynamodb")
    calls: list[str] = []
    dynamodb.meta.events.register(
        "provide-client-params.dynamodb.*",
        lambda params, model, **_: calls.append(model.name),
    )
    return FraudConsumer(dynamodb, service.settings.table_name, guard, service.clock), calls


def test_an_ordinary_send_or_verification_costs_the_consumer_four_or_five_dynamodb_calls(
    service: Service,
) -> None:
    """Three prefix counters and one country counter (or the proven marks); no reads."""
    guard = _guarded(service)
    consumer, calls = _counted_consumer(service, guard)
    assert service.request(user_id="a", destination=NUMBER).status == 202
    process(_stream(service), (), (consumer,))
    assert calls == ["UpdateItem"] * 4
    calls.clear()
    assert service.verify(service.last_code(), user_id="a").status == 200
    process(_stream(service), (), (consumer,))
    assert calls == ["UpdateItem"] * 5, "three counters, the range's and the handset's marks"


def test_a_batch_of_sends_costs_the_consumer_four_dynamodb_calls_in_all(
    service: Service,
) -> None:
    """Counted per batch: one `UpdateItem` per prefix and country the batch touches, so the
    events function's writes do not grow with the sends a busy range gets between two polls."""
    guard = _guarded(service)
    consumer, calls = _counted_consumer(service, guard)
    for n in range(4):
        assert service.request(user_id=f"u{n}", destination=f"+141555501{n:02d}").status == 202
    process(_stream(service), (), (consumer,))
    assert calls == ["UpdateItem"] * 4
    window = window_of(int(service.clock.now), guard)
    counter = service.session.client("dynamodb").get_item(
        TableName=service.settings.table_name,
        Key={PARTITION_KEY: {"S": prefix_count_key(day_of(int(service.clock.now)), "+1 4155")}},
    )["Item"]
    assert (counter["sends"], counter[f"sends_{window}"]) == ({"N": "4"}, {"N": "4"})


def _consumer(service: Service, guard: FraudPolicy) -> FraudConsumer:
    dynamodb = service.session.client("dynamodb")
    return FraudConsumer(dynamodb, service.settings.table_name, guard, service.clock)


def _verified_once(service: Service, consumer: FraudConsumer, user_id: str, number: str) -> None:
    """A code sent to `number` and verified, as the events function sees it."""
    assert service.request(user_id=user_id, destination=number).status == 202
    assert service.verify(service.last_code(), user_id=user_id).status == 200
    process(_stream(service), (), (consumer,))


def _proven_under_a_block(service: Service, **policy: Any) -> None:
    """`NUMBER` verified a code, then its range was blocked for an hour; a minute later."""
    _verified_once(service, _consumer(service, _guarded(service, **policy)), "owner", NUMBER)
    _block(service, "+1 4155", int(service.clock.now) + 3600)
    service.clock.advance(60)


def test_a_number_that_verified_a_code_before_passes_its_range_s_block(service: Service) -> None:
    consumer = _consumer(service, _guarded(service))
    _verified_once(service, consumer, "owner", NUMBER)
    service.clock.advance(3600)
    _block(service, "+1 4155", int(service.clock.now) + 3600)
    # Its owner again; a new account on the same handset, and a stranger in the same range.
    assert service.request(user_id="owner", destination=NUMBER).status == 202
    assert service.request(user_id="new-account", destination=NUMBER).status == 403
    assert service.request(user_id="stranger", destination=SAME_PREFIX).status == 403
    assert [phone for phone, _ in service.sms()] == [NUMBER, NUMBER]


def test_a_blocked_range_does_not_tell_another_account_which_of_its_numbers_verified(
    service: Service,
) -> None:
    """A proof belongs to the account that verified the number: asked by any other account, a
    proven number and an unknown one in a blocked range get the same answer by the same calls."""
    _proven_under_a_block(service)
    service.calls.clear()
    proven = service.request(user_id="prober", destination=NUMBER)
    proven_calls = list(service.calls)
    service.calls.clear()
    unknown = service.request(user_id="prober-2", destination=SAME_PREFIX)
    assert (proven.status, proven.body) == (unknown.status, unknown.body)
    assert proven.status == 403
    assert proven_calls == service.calls


def test_a_send_that_was_never_verified_does_not_prove_its_number(service: Service) -> None:
    """A pumper cannot make its numbers proven without reading the codes sent to them."""
    consumer = _consumer(service, _guarded(service))
    assert service.request(user_id="bot", destination=NUMBER).status == 202
    wrong = "111111" if service.last_code() != "111111" else "222222"
    assert service.verify(wrong, user_id="bot").status != 200
    process(_stream(service), (), (consumer,))
    service.clock.advance(3600)
    _block(service, "+1 4155", int(service.clock.now) + 3600)
    assert service.request(user_id="bot2", destination=NUMBER).status == 403


def test_a_proven_handset_is_forgotten_after_the_handset_memory(service: Service) -> None:
    consumer = _consumer(service, _guarded(service, handsetMemorySeconds=DAY))
    _verified_once(service, consumer, "owner", NUMBER)
    service.clock.advance(DAY)
    _block(service, "+1 4155", int(service.clock.now) + 3600)
    assert service.request(user_id="owner", destination=NUMBER).status == 403


def test_a_number_proven_before_a_mac_key_rotation_still_passes_its_range_s_block(
    service: Service,
) -> None:
    """Its mark is under the retired key's MAC, which request-token still derives."""
    _proven_under_a_block(service)
    service.rotate_mac_key()
    service.cold_start()
    assert service.request(user_id="owner", destination=NUMBER).status == 202
    assert service.request(user_id="stranger", destination=SAME_PREFIX).status == 403


def test_request_token_reads_only_idempotency_records_and_proven_handsets(
    service: Service,
) -> None:
    """The keys its role's one `GetItem` grant is confined to (tests/infra/test_fraud_guard.py)."""
    _proven_under_a_block(service)
    read: list[str] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        read.append(params["Key"][PARTITION_KEY]["S"])

    service.session.events.register("provide-client-params.dynamodb.GetItem", record)
    service.cold_start()
    again = {"Idempotency-Key": "again"}
    assert service.request(user_id="owner", destination=NUMBER, headers=again).status == 202
    assert service.request(user_id="owner", destination=NUMBER, headers=again).status == 202
    assert service.request(user_id="stranger", destination=SAME_PREFIX).status == 403
    assert {key.rsplit("#", 1)[0] for key in read} == {"idem", "fraud#handset"}


def test_a_zero_handset_memory_spares_no_number_even_one_proven_before(service: Service) -> None:
    """Switching the rule off takes effect at once, whatever the table remembers."""
    _verified_once(service, _consumer(service, _guarded(service)), "owner", NUMBER)
    _guarded(service, handsetMemorySeconds=0)
    _block(service, "+1 4155", int(service.clock.now) + 3600)
    service.clock.advance(60)
    assert service.request(user_id="owner", destination=NUMBER).status == 403


def test_a_proven_handset_s_sends_still_count_against_the_budget(service: Service) -> None:
    _proven_under_a_block(service, dailyBudget=2)
    assert service.request(user_id="owner", destination=NUMBER).status == 202
    assert service.request(user_id="owner-third", destination=NUMBER).status == 403
    assert len(service.sms()) == 2


def test_a_proven_handset_is_named_by_its_mac_and_expires(service: Service) -> None:
    """The handset's item holds no digit of the number beyond its MAC, and carries a TTL."""
    consumer = _consumer(service, _guarded(service))
    _verified_once(service, consumer, "owner", NUMBER)
    handsets = [
        item for item in service.items() if item[PARTITION_KEY]["S"].startswith("fraud#handset#")
    ]
    assert len(handsets) == 1
    assert set(handsets[0]) == {PARTITION_KEY, TTL_ATTRIBUTE}
    assert NUMBER.removeprefix("+")[-7:] not in json.dumps(handsets[0])
    assert int(handsets[0][TTL_ATTRIBUTE]["N"]) == int(service.clock.now) + 90 * DAY


def _sends(count: int, *numbers: str) -> list[Signal]:
    return [Signal("sent", NumberPrefixes.of(n, 1)) for n in numbers for _ in range(count)]


def _ledger(service: Service) -> FraudLedger:
    dynamodb = service.session.client("dynamodb")
    return FraudLedger(dynamodb, service.settings.table_name, FraudPolicy())


def test_a_burst_into_one_range_blocks_that_range_not_its_parent(service: Service) -> None:
    """100 sends in one stream batch cross `+1 415`'s floor (80) too; they are `+1 4155`'s."""
    numbers = [f"+141555{n:05d}" for n in range(100)]
    blocks = _ledger(service).apply(_sends(1, *numbers), int(service.clock.now))
    assert [block.prefix for block in blocks] == ["+1 4155"]


def test_bursts_into_two_ranges_of_one_parent_block_the_parent_too(service: Service) -> None:
    numbers = [f"+14155{n:06d}" for n in range(50)] + [f"+14156{n:06d}" for n in range(50)]
    blocks = _ledger(service).apply(_sends(1, *numbers), int(service.clock.now))
    assert sorted(block.prefix for block in blocks) == ["+1 415", "+1 4155", "+1 4156"]


@pytest.mark.parametrize(("yesterday_last_window", "blocked"), [(0, ["velocity"]), (40, [])])
def test_a_surge_in_the_day_s_first_window_is_measured_against_yesterday_s_last(
    service: Service, yesterday_last_window: int, blocked: list[str]
) -> None:
    guard = FraudPolicy(velocity_min_sends=10, probation_sends=3, unproven_sends=1000)
    ledger = FraudLedger(service.session.client("dynamodb"), service.settings.table_name, guard)
    midnight = 20_000 * DAY
    others = [f"+1{201 + n}5550123" for n in range(10)]  # ten distinct ranges
    ledger.apply(_sends(1, *others[: yesterday_last_window // 4]) * 4, midnight - 60)
    blocks = ledger.apply(_sends(1, *others) + _sends(3, NUMBER), midnight + 60)
    assert [block.reason for block in blocks] == blocked

"""Property-based fuzzing of all three handlers: bad input is a contract 4xx, never a 5xx.

A rejected request stores nothing, sends nothing and makes no AWS call at all; every answer has
the contract's shape; no answer echoes a code, a phone number or an email address.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from otp_service.handlers.http import MAX_BODY_BYTES
from tests.support.fuzzing import FUZZ
from tests.support.moto_service import Reply, Service

from .contract import (
    assert_contract_error,
    assert_echoes_nothing,
    invoke,
    raw_event,
    snapshot,
)

ROUTES = ["/request-token", "/verify-token", "/cancel-token"]
FIELDS = {
    "/request-token": {"user_id", "channel", "destination", "locale"},
    "/verify-token": {"user_id", "code"},
    "/cancel-token": {"user_id"},
}
VALID = {
    "/request-token": {"user_id": "alice", "destination": "+14155550123"},
    "/verify-token": {"user_id": "alice", "code": "123456"},
    "/cancel-token": {"user_id": "alice"},
}
REJECTIONS = {"invalid_request", "payload_too_large", "destination_not_allowed"}

json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=16,
)
non_strings = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)
odd_text = st.text(
    st.characters(codec=None, categories=None, exclude_characters=None), max_size=40
) | st.sampled_from(
    [
        "\u202e321654",  # right-to-left override
        "١٢٣٤٥٦",  # Arabic-Indic digits
        "\uff11\uff12\uff13\uff14\uff15\uff16",  # fullwidth digits
        "+\uff11\uff14\uff11\uff15\uff15\uff15\uff15\uff10\uff11\uff12\uff13",
        "alice\x00",
        "alice\u200b",
        "\ud800",
        "a\u0301lice",
        "\U0001f600",
        "\uff45xample@example.com",
        "a@\ud800.com",
        "a@xn--.com",
        "a@例え.jp",
        '"a b"@example.com',
        "a@[127.0.0.1]",
        "+14155550123\n",
        " +14155550123",
    ]
)


def _send(service: Service, route: str, body: str | None, **kwargs: Any) -> Reply:
    return invoke(service, route, raw_event(route, body, **kwargs))


def _assert_rejected_cleanly(service: Service, route: str, reply: Reply, before: Any) -> None:
    assert reply.status < 500, reply
    if reply.status >= 400:
        assert_contract_error(route, reply)
    if reply.status >= 400 and reply.body["error"]["code"] in REJECTIONS:
        assert snapshot(service) == before, "a rejected request changed something"


@pytest.mark.parametrize("route", ROUTES)
@FUZZ
@given(value=json_values)
@example(value={"user_id": "a", "123456": 1, "+14155550123": 2, "bob@example.com": 3})
def test_arbitrary_json_is_a_contract_4xx_that_changes_nothing(
    service: Service, route: str, value: Any
) -> None:
    before = snapshot(service)
    raw = json.dumps(value)
    reply = _send(service, route, raw)
    outside = not isinstance(value, dict) or not set(value) <= FIELDS[route]
    if outside:
        assert reply.status == 400 and reply.body["error"]["code"] == "invalid_request"
    _assert_rejected_cleanly(service, route, reply, before)
    assert_echoes_nothing(reply, raw)


@pytest.mark.parametrize("route", ROUTES)
@FUZZ
@given(data=st.data(), wrong=non_strings)
def test_a_field_of_the_wrong_type_is_invalid_request_naming_it(
    service: Service, route: str, data: st.DataObject, wrong: Any
) -> None:
    name = data.draw(st.sampled_from(sorted(VALID[route])))
    before = snapshot(service)
    reply = _send(service, route, json.dumps({**VALID[route], name: wrong}))
    assert reply.status == 400
    assert_contract_error(route, reply)
    assert name in [f["field"] for f in reply.body["error"]["fields"]]
    assert snapshot(service) == before


@pytest.mark.parametrize("route", ROUTES)
@FUZZ
@given(data=st.data(), text=odd_text)
def test_odd_unicode_in_any_field_never_breaks_the_contract(
    service: Service, route: str, data: st.DataObject, text: str
) -> None:
    fields = sorted(FIELDS[route])
    name = data.draw(st.sampled_from(fields))
    body = {**VALID[route], name: text}
    if route == "/request-token" and data.draw(st.booleans()):
        body["channel"] = "email"
    service.clock.advance(3600)
    before = snapshot(service)
    raw = json.dumps(body, ensure_ascii=data.draw(st.booleans()))
    reply = _send(service, route, raw)
    _assert_rejected_cleanly(service, route, reply, before)
    if reply.status == 202:
        assert snapshot(service).sent == before.sent + 1
    else:
        assert snapshot(service).sent == before.sent
    if reply.status >= 400:
        assert_echoes_nothing(reply, text)


@pytest.mark.parametrize("route", ROUTES)
@FUZZ
@given(size=st.integers(MAX_BODY_BYTES + 1, 6 * MAX_BODY_BYTES), encode=st.booleans())
def test_a_body_over_8_kib_is_413_before_anything_else(
    service: Service, route: str, size: int, encode: bool
) -> None:
    padding = "x" * (size - len(json.dumps({**VALID[route], "p": ""})))
    raw = json.dumps({**VALID[route], "p": padding})
    assert len(raw) == size
    before = snapshot(service)
    body = base64.b64encode(raw.encode()).decode() if encode else raw
    reply = _send(service, route, body, base64=encode)
    assert (reply.status, reply.body["error"]["code"]) == (413, "payload_too_large")
    assert_contract_error(route, reply)
    assert snapshot(service) == before


@pytest.mark.parametrize("route", ROUTES)
def test_the_size_limit_is_exactly_8_kib(service: Service, route: str) -> None:
    """8192 bytes is parsed (and refused for its unknown field); 8193 bytes is 413."""

    def body_of(size: int) -> str:
        overhead = len(json.dumps({**VALID[route], "p": ""}))
        return json.dumps({**VALID[route], "p": "x" * (size - overhead)})

    at_limit = _send(service, route, body_of(MAX_BODY_BYTES))
    over = _send(service, route, body_of(MAX_BODY_BYTES + 1))
    assert (at_limit.status, at_limit.body["error"]["code"]) == (400, "invalid_request")
    assert (over.status, over.body["error"]["code"]) == (413, "payload_too_large")


@pytest.mark.parametrize("route", ROUTES)
@FUZZ
@given(depth=st.integers(1, 3 * MAX_BODY_BYTES), brace=st.booleans())
@example(depth=MAX_BODY_BYTES // 2, brace=False)
@example(depth=1000, brace=False)
def test_deeply_nested_bodies_are_4xx(
    service: Service, route: str, depth: int, brace: bool
) -> None:
    opening, closing = ('{"a":', "}") if brace else ("[", "]")
    raw = opening * depth + "1" + closing * depth
    before = snapshot(service)
    reply = _send(service, route, raw)
    expected = 413 if len(raw.encode()) > MAX_BODY_BYTES else 400
    assert reply.status == expected
    assert_contract_error(route, reply)
    assert snapshot(service) == before


@pytest.mark.parametrize("route", ROUTES)
@FUZZ
@given(raw=st.binary(max_size=600))
def test_arbitrary_bytes_as_a_base64_body_are_4xx(service: Service, route: str, raw: bytes) -> None:
    before = snapshot(service)
    reply = _send(service, route, base64.b64encode(raw).decode(), base64=True)
    _assert_rejected_cleanly(service, route, reply, before)
    assert reply.status in {400, 413}


@pytest.mark.parametrize("route", ROUTES)
@FUZZ
@given(body=st.text(max_size=200))
@example(body="not base64!")
@example(body="e30")  # "{}" without padding
def test_a_body_flagged_base64_that_is_not_base64_is_4xx(
    service: Service, route: str, body: str
) -> None:
    before = snapshot(service)
    reply = _send(service, route, body, base64=True)
    _assert_rejected_cleanly(service, route, reply, before)
    assert reply.status in {400, 413}


@FUZZ
@given(user_id=st.from_regex(r"[A-Za-z0-9._@:+\-]{1,128}", fullmatch=True))
def test_a_base64_body_is_read_exactly_like_the_plain_one(service: Service, user_id: str) -> None:
    raw = json.dumps({"user_id": user_id})
    plain = _send(service, "/cancel-token", raw)
    encoded = _send(service, "/cancel-token", base64.b64encode(raw.encode()).decode(), base64=True)
    assert (
        (plain.status, plain.body)
        == (encoded.status, encoded.body)
        == (
            200,
            {"status": "canceled"},
        )
    )


@pytest.mark.parametrize("route", ROUTES)
@FUZZ
@given(
    encoding=st.sampled_from(["utf-16", "utf-16-be", "utf-32", "utf-8-sig", "cp1252", "latin-1"]),
    name=st.text(st.characters(min_codepoint=0xA0, max_codepoint=0xFF), min_size=1, max_size=8),
)
def test_bodies_in_other_encodings_are_4xx(
    service: Service, route: str, encoding: str, name: str
) -> None:
    """Non-UTF-8 text (here with a non-ASCII name, so no encoding coincides with UTF-8)."""
    raw = json.dumps({**VALID[route], "user_id": name}, ensure_ascii=False).encode(encoding)
    before = snapshot(service)
    reply = _send(service, route, base64.b64encode(raw).decode(), base64=True)
    assert reply.status == 400
    assert_contract_error(route, reply)
    assert snapshot(service) == before


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("body", [None, ""])
def test_a_missing_body_is_invalid_request(service: Service, route: str, body: str | None) -> None:
    reply = _send(service, route, body)
    assert (reply.status, reply.body["error"]["code"]) == (400, "invalid_request")


header_names = st.sampled_from(
    ["Idempotency-Key", "idempotency-key", "IDEMPOTENCY-KEY", "Content-Type", "X-Other"]
)
header_values = st.text(max_size=80) | st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=64
)


@settings(FUZZ, max_examples=min(FUZZ.max_examples, 20))
@given(
    headers=st.none() | st.dictionaries(header_names, header_values, max_size=4),
    multi=st.none() | st.dictionaries(header_names, st.lists(header_values, max_size=3)),
)
def test_missing_odd_and_duplicated_headers_send_at_most_once(
    service: Service,
    headers: dict[str, str] | None,
    multi: dict[str, list[str]] | None,
) -> None:
    service.clock.advance(3600)
    before = snapshot(service)
    reply = _send(
        service,
        "/request-token",
        json.dumps(VALID["/request-token"]),
        headers=headers,
        multi_headers=multi,
    )
    after = snapshot(service)
    keys = [v for k, v in (headers or {}).items() if k.lower() == "idempotency-key"]
    key_ok = not keys or (1 <= len(keys[0]) <= 64 and all("!" <= c <= "~" for c in keys[0]))
    if key_ok:
        assert reply.status in {202, 422}, reply
    else:
        assert reply.status == 400
        assert reply.body["error"]["fields"][0]["field"] == "Idempotency-Key"
        assert after == before
    if reply.status >= 400:
        assert_contract_error("/request-token", reply)
    assert after.sent - before.sent == (1 if reply.status == 202 else 0)

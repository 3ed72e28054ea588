"""A compressed day of SMS pumping replayed against the real handlers on moto (seeded).

The full day, at realistic rates and with the default thresholds, is `python -m bench.fraud`;
here four hours with the same defaults keep the test quick. A range's first block costs about
`unprovenSends` SMS whatever the day's length, so the share cut grows with the attack's volume:
this short attack's is about 86 %, the bench's full day's above 95 %.
"""

from __future__ import annotations

from otp_service.handlers.fraud import FraudPolicy

from .simulation import Scenario, run_day

SCENARIO = Scenario(
    hours=4,
    attack_start_hour=1,
    legit_per_hour=40,
    attack_first_per_hour=30,
    attack_last_per_hour=90,
)
DEFAULTS = FraudPolicy()


def test_the_guard_cuts_the_attacker_s_sms_and_refuses_no_legitimate_request() -> None:
    """The defaults, as deployed; the full day (`python -m bench.fraud`) measures the targets."""
    day = run_day(DEFAULTS, SCENARIO)
    assert day.attacker_requests > 150
    # Each of the three ranges costs about `unprovenSends` before its first block ...
    assert day.attacker_sent_before_first_block <= 3 * DEFAULTS.unproven_sends
    # ... and a send or two each time its block lapses (the block doubles every time).
    assert day.attacker_sent - day.attacker_sent_before_first_block <= 3 * 3
    assert day.attacker_sent <= 0.15 * day.attacker_requests
    assert {block["reason"] for block in day.blocks} <= {"unproven", "repeat", "conversion"}
    assert max(block["offences"] for block in day.blocks) >= 2, "a lapsed block came back"
    assert day.legit_requests > 15
    assert day.legit_refused == 0
    assert day.legit_sent == day.legit_requests
    # Most legitimate codes are verified (70-90 % by country), which keeps their ranges open.
    assert day.legit_verified >= 0.6 * day.legit_sent
    assert 0 < day.returning_requests < day.legit_requests
    assert day.other_statuses == {}


def test_the_static_controls_alone_send_every_pumped_request() -> None:
    """Fresh numbers under fresh user ids never meet the per-user or per-destination limits."""
    short = Scenario(
        hours=2,
        attack_start_hour=1,
        legit_per_hour=0,
        attack_first_per_hour=60,
        attack_last_per_hour=60,
    )
    day = run_day(FraudPolicy(enabled=False), short)
    assert day.attacker_requests > 30
    assert day.attacker_sent == day.attacker_requests
    assert day.blocks == []

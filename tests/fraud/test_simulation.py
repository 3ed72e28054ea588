"""A compressed day of SMS pumping replayed against the real handlers on moto (seeded).

The full day, at realistic rates and with the default thresholds, is `python -m bench.fraud`;
here four hours with the thresholds scaled down to the smaller volume keep the test quick.
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
SCALED = FraudPolicy(min_sends=8, velocity_min_sends=20, probation_sends=3)


def test_the_guard_cuts_the_attacker_s_sms_and_refuses_no_legitimate_request() -> None:
    day = run_day(SCALED, SCENARIO)
    assert day.attacker_requests > 150
    assert day.attacker_sent <= 0.2 * day.attacker_requests
    assert day.attacker_sent_before_first_block <= 3 * 10  # three prefixes, about a floor each
    assert {block["reason"] for block in day.blocks} <= {"conversion", "repeat", "velocity"}
    assert max(block["offences"] for block in day.blocks) >= 2, "a lapsed block came back"
    assert day.legit_requests > 15
    assert day.legit_refused == 0
    assert day.legit_sent == day.legit_requests
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

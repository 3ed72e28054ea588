"""`otp-preflight`: each prerequisite passes where the account has it and fails where it lacks it.

API Gateway's account setting, CloudWatch Logs and STS run against moto. moto has no SMS
sandbox, End User Messaging SMS (phone numbers, spend limits), SES v2 account or identity
details, or Lambda account settings: those clients are botocore `Stubber`s answering with the
documented response shapes.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from otp_service.local.provision import ACCOUNT_ID
from otp_service.preflight import (
    AccountClients,
    Finding,
    Status,
    Target,
    load_options,
    main,
    run_checks,
)
from tests.support.pulumi_mocks import PROJECT_ROOT, REGION

ORIGINATION_NUMBER = "+18885550100"
PROD = ["smsOriginationNumber=" + ORIGINATION_NUMBER]
LOG_GROUP_PREFIX = f"sns/{REGION}/{ACCOUNT_ID}/DirectPublishToPhoneNumber"


@dataclass(frozen=True)
class Account:
    """An account as the checks see it; the defaults are one a prod deploy succeeds in."""

    logging_role: str | None = f"arn:aws:iam::{ACCOUNT_ID}:role/apigateway-logs"
    in_sms_sandbox: bool = False
    sandbox_numbers: tuple[str, ...] = ()
    phone_numbers: tuple[tuple[str, str, str], ...] = ((ORIGINATION_NUMBER, "US", "ACTIVE"),)
    spend_quota: int = 1000
    email_identity: dict[str, Any] | None = field(
        default_factory=lambda: {"IdentityType": "EMAIL_ADDRESS", "VerifiedForSendingStatus": True}
    )
    ses_production: bool = True
    unreserved: int = 1000
    existing_log_groups: tuple[str, ...] = ()
    sms_attributes: dict[str, str] | None = None
    """The account's SMS attributes, asked for only by a stack that does not manage them."""
    full_log_groups: tuple[str, ...] = ()
    """Log groups already holding CloudWatch Logs' two subscription filters."""


def _stubbed(service: str, calls: list[tuple[str, dict[str, Any] | str]]) -> Any:
    client = boto3.client(service, region_name=REGION)
    stub = Stubber(client)
    for operation, answer in calls:
        if isinstance(answer, str):
            stub.add_client_error(operation, service_error_code=answer)
        else:
            stub.add_response(operation, answer)
    stub.activate()
    return client


def _clients(account: Account) -> AccountClients:
    apigateway = boto3.client("apigateway", region_name=REGION)
    if account.logging_role:
        apigateway.update_account(
            patchOperations=[
                {"op": "replace", "path": "/cloudwatchRoleArn", "value": account.logging_role}
            ]
        )
    logs = boto3.client("logs", region_name=REGION)
    for name in account.existing_log_groups:
        logs.create_log_group(logGroupName=name)
    if account.full_log_groups:
        kinesis = boto3.client("kinesis", region_name=REGION)
        kinesis.create_stream(StreamName="elsewhere", ShardCount=1)
        stream = kinesis.describe_stream(StreamName="elsewhere")["StreamDescription"]["StreamARN"]
        for name in account.full_log_groups:
            for taken in ("first", "second"):
                logs.put_subscription_filter(
                    logGroupName=name,
                    filterName=taken,
                    filterPattern="",
                    destinationArn=stream,
                    roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/logs-to-kinesis",
                )
    sns_calls: list[tuple[str, dict[str, Any] | str]] = [
        ("get_sms_sandbox_account_status", {"IsInSandbox": account.in_sms_sandbox})
    ]
    if account.in_sms_sandbox:
        numbers = [{"PhoneNumber": n, "Status": "Verified"} for n in account.sandbox_numbers]
        sns_calls.append(("list_sms_sandbox_phone_numbers", {"PhoneNumbers": numbers}))
    if account.sms_attributes is not None:
        sns_calls.append(("get_sms_attributes", {"attributes": account.sms_attributes}))
    phone_numbers = [
        {
            "PhoneNumberArn": f"arn:aws:sms-voice:{REGION}:{ACCOUNT_ID}:phone-number/p-{i}",
            "PhoneNumberId": f"p-{i}",
            "PhoneNumber": number,
            "Status": status,
            "IsoCountryCode": iso,
            "MessageType": "TRANSACTIONAL",
            "NumberCapabilities": ["SMS"],
            "NumberType": "TOLL_FREE",
            "MonthlyLeasingPrice": "2.00",
            "TwoWayEnabled": False,
            "SelfManagedOptOutsEnabled": False,
            "OptOutListName": "Default",
            "DeletionProtectionEnabled": False,
            "CreatedTimestamp": "2026-11-01T00:00:00Z",
        }
        for i, (number, iso, status) in enumerate(account.phone_numbers)
    ]
    spend = {
        "Name": "TEXT_MESSAGE_MONTHLY_SPEND_LIMIT",
        "EnforcedLimit": 1,
        "MaxLimit": account.spend_quota,
        "Overridden": False,
    }
    identity: dict[str, Any] | str = account.email_identity or "NotFoundException"
    ses_calls: list[tuple[str, dict[str, Any] | str]] = [("get_email_identity", identity)]
    if account.email_identity is None:
        ses_calls.append(("get_email_identity", "NotFoundException"))
    ses_calls.append(("get_account", {"ProductionAccessEnabled": account.ses_production}))
    return AccountClients(
        apigateway=apigateway,
        sns=_stubbed("sns", sns_calls),
        sms_voice=_stubbed(
            "pinpoint-sms-voice-v2",
            [
                ("describe_phone_numbers", {"PhoneNumbers": phone_numbers}),
                ("describe_spend_limits", {"SpendLimits": [spend]}),
            ],
        ),
        sesv2=_stubbed("sesv2", ses_calls),
        logs=logs,
        sts=boto3.client("sts", region_name=REGION),
        lambda_=_stubbed(
            "lambda",
            [
                (
                    "get_account_settings",
                    {
                        "AccountLimit": {
                            "ConcurrentExecutions": account.unreserved,
                            "UnreservedConcurrentExecutions": account.unreserved,
                        }
                    },
                )
            ],
        ),
    )


@pytest.fixture
def aws() -> Iterator[None]:
    with mock_aws():
        yield


def findings(account: Account, overrides: list[str] = PROD, stack: str = "prod") -> list[Finding]:
    options, region = load_options(stack, overrides, PROJECT_ROOT)
    return run_checks(Target(options, region, ACCOUNT_ID), _clients(account))


def finding(check: str, account: Account, overrides: list[str] = PROD) -> Finding:
    [found] = [f for f in findings(account, overrides) if f.check == check]
    return found


def test_an_account_with_every_prerequisite_passes_every_check(aws: None) -> None:
    assert {f.check: f.status for f in findings(Account())} == {
        "API Gateway account CloudWatch role": Status.OK,
        "SMS sandbox": Status.OK,
        "SMS origination identity": Status.OK,
        "SMS spend limit": Status.OK,
        "SMS delivery-status log groups": Status.OK,
        "SMS delivery receipts": Status.OK,
        "SES sender": Status.OK,
        "Lambda reserved concurrency": Status.OK,
        "Lambda dependency layer": Status.OK,
    }


def test_the_command_exits_0_only_when_a_deploy_would_succeed(
    aws: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(PROJECT_ROOT)
    argv = ["--stack", "prod", "-c", PROD[0]]
    assert main(argv, clients=_clients(Account())) == 0
    assert "a deploy would succeed" in capsys.readouterr().out
    assert main(argv, clients=_clients(Account(spend_quota=1))) == 1
    out = capsys.readouterr().out
    assert "FIX   SMS spend limit" in out
    assert "1 to fix before pulumi up" in out


def test_a_region_without_the_api_gateway_logging_role_needs_an_owner(aws: None) -> None:
    found = finding("API Gateway account CloudWatch role", Account(logging_role=None))
    assert found.status is Status.FIX
    assert "manageApiGatewayAccount" in found.detail


def test_a_stack_that_sets_the_logging_role_itself_passes_without_one(aws: None) -> None:
    found = finding(
        "API Gateway account CloudWatch role",
        Account(logging_role=None),
        [*PROD, "manageApiGatewayAccount=true"],
    )
    assert found.status is Status.OK


def test_the_sms_sandbox_warns_and_lists_verified_numbers_masked(aws: None) -> None:
    found = finding("SMS sandbox", Account(in_sms_sandbox=True, sandbox_numbers=("+14155550123",)))
    assert found.status is Status.WARN
    assert "+1415******23" in found.detail
    assert "+14155550123" not in found.detail


def test_us_sms_without_a_registered_number_must_be_fixed(aws: None) -> None:
    found = finding("SMS origination identity", Account(), overrides=[])
    assert found.status is Status.FIX
    assert "smsOriginationNumber" in found.detail


def test_an_origination_number_that_is_not_active_must_be_fixed(aws: None) -> None:
    account = Account(phone_numbers=((ORIGINATION_NUMBER, "US", "PENDING"),))
    assert finding("SMS origination identity", account).status is Status.FIX


def test_a_spend_limit_above_the_account_quota_must_be_fixed(aws: None) -> None:
    found = finding("SMS spend limit", Account(spend_quota=1))
    assert found.status is Status.FIX
    assert "500 USD" in found.detail and "1 USD" in found.detail


def test_existing_delivery_status_log_groups_must_not_be_created_again(aws: None) -> None:
    account = Account(existing_log_groups=(LOG_GROUP_PREFIX, f"{LOG_GROUP_PREFIX}/Failure"))
    found = finding("SMS delivery-status log groups", account)
    assert found.status is Status.FIX
    assert "createSmsDeliveryLogGroups" in found.detail


def test_existing_log_groups_pass_once_the_stack_stops_creating_them(aws: None) -> None:
    account = Account(existing_log_groups=(LOG_GROUP_PREFIX,))
    found = finding(
        "SMS delivery-status log groups", account, [*PROD, "createSmsDeliveryLogGroups=false"]
    )
    assert found.status is Status.OK


def test_an_unverified_email_sender_must_be_fixed(aws: None) -> None:
    found = finding("SES sender", Account(email_identity=None))
    assert found.status is Status.FIX
    assert "verified" in found.detail


def test_a_default_configuration_set_the_stack_does_not_name_must_be_fixed(aws: None) -> None:
    identity = {"VerifiedForSendingStatus": True, "ConfigurationSetName": "bounces"}
    found = finding("SES sender", Account(email_identity=identity))
    assert found.status is Status.FIX
    assert "emailConfigurationSet" in found.detail
    named = finding(
        "SES sender", Account(email_identity=identity), [*PROD, "emailConfigurationSet=bounces"]
    )
    assert named.status is Status.OK


def test_the_ses_sandbox_warns(aws: None) -> None:
    assert finding("SES sender", Account(ses_production=False)).status is Status.WARN


def test_reserved_concurrency_beyond_the_account_quota_must_be_fixed(aws: None) -> None:
    """A new account's quota of 10 cannot reserve anything: 100 must stay unreserved."""
    found = finding("Lambda reserved concurrency", Account(unreserved=10))
    assert found.status is Status.FIX
    # Six functions (four routes, events, receipts) reserve 20 each in prod.
    assert finding("Lambda reserved concurrency", Account(unreserved=219)).status is Status.FIX
    assert finding("Lambda reserved concurrency", Account(unreserved=220)).status is Status.OK


def test_a_check_aws_refuses_is_reported_as_a_fix_naming_the_error(aws: None) -> None:
    options, region = load_options("prod", PROD, PROJECT_ROOT)
    clients = replace(
        _clients(Account()),
        sns=_stubbed("sns", [("get_sms_sandbox_account_status", "AuthorizationError")]),
    )
    [found] = [
        f for f in run_checks(Target(options, region, ACCOUNT_ID), clients) if "sandbox" in f.check
    ]
    assert found == Finding("sms sandbox", Status.FIX, "could not ask AWS (AuthorizationError)")


def test_without_usable_credentials_the_command_says_so_and_exits_1(
    aws: None, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(PROJECT_ROOT)
    clients = replace(
        _clients(Account()), sts=_stubbed("sts", [("get_caller_identity", "ExpiredToken")])
    )
    assert main(["--stack", "dev"], clients=clients) == 1
    assert "FIX   AWS credentials" in capsys.readouterr().err


BOTH_GROUPS = (LOG_GROUP_PREFIX, f"{LOG_GROUP_PREFIX}/Failure")
RECEIPTS = [*PROD, "smsDeliveryReceipts=true"]
UNMANAGED_RECEIPTS = [*RECEIPTS, "manageSmsPreferences=false"]
LOGGING_ON = {"DeliveryStatusIAMRole": f"arn:aws:iam::{ACCOUNT_ID}:role/sns-sms-logs"}


def test_sms_receipts_in_the_stack_that_manages_sms_logging_pass(aws: None) -> None:
    assert finding("SMS delivery receipts", Account(), RECEIPTS).status is Status.OK


def test_sms_receipts_without_delivery_status_logging_must_be_fixed(aws: None) -> None:
    account = Account(sms_attributes={}, existing_log_groups=BOTH_GROUPS)
    found = finding("SMS delivery receipts", account, UNMANAGED_RECEIPTS)
    assert found.status is Status.FIX
    assert "manageSmsPreferences" in found.detail


def test_sms_receipts_need_the_log_groups_to_exist(aws: None) -> None:
    account = Account(sms_attributes={**LOGGING_ON, "DeliveryStatusSuccessSamplingRate": "100"})
    found = finding("SMS delivery receipts", account, UNMANAGED_RECEIPTS)
    assert found.status is Status.FIX
    assert LOG_GROUP_PREFIX in found.detail


def test_sampled_successes_warn_that_most_sms_keep_delivery_sent(aws: None) -> None:
    attributes = {**LOGGING_ON, "DeliveryStatusSuccessSamplingRate": "10"}
    account = Account(sms_attributes=attributes, existing_log_groups=BOTH_GROUPS)
    found = finding("SMS delivery receipts", account, UNMANAGED_RECEIPTS)
    assert found.status is Status.WARN
    assert "10 %" in found.detail


def test_a_log_group_with_two_subscription_filters_has_no_room_for_receipts(aws: None) -> None:
    attributes = {**LOGGING_ON, "DeliveryStatusSuccessSamplingRate": "100"}
    account = Account(
        sms_attributes=attributes, existing_log_groups=BOTH_GROUPS, full_log_groups=BOTH_GROUPS
    )
    found = finding("SMS delivery receipts", account, UNMANAGED_RECEIPTS)
    assert found.status is Status.FIX
    assert "subscription filters" in found.detail


def test_logging_at_full_rate_with_free_filter_slots_passes(aws: None) -> None:
    attributes = {**LOGGING_ON, "DeliveryStatusSuccessSamplingRate": "100"}
    account = Account(sms_attributes=attributes, existing_log_groups=BOTH_GROUPS)
    assert finding("SMS delivery receipts", account, UNMANAGED_RECEIPTS).status is Status.OK

"""`otp-preflight --stack prod`: does the account hold what this stack's first `pulumi up` needs?

Reads the stack's configuration as the program would (`Pulumi.yaml`, `Pulumi.<stack>.yaml`,
`-c KEY=VALUE`) and asks the account (read-only calls) about each prerequisite a Pulumi preview
cannot see. Each check prints `ok`, `warn` (the deploy succeeds, but read the note) or `FIX` with
what to do. The exit code is 0 only when no check says FIX. docs/deploy.md explains each one.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import boto3
import pulumi
from botocore.exceptions import BotoCoreError, ClientError

from .components.args_from_config import args_from_config
from .components.functions import ROUTES
from .components.options import InvalidArgumentError, ServiceOptions, resolve_options
from .components.sms import sms_delivery_log_group_names
from .handlers.masking import mask_destination
from .local.pulumi_config import ConfigError, find_project, parse_override, stack_config

LAMBDA_MINIMUM_UNRESERVED = 100
"""Lambda keeps at least this many concurrent executions unreserved in every account."""

FUNCTION_COUNT = len(ROUTES) + 2
"""Functions that each reserve `reservedConcurrency`: the routes', events and receipts."""

MAX_SUBSCRIPTION_FILTERS = 2
"""CloudWatch Logs' subscription filters per log group."""

REGISTERED_NUMBER_COUNTRIES = {"1": "US"}
"""Calling codes whose carriers deliver only from a registered origination number."""


class Status(StrEnum):
    """The outcome of one check."""

    OK = "ok"
    WARN = "warn"
    FIX = "FIX"


@dataclass(frozen=True)
class Finding:
    """One prerequisite: its name, status and what the user should know or do."""

    check: str
    status: Status
    detail: str


@dataclass(frozen=True)
class AccountClients:
    """The read-only clients the checks use (tests hand in moto-backed or stubbed ones)."""

    apigateway: Any
    sns: Any
    sms_voice: Any
    sesv2: Any
    logs: Any
    lambda_: Any
    sts: Any

    @staticmethod
    def for_region(region: str) -> AccountClients:
        """Clients from the default credential chain, in `region`."""
        session = boto3.session.Session(region_name=region)
        return AccountClients(
            apigateway=session.client("apigateway"),
            sns=session.client("sns"),
            sms_voice=session.client("pinpoint-sms-voice-v2"),
            sesv2=session.client("sesv2"),
            logs=session.client("logs"),
            lambda_=session.client("lambda"),
            sts=session.client("sts"),
        )


@dataclass(frozen=True)
class Target:
    """What is being deployed and where."""

    options: ServiceOptions
    region: str
    account_id: str


Check = Callable[[Target, AccountClients], Finding]


def check_api_gateway_account(target: Target, clients: AccountClients) -> Finding:
    """A stage with access logs is refused where the account's CloudWatch role was never set."""
    name = "API Gateway account CloudWatch role"
    role = clients.apigateway.get_account().get("cloudwatchRoleArn")
    if role:
        return Finding(name, Status.OK, f"set ({role})")
    if target.options.infrastructure.manage_api_gateway_account:
        return Finding(name, Status.OK, "not set yet; this stack sets it (manageApiGatewayAccount)")
    return Finding(
        name,
        Status.FIX,
        "not set in this region: set manageApiGatewayAccount: true in exactly one stack per "
        "account and region, or `aws apigateway update-account` with a role of your own",
    )


def check_sms_sandbox(target: Target, clients: AccountClients) -> Finding:
    """In the SMS sandbox, SNS sends only to verified numbers."""
    name = "SMS sandbox"
    if not clients.sns.get_sms_sandbox_account_status()["IsInSandbox"]:
        return Finding(name, Status.OK, "out of the sandbox")
    numbers = clients.sns.list_sms_sandbox_phone_numbers().get("PhoneNumbers", [])
    verified = [
        mask_destination("sms", n["PhoneNumber"]) for n in numbers if n["Status"] == "Verified"
    ]
    return Finding(
        name,
        Status.WARN,
        "the account is in the SMS sandbox: SMS reach only verified numbers "
        f"({', '.join(verified) or 'none'}); request production access in the SNS console",
    )


def check_origination_identity(target: Target, clients: AccountClients) -> Finding:
    """SMS to US numbers without a registered number: Publish succeeds, nothing is delivered."""
    name = "SMS origination identity"
    allowed = target.options.policy.allowed_country_codes
    needing = sorted(
        iso
        for code, iso in REGISTERED_NUMBER_COUNTRIES.items()
        if allowed == ("*",) or code in allowed
    )
    if not needing:
        return Finding(name, Status.OK, "no allowed country needs a registered number")
    number = target.options.infrastructure.sms_origination_number
    active = {
        (phone["PhoneNumber"], phone["IsoCountryCode"])
        for phone in clients.sms_voice.describe_phone_numbers().get("PhoneNumbers", [])
        if phone["Status"] == "ACTIVE"
    }
    missing = [iso for iso in needing if number is None or (number, iso) not in active]
    if not missing:
        return Finding(name, Status.OK, f"{number} is active for {', '.join(needing)}")
    return Finding(
        name,
        Status.FIX,
        f"{', '.join(missing)} carriers deliver only from a registered toll-free or 10DLC number: "
        "register one (docs/deploy.md, 'Sender registration'), then "
        "`pulumi config set smsOriginationNumber +1...`"
        + ("" if number is None else f" ({number} is not an active {', '.join(missing)} number)"),
    )


def check_spend_limit(target: Target, clients: AccountClients) -> Finding:
    """SetSMSAttributes refuses a MonthlySpendLimit above the account's quota (1 USD when new)."""
    name = "SMS spend limit"
    infrastructure = target.options.infrastructure
    if not infrastructure.manage_sms_preferences:
        return Finding(name, Status.OK, "not set by this stack (manageSmsPreferences is off)")
    limits = clients.sms_voice.describe_spend_limits()["SpendLimits"]
    quota = next(
        int(limit["MaxLimit"])
        for limit in limits
        if limit["Name"] == "TEXT_MESSAGE_MONTHLY_SPEND_LIMIT"
    )
    wanted = infrastructure.sms_monthly_spend_limit_usd
    if wanted <= quota:
        return Finding(name, Status.OK, f"{wanted} USD is within the account's {quota} USD quota")
    return Finding(
        name,
        Status.FIX,
        f"smsMonthlySpendLimitUsd is {wanted} USD but the account's quota is {quota} USD: ask AWS "
        "for an SMS spend-limit increase, or lower the key",
    )


def check_delivery_log_groups(target: Target, clients: AccountClients) -> Finding:
    """The delivery-status log groups have fixed names; creating existing ones fails."""
    name = "SMS delivery-status log groups"
    infrastructure = target.options.infrastructure
    if not (
        infrastructure.manage_sms_preferences and infrastructure.create_sms_delivery_log_groups
    ):
        return Finding(name, Status.OK, "this stack does not create them")
    wanted = sms_delivery_log_group_names(target.region, target.account_id)
    existing = [
        group_name
        for group_name in wanted
        if any(
            group["logGroupName"] == group_name
            for group in clients.logs.describe_log_groups(logGroupNamePrefix=group_name)[
                "logGroups"
            ]
        )
    ]
    if not existing:
        return Finding(name, Status.OK, "none exists yet; this stack creates both")
    return Finding(
        name,
        Status.FIX,
        f"{', '.join(existing)} already exist: set createSmsDeliveryLogGroups: false (then give "
        "them the key and retention yourself) or delete them",
    )


def check_sms_receipts(target: Target, clients: AccountClients) -> Finding:
    """SMS receipts need the account's delivery-status logging, its groups and a filter slot."""
    name = "SMS delivery receipts"
    infrastructure = target.options.infrastructure
    if not infrastructure.sms_delivery_receipts:
        return Finding(name, Status.OK, "off (smsDeliveryReceipts): SMS delivery stays `sent`")
    managed = infrastructure.manage_sms_preferences
    rate = 100
    if not managed:
        attributes = clients.sns.get_sms_attributes(
            attributes=["DeliveryStatusIAMRole", "DeliveryStatusSuccessSamplingRate"]
        )["attributes"]
        if not attributes.get("DeliveryStatusIAMRole"):
            return Finding(
                name,
                Status.FIX,
                "SMS delivery-status logging is off in this account and region: set "
                "manageSmsPreferences in one stack, or DeliveryStatusIAMRole yourself",
            )
        rate = int(attributes.get("DeliveryStatusSuccessSamplingRate") or 0)
    for group_name in sms_delivery_log_group_names(target.region, target.account_id):
        groups = clients.logs.describe_log_groups(logGroupNamePrefix=group_name)["logGroups"]
        if not any(group["logGroupName"] == group_name for group in groups):
            if managed and infrastructure.create_sms_delivery_log_groups:
                continue
            return Finding(
                name,
                Status.FIX,
                f"{group_name} does not exist yet, and a subscription needs it: SNS creates it "
                "at the first logged SMS (or let the managing stack create it)",
            )
        filters = clients.logs.describe_subscription_filters(logGroupName=group_name)
        if len(filters["subscriptionFilters"]) >= MAX_SUBSCRIPTION_FILTERS:
            return Finding(
                name,
                Status.FIX,
                f"{group_name} already has {MAX_SUBSCRIPTION_FILTERS} subscription filters, "
                "CloudWatch Logs' limit: remove one, or turn smsDeliveryReceipts off here",
            )
    if rate < 100:
        return Finding(
            name,
            Status.WARN,
            f"only {rate} % of delivered SMS are logged: the others keep delivery `sent` "
            "(set DeliveryStatusSuccessSamplingRate to 100)",
        )
    return Finding(name, Status.OK, "delivery-status logging on; both log groups can subscribe")


def check_email_sender(target: Target, clients: AccountClients) -> Finding:
    """SES sends only from a verified identity; its default configuration set needs a grant."""
    name = "SES sender"
    sender = target.options.infrastructure.email_sender
    if sender is None:
        return Finding(name, Status.OK, "the email channel is off (no emailSender)")
    identity = _email_identity(clients.sesv2, sender)
    if identity is None or not identity.get("VerifiedForSendingStatus"):
        return Finding(
            name,
            Status.FIX,
            f"neither {sender} nor its domain is a verified SES identity in {target.region}: "
            "verify it (`aws sesv2 create-email-identity`)",
        )
    default_set = identity.get("ConfigurationSetName")
    configured = target.options.infrastructure.email_configuration_set
    if default_set != configured:
        return Finding(
            name,
            Status.FIX,
            f"the identity's default configuration set is {default_set!r} but "
            f"emailConfigurationSet is {configured!r}: SES would refuse every send; set "
            "emailConfigurationSet to the identity's default set (empty when it has none)",
        )
    if not clients.sesv2.get_account().get("ProductionAccessEnabled"):
        return Finding(
            name,
            Status.WARN,
            "verified, but the account is in the SES sandbox: email reaches only verified "
            "addresses; request production access",
        )
    return Finding(name, Status.OK, f"{sender} is verified; production access granted")


def check_reserved_concurrency(target: Target, clients: AccountClients) -> Finding:
    """Lambda keeps 100 executions unreserved; a new account's quota may be as low as 10."""
    name = "Lambda reserved concurrency"
    reserved = target.options.infrastructure.reserved_concurrency
    if reserved == 0:
        return Finding(name, Status.OK, "nothing reserved (reservedConcurrency is 0)")
    unreserved = clients.lambda_.get_account_settings()["AccountLimit"][
        "UnreservedConcurrentExecutions"
    ]
    needed = reserved * FUNCTION_COUNT + LAMBDA_MINIMUM_UNRESERVED
    if unreserved >= needed:
        return Finding(name, Status.OK, f"{unreserved} unreserved, {needed} needed")
    return Finding(
        name,
        Status.FIX,
        f"{FUNCTION_COUNT} x {reserved} reserved would leave fewer than "
        f"{LAMBDA_MINIMUM_UNRESERVED} of {unreserved} unreserved: ask for a higher Lambda "
        "concurrency quota, or lower reservedConcurrency",
    )


def check_dependency_layer(target: Target, clients: AccountClients) -> Finding:
    """No public layer to resolve: the program builds its own from requirements.lock."""
    return Finding(
        "Lambda dependency layer",
        Status.OK,
        "built by `pulumi up` from requirements.lock's pins (needs PyPI the first time)",
    )


CHECKS: tuple[Check, ...] = (
    check_api_gateway_account,
    check_sms_sandbox,
    check_origination_identity,
    check_spend_limit,
    check_delivery_log_groups,
    check_sms_receipts,
    check_email_sender,
    check_reserved_concurrency,
    check_dependency_layer,
)


def run_checks(target: Target, clients: AccountClients) -> list[Finding]:
    """Every check; one that cannot ask the account is a FIX naming the AWS error."""
    findings = []
    for check in CHECKS:
        try:
            findings.append(check(target, clients))
        except (ClientError, BotoCoreError) as error:
            label = check.__name__.removeprefix("check_").replace("_", " ")
            code = error.response["Error"]["Code"] if isinstance(error, ClientError) else ""
            findings.append(
                Finding(label, Status.FIX, f"could not ask AWS ({code or type(error).__name__})")
            )
    return findings


def _email_identity(sesv2: Any, sender: str) -> dict[str, Any] | None:
    """The address's own identity, else its domain's; None when neither exists."""
    for identity in (sender, sender.rsplit("@", 1)[1]):
        try:
            answer: dict[str, Any] = sesv2.get_email_identity(EmailIdentity=identity)
        except ClientError as error:
            if error.response["Error"]["Code"] != "NotFoundException":
                raise
            continue
        return answer
    return None


def load_options(
    stack: str, overrides: Sequence[str], directory: Path
) -> tuple[ServiceOptions, str]:
    """The stack's validated options and region, read as the program reads them."""
    project = find_project(directory)
    values = stack_config(project, stack, [parse_override(text) for text in overrides])
    pulumi.runtime.set_all_config(values)
    options = resolve_options(args_from_config(pulumi.Config(project.name)))
    return options, values.get("aws:region") or "us-east-1"


def main(argv: Sequence[str] | None = None, clients: AccountClients | None = None) -> int:
    """Print each finding; 0 when a deploy would succeed, 1 when something needs fixing."""
    parser = argparse.ArgumentParser(prog="otp-preflight", description=__doc__)
    parser.add_argument("--stack", required=True, help="the stack to check, e.g. dev or prod")
    parser.add_argument("--region", help="overrides the stack's aws:region")
    parser.add_argument("-c", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    args = parser.parse_args(argv)
    try:
        options, region = load_options(args.stack, args.overrides, Path.cwd())
    except (ConfigError, InvalidArgumentError) as error:
        print(f"FIX   configuration: {error}", file=sys.stderr)
        return 1
    region = args.region or region
    clients = clients or AccountClients.for_region(region)
    try:
        account_id = clients.sts.get_caller_identity()["Account"]
    except (ClientError, BotoCoreError) as error:
        print(f"FIX   AWS credentials: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    findings = run_checks(Target(options, region, account_id), clients)
    print(f"otp-preflight: stack {args.stack}, account {account_id}, {region}")
    for finding in findings:
        print(f"{finding.status.value:<5} {finding.check}: {finding.detail}")
    blocking = [f for f in findings if f.status is Status.FIX]
    print("a deploy would succeed" if not blocking else f"{len(blocking)} to fix before pulumi up")
    return 1 if blocking else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

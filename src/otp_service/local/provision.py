"""Run the real stack program under Pulumi mocks that provision what it declares into moto.

The program is the only source of truth: the table, keys and sender identity it declares are
created in the emulator with their real names, IDs and ARNs, so every value that refers to them
(a function's environment, say) resolves to something that exists locally. Everything else
(roles, log groups, the API's parts, the functions themselves) is only recorded with plausible
outputs; the route table and the functions are read from those records.
"""

from __future__ import annotations

import hashlib
import os
import runpy
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pulumi
from pulumi.runtime.mocks import MockCallArgs, MockResourceArgs

ACCOUNT_ID = "123456789012"
"""moto's default account."""

TABLE = "aws:dynamodb/table:Table"
KMS_KEY = "aws:kms/key:Key"
KMS_ALIAS = "aws:kms/alias:Alias"
LAMBDA_FUNCTION = "aws:lambda/function:Function"
LAMBDA_ALIAS = "aws:lambda/alias:Alias"
SES_EMAIL_IDENTITIES = (
    "aws:ses/emailIdentity:EmailIdentity",
    "aws:sesv2/emailIdentity:EmailIdentity",
)
SES_DOMAIN_IDENTITY = "aws:ses/domainIdentity:DomainIdentity"
SNS_TOPIC = "aws:sns/topic:Topic"
SQS_QUEUE = "aws:sqs/queue:Queue"
EVENT_SOURCE_MAPPING = "aws:lambda/eventSourceMapping:EventSourceMapping"
STAGE = "aws:apigateway/stage:Stage"


@dataclass(frozen=True)
class DeclaredResource:
    """One resource the program registered: its type, logical name, ID and resolved state."""

    type: str
    name: str
    id: str
    state: Mapping[str, Any]


@dataclass
class Deployment:
    """Every resource the program declared, in registration order."""

    region: str
    resources: list[DeclaredResource] = field(default_factory=list)

    def of_type(self, type_token: str) -> list[DeclaredResource]:
        """The resources of one type token."""
        return [r for r in self.resources if r.type == type_token]


Provisioner = Callable[[MockResourceArgs, str], dict[str, Any]]


class ProvisioningMocks(pulumi.runtime.Mocks):
    """Creates the stateful resources in the emulator; answers every other one plausibly."""

    def __init__(self, deployment: Deployment, local_url: str) -> None:
        self._deployment = deployment
        self._region = deployment.region
        self._local_url = local_url
        # The engine registers resources from several threads; boto3 sessions are not thread-safe.
        self._lock = threading.Lock()
        session = boto3.session.Session(region_name=self._region)
        self._dynamodb = session.client("dynamodb")
        self._kms = session.client("kms")
        self._ses = session.client("ses")
        self._sns = session.client("sns")
        self._sqs = session.client("sqs")
        self._provisioners: dict[str, Provisioner] = {
            TABLE: self._table,
            KMS_KEY: self._kms_key,
            KMS_ALIAS: self._kms_alias,
            SES_DOMAIN_IDENTITY: self._ses_domain,
            SNS_TOPIC: self._topic,
            SQS_QUEUE: self._queue,
            **{token: self._ses_email for token in SES_EMAIL_IDENTITIES},
        }

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        physical = args.inputs.get("name") or _auto_name(args.name)
        with self._lock:
            provision = self._provisioners.get(args.typ)
            outputs = provision(args, physical) if provision else self._recorded(args, physical)
            state = {"name": physical, **args.inputs, **outputs}
            resource_id = str(outputs.get("id") or f"{physical}-id")
            self._deployment.resources.append(
                DeclaredResource(args.typ, args.name, resource_id, state)
            )
        return resource_id, state

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        lookups = {
            "aws:index/getCallerIdentity:getCallerIdentity": {
                "accountId": ACCOUNT_ID,
                "arn": f"arn:aws:iam::{ACCOUNT_ID}:user/otp-local",
                "userId": "AIDAOTPLOCAL",
                "id": ACCOUNT_ID,
            },
            "aws:index/getRegion:getRegion": {
                "name": self._region,
                "region": self._region,
                "id": self._region,
            },
            "aws:index/getPartition:getPartition": {
                "partition": "aws",
                "dnsSuffix": "amazonaws.com",
                "id": "aws",
            },
        }
        if args.token not in lookups:
            raise NotImplementedError(f"otp-local does not answer the lookup {args.token}")
        return lookups[args.token], []

    def _table(self, args: MockResourceArgs, physical: str) -> dict[str, Any]:
        inputs = args.inputs
        self._dynamodb.create_table(TableName=physical, **_table_definition(inputs))
        ttl = inputs.get("ttl") or {}
        if ttl.get("enabled") and ttl.get("attributeName"):
            self._dynamodb.update_time_to_live(
                TableName=physical,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["attributeName"]},
            )
        arn = f"arn:aws:dynamodb:{self._region}:{ACCOUNT_ID}:table/{physical}"
        outputs = {"id": physical, "name": physical, "arn": arn}
        stream_arn = self._dynamodb.describe_table(TableName=physical)["Table"].get(
            "LatestStreamArn"
        )
        if stream_arn:
            outputs["streamArn"] = stream_arn
        return outputs

    def _topic(self, _args: MockResourceArgs, physical: str) -> dict[str, Any]:
        arn = self._sns.create_topic(Name=physical)["TopicArn"]
        return {"id": arn, "arn": arn, "name": physical}

    def _queue(self, _args: MockResourceArgs, physical: str) -> dict[str, Any]:
        url = self._sqs.create_queue(QueueName=physical)["QueueUrl"]
        arn = self._sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        return {"id": url, "url": url, "arn": arn, "name": physical}

    def _kms_key(self, args: MockResourceArgs, _physical: str) -> dict[str, Any]:
        inputs = args.inputs
        metadata = self._kms.create_key(
            Description=inputs.get("description") or args.name,
            KeyUsage=inputs.get("keyUsage") or "ENCRYPT_DECRYPT",
            KeySpec=inputs.get("customerMasterKeySpec") or "SYMMETRIC_DEFAULT",
        )["KeyMetadata"]
        return {"id": metadata["KeyId"], "keyId": metadata["KeyId"], "arn": metadata["Arn"]}

    def _kms_alias(self, args: MockResourceArgs, _physical: str) -> dict[str, Any]:
        inputs = args.inputs
        alias = inputs.get("name") or f"{inputs['namePrefix']}{_suffix(args.name)}"
        self._kms.create_alias(AliasName=alias, TargetKeyId=inputs["targetKeyId"])
        target = self._kms.describe_key(KeyId=alias)["KeyMetadata"]["Arn"]
        arn = f"arn:aws:kms:{self._region}:{ACCOUNT_ID}:{alias}"
        return {"id": alias, "name": alias, "arn": arn, "targetKeyArn": target}

    def _ses_email(self, args: MockResourceArgs, _physical: str) -> dict[str, Any]:
        address = args.inputs.get("email") or args.inputs["emailIdentity"]
        self._ses.verify_email_identity(EmailAddress=address)
        return {"id": address, "arn": self._ses_arn(address)}

    def _ses_domain(self, args: MockResourceArgs, _physical: str) -> dict[str, Any]:
        domain = args.inputs["domain"]
        token = self._ses.verify_domain_identity(Domain=domain)["VerificationToken"]
        return {"id": domain, "arn": self._ses_arn(domain), "verificationToken": token}

    def _ses_arn(self, identity: str) -> str:
        return f"arn:aws:ses:{self._region}:{ACCOUNT_ID}:identity/{identity}"

    def _recorded(self, args: MockResourceArgs, physical: str) -> dict[str, Any]:
        """Outputs for a resource the emulator does not need: the names and ARNs AWS reports."""
        outputs = plausible_outputs(args.typ, f"{physical}-id", physical, args.inputs, self._region)
        if args.typ == STAGE:
            outputs["invokeUrl"] = self._local_url
        return outputs


def plausible_outputs(
    resource_type: str, resource_id: str, physical: str, inputs: Mapping[str, Any], region: str
) -> dict[str, Any]:
    """What AWS reports back for a resource it created (wire names): its name, ARN and the like."""
    service = resource_type.split(":")[1].split("/", maxsplit=1)[0]
    outputs: dict[str, Any] = {
        "name": physical,
        "arn": f"arn:aws:{service}:{region}:{ACCOUNT_ID}:{physical}",
    }
    if resource_type == KMS_KEY:
        outputs["keyId"] = resource_id
        outputs["arn"] = f"arn:aws:kms:{region}:{ACCOUNT_ID}:key/{resource_id}"
    elif resource_type == TABLE:
        outputs["arn"] = f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{physical}"
        if inputs.get("streamEnabled"):
            outputs["streamArn"] = f"{outputs['arn']}/stream/2026-11-25T00:00:00.000"
    elif resource_type in (LAMBDA_FUNCTION, LAMBDA_ALIAS):
        function = physical
        if resource_type == LAMBDA_ALIAS:
            function = f"{inputs['functionName']}:{physical}"
        else:
            outputs["version"] = "1" if inputs.get("publish") else "$LATEST"
        arn = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function}"
        outputs["arn"] = arn
        outputs["invokeArn"] = (
            f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{arn}/invocations"
        )
    elif resource_type == "aws:lambda/layerVersion:LayerVersion":
        layer = inputs.get("layerName", physical)
        outputs["arn"] = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:layer:{layer}:1"
    elif resource_type in ("aws:iam/role:Role", "aws:iam/policy:Policy"):
        kind = resource_type.rsplit(":", 1)[1].lower()
        outputs["arn"] = f"arn:aws:iam::{ACCOUNT_ID}:{kind}/{physical}"
    elif resource_type == "aws:cloudwatch/logGroup:LogGroup":
        outputs["arn"] = f"arn:aws:logs:{region}:{ACCOUNT_ID}:log-group:{physical}"
    elif resource_type == "aws:apigateway/restApi:RestApi":
        outputs["rootResourceId"] = f"{resource_id}-root"
        outputs["executionArn"] = f"arn:aws:execute-api:{region}:{ACCOUNT_ID}:{resource_id}"
    elif resource_type == STAGE:
        rest_api, stage = inputs["restApi"], inputs["stageName"]
        outputs["invokeUrl"] = f"https://{rest_api}.execute-api.{region}.amazonaws.com/{stage}"
        outputs["arn"] = f"arn:aws:apigateway:{region}::/restapis/{rest_api}/stages/{stage}"
    return outputs


def run_program(
    program: Path, project: str, stack: str, config: Mapping[str, str], local_url: str
) -> Deployment:
    """Run `program` as `pulumi up` would, provisioning into the emulator boto3 points at."""
    region = config.get("aws:region") or os.environ.get("AWS_REGION") or "us-east-1"
    deployment = Deployment(region=region)
    mocks = ProvisioningMocks(deployment, local_url)
    pulumi.runtime.settings.ROOT.set(None)
    pulumi.runtime.set_mocks(mocks, project=project, stack=stack, preview=False)
    pulumi.runtime.set_all_config(dict(config))
    with _working_directory(program.parent):
        _run_to_completion(lambda: runpy.run_path(str(program), run_name="__main__"))
    return deployment


def _run_to_completion(program: Callable[[], object]) -> None:
    """Run the program and wait until every registration it started has finished."""
    from pulumi.runtime.stack import run_pulumi_func  # noqa: PLC0415
    from pulumi.runtime.sync_await import _sync_await  # noqa: PLC0415

    def run() -> None:
        program()

    _sync_await(run_pulumi_func(run))


@contextmanager
def _working_directory(directory: Path) -> Iterator[None]:
    """Pulumi runs a program from its project directory; relative paths in it rely on that."""
    previous = Path.cwd()
    os.chdir(directory)
    try:
        yield
    finally:
        os.chdir(previous)


def _table_definition(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """CreateTable arguments from an `aws.dynamodb.Table`'s inputs (wire names)."""
    key_schema = [{"AttributeName": inputs["hashKey"], "KeyType": "HASH"}]
    if inputs.get("rangeKey"):
        key_schema.append({"AttributeName": inputs["rangeKey"], "KeyType": "RANGE"})
    definition: dict[str, Any] = {
        "KeySchema": key_schema,
        "AttributeDefinitions": [
            {"AttributeName": a["name"], "AttributeType": a["type"]} for a in inputs["attributes"]
        ],
        "BillingMode": inputs.get("billingMode") or "PROVISIONED",
    }
    if definition["BillingMode"] == "PROVISIONED":
        definition["ProvisionedThroughput"] = {
            "ReadCapacityUnits": int(inputs.get("readCapacity") or 1),
            "WriteCapacityUnits": int(inputs.get("writeCapacity") or 1),
        }
    if inputs.get("streamEnabled"):
        definition["StreamSpecification"] = {
            "StreamEnabled": True,
            "StreamViewType": inputs["streamViewType"],
        }
    indexes = [_global_index(index) for index in inputs.get("globalSecondaryIndexes") or []]
    if indexes:
        definition["GlobalSecondaryIndexes"] = indexes
    return definition


def _global_index(index: Mapping[str, Any]) -> dict[str, Any]:
    key_schema = [{"AttributeName": index["hashKey"], "KeyType": "HASH"}]
    if index.get("rangeKey"):
        key_schema.append({"AttributeName": index["rangeKey"], "KeyType": "RANGE"})
    projection: dict[str, Any] = {"ProjectionType": index.get("projectionType") or "ALL"}
    if index.get("nonKeyAttributes"):
        projection["NonKeyAttributes"] = list(index["nonKeyAttributes"])
    return {"IndexName": index["name"], "KeySchema": key_schema, "Projection": projection}


def _auto_name(logical: str) -> str:
    """A physical name the way Pulumi auto-names: the logical name and a short suffix."""
    return f"{logical}-{_suffix(logical)}"


def _suffix(logical: str) -> str:
    # Stable per logical name, so the local names stay the same from run to run.
    return hashlib.sha256(logical.encode()).hexdigest()[:7]

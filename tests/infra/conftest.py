"""Pulumi mocks that record every resource, and a runner for the real stack program."""

from __future__ import annotations

import json
import runpy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar, cast

import pulumi
import pytest
import yaml
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs
from pulumi.runtime.stack import wait_for_rpcs

P = ParamSpec("P")
T = TypeVar("T")
PROJECT_ROOT = Path(__file__).resolve().parents[2]
PROJECT = yaml.safe_load((PROJECT_ROOT / "Pulumi.yaml").read_text())
PROJECT_NAME: str = PROJECT["name"]
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"


def pulumi_test(test: Callable[P, pulumi.Output[T]]) -> Callable[P, None]:
    """`pulumi.runtime.test` with types: runs the test and awaits the `Output` it returns."""
    return cast("Callable[P, None]", pulumi.runtime.test(test))  # type: ignore[no-untyped-call]


def pytest_configure(config: pytest.Config) -> None:
    """Ignore the one deprecation pulumi-aws 7.51.1 raises when `pulumi_aws.lambda_` is imported.

    The package warns at import time about its own `MicrovmsImage` resource, which this project
    never uses; every other warning still fails the run.
    """
    config.addinivalue_line(
        "filterwarnings",
        r"ignore:aws\.lambda/microvmsimage\.MicrovmsImage has been deprecated:DeprecationWarning",
    )


@dataclass(frozen=True)
class RecordedResource:
    """One registered resource: its type token, logical name, parent URN and inputs."""

    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    inputs: dict[str, Any]
    dependencies: tuple[str, ...] = ()
    """URNs of the resources this one was registered to wait for (`depends_on`)."""
    retain_on_delete: bool = False
    delete_before_replace: bool = False


@dataclass
class Recording:
    """Every resource a program registered, with filters for assertions."""

    resources: list[RecordedResource] = field(default_factory=list)
    stack_outputs: dict[str, Any] = field(default_factory=dict)

    def of_type(self, type_token: str) -> list[RecordedResource]:
        """All resources of one type token, e.g. `aws:dynamodb/table:Table`."""
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str) -> RecordedResource:
        """The only resource of a type token."""
        found = self.of_type(type_token)
        assert len(found) == 1, f"expected one {type_token}, found {[r.name for r in found]}"
        return found[0]

    def named(self, name: str) -> RecordedResource:
        """The resource with this logical name."""
        found = [r for r in self.resources if r.name == name]
        assert len(found) == 1, f"expected one resource named {name}, found {len(found)}"
        return found[0]


class RecordingMocks(pulumi.runtime.Mocks):
    """Answers registrations with plausible AWS outputs (ARNs, names, invoke ARNs)."""

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        resource_id = f"{args.name}-id"
        return resource_id, {**args.inputs, **_fake_outputs(args.typ, args.name, args.inputs)}

    def call(self, args: MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        return _invoke_result(args.token), []


def _invoke_result(token: str) -> dict[str, Any]:
    """The AWS provider's answers to the lookups the component makes."""
    if token == "aws:index/getCallerIdentity:getCallerIdentity":
        arn = f"arn:aws:iam::{ACCOUNT_ID}:user/deployer"
        return {"accountId": ACCOUNT_ID, "arn": arn, "userId": "AIDEXAMPLE"}
    if token == "aws:index/getRegion:getRegion":
        return {"name": REGION, "region": REGION, "id": REGION}
    if token == "aws:index/getPartition:getPartition":
        return {"partition": "aws", "dnsSuffix": "amazonaws.com", "id": "aws"}
    raise AssertionError(f"unexpected invoke {token}")


class RecordingMonitor(MockMonitor):
    """A mock monitor that also keeps each registration's parent and inputs."""

    def __init__(self, mocks: RecordingMocks, recording: Recording) -> None:
        super().__init__(mocks)
        self.recording = recording

    def RegisterResource(self, request: Any) -> Any:
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type != "pulumi:pulumi:Stack":
            self.recording.resources.append(
                RecordedResource(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    parent=request.parent,
                    custom=request.custom,
                    inputs=rpc.deserialize_properties(request.object),
                    dependencies=tuple(request.dependencies),
                    retain_on_delete=bool(request.retainOnDelete),
                    delete_before_replace=bool(request.deleteBeforeReplace),
                )
            )
        return response


def _fake_outputs(type_token: str, name: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """What AWS would report back for a resource (wire names are camelCase): names and ARNs."""
    physical = inputs.get("name") or f"{name}-1a2b3c4"
    service = type_token.split(":")[1].split("/", maxsplit=1)[0]
    outputs: dict[str, Any] = {
        "name": physical,
        "arn": f"arn:aws:{service}:{REGION}:{ACCOUNT_ID}:{physical}",
    }
    if type_token == "aws:kms/key:Key":
        outputs["keyId"] = f"{name}-id"
        outputs["arn"] = f"arn:aws:kms:{REGION}:{ACCOUNT_ID}:key/{name}-id"
    elif type_token == "aws:dynamodb/table:Table":
        outputs["arn"] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT_ID}:table/{physical}"
        if inputs.get("streamEnabled"):
            outputs["streamArn"] = f"{outputs['arn']}/stream/2026-11-25T00:00:00.000"
    elif type_token == "aws:cloudwatch/logGroup:LogGroup":
        outputs["arn"] = f"arn:aws:logs:{REGION}:{ACCOUNT_ID}:log-group:{physical}"
    elif type_token == "aws:lambda/function:Function":
        arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{physical}"
        outputs["arn"] = arn
        outputs["version"] = "1" if inputs.get("publish") else "$LATEST"
        outputs["invokeArn"] = (
            f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{arn}/invocations"
        )
    elif type_token == "aws:lambda/alias:Alias":
        arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{inputs['functionName']}:{physical}"
        outputs["arn"] = arn
        outputs["invokeArn"] = (
            f"arn:aws:apigateway:{REGION}:lambda:path/2015-03-31/functions/{arn}/invocations"
        )
    elif type_token == "aws:lambda/layerVersion:LayerVersion":
        outputs["arn"] = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:layer:{inputs['layerName']}:1"
    elif type_token == "aws:iam/role:Role":
        outputs["arn"] = f"arn:aws:iam::{ACCOUNT_ID}:role/{physical}"
    elif type_token == "aws:iam/policy:Policy":
        outputs["arn"] = f"arn:aws:iam::{ACCOUNT_ID}:policy/{physical}"
    elif type_token == "aws:apigateway/restApi:RestApi":
        outputs["rootResourceId"] = f"{name}-root"
        outputs["executionArn"] = f"arn:aws:execute-api:{REGION}:{ACCOUNT_ID}:{name}-id"
    elif type_token == "aws:apigateway/stage:Stage":
        stage = inputs["stageName"]
        outputs["invokeUrl"] = (
            f"https://{inputs['restApi']}.execute-api.{REGION}.amazonaws.com/{stage}"
        )
        outputs["arn"] = (
            f"arn:aws:apigateway:{REGION}::/restapis/{inputs['restApi']}/stages/{stage}"
        )
    return outputs


def config_string(value: Any) -> str:
    """A config value as the Pulumi CLI hands it to a program."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | dict):
        return json.dumps(value)
    return str(value)


def stack_config(stack: str, overrides: dict[str, Any]) -> dict[str, str]:
    """Pulumi.yaml's defaults, overlaid with Pulumi.<stack>.yaml and then `overrides`."""
    values = {
        f"{PROJECT_NAME}:{key}": spec["default"]
        for key, spec in PROJECT["config"].items()
        if "default" in spec
    }
    values.update(yaml.safe_load((PROJECT_ROOT / f"Pulumi.{stack}.yaml").read_text())["config"])
    values.update({f"{PROJECT_NAME}:{key}": value for key, value in overrides.items()})
    return {key: config_string(value) for key, value in values.items()}


@dataclass
class Deployment:
    """A program run under fresh mocks; `settled()` resolves once every resource registered."""

    recording: Recording

    def settled(self) -> pulumi.Output[Recording]:
        """The recording, once every registration the program started has completed."""

        async def after_registrations() -> Recording:
            await wait_for_rpcs(await_all_outstanding_tasks=False)
            root = pulumi.runtime.get_root_resource()
            self.recording.stack_outputs = dict(getattr(root, "outputs", {}))
            return self.recording

        return pulumi.Output.from_input(after_registrations())


def start_deployment(stack: str) -> Recording:
    """Install fresh mocks and a fresh root stack resource for one program run."""
    recording = Recording()
    mocks = RecordingMocks()
    pulumi.runtime.settings.ROOT.set(None)
    pulumi.runtime.set_mocks(
        mocks,
        project=PROJECT_NAME,
        stack=stack,
        preview=False,
        monitor=RecordingMonitor(mocks, recording),
    )
    return recording


RunProgram = Callable[..., Deployment]


@pytest.fixture
def run_stack() -> RunProgram:
    """Run the real `__main__.py` with a stack's config (plus overrides) under fresh mocks."""

    def run(
        stack: str = "dev", program: Path = PROJECT_ROOT / "__main__.py", **overrides: Any
    ) -> Deployment:
        recording = start_deployment(stack)
        pulumi.runtime.set_all_config(stack_config(stack, overrides))
        runpy.run_path(str(program), run_name="__main__")
        return Deployment(recording)

    return run


@pytest.fixture
def fresh_mocks() -> Callable[[str], Deployment]:
    """Fresh mocks and empty config, for tests that build components themselves."""

    def start(stack: str = "test") -> Deployment:
        recording = start_deployment(stack)
        pulumi.runtime.set_all_config({})
        return Deployment(recording)

    return start

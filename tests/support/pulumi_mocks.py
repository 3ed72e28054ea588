"""Pulumi mocks that record every resource, and a runner for the real stack program."""

from __future__ import annotations

import runpy
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ParamSpec, TypeVar, cast

import pulumi
import pytest
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs
from pulumi.runtime.stack import wait_for_rpcs

from otp_service.local.provision import ACCOUNT_ID, plausible_outputs
from otp_service.local.pulumi_config import find_project, stack_config

P = ParamSpec("P")
T = TypeVar("T")
PROJECT_ROOT = Path(__file__).resolve().parents[2]
PROJECT = find_project(PROJECT_ROOT)
REGION = "us-east-1"


def pulumi_test(test: Callable[P, pulumi.Output[T]]) -> Callable[P, None]:
    """`pulumi.runtime.test` with types: runs the test and awaits the `Output` it returns."""
    return cast("Callable[P, None]", pulumi.runtime.test(test))  # type: ignore[no-untyped-call]


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
        physical = args.inputs.get("name") or f"{args.name}-1a2b3c4"
        outputs = plausible_outputs(args.typ, resource_id, physical, args.inputs, REGION)
        return resource_id, {**args.inputs, **outputs}

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
        project=PROJECT.name,
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
        pulumi.runtime.set_all_config(stack_config(PROJECT, stack, list(overrides.items())))
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

"""Item 2b: cold start as a user waits for it, the first request, against the emulator.

Each sample is a new interpreter that times, from its first statement, either
- the handler: import the handler module and serve one API Gateway event (its first request:
  settings, clients, the KMS subkey, validation, the DynamoDB write, the send); or
- the baseline: import boto3, create the same clients, and make exactly the AWS calls that
  handler made (recorded once, in process, with botocore's `before-parameter-build` hook).
Both talk to one moto server in the bench process, emptied before every sample so each first
request meets the same table. Interpreter start-up and building the event are outside the timer.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import os
import pickle
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from botocore import xform_name

from .environment import REGION, isolate_from_aws
from .stats import median, ratio

TARGET_RATIO = 1.3

FIRST_REQUESTS = {
    "request_token": ("/request-token", {"user_id": "cold", "destination": "+14155550123"}),
    "verify_token": ("/verify-token", {"user_id": "cold", "code": "123456"}),
    "cancel_token": ("/cancel-token", {"user_id": "cold"}),
}
"""Each handler's first request: a new code by SMS, a verify with no code pending, a cancel."""

_HANDLER_PROGRAM = """
import json, time, types
event = json.loads({event!r})
context = types.SimpleNamespace(**json.loads({context!r}))
context.get_remaining_time_in_millis = lambda: 20_000
_start = time.perf_counter()
import importlib
module = importlib.import_module("otp_service.handlers.{module}")
answer = module.handler(event, context)
elapsed = time.perf_counter() - _start
assert answer["statusCode"] < 500, answer
print(elapsed)
"""

_BASELINE_PROGRAM = """
import pickle, time
calls = pickle.loads(bytes.fromhex({calls!r}))
_start = time.perf_counter()
import boto3
from botocore.exceptions import ClientError
session = boto3.session.Session()
clients = {{name: session.client(name) for name in {clients!r}}}
for service, method, parameters in calls:
    try:
        getattr(clients[service], method)(**parameters)
    except ClientError:  # a refused condition is an answer the handler reads, too
        pass
print(time.perf_counter() - _start)
"""


@dataclass
class FirstRequest:
    """Median fresh-process times to a handler's first answer and to its bare AWS calls."""

    handler: str
    calls: list[str]
    runs: int
    handler_median_ms: float
    baseline_median_ms: float
    ratio: float
    target: float
    meets_target: bool

    def as_json(self) -> dict[str, Any]:
        """The result as plain JSON values."""
        return asdict(self)


def _recorded_calls(module: str) -> list[tuple[str, str, dict[str, Any]]]:
    """The AWS calls (service, client method, parameters) the handler's first request makes."""
    from otp_service.local.proxy_integration import LambdaContext

    from .moto_service import handler_event, running_service

    route, body = FIRST_REQUESTS[module]
    calls: list[tuple[str, str, dict[str, Any]]] = []

    def record(event_name: str, params: dict[str, Any], **kwargs: Any) -> None:
        client, operation = event_name.split(".")[1:]
        parameters = {k: copy.deepcopy(v) for k, v in params.items() if k != "ClientRequestToken"}
        calls.append((client, xform_name(operation), parameters))

    with running_service(record_calls=False) as harness:
        harness.session.events.register("before-parameter-build", record)
        harness.handler(route)(handler_event(route, body), LambdaContext(module))
    return calls


@contextlib.contextmanager
def _emulator() -> Iterator[tuple[str, str]]:
    """A moto server in this process with the service's resources; its URL and table name."""
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer

    from otp_service.local.atomic import make_dynamodb_atomic
    from otp_service.local.moto_resources import create_service_resources

    from .moto_service import BENCH_POLICY

    make_dynamodb_atomic()
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    previous = os.environ.get("AWS_ENDPOINT_URL")
    os.environ["AWS_ENDPOINT_URL"] = url
    try:
        settings = create_service_resources(BENCH_POLICY)
        yield url, settings.table_name
    finally:
        if previous is None:
            os.environ.pop("AWS_ENDPOINT_URL", None)
        else:
            os.environ["AWS_ENDPOINT_URL"] = previous
        server.stop()


def measure_first_requests(runs: int, cwd: Path) -> list[FirstRequest]:
    """`runs` interleaved fresh-process samples per handler and per baseline; one warm-up each."""
    from .coldstart import _FUNCTION_ENVIRONMENT, run_fresh_process
    from .moto_service import empty_table, handler_event

    isolate_from_aws()
    recorded = {module: _recorded_calls(module) for module in FIRST_REQUESTS}
    with _emulator() as (url, table):
        environment = isolate_from_aws(dict(os.environ))
        environment.update(_FUNCTION_ENVIRONMENT)
        environment.update({"AWS_ENDPOINT_URL": url, "AWS_DEFAULT_REGION": REGION})
        environment.pop("PYTHONDONTWRITEBYTECODE", None)
        programs = {}
        for module, (route, body) in FIRST_REQUESTS.items():
            context = json.dumps(
                {
                    "function_name": module,
                    "aws_request_id": "cold-start",
                    "memory_limit_in_mb": 256,
                    "invoked_function_arn": "",
                    "log_group_name": "",
                    "log_stream_name": "",
                }
            )
            programs[(module, "handler")] = _HANDLER_PROGRAM.format(
                event=json.dumps(handler_event(route, body)), context=context, module=module
            )
            services = sorted({service for service, _, _ in recorded[module]})
            programs[(module, "baseline")] = _BASELINE_PROGRAM.format(
                calls=pickle.dumps(recorded[module]).hex(), clients=services
            )
        samples: dict[tuple[str, str], list[float]] = {key: [] for key in programs}
        for round_ in range(runs + 1):  # the first round byte-compiles and is not kept
            for key, program in programs.items():
                empty_table(table)
                sample = run_fresh_process(program, environment, cwd)
                if round_:
                    samples[key].append(sample)
    results = []
    for module in FIRST_REQUESTS:
        handler, baseline = samples[(module, "handler")], samples[(module, "baseline")]
        measured = ratio(median(handler), median(baseline))
        results.append(
            FirstRequest(
                handler=module,
                calls=[f"{service}.{method}" for service, method, _ in recorded[module]],
                runs=runs,
                handler_median_ms=round(median(handler), 1),
                baseline_median_ms=round(median(baseline), 1),
                ratio=measured,
                target=TARGET_RATIO,
                meets_target=measured <= TARGET_RATIO,
            )
        )
    return results


if __name__ == "__main__":
    for row in measure_first_requests(5, Path.cwd()):
        print(row.as_json())

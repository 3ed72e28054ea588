"""The program's stream event source mappings, run as pollers of the emulator's DynamoDB stream.

Each mapping is read from what the program declares (stream, function, batch size, retries,
bisect, on-failure queue) and behaves as Lambda's does for DynamoDB: records of a shard in
order; a batch reporting a failed item is retried from that item, split in two first when
bisecting; a single record that still fails after `maximum_retry_attempts` retries is
described to the on-failure queue and the shard moves on, so one poisoned record never blocks
the rest.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import boto3

from .emulator import answer_in_process
from .provision import EVENT_SOURCE_MAPPING, LAMBDA_FUNCTION, Deployment
from .routes import FunctionSpec, function_spec

POLL_INTERVAL_SECONDS = 0.25
"""As Lambda polls a DynamoDB stream shard: four times a second, so a busy shard's records reach
the function in batches (up to the mapping's batch size), as in the cloud, not one by one."""

Invoke = Callable[[str, dict[str, Any]], Any]


@dataclass(frozen=True)
class StreamMapping:
    """One declared event source mapping from a DynamoDB stream to a function."""

    stream_arn: str
    function: FunctionSpec
    batch_size: int
    maximum_retry_attempts: int
    bisect: bool
    dead_letter_arn: str | None


def stream_mappings(deployment: Deployment) -> list[StreamMapping]:
    """The program's DynamoDB stream mappings, with the function each one invokes."""
    functions: dict[str, FunctionSpec] = {}
    for declared in deployment.of_type(LAMBDA_FUNCTION):
        spec = function_spec(declared)
        functions[spec.arn] = functions[spec.name] = spec
    mappings = []
    for declared in deployment.of_type(EVENT_SOURCE_MAPPING):
        state = declared.state
        source = str(state.get("eventSourceArn") or "")
        if ":dynamodb:" not in source:
            continue
        on_failure = (state.get("destinationConfig") or {}).get("onFailure") or {}
        retries = state.get("maximumRetryAttempts")
        target = str(state["functionName"])
        if target not in functions:
            target = target.rsplit(":", 1)[0]  # a qualified ARN: the function behind its alias
        mappings.append(
            StreamMapping(
                stream_arn=source,
                function=functions[target],
                batch_size=int(state.get("batchSize") or 100),
                maximum_retry_attempts=int(retries) if retries is not None else 10_000,
                bisect=bool(state.get("bisectBatchOnFunctionError")),
                dead_letter_arn=on_failure.get("destinationArn"),
            )
        )
    return mappings


class StreamPoller:
    """Reads every mapping's stream and hands its batches to the function, on its own thread."""

    def __init__(self, mappings: list[StreamMapping], invoke: Invoke, region: str) -> None:
        self._mappings = mappings
        self._invoke = invoke
        session = boto3.session.Session(region_name=region)
        answer_in_process(session)
        self._streams = session.client("dynamodbstreams")
        self._sqs = session.client("sqs")
        self._iterators: dict[tuple[str, str], str | None] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="otp-local-streams", daemon=True)

    def start(self) -> None:
        """Start polling."""
        self._thread.start()

    def stop(self) -> None:
        """Stop polling and wait for the batch in hand."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def poll_once(self) -> int:
        """Read and deliver what every shard has now; the number of records read."""
        read = 0
        for mapping in self._mappings:
            for shard in self._shards(mapping):
                iterator = self._iterators[(mapping.stream_arn, shard)]
                if iterator is None:
                    continue
                answer = self._streams.get_records(ShardIterator=iterator, Limit=mapping.batch_size)
                self._iterators[(mapping.stream_arn, shard)] = answer.get("NextShardIterator")
                records = [
                    {**record, "eventSourceARN": mapping.stream_arn}
                    for record in answer.get("Records", [])
                ]
                if records:
                    read += len(records)
                    self.deliver(mapping, shard, records)
        return read

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.poll_once()
            except Exception as error:  # noqa: BLE001 - a poller must outlive one bad read
                print(f"otp-local: stream poll failed: {type(error).__name__}", flush=True)
            self._stop.wait(POLL_INTERVAL_SECONDS)

    def _shards(self, mapping: StreamMapping) -> list[str]:
        description = self._streams.describe_stream(StreamArn=mapping.stream_arn)
        shards = [shard["ShardId"] for shard in description["StreamDescription"]["Shards"]]
        for shard in shards:
            if (mapping.stream_arn, shard) not in self._iterators:
                self._iterators[(mapping.stream_arn, shard)] = self._streams.get_shard_iterator(
                    StreamArn=mapping.stream_arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
                )["ShardIterator"]
        return shards

    def deliver(self, mapping: StreamMapping, shard: str, batch: list[dict[str, Any]]) -> None:
        """Invoke until every record is handled or dead-lettered; splitting does not count as
        a retry, as with Lambda's bisect."""
        pending: list[tuple[list[dict[str, Any]], int]] = [(batch, 0)]
        while pending:
            records, retries = pending.pop(0)
            failed_at = self._first_failure(mapping, records)
            if failed_at is None:
                continue
            rest = records[failed_at:]
            if mapping.bisect and len(rest) > 1:
                half = len(rest) // 2
                pending[:0] = [(rest[:half], retries), (rest[half:], retries)]
            elif retries < mapping.maximum_retry_attempts:
                pending.insert(0, (rest, retries + 1))
            else:
                self._dead_letter(mapping, shard, rest, retries)

    def _first_failure(self, mapping: StreamMapping, records: list[dict[str, Any]]) -> int | None:
        try:
            answer = self._invoke(mapping.function.name, {"Records": records})
        except Exception:  # noqa: BLE001 - a function error fails the whole batch
            return 0
        failures = (answer or {}).get("batchItemFailures") or []
        if not failures:
            return None
        sequences = [record["dynamodb"]["SequenceNumber"] for record in records]
        failed = {str(failure.get("itemIdentifier")) for failure in failures}
        return min((i for i, s in enumerate(sequences) if s in failed), default=0)

    def _dead_letter(
        self, mapping: StreamMapping, shard: str, records: list[dict[str, Any]], retries: int
    ) -> None:
        """Describe the discarded records as Lambda does: where they are, never what they hold."""
        if mapping.dead_letter_arn is None:
            return
        now = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        description = {
            "version": "1.0",
            "timestamp": now,
            "requestContext": {
                "functionArn": mapping.function.arn,
                "condition": "RetryAttemptsExhausted",
                "approximateInvokeCount": retries + 1,
            },
            "DDBStreamBatchInfo": {
                "shardId": shard,
                "startSequenceNumber": records[0]["dynamodb"]["SequenceNumber"],
                "endSequenceNumber": records[-1]["dynamodb"]["SequenceNumber"],
                "batchSize": len(records),
                "streamArn": mapping.stream_arn,
            },
        }
        queue = self._sqs.get_queue_url(QueueName=mapping.dead_letter_arn.rsplit(":", 1)[1])
        self._sqs.send_message(QueueUrl=queue["QueueUrl"], MessageBody=json.dumps(description))

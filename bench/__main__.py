"""Run every benchmark and write `bench/results/latest.md` and `bench/results/latest.json`.

.venv/bin/python -m bench [--quick] [--skip-load] [--stack dev]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from .environment import isolate_from_aws

REPO = Path(__file__).resolve().parent.parent
RESULTS = Path(__file__).resolve().parent / "results"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="dev", help="stack whose config sizes the cost")
    parser.add_argument("--cold-runs", type=int, default=15, help="fresh processes per variant")
    parser.add_argument("--warm-iterations", type=int, default=200, help="samples per operation")
    parser.add_argument(
        "--load-clients",
        default="4,16",
        help="comma-separated client counts, one load run each",
    )
    parser.add_argument("--load-seconds", type=float, default=20.0)
    parser.add_argument(
        "-c",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override passed to otp-local for the load run",
    )
    parser.add_argument("--skip-load", action="store_true", help="leave out item 4")
    parser.add_argument(
        "--skip-growth",
        action="store_true",
        help="leave out item 4's 50,000-user growth step (the longest: seeding and its stream)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smoke run: 3 cold runs, 30 samples, 5 s of load"
    )
    parser.add_argument("--output", type=Path, default=RESULTS, help="where to write results")
    return parser


def _git(*args: str) -> str:
    result = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
    return result.stdout.strip()


def _machine() -> dict[str, Any]:
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_before": _load(),
        "commit": _git("rev-parse", "--short", "HEAD"),
        "dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
    }


def _load() -> str:
    return ", ".join(f"{value:.2f}" for value in os.getloadavg())


def _progress(text: str) -> None:
    print(f"[bench] {text}", file=sys.stderr, flush=True)


def run(arguments: argparse.Namespace) -> dict[str, Any]:
    """Every item, in order; the JSON document the markdown is rendered from."""
    isolate_from_aws()
    from . import artifacts, calls, coldstart, cost, first_request, load, prices, warm

    if arguments.quick:
        arguments.cold_runs, arguments.warm_iterations, arguments.load_seconds = 3, 30, 5.0
    started = time.perf_counter()
    results: dict[str, Any] = {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": " ".join(["python -m bench", *sys.argv[1:]]),
        "machine": _machine(),
    }

    _progress("1/6 AWS calls per operation")
    counts, extra = calls.count_calls()
    off_path = calls.count_off_path()
    results["aws_calls"] = {
        "operations": [c.as_json() for c in counts],
        "off_path": off_path.as_json(),
        **extra,
    }

    _progress(f"2/6 cold start, {arguments.cold_runs} fresh processes per variant")
    cold = coldstart.measure_cold_starts(arguments.cold_runs, REPO)
    profile = {module: coldstart.import_profile(module, REPO) for module in coldstart.CLIENTS}
    results["cold_start"] = {
        "handlers": [c.as_json() for c in cold],
        "import_profile": profile,
        "import_profile_columns": list(next(iter(profile.values()))),
    }
    _progress(f"2/6 cold start to the first answer, {arguments.cold_runs} fresh processes each")
    first = first_request.measure_first_requests(arguments.cold_runs, REPO)
    results["cold_start"]["first_request"] = [f.as_json() for f in first]

    _progress(f"3/6 warm latency, {arguments.warm_iterations} samples per operation")
    warm_rows = warm.measure_warm(arguments.warm_iterations)
    results["warm"] = {"operations": [w.as_json() for w in warm_rows]}

    if arguments.skip_load:
        results["load"] = {"skipped": "--skip-load", "runs": []}
    else:
        runs = []
        for clients in (int(n) for n in arguments.load_clients.split(",")):
            _progress(f"4/6 otp-local, {clients} clients for {arguments.load_seconds:.0f} s")
            runs.append(
                load.run_load(REPO, clients, arguments.load_seconds, arguments.overrides).as_json()
            )
        results["load"] = {"runs": runs}
        if not arguments.skip_growth:
            _progress("4/6 otp-local as its table fills")
            growth = load.run_growth(REPO, samples=30 if arguments.quick else 100)
            results["load"]["growth"] = growth.as_json()

    _progress("5/6 artifact sizes")
    built = artifacts.measure_artifacts()
    results["artifacts"] = {
        "archives": [a.as_json() for a in built],
        "per_function": artifacts.per_function(built),
    }

    _progress("6/6 cost")
    config = cost.stack_function_config(REPO, arguments.stack)
    by_operation = {c.operation: c for c in counts}
    by_warm = {w.operation: w for w in warm_rows}
    request, verify = by_operation["request-token (sms)"], by_operation["verify-token (right code)"]
    parts = cost.sms_parts_by_language(config)
    request_ms = by_warm["request-token (sms)"].handler_p50_ms
    verify_ms = by_warm["verify-token (right code)"].handler_p50_ms
    off_path_cost = cost.OffPath(
        invocations=off_path.invocations,
        billed_ms=off_path.billed_ms,
        write_units=off_path.write_units,
        log_bytes=off_path.log_bytes,
        sns_publishes=off_path.sns_publishes,
    )
    results["cost"] = {
        "function_config": {
            "stack": config.stack,
            "memory_mb": config.memory_mb,
            "architecture": config.architecture,
        },
        "request_ms": request_ms,
        "verify_ms": verify_ms,
        "billed_ms_per_pair": -(-request_ms // 1) + -(-verify_ms // 1),
        "write_units_per_pair": request.write_request_units + verify.write_request_units,
        "log_bytes_per_pair": request.log_bytes + verify.log_bytes,
        "off_path": off_path.as_json(),
        "sms_parts_by_language": parts,
        "pairs": [
            row.as_json()
            for row in cost.pair_costs(
                config,
                request_ms,
                verify_ms,
                request.write_request_units + verify.write_request_units,
                request.log_bytes + verify.log_bytes,
                parts["en"]["parts"],
                off_path_cost,
            )
        ],
        "prices": prices.all_prices(),
        "prices_looked_up": prices.LOOKED_UP,
    }
    results["machine"]["load_after"] = _load()
    results["elapsed_seconds"] = round(time.perf_counter() - started, 1)
    results["notes"] = notes(results)
    return results


def notes(results: dict[str, Any]) -> list[str]:
    """The closing notes: every missed target, by how much, why, and what would close it."""
    from otp_service.local.functions import EMULATOR_DATA_CONFIG, MAX_CONCURRENT_INVOCATIONS

    read_timeout = EMULATOR_DATA_CONFIG.read_timeout
    out = []
    for cold in results["cold_start"]["handlers"]:
        if cold["meets_target"]:
            continue
        profile = results["cold_start"]["import_profile"][cold["handler"]]
        heavy = ", ".join(
            f"{name} {ms:.0f} ms"
            for name, ms in sorted(profile.items(), key=lambda kv: -kv[1])
            if name != "total" and ms > 0
        )
        over_ms = cold["handler_median_ms"] - cold["target"] * cold["baseline_median_ms"]
        out.append(
            f"Cold start of {cold['handler']} misses {cold['target']}x: {cold['ratio']:.2f}x, "
            f"{over_ms:.0f} ms over the {cold['target'] * cold['baseline_median_ms']:.0f} ms "
            f"budget. Its import on top of boto3 ({profile['total']:.0f} ms in the profile run) "
            f"goes to: {heavy}."
        )
    for warm in results["warm"]["operations"]:
        if not warm["meets_target"]:
            out.append(
                f"Warm {warm['operation']} misses {warm['target_p50_ratio']}x at p50: "
                f"{warm['p50_ratio']:.2f}x ({warm['handler_p50_ms'] - warm['bare_p50_ms']:.2f} ms "
                "of handler work per call)."
            )
    for cold in results["cold_start"].get("first_request", []):
        if not cold["meets_target"]:
            extra_ms = cold["handler_median_ms"] - cold["baseline_median_ms"]
            out.append(
                f"Cold start to the first answer of {cold['handler']} misses {cold['target']}x: "
                f"{cold['ratio']:.2f}x ({extra_ms:.0f} ms of imports, validation and handler work "
                "over the same AWS calls from bare boto3; the import profile says where)."
            )
    growth = results["load"].get("growth")
    if growth and not growth["meets_target"]:
        out.append(
            f"request-token's p50 grew {growth['ratio']:.2f}x from {growth['sizes'][0]:,} to "
            f"{growth['sizes'][-1]:,} users (target {growth['target']}x): {growth['p50_ms']} ms."
        )
    for load in results["load"]["runs"]:
        if load["clients"] == 16 and not load["meets_flows_target"]:
            cpu_ms = load.get("server_cpu_ms_per_flow") or 0.0
            out.append(
                f"otp-local with 16 clients completed {load['flows_per_second']} request+verify "
                f"pairs/s (target {load['target_flows_per_second']:.0f}): one Python process "
                "runs the HTTP API, the handlers, the events function and moto, whose Python "
                "code shares one core; it spent "
                f"{cpu_ms} ms of CPU per pair, so even a whole free core would serve at most "
                f"{1000 / cpu_ms if cpu_ms else 0:.0f} pairs/s (at most "
                f"{MAX_CONCURRENT_INVOCATIONS} invocations run at once)."
            )
        if load["meets_zero_errors"]:
            continue
        out.append(
            f"otp-local with {load['clients']} clients answered {load['errors']} flows wrongly; "
            f"first 5: {load['error_samples']}."
        )
        if any("503" in e or "/verify-token: 400" in e for e in load["error_samples"]):
            out.append(
                f"With {load['clients']} clients the server's p99 was {load['p99_ms']} ms: "
                f"otp-local runs at most {MAX_CONCURRENT_INVOCATIONS} invocations at once and "
                "queues the rest; a handler call to the emulator that still outlasts the local "
                f"{read_timeout:.0f} s read timeout answers 503 service_unavailable (a "
                "verify whose first attempt landed retries into invalid_code)."
            )
        if any("/request-token: 429" in e for e in load["error_samples"]):
            out.append(
                "A 429 to a user's first request-token fits a TransactWriteItems that the emulator "
                f"applied but answered after the {read_timeout:.0f} s read timeout, so "
                "botocore's retry met the cooldown the first attempt set: the retry's "
                "ClientRequestToken did not make it idempotent."
            )
    for count in results["aws_calls"]["operations"]:
        if not count["meets_floor"]:
            out.append(
                f"{count['operation']} makes {len(count['calls'])} AWS calls, "
                f"{len(count['calls']) - count['floor']} above its floor of {count['floor']} "
                f"({count['floor_why']}): {count['calls']}."
            )
        if count["meets_target"] is False:
            out.append(
                f"{count['operation']} misses the issue's cap of {count['target_calls']} calls "
                f"with at most {count['target_dynamodb']} DynamoDB round trip(s): it makes "
                f"{len(count['calls'])} calls, {count['dynamodb_round_trips']} to DynamoDB."
            )
    calls_by_operation = {c["operation"]: c["calls"] for c in results["aws_calls"]["operations"]}
    for warm in results["warm"]["operations"]:
        if sorted(calls_by_operation.get(warm["operation"], [])) != sorted(warm["bare_calls"]):
            out.append(
                f"The warm baseline of {warm['operation']} ({warm['bare_calls']}) no longer "
                f"matches what the handler calls ({calls_by_operation.get(warm['operation'])}): "
                "update bench/warm.py, the ratio compares unlike work."
            )
    return out


def main() -> int:
    """Run, write both result files, print the markdown."""
    arguments = _parser().parse_args()
    results = run(arguments)
    from .report import render

    arguments.output.mkdir(parents=True, exist_ok=True)
    (arguments.output / "latest.json").write_text(json.dumps(results, indent=2) + "\n")
    markdown = render(results)
    (arguments.output / "latest.md").write_text(markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Render the results (the JSON document) as the markdown in `bench/results/latest.md`."""

from __future__ import annotations

from typing import Any


def _kib(n: int) -> str:
    return f"{n / 1024:.1f} KiB"


def _status(ok: bool | None) -> str:
    return "n/a" if ok is None else ("met" if ok else "**missed**")


def _by(measured: float, target: float) -> str:
    return f"{(measured / target - 1) * 100:+.0f}% vs target"


def summary_rows(results: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """One row per figure the issue sets a target for: item, measure, result, target, status."""
    rows = []
    for count in results["aws_calls"]["operations"]:
        target = f"floor {count['floor']}"
        status = f"floor {_status(count['meets_floor'])}"
        if count["target_calls"] is not None:
            target += f"; issue: <= {count['target_calls']} calls, "
            target += f"<= {count['target_dynamodb']} DynamoDB"
            status += f"; issue {_status(count['meets_target'])}"
        rows.append(
            (
                "1",
                f"AWS calls: {count['operation']}",
                f"{len(count['calls'])} ({', '.join(count['calls'])})",
                target,
                status,
            )
        )
    for cold in results["cold_start"]["handlers"]:
        status = _status(cold["meets_target"])
        if not cold["meets_target"]:
            status += f" ({_by(cold['ratio'], cold['target'])})"
        rows.append(
            (
                "2",
                f"cold start: {cold['handler']} (median of {cold['runs']})",
                f"{cold['ratio']:.2f}x ({cold['handler_median_ms']:.0f} / "
                f"{cold['baseline_median_ms']:.0f} ms)",
                f"<= {cold['target']}x",
                status,
            )
        )
        if "restored_median_ms" in cold:
            restored_ok = cold["restored_ratio"] <= cold["target"]
            rows.append(
                (
                    "2",
                    f"cold start after a SnapStart restore: {cold['handler']} (first request's "
                    "own work; Lambda's restore not included)",
                    f"{cold['restored_ratio']:.2f}x ({cold['restored_median_ms']:.0f} / "
                    f"{cold['baseline_median_ms']:.0f} ms)",
                    f"<= {cold['target']}x",
                    _status(restored_ok),
                )
            )
    for cold in results["cold_start"].get("first_request", []):
        status = _status(cold["meets_target"])
        if not cold["meets_target"]:
            status += f" ({_by(cold['ratio'], cold['target'])})"
        rows.append(
            (
                "2",
                f"cold start to the first answer: {cold['handler']} (median of {cold['runs']})",
                f"{cold['ratio']:.2f}x ({cold['handler_median_ms']:.0f} / "
                f"{cold['baseline_median_ms']:.0f} ms; {', '.join(cold['calls'])})",
                f"<= {cold['target']}x",
                status,
            )
        )
    for warm in results["warm"]["operations"]:
        status = _status(warm["meets_target"])
        if not warm["meets_target"]:
            status += f" ({_by(warm['p50_ratio'], warm['target_p50_ratio'])})"
        rows.append(
            (
                "3",
                f"warm p50: {warm['operation']}",
                f"{warm['p50_ratio']:.2f}x ({warm['handler_p50_ms']:.2f} / "
                f"{warm['bare_p50_ms']:.2f} ms); p99 {warm['p99_ratio']:.2f}x",
                f"<= {warm['target_p50_ratio']}x at p50",
                status,
            )
        )
    for load in results["load"]["runs"]:
        gated = load["clients"] == 16
        rows.append(
            (
                "4",
                f"otp-local: {load['clients']} clients x {load['seconds']:.0f} s, request+verify",
                f"{load['flows_per_second']} pairs/s ({load['rps']} req/s), p50 "
                f"{load['p50_ms']} ms, p99 {load['p99_ms']} ms, {load['errors']} errors; "
                f"server CPU {load.get('server_cpu_ms_per_flow', '?')} ms per pair",
                f">= {load['target_flows_per_second']:.0f} pairs/s, 0 errors"
                if gated
                else "0 errors",
                _status(load["meets_zero_errors"] and (load["meets_flows_target"] or not gated)),
            )
        )
    growth = results["load"].get("growth")
    if growth:
        small, large = growth["sizes"][0], growth["sizes"][-1]
        rows.append(
            (
                "4",
                f"otp-local: request-token p50 at {large:,} users over {small:,} users",
                f"{growth['ratio']:.2f}x ({growth['p50_ms'][-1]} / {growth['p50_ms'][0]} ms, "
                f"{growth['items'][-1]:,} items)",
                f"<= {growth['target']}x",
                _status(growth["meets_target"]),
            )
        )
    if "skipped" in results["load"]:
        skipped = results["load"]["skipped"]
        rows.append(("4", "otp-local under load", f"not run: {skipped}", "0 errors", "n/a"))
    for artifact in results["artifacts"]["archives"]:
        target = artifact["target_bytes"]
        rows.append(
            (
                "5",
                f"size: {artifact['name']}",
                f"{_kib(artifact['zipped_bytes'])} zipped, {_kib(artifact['unzipped_bytes'])} "
                "unzipped",
                f"< {_kib(target)} zipped" if target else "-",
                _status(artifact["meets_target"]),
            )
        )
    cost = results["cost"]
    for row in cost["pairs"]:
        rows.append(
            (
                "6",
                f"cost per 1M request+verify pairs, {row['scenario']}",
                f"${row['total']:,.2f}",
                "-",
                "n/a",
            )
        )
    return rows


def render(results: dict[str, Any]) -> str:
    """The whole markdown document."""
    machine = results["machine"]
    lines = [
        "# OTP service benchmarks",
        "",
        f"Run {results['date']} (UTC) on {machine['platform']}, Python {machine['python']}, "
        f"{machine['cpus']} CPUs; load average {machine['load_before']} before, "
        f"{machine['load_after']} after (other test suites share this machine). "
        f"Commit {machine['commit']}{' + uncommitted changes' if machine['dirty'] else ''}. "
        f"Command: `{results['command']}`, {results['elapsed_seconds']:.0f} s.",
        "",
        "| # | Measure | Result | Target | Status |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [f"| {' | '.join(row)} |" for row in summary_rows(results)]
    lines += ["", *_details(results), ""]
    return "\n".join(lines)


def _details(results: dict[str, Any]) -> list[str]:
    calls = results["aws_calls"]
    cold = results["cold_start"]
    warm = results["warm"]
    cost = results["cost"]
    config = cost["function_config"]
    out = [
        "## Details",
        "",
        "**1. AWS calls** (botocore `before-call`; `before-send` counted "
        f"{sum(c['http_attempts'] for c in calls['operations'])} HTTP attempts for "
        f"{sum(len(c['calls']) for c in calls['operations'])} calls, i.e. no retries). "
        "Write units and log bytes per operation feed item 6.",
        "",
        "| Operation | Status | Calls | DynamoDB round trips | WRU | Log bytes | Floor: why |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    out += [
        f"| {c['operation']} | {c['status']} | {len(c['calls'])} | {c['dynamodb_round_trips']} | "
        f"{c['write_request_units']} | {c['log_bytes']} | {c['floor']}: {c['floor_why']} |"
        for c in calls["operations"]
    ]
    off = calls["off_path"]
    out += [
        "",
        f"Off the request path, one SMS pair (request-token, both receipt halves, right-code "
        f"verify-token) at low traffic, one stream batch per write round trip: the events "
        f"function takes {off['events']['records']} stream records in "
        f"{off['events']['invocations']} invocations ({off['events']['billed_ms']} billed ms), "
        f"publishes {off['sns_publishes']} lifecycle events and writes "
        f"{off['events']['write_units']} WRU (Fraud Guard's counters and the outcome); the "
        f"receipts function writes {off['receipts']['write_units']} WRU in "
        f"{off['receipts']['invocations']} invocations ({off['receipts']['billed_ms']} billed "
        "ms). Item 6 adds them to the pair.",
    ]
    out += [
        "",
        "**2. Cold start**: fresh interpreter, import + settings + the handler's clients, over "
        "import boto3 + the same clients; medians of interleaved runs. Where the handler's import "
        "time goes, once boto3 is loaded (`python -X importtime`, one run, ms):",
        "",
        "| Handler | " + " | ".join(cold["import_profile_columns"]) + " |",
        "| --- |" + " --- |" * len(cold["import_profile_columns"]),
    ]
    for handler, profile in cold["import_profile"].items():
        out.append(
            f"| {handler} | "
            + " | ".join(str(profile[c]) for c in cold["import_profile_columns"])
            + " |"
        )
    out += [
        "",
        f"**3. Warm**: {warm['operations'][0]['iterations']} interleaved samples per operation "
        "after a warm-up, against moto in-process, table emptied between samples.",
        "",
        "| Operation | Handler p50 / p99 ms | Bare boto3 p50 / p99 ms | Bare calls |",
        "| --- | --- | --- | --- |",
    ]
    out += [
        f"| {w['operation']} | {w['handler_p50_ms']} / {w['handler_p99_ms']} | "
        f"{w['bare_p50_ms']} / {w['bare_p99_ms']} | {', '.join(w['bare_calls'])} |"
        for w in warm["operations"]
    ]
    for load in results["load"]["runs"]:
        routes = "; ".join(
            f"{route} p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms ({r['requests']:.0f})"
            for route, r in load["by_route"].items()
        )
        out += [
            "",
            f"**4. otp-local, {load['clients']} clients**: {load['flows']} request+verify flows "
            f"({load['flows_per_second']}/s), "
            f"{load['requests']} requests; {routes}. Throughput over the first and last "
            f"{load['window_seconds']:.0f} s: {load['rps_first_window']} and "
            f"{load['rps_last_window']} req/s. Overrides: {load['overrides'] or 'none'}. "
            f"Server exit code after SIGINT: {load['server_exit_code']}. otp-local's CPU time "
            f"per pair: {load.get('server_cpu_ms_per_flow', '?')} ms (one interpreter: at most "
            "1000 over that many pairs/s on a whole free core)."
            + (f" Errors (first 5): {load['error_samples']}" if load["errors"] else ""),
        ]
    sms = cost["sms_parts_by_language"]
    out += [
        "",
        f"**5. Artifacts**: one code archive serves all three functions "
        f"({', '.join(a['function'] for a in results['artifacts']['per_function'])}), with the "
        "dependency layer and AWS's public Powertools layer (not measured here).",
        "",
        f"**6. Cost** for stack `{config['stack']}`: {config['memory_mb']} MB, "
        f"{config['architecture']}; billed duration per pair "
        f"{cost['billed_ms_per_pair']} ms (warm handler p50s of item 3, rounded up per "
        f"invocation) + {cost['off_path']['billed_ms']} ms off the path; "
        f"{cost['write_units_per_pair']} + {cost['off_path']['write_units']} WRU, "
        f"{cost['log_bytes_per_pair']} + {cost['off_path']['log_bytes']} log bytes, "
        f"2 + {cost['off_path']['invocations']} Lambda requests and "
        f"{cost['off_path']['sns_publishes']} event publishes per pair (request path + off it, "
        "item 1); SMS parts per language: "
        + ", ".join(f"{lang} {p['parts']} ({p['encoding']})" for lang, p in sms.items())
        + ".",
        "",
        "| Scenario | API Gateway | Lambda requests | Lambda duration | DynamoDB | Logs | "
        "Event publishes | Delivery | Total |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    out += [
        f"| {r['scenario']} | {r['api_gateway']} | {r['lambda_requests']} | "
        f"{r['lambda_duration']} | {r['dynamodb_writes']} | {r['cloudwatch_logs']} | "
        f"{r['event_publishes']} | {r['delivery']} | **{r['total']:,.2f}** |"
        for r in cost["pairs"]
    ]
    out += ["", "Prices (US East, looked up " + cost["prices_looked_up"] + "):", ""]
    out += [
        f"- {name}: ${p['usd']:.10g} {p['unit']}. Source: {p['source']}."
        + (f" {p['note']}." if p["note"] else "")
        for name, p in cost["prices"].items()
    ]
    out += ["", "## Notes", ""]
    out += [f"- {note}" for note in results["notes"]]
    return out

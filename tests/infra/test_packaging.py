"""The Lambda code archive and the dependency layer, built for real."""

from __future__ import annotations

import ast
import re
import shutil
import sys
import zipfile
from collections.abc import Iterable
from importlib.metadata import distribution, packages_distributions
from pathlib import Path

import pulumi
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from otp_service.components.packaging import (
    HANDLER_RUNTIME_DISTRIBUTIONS,
    LAMBDA_RUNTIME,
    LAYER_REQUIREMENTS,
    archive_names,
    build_code_archive,
    build_dependency_layer,
    handlers_source_directory,
)
from tests.support.pulumi_mocks import PROJECT_ROOT, Recording, RunProgram, pulumi_test

LAYER_CACHE = PROJECT_ROOT / "build" / "otp-service"


def test_code_archive_holds_exactly_the_handler_sources(tmp_path: Path) -> None:
    source = handlers_source_directory()
    names = archive_names(build_code_archive(tmp_path))
    expected = sorted(f"handlers/{path.name}" for path in source.glob("*.py"))
    assert names == expected
    assert {
        "handlers/request_token.py",
        "handlers/verify_token.py",
        "handlers/cancel_token.py",
    } <= set(names)


def test_code_archive_leaves_out_tests_caches_and_non_python_files(tmp_path: Path) -> None:
    source = tmp_path / "handlers"
    shutil.copytree(handlers_source_directory(), source)
    (source / "__pycache__").mkdir(exist_ok=True)
    (source / "__pycache__" / "service.cpython-312.pyc").write_bytes(b"\0")
    (source / "tests").mkdir()
    (source / "tests" / "test_service.py").write_text("assert True\n")
    (source / "test_stray.py").write_text("assert True\n")
    (source / "conftest.py").write_text("\n")
    (source / "notes.md").write_text("notes\n")
    names = archive_names(build_code_archive(tmp_path / "build", source))
    assert "handlers/request_token.py" in names
    assert [n for n in names if "test" in n or "cache" in n or not n.endswith(".py")] == []


def test_code_archive_is_byte_for_byte_reproducible(tmp_path: Path) -> None:
    first = build_code_archive(tmp_path / "one").read_bytes()
    second = build_code_archive(tmp_path / "two").read_bytes()
    assert first == second


def test_dependency_layer_holds_the_pinned_packages_under_python(tmp_path: Path) -> None:
    names = archive_names(build_dependency_layer(LAYER_CACHE))
    top_level = {name.split("/")[1] for name in names}
    assert {
        "phonenumbers",
        "email_validator",
        "dns",
        "idna",
        "pydantic",
        "pydantic_core",
        "aws_lambda_powertools",
    } <= top_level
    assert all(name.startswith("python/") for name in names)
    assert not [n for n in names if n.startswith("python/bin/") or n.endswith(".pyc")]
    assert not top_level & {"boto3", "botocore", "handlers"}
    assert not [n for n in names if n.endswith("/RECORD")]
    # pydantic-core is compiled: the layer must hold the Lambda platform's build of it.
    assert [n for n in names if "_pydantic_core.cpython-312-aarch64-linux-gnu.so" in n], names


def _lock_pins() -> dict[str, str]:
    pins: dict[str, str] = {}
    for line in (PROJECT_ROOT / "requirements.lock").read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.-]+)==([^ ;\\]+)", line)
        if match:
            pins[canonicalize_name(match[1])] = match[2]
    return pins


def _runtime_closure(roots: Iterable[str]) -> set[str]:
    """The distributions `roots` need on Lambda (python3.12, arm64), by installed metadata."""
    lambda_platform = {
        "extra": "",
        "python_version": LAMBDA_RUNTIME.removeprefix("python"),
        "python_full_version": LAMBDA_RUNTIME.removeprefix("python") + ".0",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "aarch64",
        "os_name": "posix",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
    }
    seen: set[str] = set()
    pending = list(roots)
    while pending:
        name = canonicalize_name(pending.pop())
        if name in seen:
            continue
        seen.add(name)
        for text in distribution(name).requires or []:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate(lambda_platform):
                pending.append(requirement.name)
    return seen


def test_dependency_layer_pins_exactly_what_requirements_lock_pins() -> None:
    """One lock drives the tests and the Lambda runtime: no library skew between them."""
    lock = _lock_pins()
    for requirement in LAYER_REQUIREMENTS:
        name, version = requirement.split("==")
        assert lock[canonicalize_name(name)] == version, requirement


def test_dependency_layer_holds_the_whole_runtime_closure_and_nothing_else() -> None:
    layer = {canonicalize_name(r.split("==")[0]) for r in LAYER_REQUIREMENTS}
    needed = _runtime_closure(HANDLER_RUNTIME_DISTRIBUTIONS) - _runtime_closure(["boto3"])
    assert layer == needed


def test_handlers_import_only_the_layer_the_sdk_and_the_standard_library() -> None:
    """At run time: imports under `if TYPE_CHECKING:` (type stubs) never run on Lambda."""
    provided = {canonicalize_name(d) for d in (*HANDLER_RUNTIME_DISTRIBUTIONS, "boto3", "botocore")}
    by_module = packages_distributions()
    for path in handlers_source_directory().glob("*.py"):
        tree = ast.parse(path.read_text())
        type_checking_only = {
            id(inner)
            for block in ast.walk(tree)
            if isinstance(block, ast.If) and ast.unparse(block.test).endswith("TYPE_CHECKING")
            for statement in block.body
            for inner in ast.walk(statement)
        }
        for node in ast.walk(tree):
            if id(node) in type_checking_only:
                continue
            modules = []
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            for module in modules:
                top = module.split(".")[0]
                if top in sys.stdlib_module_names or top == "__future__":
                    continue
                distributions = {canonicalize_name(d) for d in by_module.get(top, [])}
                assert distributions & provided, f"{path.name} imports {module}"


def test_dependency_layer_is_reused_when_its_recipe_is_unchanged() -> None:
    first = build_dependency_layer(LAYER_CACHE)
    modified = first.stat().st_mtime_ns
    assert build_dependency_layer(LAYER_CACHE) == first
    assert first.stat().st_mtime_ns == modified


@pulumi_test
def test_functions_ship_the_code_archive_and_not_the_dependencies(
    run_stack: RunProgram,
) -> pulumi.Output[None]:
    def check(recording: Recording) -> None:
        archives = {
            function.inputs["code"].path
            for function in recording.of_type("aws:lambda/function:Function")
        }
        assert len(archives) == 1
        code = Path(archives.pop())
        with zipfile.ZipFile(code) as opened:
            names = opened.namelist()
            assert "handlers/request_token.py" in names
            assert not [n for n in names if not n.startswith("handlers/")]
        layer = Path(recording.one("aws:lambda/layerVersion:LayerVersion").inputs["code"].path)
        assert any(name.startswith("python/phonenumbers/") for name in archive_names(layer))

    return run_stack("dev").settled().apply(check)

"""The Lambda code archive and the dependency layer, built for real."""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pulumi

from otp_service.components.packaging import (
    archive_names,
    build_code_archive,
    build_dependency_layer,
    handlers_source_directory,
)
from tests.infra.conftest import PROJECT_ROOT, Recording, RunProgram, pulumi_test

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
    assert {"phonenumbers", "email_validator", "dns", "idna"} <= top_level
    assert all(name.startswith("python/") for name in names)
    assert not [n for n in names if n.startswith("python/bin/") or n.endswith(".pyc")]
    assert not top_level & {"pydantic", "aws_lambda_powertools", "boto3", "botocore", "handlers"}
    assert not [n for n in names if n.endswith("/RECORD")]


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

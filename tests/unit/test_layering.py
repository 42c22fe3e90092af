"""privacy/, schemas/ and workers/analytics/ are pure libraries: they import nothing from the
web app, the database layer, the task queue or the application packages (DEVELOPERS.md); the
analytics may use their own modules, privacy and schemas. ruff's banned-api rule says
the same at lint time; this test also catches imports hidden inside functions."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PURE_PACKAGES = ("privacy", "schemas", "workers/analytics")
BANNED = ("flask", "flask_wtf", "sqlalchemy", "alembic", "celery", "kombu", "exchange", "workers")


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("package", PURE_PACKAGES)
def test_pure_package_imports_no_application_layers(package: str) -> None:
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package}/ has no modules"
    offences = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in files
        for line, name in _imports(path)
        if name.split(".")[0] in BANNED and not name.startswith("workers.analytics")
    ]
    assert offences == []


def test_layering_check_detects_banned_import(tmp_path: Path) -> None:
    module = tmp_path / "bad.py"
    module.write_text("def f():\n    from flask import Flask\n    return Flask\n")
    assert _imports(module) == [(2, "flask")]

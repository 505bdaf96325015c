"""The steps of the loop sit below the handler UI, never on it.

``web`` (pages and the API) imports every step; a step that imported ``web``
back would make the tree a cycle, so a change to the UI could break a worker.
Role checks, redirects and the admin bases live in ``takedown.access`` for
that reason.  This test reads each step's source (tests excepted) and fails
on an import of ``takedown.web``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import takedown

ROOT = Path(takedown.__file__).parent
BELOW_WEB = ("access", "cases", "intake", "lib", "locate", "monitor", "notices", "stats")


def _web_imports(path: Path, root: Path = ROOT) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        found += [
            f"{path.relative_to(root)}:{node.lineno}: {name}"
            for name in names
            if name == "takedown.web" or name.startswith("takedown.web.")
        ]
    return found


def test_it_finds_no_step_importing_the_web_layer() -> None:
    offenders = []
    for package in BELOW_WEB:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "tests" in path.relative_to(ROOT).parts:
                continue
            offenders += _web_imports(path)
    assert offenders == []


def test_it_would_catch_an_import_of_the_web_layer(tmp_path: Path) -> None:
    module = tmp_path / "probe.py"
    module.write_text(
        "import takedown.web\nfrom takedown.web.texts import ours\n", encoding="utf-8"
    )
    assert _web_imports(module, tmp_path) == [
        "probe.py:1: takedown.web",
        "probe.py:2: takedown.web.texts",
        "probe.py:2: takedown.web.texts.ours",
    ]

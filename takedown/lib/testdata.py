"""Where the shared, read-only test data lives (``../shared`` next to the repository).

Tests read real-world data from there and skip with a clear reason when it is
absent, so a clone without it still runs the rest of the suite.
"""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def shared_path(*parts: str) -> Path:
    return REPO_ROOT.parent.joinpath("shared", *parts)


def require_shared(*parts: str) -> Path:
    """Return the path, or skip the calling test when it is missing."""
    import pytest

    path = shared_path(*parts)
    if not path.exists():
        pytest.skip(f"shared test data not available: {path}")
    return path

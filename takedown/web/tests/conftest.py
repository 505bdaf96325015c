"""Fixtures for the web tests: a sandbox of a test's own."""

from takedown.sandbox.testing import sandbox_factory  # noqa: F401

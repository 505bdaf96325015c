"""Fixtures of the loop's tests: the sandbox, for the fault tests."""

from takedown.sandbox.testing import sandbox, sandbox_factory  # noqa: F401

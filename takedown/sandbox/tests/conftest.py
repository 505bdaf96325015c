from takedown.sandbox.testing import sandbox, sandbox_factory, sandbox_settings  # noqa: F401

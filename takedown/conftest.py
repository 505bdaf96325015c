"""Fixtures shared by every app's tests: named users, an API token, a logged-in client."""

from __future__ import annotations

import os
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client


@pytest.fixture(autouse=True, scope="session")
def _subprocesses_use_their_own_database() -> None:
    """Commands a test starts as subprocesses get SQLite in their own data dir.

    Settings have been read by now; without this, a PostgreSQL run (CI sets
    DATABASE_URL) would point every ``takedown`` subprocess at the shared
    server database instead of the test database or a throwaway file.
    """
    os.environ.pop("DATABASE_URL", None)


@pytest.fixture
def alice(db: Any) -> User:
    """A handler."""
    return User.objects.create_user("alice", "alice@example.org", "correct horse battery")


@pytest.fixture
def bob(db: Any) -> User:
    """Another handler, with no special rights."""
    return User.objects.create_user("bob", "bob@example.org", "staple battery horse")


@pytest.fixture
def alice_client(alice: User) -> Client:
    client = Client()
    client.force_login(alice)
    return client


@pytest.fixture
def alice_token(alice: User) -> str:
    from takedown.web.models import ApiToken

    _, token = ApiToken.issue(user=alice, name="test")
    return token

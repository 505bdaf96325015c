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


def user_with_role(username: str, password: str, role: str) -> User:
    """An account in the given role group (``takedown.web.roles``)."""
    from takedown.web.roles import Role, user_role_set

    user = User.objects.create_user(username, f"{username}@example.org", password)
    user_role_set(user=user, role=Role(role), actor="test")
    return user


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def token_for(user: User) -> str:
    from takedown.web.models import ApiToken

    _, token = ApiToken.issue(user=user, name="test")
    return token


@pytest.fixture
def alice(db: Any) -> User:
    """A handler."""
    return user_with_role("alice", "correct horse battery", "handler")


@pytest.fixture
def bob(db: Any) -> User:
    """A viewer: may read everything, act on nothing."""
    return user_with_role("bob", "staple battery horse", "viewer")


@pytest.fixture
def charlie(db: Any) -> User:
    """An admin (users, tokens, organisations' overrides), not a superuser."""
    return user_with_role("charlie", "battery staple correct", "admin")


@pytest.fixture
def alice_client(alice: User) -> Client:
    return logged_in(alice)


@pytest.fixture
def bob_client(bob: User) -> Client:
    return logged_in(bob)


@pytest.fixture
def charlie_client(charlie: User) -> Client:
    return logged_in(charlie)


@pytest.fixture
def alice_token(alice: User) -> str:
    return token_for(alice)


@pytest.fixture
def bob_token(bob: User) -> str:
    return token_for(bob)


@pytest.fixture
def charlie_token(charlie: User) -> str:
    return token_for(charlie)

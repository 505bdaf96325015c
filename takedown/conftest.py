"""Fixtures shared by every app's tests: named users, an API token, a logged-in client.

Also the two guards of issue 13 (tests that fail by chance): the SQLite test
database is a WAL file like production's, and a test that starts a thread or
a process must carry the ``concurrency`` marker, so that CI's second run of
those tests (``.ci/run``) really covers every test that can race.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client

# Session fixtures that several apps' tests share must be defined once, here: a
# fixture imported into two test modules is two fixtures, made twice.
from takedown.sandbox.testing import seed_cases_run  # noqa: F401


@pytest.fixture(autouse=True, scope="session")
def _subprocesses_use_their_own_database() -> None:
    """Commands a test starts as subprocesses get SQLite in their own data dir.

    Settings have been read by now; without this, a PostgreSQL run (CI sets
    DATABASE_URL) would point every ``takedown`` subprocess at the shared
    server database instead of the test database or a throwaway file.  Tests
    whose subprocesses must share the test's database (the fault tests) pass
    it explicitly: ``takedown.tests.service.test_database_url``.
    """
    os.environ.pop("DATABASE_URL", None)


def user_with_role(username: str, password: str, role: str) -> User:
    """An account in the given role group (``takedown.access.roles``)."""
    from takedown.access.roles import Role
    from takedown.web.services import user_role_set

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


# What the running test started: a description per thread or process.
_started: list[str] = []


def _record_starts() -> None:
    """Wrap Thread.start and Popen so the guard below sees what a test starts.

    Worker threads of a ThreadPoolExecutor (asyncio's default executor runs
    getaddrinfo there) are not counted: they only run our own code on our own
    data, not a second writer.
    """
    thread_start = threading.Thread.start
    popen_init = subprocess.Popen.__init__

    def start(self: threading.Thread) -> None:
        target = getattr(self, "_target", None)
        if getattr(target, "__module__", "") != "concurrent.futures.thread":
            _started.append(f"thread {self.name} ({getattr(target, '__qualname__', type(self))})")
        thread_start(self)

    def init(self: subprocess.Popen[Any], args: Any, *a: Any, **kw: Any) -> None:
        _started.append(f"process {args!r:.120}")
        popen_init(self, args, *a, **kw)

    threading.Thread.start = start  # type: ignore[method-assign]
    subprocess.Popen.__init__ = init  # type: ignore[method-assign]


def pytest_configure(config: pytest.Config) -> None:
    _record_starts()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--database-tests-only",
        action="store_true",
        help="run only the tests that open the database (CI's PostgreSQL pass)",
    )


# Fixtures through which a test reaches the database; pytest-django refuses
# every query of a test that has none of them and no django_db marker.
_DATABASE_FIXTURES = frozenset(
    {
        "db",
        "transactional_db",
        "django_db_reset_sequences",
        "django_db_serialized_rollback",
        "live_server",
    }
)


def uses_database(item: pytest.Item) -> bool:
    """Whether ``item`` may open the database (its marker, or a fixture it uses)."""
    if item.get_closest_marker("django_db") is not None:
        return True
    return bool(_DATABASE_FIXTURES.intersection(getattr(item, "fixturenames", ())))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """``--database-tests-only``: leave out the tests no database can change.

    CI's PostgreSQL pass exists for what differs between the databases (locks,
    ``SKIP LOCKED`` claims, transactions, SQL).  A test that never opens the
    database (a parser, the mail corpus, a subprocess with a database of its
    own) runs the same code on both, and running it again there was half of
    that pass's time: CI must stay under 30 minutes.
    """
    if not config.getoption("--database-tests-only"):
        return
    kept: list[pytest.Item] = []
    left_out: list[pytest.Item] = []
    for item in items:
        (kept if uses_database(item) else left_out).append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept


@pytest.fixture(autouse=True)
def _concurrency_tests_are_marked(request: pytest.FixtureRequest) -> Iterator[None]:
    """Fail a test that starts a thread or a process without the ``concurrency`` marker.

    Session-scoped fixtures (one sandbox for many tests) are set up before
    this fixture and are not counted: only what the test itself starts.
    """
    _started.clear()
    yield
    if _started and request.node.get_closest_marker("concurrency") is None:
        what = "; ".join(dict.fromkeys(_started))
        _started.clear()
        pytest.fail(
            f"this test starts {what}: mark it (or its module) "
            "with pytest.mark.concurrency so CI runs it twice (docs/testing.md)",
            pytrace=False,
        )


def _test_database_dir() -> Path:
    """A fresh directory for this run's test database, in memory-backed /dev/shm when there is one.

    tmpfs keeps the file database about as fast as the in-memory one it
    replaces; WAL works there (it needs shared memory, which tmpfs has).
    """
    shm = Path("/dev/shm")  # noqa: S108 - a private mkdtemp inside it, never a fixed name
    base = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix="takedown-test-db-", dir=base))


@pytest.fixture(scope="session")
def django_db_modify_db_settings(
    django_db_modify_db_settings_parallel_suffix: None,
) -> Iterator[None]:
    """Tests on SQLite use a WAL file database, as production does, not an in-memory one.

    Django's default SQLite test database is in memory with a shared cache,
    where a thread that writes holds a *table* lock that makes a concurrent
    reader fail at once with "database table is locked" (SQLITE_LOCKED, which
    no busy timeout waits for).  Listener, worker and sandbox threads write
    while tests read, so tests failed by chance.  A per-run file with the
    production pragmas (settings.py: WAL, busy_timeout, IMMEDIATE) behaves like
    a deployment: a reader reads a snapshot, a second writer waits.
    """
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.sqlite3":
        yield
        return
    directory = _test_database_dir()
    db.setdefault("TEST", {})["NAME"] = str(directory / "test.sqlite3")
    try:
        yield
    finally:
        shutil.rmtree(directory, ignore_errors=True)


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

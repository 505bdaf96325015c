"""The wait helper and the test database that concurrency tests rely on."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import OperationalError, connection

from takedown.lib.waiting import WaitTimeout, wait_until

pytestmark = pytest.mark.concurrency


class TestWaitUntil:
    def test_it_returns_the_first_true_value(self) -> None:
        values = iter([0, None, "", 7, 8])
        assert wait_until(lambda: next(values), timeout=5, interval=0) == 7

    def test_it_treats_a_busy_database_as_not_yet(self) -> None:
        calls: list[int] = []

        def busy_twice() -> bool:
            calls.append(1)
            if len(calls) < 3:
                raise OperationalError("database is locked")
            return True

        assert wait_until(busy_twice, timeout=5, interval=0) is True
        assert len(calls) == 3

    def test_it_names_what_it_waited_for_and_the_last_error(self) -> None:
        def always_busy() -> bool:
            raise OperationalError("database table is locked: notices_inboundmessage")

        with pytest.raises(WaitTimeout, match=r"the reply.*table is locked"):
            wait_until(always_busy, timeout=0.05, interval=0.01, what="the reply")

    def test_it_does_not_swallow_other_errors(self) -> None:
        def broken() -> bool:
            raise KeyError("a bug")

        with pytest.raises(KeyError):
            wait_until(broken, timeout=1)

    def test_it_runs_the_between_step_until_the_condition_holds(self) -> None:
        done = threading.Event()
        rounds: list[int] = []

        def step() -> None:
            rounds.append(1)
            if len(rounds) == 3:
                done.set()

        assert wait_until(done.is_set, timeout=5, interval=0, between=step)
        assert len(rounds) == 3


@pytest.mark.django_db
def test_it_runs_tests_on_a_wal_file_database() -> None:
    """Concurrency tests need production's kind of SQLite database (issue 13)."""
    if connection.vendor != "sqlite":
        pytest.skip("only SQLite has the in-memory test database problem")
    name = connection.settings_dict["NAME"]
    assert name and ":memory:" not in str(name) and "mode=memory" not in str(name)
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"


@pytest.mark.django_db(transaction=True)
def test_it_lets_a_reader_run_while_another_thread_writes(django_db_blocker: Any) -> None:
    """The failure of issue 13: a read beside an open write transaction must not fail."""
    from django.contrib.auth.models import Group
    from django.db import connections, transaction

    Group.objects.create(name="before")
    writing, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            with transaction.atomic():
                Group.objects.create(name="during")
                writing.set()
                release.wait(10)
        except BaseException as exc:  # reported to the test thread
            errors.append(exc)
            writing.set()
        finally:
            connections.close_all()

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert writing.wait(10)
        # The writer holds the write lock: this read sees the last committed snapshot.
        names = Group.objects.filter(name__in=["before", "during"]).values_list("name", flat=True)
        assert list(names) == ["before"]
    finally:
        release.set()
        thread.join(10)
    assert not errors
    assert wait_until(lambda: Group.objects.filter(name="during").exists(), timeout=10)

"""CI's PostgreSQL pass (``--database-tests-only``) keeps every test that can open the database."""

from __future__ import annotations

from typing import Any

import pytest

from takedown.conftest import uses_database


@pytest.mark.django_db
def test_it_keeps_a_test_marked_for_the_database(request: pytest.FixtureRequest) -> None:
    assert uses_database(request.node)


def test_it_keeps_a_test_that_takes_a_database_fixture(
    request: pytest.FixtureRequest, transactional_db: Any
) -> None:
    assert uses_database(request.node)


def test_it_keeps_a_test_whose_fixture_takes_the_database(
    request: pytest.FixtureRequest, alice: Any
) -> None:
    # ``alice`` asks for ``db``: a user made in a fixture is a database test.
    assert uses_database(request.node)


def test_it_leaves_out_a_test_that_cannot_open_the_database(request: pytest.FixtureRequest) -> None:
    assert not uses_database(request.node)
    # pytest-django refuses the query of a test with neither marker nor fixture.
    from django.contrib.auth.models import User

    with pytest.raises(RuntimeError, match="Database access not allowed"):
        User.objects.count()

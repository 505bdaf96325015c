"""A form's ``next`` field sends the user back only to a path on this site."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client, RequestFactory

from takedown.access.redirects import local_next
from takedown.intake.models import Reporter

HOSTILE = [
    "//evil.example/",
    "/\\evil.example/",
    "\\\\evil.example",
    "/\t/evil.example/",
    "https://evil.example/",
    "javascript:alert(1)",
    "evil.example",
    "",
]


@pytest.mark.parametrize("target", HOSTILE)
def test_it_refuses_a_next_that_leaves_the_site(target: str) -> None:
    request = RequestFactory().post("/x", {"next": target})
    assert local_next(request, "/default/") == "/default/"


@pytest.mark.parametrize("target", ["/sites/3/", "/queue/?reason=revival&page=2"])
def test_it_follows_a_next_on_this_site(target: str) -> None:
    request = RequestFactory().post("/x", {"next": target})
    assert local_next(request, "/default/") == target


@pytest.mark.django_db
@pytest.mark.parametrize("target", ["/\\evil.example/", "/reporters/"])
def test_the_reporter_form_goes_back_only_to_a_local_page(target: str) -> None:
    user = User.objects.create_user("hana", password="hana password 123")
    user.groups.add(Group.objects.get_or_create(name="handler")[0])
    reporter = Reporter.objects.create(name="Someone", email="someone@unknown.example")
    client = Client()
    client.force_login(user)
    response = client.post(
        f"/reporters/{reporter.pk}/",
        {
            "kind": "csirt",
            "country": "JP",
            "language": "ja",
            "notify_ack": "on",
            "next": target,
        },
    )
    assert response.status_code == 302
    expected = target if target == "/reporters/" else f"/reporters/{reporter.pk}/"
    assert response["Location"] == expected

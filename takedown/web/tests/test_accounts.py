"""Users and API tokens managed in the UI by admins; login throttling."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth.models import User
from django.test import Client, override_settings

from takedown.access.roles import Role, user_role
from takedown.cases.models import Event
from takedown.web.models import ApiToken, hash_token

pytestmark = pytest.mark.django_db


def test_an_admin_creates_a_user_with_a_role(charlie_client: Client) -> None:
    r = charlie_client.post(
        "/users/",
        {"username": "dave", "email": "dave@example.org", "role": "handler", "password": ""},
    )
    assert r.status_code == 302
    dave = User.objects.get(username="dave")
    assert user_role(dave) is Role.HANDLER and not dave.has_usable_password()
    kinds = list(Event.objects.filter(actor="charlie").values_list("kind", flat=True))
    assert kinds == ["user.created", "user.role"]
    page = charlie_client.get("/users/").content.decode()
    assert "dave" in page


def test_it_refuses_a_taken_name_and_a_weak_password(charlie_client: Client, bob: User) -> None:
    r = charlie_client.post("/users/", {"username": "BOB", "role": "viewer"})
    assert r.status_code == 200 and "taken" in r.content.decode()
    r = charlie_client.post("/users/", {"username": "eve", "role": "viewer", "password": "123"})
    assert r.status_code == 200 and not User.objects.filter(username="eve").exists()


def test_an_admin_changes_a_role_and_disables_an_account(charlie_client: Client, bob: User) -> None:
    charlie_client.post(f"/users/{bob.pk}/", {"action": "role", "role": "handler"})
    assert user_role(User.objects.get(pk=bob.pk)) is Role.HANDLER
    _, token = ApiToken.issue(user=bob, name="x")
    api = Client(headers={"Authorization": f"Bearer {token}"})
    assert api.get("/api/sites").status_code == 200
    charlie_client.post(f"/users/{bob.pk}/", {"action": "deactivate"})
    assert not User.objects.get(pk=bob.pk).is_active
    assert api.get("/api/sites").status_code == 401
    assert Event.objects.filter(kind="user.deactivated", data__user="bob").exists()


def test_an_admin_cannot_demote_or_disable_themselves(
    charlie_client: Client, charlie: User
) -> None:
    charlie_client.post(f"/users/{charlie.pk}/", {"action": "role", "role": "viewer"})
    charlie_client.post(f"/users/{charlie.pk}/", {"action": "deactivate"})
    charlie = User.objects.get(pk=charlie.pk)
    assert charlie.is_active and user_role(charlie) is Role.ADMIN


def test_a_token_secret_is_shown_once_and_only_its_hash_kept(
    charlie_client: Client, alice: User
) -> None:
    r = charlie_client.post(
        f"/users/{alice.pk}/", {"action": "token", "name": "SOAR", "limit": "viewer"}
    )
    assert r.status_code == 200 and r["Cache-Control"] == "no-store"
    match = re.search(r"tkd_[A-Za-z0-9_-]{20,}", r.content.decode())
    assert match
    secret = match.group(0)
    token = ApiToken.objects.get(user=alice, name="SOAR")
    assert token.token_hash == hash_token(secret) and token.role == "viewer"
    # Never again: not on the user's page, not in the messages cookie.
    page = charlie_client.get(f"/users/{alice.pk}/").content.decode()
    assert secret not in page and token.prefix in page
    assert secret not in str(charlie_client.cookies)
    api = Client(headers={"Authorization": f"Bearer {secret}"})
    assert api.get("/api/sites").status_code == 200
    body = '{"urls": ["http://a.example/"]}'
    assert api.post("/api/reports", data=body, content_type="application/json").status_code == 403


def test_a_revoked_token_stops_working(charlie_client: Client, alice: User) -> None:
    token, secret = ApiToken.issue(user=alice, name="old")
    api = Client(headers={"Authorization": f"Bearer {secret}"})
    assert api.get("/api/sites").status_code == 200
    assert charlie_client.post(f"/tokens/{token.pk}/revoke").status_code == 302
    assert api.get("/api/sites").status_code == 401
    token.refresh_from_db()
    assert token.revoked is not None
    event = Event.objects.get(kind="token.revoked")
    assert (event.actor, event.data["token"], event.data["user"]) == (
        "charlie",
        token.prefix,
        "alice",
    )


def test_an_admin_sets_a_password_through_the_service(charlie_client: Client, bob: User) -> None:
    r = charlie_client.post(
        f"/users/{bob.pk}/",
        {
            "action": "password",
            "new_password1": "a new long pass 42",
            "new_password2": "a new long pass 42",
        },
    )
    assert r.status_code == 302
    assert User.objects.get(pk=bob.pk).check_password("a new long pass 42")
    assert Event.objects.filter(kind="user.password", actor="charlie", data__user="bob").exists()


def test_only_admins_reach_the_users_pages(alice_client: Client, alice: User) -> None:
    assert alice_client.get("/users/").status_code == 403
    assert alice_client.get(f"/users/{alice.pk}/").status_code == 403
    assert b'href="/users/"' not in alice_client.get("/").content


def test_hostile_user_and_token_names_render_inert(charlie_client: Client, alice: User) -> None:
    ApiToken.issue(user=alice, name='<script>alert("t")</script>')
    page = charlie_client.get(f"/users/{alice.pk}/").content.decode()
    assert "<script>alert" not in page and "&lt;script&gt;" in page


def _login(client: Client, password: str) -> int:
    return client.post("/login/", {"username": "alice", "password": password}).status_code


@override_settings(AXES_FAILURE_LIMIT=3)
def test_it_locks_out_a_user_name_after_failed_logins(alice: User) -> None:
    client = Client()
    assert [_login(client, "wrong") for _ in range(2)] == [200, 200]
    assert _login(client, "wrong") == 429
    # Locked: even the right password is refused until the cool-off or a reset.
    r = client.post("/login/", {"username": "alice", "password": "correct horse battery"})
    assert r.status_code == 429 and "_auth_user_id" not in client.session
    assert "Too many failed logins" in r.content.decode()
    # Another user name from the same address is not locked.
    User.objects.create_user("dave", "", "another good pass")
    r = client.post("/login/", {"username": "dave", "password": "another good pass"})
    assert r.status_code == 302


@override_settings(AXES_FAILURE_LIMIT=3)
def test_a_good_login_resets_the_count(alice: User) -> None:
    client = Client()
    assert _login(client, "wrong") == 200
    assert _login(client, "wrong") == 200
    assert _login(client, "correct horse battery") == 302
    client = Client()
    assert [_login(client, "wrong") for _ in range(2)] == [200, 200]


@override_settings(AXES_FAILURE_LIMIT=2)
def test_an_admin_setting_a_password_lifts_the_lockout(charlie_client: Client, alice: User) -> None:
    client = Client()
    _login(client, "wrong")
    assert _login(client, "wrong") == 429
    charlie_client.post(
        f"/users/{alice.pk}/",
        {
            "action": "password",
            "new_password1": "fresh long pass 77",
            "new_password2": "fresh long pass 77",
        },
    )
    assert _login(client, "fresh long pass 77") == 302


@override_settings(AXES_FAILURE_LIMIT=2, LANGUAGE_CODE="ja")
def test_the_lockout_page_is_in_japanese(alice: User) -> None:
    client = Client(headers={"Accept-Language": "ja"})
    _login(client, "wrong")
    r = client.post("/login/", {"username": "alice", "password": "wrong"})
    assert r.status_code == 429
    assert "ログイン" in r.content.decode()

"""Roles, checked over the whole URL conf and every API operation.

The tables are built from ``takedown.urls`` and the API's routers at test time,
so a view or an endpoint added without a role check fails here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from takedown.access.roles import Role, role_of, user_role
from takedown.cases.models import Event, EventKind
from takedown.conftest import logged_in, token_for, user_with_role
from takedown.locate.models import Organization
from takedown.notices.models import BadAddress
from takedown.web.models import ApiToken
from takedown.web.services import user_role_set

pytestmark = pytest.mark.django_db

# Patterns that need no role: the way in and out, and the language switch.
# The Django admin and the API are checked by their own tests below.
OPEN = {"login", "logout", "set_language"}
SEPARATE = {"admin", "api"}
CONVERTER = re.compile(r"<(?:(\w+):)?(\w+)>")
SAMPLE = {"int": "1", "slug": "x", "str": "x", "path": "x"}


def _patterns(
    patterns: list[Any], prefix: str = "", ns: str | None = None
) -> Iterator[tuple[str, Any, str | None, str | None]]:
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _patterns(p.url_patterns, prefix + str(p.pattern), p.namespace or ns)
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p.callback, ns, p.name


def _url(pattern: str) -> str:
    return "/" + CONVERTER.sub(lambda m: SAMPLE[m.group(1) or "str"], pattern)


def view_table() -> list[tuple[str, Role, Role]]:
    """(url, role to read, role to write) for every view of the handler UI."""
    rows = []
    for pattern, callback, ns, name in _patterns(get_resolver().url_patterns):
        if ns in SEPARATE or name in OPEN:
            continue
        read = getattr(callback, "required_role", None)
        write = getattr(callback, "required_write_role", None)
        assert read is not None and write is not None, (
            f"{pattern} ({callback.__module__}.{name}) has no @role_required"
        )
        rows.append((_url(pattern), read, write))
    return rows


def api_table() -> list[tuple[str, str, Role]]:
    """(path, method, role) for every API operation."""
    import takedown.urls  # noqa: F401 - builds the API's URLs
    from takedown.web.api import api

    rows: list[tuple[str, str, Role]] = []
    for prefix, router in api._routers:
        for path, path_view in router.path_operations.items():
            for op in path_view.operations:
                roles: set[Any] = {getattr(cb, "role", None) for cb in op.auth_callbacks}
                assert roles and None not in roles and len(roles) == 1, (
                    f"{prefix}{path} ({op.view_func.__name__}) names no role"
                )
                role: Role = roles.pop()
                url = "/api" + prefix + re.sub(r"\{\w+\}", "1", path)
                rows.extend((url, method, role) for method in op.methods)
    return rows


def test_it_knows_every_view_and_endpoint() -> None:
    views, endpoints = view_table(), api_table()
    assert len(views) >= 20 and len(endpoints) >= 5
    # A view that acts (POST) must need more than reading.
    assert ("/notices/1/close", Role.HANDLER, Role.HANDLER) in views
    assert ("/orgs/1/", Role.VIEWER, Role.ADMIN) in views


def test_it_sends_anonymous_users_to_login_from_every_view() -> None:
    client = Client()
    for url, _read, _write in view_table():
        for method in (client.get, client.post):
            r = method(url)
            assert r.status_code == 302, (url, r.status_code)
            assert r["Location"].startswith("/login/?next="), url


def test_it_lets_a_viewer_act_on_nothing(bob_client: Client) -> None:
    before = Event.objects.count()
    checked = 0
    for url, read, write in view_table():
        if write is not Role.VIEWER:
            assert bob_client.post(url).status_code == 403, url
            checked += 1
        if read is not Role.VIEWER:
            assert bob_client.get(url).status_code == 403, url
    assert checked >= 5
    assert Event.objects.count() == before


def test_a_viewer_cannot_close_re_allow_or_reset_real_objects(bob_client: Client) -> None:
    org = Organization.objects.create(name="Net", overrides={"kind": "school"}, kind="school")
    bad = BadAddress.objects.create(address="abuse@net.example", organization=org)
    assert bob_client.post(f"/orgs/{org.pk}/reset", {"field": ["kind"]}).status_code == 403
    assert bob_client.post(f"/orgs/{org.pk}/", {"kind": "isp"}).status_code == 403
    assert bob_client.post(f"/notices/bad-addresses/{bad.pk}/allow").status_code == 403
    org.refresh_from_db()
    bad.refresh_from_db()
    assert org.overrides == {"kind": "school"} and bad.allowed_at is None
    # ... and can read the pages they act from.
    assert bob_client.get(f"/orgs/{org.pk}/").status_code == 200


def test_a_handler_acts_but_does_not_administer(alice_client: Client) -> None:
    org = Organization.objects.create(name="Net")
    bad = BadAddress.objects.create(address="abuse@net.example", organization=org)
    assert alice_client.post(f"/notices/bad-addresses/{bad.pk}/allow").status_code == 302
    assert alice_client.post(f"/orgs/{org.pk}/reset", {"field": ["kind"]}).status_code == 403
    assert alice_client.get("/admin/", follow=True).status_code == 403


def test_the_admin_role_reaches_the_django_admin_without_is_staff(charlie: User) -> None:
    assert not charlie.is_staff and not charlie.is_superuser
    client = logged_in(charlie)
    assert client.get("/admin/").status_code == 200
    assert client.get("/admin/locate/organization/").status_code == 200
    # Users, groups and tokens are managed on the Users page, not here.
    assert client.get("/admin/auth/user/").status_code == 404
    assert client.get("/admin/web/apitoken/add/").status_code == 404


def test_the_admin_login_is_the_one_login_page() -> None:
    r = Client().get("/admin/")
    assert r.status_code == 302
    r = Client().get(r["Location"])
    assert r.status_code == 302 and r["Location"].startswith("/login/?next=/admin/")
    r = Client().get("/admin/login/?next=https://evil.example/")
    assert r["Location"] == "/login/?next=/admin/"


def test_viewers_and_handlers_get_403_from_the_admin(bob_client: Client) -> None:
    assert bob_client.get("/admin/", follow=True).status_code == 403
    assert bob_client.get("/admin/login/").status_code == 403
    assert bob_client.get("/admin/locate/organization/", follow=True).status_code == 403


def test_it_refuses_every_endpoint_without_credentials() -> None:
    client = Client()
    for url, method, _role in api_table():
        r = client.generic(method, url, data="{}", content_type="application/json")
        assert r.status_code == 401, (method, url, r.status_code)


def test_a_viewer_token_may_read_and_act_on_nothing(bob_token: str) -> None:
    client = Client(headers={"Authorization": f"Bearer {bob_token}"})
    acting = 0
    for url, method, role in api_table():
        r = client.generic(method, url, data="{}", content_type="application/json")
        if role is Role.VIEWER:
            assert r.status_code in (200, 404), (method, url, r.status_code)
        else:
            assert r.status_code == 403, (method, url, r.status_code)
            acting += 1
    assert acting >= 1


def test_a_handler_token_may_act_but_not_administer(alice_token: str) -> None:
    client = Client(headers={"Authorization": f"Bearer {alice_token}"})
    before = Event.objects.count()
    admin_only = 0
    for url, method, role in api_table():
        if role is Role.ADMIN:
            r = client.generic(method, url, data="{}", content_type="application/json")
            assert r.status_code == 403, (method, url, r.status_code)
            admin_only += 1
    assert admin_only >= 2
    assert Event.objects.count() == before


def test_a_token_follows_its_owners_role(alice: User) -> None:
    token = token_for(alice)
    client = Client(headers={"Authorization": f"Bearer {token}"})
    body = '{"urls": ["http://a.example/"]}'
    r = client.post("/api/reports", data=body, content_type="application/json")
    assert r.status_code == 201
    user_role_set(user=alice, role=Role.VIEWER, actor="test")
    r = client.post("/api/reports", data=body, content_type="application/json")
    assert r.status_code == 403
    alice.is_active = False
    alice.save()
    assert client.get("/api/sites").status_code == 401


def test_a_token_can_be_capped_below_its_owner(alice: User) -> None:
    obj, token = ApiToken.issue(user=alice, name="read-only", role=Role.VIEWER)
    client = Client(headers={"Authorization": f"Bearer {token}"})
    assert client.get("/api/sites").status_code == 200
    body = '{"urls": ["http://a.example/"]}'
    assert (
        client.post("/api/reports", data=body, content_type="application/json").status_code == 403
    )
    assert role_of(alice, obj.role) is Role.VIEWER
    # A cap never raises a role.
    assert role_of(alice, Role.ADMIN) is Role.HANDLER


def test_the_session_works_for_the_api_with_csrf(alice: User) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(alice)
    assert client.get("/api/sites").status_code == 200
    body = '{"urls": ["http://a.example/"]}'
    assert (
        client.post("/api/reports", data=body, content_type="application/json").status_code == 403
    )


def test_it_derives_roles_from_groups_and_superuser() -> None:
    root = User.objects.create_superuser("root", "", "x" * 12)
    plain = User.objects.create_user("plain", "", "x" * 12)
    assert user_role(root) is Role.ADMIN
    assert user_role(plain) is Role.VIEWER
    assert user_role(user_with_role("h", "x" * 12, "handler")) is Role.HANDLER
    plain.is_active = False
    assert user_role(User.objects.get(pk=plain.pk)) is Role.VIEWER
    plain.save()
    assert user_role(User.objects.get(pk=plain.pk)) is None
    with pytest.raises(ValueError):
        user_role_set(user=root, role=Role.VIEWER, actor="test")


def test_changing_a_role_is_on_the_timeline(bob: User) -> None:
    assert user_role_set(user=bob, role=Role.HANDLER, actor="charlie")
    assert not user_role_set(user=bob, role=Role.HANDLER, actor="charlie")
    event = Event.objects.filter(kind=EventKind.USER_ROLE).latest("id")
    assert event.actor == "charlie"
    assert event.data == {"user": "bob", "from": "viewer", "to": "handler"}
    assert user_role(User.objects.get(pk=bob.pk)) is Role.HANDLER


def test_templates_hide_what_the_role_cannot_do(bob_client: Client, charlie_client: Client) -> None:
    assert b'href="/admin/"' not in bob_client.get("/").content
    assert b'href="/admin/"' in charlie_client.get("/").content


def test_the_token_command_creates_a_handler_by_default() -> None:
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("token", "create", "script", "--create-user", stdout=out)
    token = out.getvalue().strip()
    user = User.objects.get(username="script")
    assert user_role(user) is Role.HANDLER and not user.has_usable_password()
    out = StringIO()
    call_command("token", "create", "script", "--limit", "viewer", stdout=out)
    capped = ApiToken.objects.get(prefix=out.getvalue().strip()[:8])
    assert capped.role == "viewer"
    assert token.startswith("tkd_") and ApiToken.objects.filter(user=user).count() == 2
    assert Event.objects.filter(kind=EventKind.TOKEN_CREATED, actor="cli").count() == 2

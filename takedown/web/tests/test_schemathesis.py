"""schemathesis over the whole OpenAPI schema: no input makes the API answer 5xx.

Every operation gets cases generated from its schema, valid ones (positive)
and ones that break it (negative: wrong types, out-of-range numbers, missing
fields, odd Unicode), sent through the real WSGI application and the test's
database, with a token of the role the operation needs.  The database holds
a small world (sites in several states, notices sent and answered, mail
matched and not, a bounced address, reporters known and unknown, incidents),
and most ids a case carries are mapped onto it, so actions run for real
instead of stopping at 404.  The role just below gets 403 for everything.
Generation is derandomized: a run is the same every time, a failure reproduces.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings

from takedown.access.roles import Role
from takedown.cases.models import Incident, Site, SiteState
from takedown.cases.services import incident_create
from takedown.conftest import token_for, user_with_role
from takedown.intake.models import Report, Reporter
from takedown.intake.services import ReporterInfo, report_receive
from takedown.locate.models import Organization
from takedown.monitor.models import Check, Evidence
from takedown.notices.inbound import inbound_receive
from takedown.notices.models import BadAddress, InboundMessage, Notice
from takedown.web.tests.api_helpers import make_notice, make_org, make_sites

# Cases per operation and generation mode; with ~40 operations the run is
# ~1,300 cases, about a minute of CPU.
EXAMPLES = 15
# Cases per operation with a token one role too low (each must be a 403).
LOW_ROLE_EXAMPLES = 3

# Not ``slow``: the PostgreSQL pass of CI runs it too (docs/api.md).
pytestmark = pytest.mark.django_db(transaction=True)


def test_the_api_answers_no_input_with_a_server_error(settings: Any) -> None:
    import schemathesis
    from schemathesis.core.result import Ok
    from schemathesis.generation import GenerationMode

    # Nothing here may leave the machine: no worker runs, and a lookup that
    # somehow ran would reach the discard port and fail at once.
    settings.DNS_RESOLVER = ("127.0.0.1", 9)
    settings.DNS_TIMEOUT = 0.2
    settings.LOCATE_REGISTRAR = False

    tokens = {
        Role.VIEWER: _bearer(user_with_role("vera", "x" * 12, "viewer")),
        Role.HANDLER: _bearer(user_with_role("hana", "x" * 12, "handler")),
        Role.ADMIN: _bearer(user_with_role("adam", "x" * 12, "admin")),
    }
    below = {Role.HANDLER: Role.VIEWER, Role.ADMIN: Role.HANDLER}
    remap = _id_mapper(_small_world())
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", get_wsgi_application())

    counts: Counter[str] = Counter()
    failures: list[str] = []

    def exercise(
        operation: Any, mode: Any, headers: dict[str, str], examples: int, ok: Callable[[int], bool]
    ) -> None:
        @given(case=operation.as_strategy(generation_mode=mode).map(remap))
        @hypothesis_settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            response = case.call(headers=headers)
            counts["cases"] += 1
            counts[f"{response.status_code // 100}xx"] += 1
            if not ok(response.status_code):
                failures.append(
                    f"{case.method} {case.formatted_path} query={case.query!r} "
                    f"body={case.body!r:.300} -> {response.status_code} "
                    f"{response.text[:200]!r}"
                )

        run()

    for result in schema.get_all_operations():
        # An operation the schema cannot describe is a failure of its own.
        assert isinstance(result, Ok), result.err()
        operation = result.ok()
        role = _role_of(operation)
        counts[f"operations:{role.value}"] += 1
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            exercise(operation, mode, tokens[role], EXAMPLES, lambda status: status < 500)
        if role in below:
            exercise(
                operation,
                GenerationMode.POSITIVE,
                tokens[below[role]],
                LOW_ROLE_EXAMPLES,
                lambda status: status == 403,
            )
    print(f"\nschemathesis: {dict(sorted(counts.items()))}; failures: {len(failures)}")
    assert sum(n for key, n in counts.items() if key.startswith("operations:")) >= 40
    assert counts["2xx"] >= 200, "most cases should reach the objects, not only validation"
    assert failures == [], "\n".join(failures[:20])


def _bearer(user: User) -> dict[str, str]:
    return {"Authorization": f"Bearer {token_for(user)}"}


def _role_of(operation: Any) -> Role:
    """The role the operation's auth names (``READ``, ``ACT`` or ``ADMIN``)."""
    from takedown.web.api import api

    for prefix, router in api._routers:
        for path, path_view in router.path_operations.items():
            for op in path_view.operations:
                if "/api" + prefix + path == operation.path and (
                    operation.method.upper() in op.methods
                ):
                    roles = {getattr(cb, "role", None) for cb in op.auth_callbacks}
                    role = roles.pop()
                    assert isinstance(role, Role) and not roles, operation.path
                    return role
    raise AssertionError(f"{operation.method} {operation.path} is not in the API")


HOSTILE_REPLY = (
    b"From: Abuse Desk <abuse@net.example>\r\nTo: takedown@csirt.example\r\n"
    b"Subject: Re: your report <script>alert(1)</script>\r\n"
    b"Content-Type: text/html; charset=utf-8\r\n\r\n"
    b"<html><body><script>alert('x')</script>We removed it.</body></html>\r\n"
)
REPORT_MAIL = (
    b"From: Someone <someone@unknown.example>\r\nTo: report@csirt.example\r\n"
    b"Subject: phishing\r\n\r\nPlease look at hxxp://pay.bank-a[.]example/login\r\n"
)


def _small_world() -> dict[str, list[int]]:
    """A few objects of every kind the API names by id; their ids by parameter."""
    org = make_org()
    sites = make_sites(6, org, ip="192.0.2.7")
    states = [SiteState.LOCATED, SiteState.NOTIFIED, SiteState.DOWN, SiteState.REJECTED]
    for site, state in zip(sites, states, strict=False):
        Site.objects.filter(pk=site.pk).update(state=state)
    other = Organization.objects.create(name="Other Host", kind="company", language="en")
    Site.objects.filter(pk=sites[-1].pk).update(organization=other)
    make_notice(org, sites[:3])
    Check.objects.create(site=sites[1], outcome="up", status=200, ip="192.0.2.7")
    Evidence.objects.create(
        site=sites[1], url=sites[1].url, title="<script>alert(1)</script>", size=10
    )
    report_receive(
        channel="api",
        text="see hxxp://pay[.]bank-b[.]example/ and hxxp://login0[.]bank[.]example/",
        reporter=ReporterInfo(name="Bank B SOC", email="soc@bank-b.example", kind="financial"),
    )
    inbound_receive(HOSTILE_REPLY, mail_from="abuse@net.example")
    inbound_receive(REPORT_MAIL, mail_from="someone@unknown.example")
    BadAddress.objects.create(address="gone@net.example", organization=org, reason="550")
    Reporter.objects.create(name="Unknown sender", email="x@unknown.example", classified=False)
    incident_create(title="campaign A", sites=sites[:2], actor="test")
    incident_create(title="campaign B", sites=sites[2:4], actor="test")
    return {
        "site": [s.pk for s in Site.objects.all()],
        "notice": list(Notice.objects.values_list("pk", flat=True)),
        "inbound": list(InboundMessage.objects.values_list("pk", flat=True)),
        "bad": list(BadAddress.objects.values_list("pk", flat=True)),
        "org": list(Organization.objects.values_list("pk", flat=True)),
        "reporter": list(Reporter.objects.values_list("pk", flat=True)),
        "incident": list(Incident.objects.values_list("pk", flat=True)),
        "report": list(Report.objects.values_list("pk", flat=True)),
    }


# Which kind of object a path parameter, query parameter or body field names.
ID_NAMES = {
    "site_id": "site", "site": "site", "site_ids": "site",
    "notice_id": "notice", "notice": "notice",
    "inbound_id": "inbound", "inbound": "inbound",
    "bad_id": "bad",
    "org_id": "org", "organization": "org",
    "reporter_id": "reporter", "reporter": "reporter",
    "incident_id": "incident", "incident": "incident", "into": "incident",
    "report_id": "report",
}  # fmt: skip


def _id_mapper(world: dict[str, list[int]]) -> Callable[[Any], Any]:
    """A case with three in four of its positive ids moved onto existing objects."""

    def one(kind: str, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1 or value % 4 == 0:
            return value
        pool = world[kind]
        return pool[value % len(pool)] if pool else value

    def fields(container: Any) -> None:
        if not isinstance(container, dict):
            return
        for name, value in list(container.items()):
            kind = ID_NAMES.get(name)
            if kind is None:
                continue
            if isinstance(value, list):
                container[name] = [one(kind, v) for v in value]
            else:
                container[name] = one(kind, value)

    def remap(case: Any) -> Any:
        fields(case.path_parameters)
        fields(case.query)
        fields(case.body)
        return case

    return remap

"""The site page shows checks and evidence; evidence is never rendered as live HTML."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import reverse

from takedown.cases.services import sites_create_bulk
from takedown.conftest import user_with_role
from takedown.monitor.models import Check, Evidence, Verdict, Watch

pytestmark = pytest.mark.django_db

HOSTILE = (
    b"<html><title>Bank</title><script>alert('xss')</script><form><input type=password></form>"
)
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 32


@pytest.fixture
def evidence(settings: Any, tmp_path: Any) -> Evidence:
    settings.MEDIA_ROOT = tmp_path
    url = "http://login.bank.example/jp/"
    site = sites_create_bulk(
        [{"url": url, "host": "login.bank.example", "registered_domain": "bank.example"}]
    )[url]
    check = Check.objects.create(site=site, outcome="up", status=200, ip="192.0.2.7", latency_ms=12)
    Check.objects.create(site=site, outcome="http_error", status=404, detail="HTTP 404 Not Found")
    item = Evidence.objects.create(
        site=site,
        check_ref=check,
        url=url,
        final_url="http://login.bank.example/jp/index.php",
        status=200,
        headers=[["Content-Type", "text/html"], ["X-Evil", "<b>bold</b>"]],
        content_type="text/html",
        body=HOSTILE,
        sha256="ab" * 32,
        size=len(HOSTILE),
        title="Bank",
        screenshot_state="done",
    )
    item.screenshot.save("shot.png", ContentFile(PNG))
    return item


@pytest.fixture
def alice(client: Client, django_user_model: Any) -> Client:
    client.force_login(user_with_role("alice", "s3cret-pass", "handler"))
    return client


def test_it_shows_checks_and_evidence_on_the_site_page_escaped(
    alice: Client, evidence: Evidence
) -> None:
    page = alice.get(reverse("site_detail", args=[evidence.site_id])).content.decode()
    assert "HTTP 404 Not Found" in page
    assert "192.0.2.7" in page
    assert "&lt;script&gt;alert(&#x27;xss&#x27;)&lt;/script&gt;" in page
    assert "<script>alert" not in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page
    assert "hxxp://login[.]bank[.]example/jp/index.php" in page
    assert reverse("evidence_screenshot", args=[evidence.pk]) in page


def test_it_serves_the_screenshot_as_an_image(alice: Client, evidence: Evidence) -> None:
    response = alice.get(reverse("evidence_screenshot", args=[evidence.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert b"".join(response.streaming_content) == PNG  # type: ignore[attr-defined]


def test_it_serves_the_page_source_as_a_download_never_as_html(
    alice: Client, evidence: Evidence
) -> None:
    response = alice.get(reverse("evidence_body", args=[evidence.pk]))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/octet-stream"
    assert response["Content-Disposition"].startswith("attachment;")
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response.content == HOSTILE


@pytest.mark.parametrize("name", ["evidence_screenshot", "evidence_body", "evidence_sample"])
def test_it_requires_a_login_for_evidence(client: Client, evidence: Evidence, name: str) -> None:
    response = client.get(reverse(name, args=[evidence.pk]))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_it_answers_404_for_missing_files(alice: Client, evidence: Evidence) -> None:
    assert alice.get(reverse("evidence_sample", args=[evidence.pk])).status_code == 404
    assert alice.get(reverse("evidence_screenshot", args=[evidence.pk + 1])).status_code == 404


def test_the_admin_shows_and_filters_checks_by_verdict_and_watches_by_unclear_runs(
    charlie_client: Client, evidence: Evidence
) -> None:
    site_id = evidence.site_id
    Check.objects.filter(site_id=site_id, outcome="up").update(verdict="up")
    Check.objects.filter(site_id=site_id, status=404).update(verdict="down")
    timeout = Check.objects.create(site_id=site_id, outcome="timeout", verdict="inconclusive")
    Watch.objects.create(
        site_id=site_id, checks=3, inconclusive_streak=1, inconclusive_since=timeout.at
    )

    response = charlie_client.get("/admin/monitor/check/", {"verdict__exact": "inconclusive"})
    assert response.status_code == 200
    changelist = response.context["cl"]
    assert [c.pk for c in changelist.result_list] == [timeout.pk]
    assert "verdict" in changelist.list_display
    # The verdict column renders its label, the filter offers every verdict.
    assert "column-verdict" in response.content.decode()
    assert f"?verdict__exact={Verdict.DOWN}" in response.content.decode()

    response = charlie_client.get("/admin/monitor/watch/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "column-inconclusive_streak" in page and "column-inconclusive_since" in page

"""The handler's workbench in a real browser (Debian's Chromium driven by Playwright).

A handler reports a defanged URL, sees it located, sends the notice, rejects
another site, links a reply and acts in bulk on 50 sites; marks a revival and
a recurrence reviewed, in Japanese and in English; a viewer can act on
nothing; an anonymous user is sent to login; hostile strings render inert on
every page.  The locate step runs for real against a sandbox of our own.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.db import connections

from takedown.cases.models import Event, EventKind, Site, SiteState, Step
from takedown.loop import run_round
from takedown.sandbox.testing import django_settings

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.concurrency]

SCENARIO = """
name: workbench-browser
duration: 30
organizations:
  - {id: net-w, name: Workbench Net, country: US, kind: isp, registry: arin,
     networks: [127.31.0.0/16], asn: 65031, abuse_email: abuse@net-w.example,
     behavior: {reply: never}}
sites:
  - {id: w1, url: "http://login.flow-bank.example/jp/", ip: 127.31.0.1}
  - {id: w2, url: "http://other.flow-bank.example/", ip: 127.31.0.2}
reports: []
"""
HOSTILE = '<script>window.__pwned=1</script>"\'><img src=x onerror="window.__pwned=1">'


@pytest.fixture
def server(live_server: Any) -> str:
    return str(live_server.url).replace("localhost", "127.0.0.1")


def _user(name: str, role: str | None) -> User:
    user = User.objects.create_user(name, f"{name}@example.org", f"{name} password 123")
    if role:
        user.groups.add(Group.objects.get_or_create(name=role)[0])
    return user


def _login(browser: Any, server: str, name: str, *, locale: str = "en-US") -> Any:
    page = browser.new_context(locale=locale, timezone_id="Asia/Tokyo").new_page()
    page.goto(f"{server}/login/")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", f"{name} password 123")
    page.click("main button[type=submit]")
    page.wait_for_url(f"{server}/")
    return page


def _in_thread(fn: Any, **kwargs: Any) -> Any:
    def call() -> Any:
        try:
            return fn(**kwargs)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(call).result()


def _messages(page: Any) -> str:
    return " ".join(page.locator("p.msg").all_inner_texts())


def test_it_takes_a_handler_from_report_to_notice_reply_and_bulk_action(
    chromium: Any, server: str, sandbox_factory: Any, settings: Any
) -> None:
    from takedown.notices.inbound import inbound_receive
    from takedown.notices.models import InboundKind, InboundMessage, Notice
    from takedown.notices.tick import mail_tick

    sb = sandbox_factory(SCENARIO)
    for name, value in django_settings(sb).items():
        setattr(settings, name, value)
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sb.smtp_port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.NOTICE_FROM = settings.TEAM_EMAIL = "takedown@csirt.example"
    _user("hana", "handler")
    page = _login(chromium, server, "hana")

    # 1. Report two defanged URLs; the locate step runs against the sandbox.
    page.goto(f"{server}/reports/new")
    page.fill(
        "textarea[name=text]",
        "Phish: hxxp://login.flow-bank[.]example/jp/ and hxxp://other.flow-bank[.]example/",
    )
    page.click("main button[type=submit]")
    page.wait_for_url(re.compile(r".*/reports/\d+/$"))
    first = Site.objects.get(host="login.flow-bank.example")
    other = Site.objects.get(host="other.flow-bank.example")
    # No worker runs in this test: run the locate step as one would, and only
    # that step, so the notice below is the handler's click, not the loop's.
    # In a thread of its own, as the locate step runs asyncio and Playwright's
    # sync API holds an event loop in this one.
    assert _in_thread(run_round, steps=[Step.LOCATE]) >= 1

    # 2. The site page shows it located, in words.
    page.goto(f"{server}/sites/{first.pk}/")
    assert page.locator("h1 .badge").inner_text() == "located"
    assert "Located: Workbench Net is responsible." in page.inner_text("table.timeline")

    # 3. Notify now; the mail loop sends it to the organisation's abuse desk.
    page.click("form:has(input[value=notify]) >> text=Notify now")
    assert "Notify now: done for 1 site" in _messages(page)
    mail_tick()
    sb.wait_until(lambda: sb.notices, timeout=20)
    notice = Notice.objects.get(organization__name="Workbench Net")
    page.reload()
    assert f"Notice {notice.token} sent to Workbench Net." in page.inner_text("table.timeline")
    assert page.locator("h1 .badge").inner_text() == "notified"

    # 4. Reject the other site as a false positive, with a reason.
    page.goto(f"{server}/sites/{other.pk}/")
    page.click("summary:has-text('Reject as false positive')")
    page.fill("form:has(input[value=reject]) input[name=reason]", "the bank's real page")
    page.click("form:has(input[value=reject]) button.danger")
    assert page.locator("h1 .badge").inner_text() == "rejected"
    assert Event.objects.get(site=other, kind="site.rejected").actor == "hana"

    # 5. A reply that lost its token waits as unmatched; the handler links it.
    reply = EmailMessage()
    reply["From"] = "Abuse <abuse@net-w.example>"
    reply["To"] = "takedown@csirt.example"
    reply["Subject"] = "Re: your message"
    reply["Message-ID"] = make_msgid(domain="net-w.example")
    reply.set_content("We have removed the page.")
    inbound = inbound_receive(reply.as_bytes())
    assert inbound.kind == InboundKind.UNMATCHED
    page.goto(f"{server}/notices/inbound/{inbound.pk}/")
    page.fill("input[name=notice]", notice.token)
    page.click("form:has(input[name=notice]) button")
    assert f"Linked to {notice.token}." in _messages(page)
    assert InboundMessage.objects.get(pk=inbound.pk).kind == InboundKind.REPLY

    # 6. Fifty sites at once: everything matching a search.
    from takedown.cases.services import sites_create_bulk

    sites_create_bulk(
        [
            {
                "url": f"http://p{i}.bulk-brand.example/",
                "host": f"p{i}.bulk-brand.example",
                "registered_domain": "bulk-brand.example",
                "brand": "BulkBrand",
            }
            for i in range(50)
        ]
    )
    page.goto(f"{server}/sites/?brand=BulkBrand")
    assert "50 sites found." in page.inner_text("main")
    page.check("input[name=scope][value=all]")
    page.select_option("#bulk select[name=action]", "reject")
    page.fill("#bulk input[name=reason]", "test campaign, not phishing")
    page.click("#bulk button[type=submit]")
    assert "Reject as false positive: done for 50 sites." in _messages(page)
    assert Site.objects.filter(brand="BulkBrand", state=SiteState.REJECTED).count() == 50


def test_it_takes_a_handler_through_revivals_and_recurrences_to_review(
    chromium: Any, server: str
) -> None:
    """In Japanese from the queue, in English from the site page: one click each."""
    from takedown.cases.services import site_transition, sites_create_bulk
    from takedown.monitor.services import site_link_recurrence

    urls = [
        "http://back.review.example/",
        "http://old.review.example/a",
        "http://new.review.example/b",
    ]
    back, old, new = (
        sites_create_bulk(
            [{"url": u, "host": u.split("/")[2], "registered_domain": "review.example"}]
        )[u]
        for u in urls
    )
    for state in (SiteState.LOCATED, SiteState.NOTIFIED, SiteState.DOWN, SiteState.CLOSED):
        site_transition(back, state)
    site_transition(
        back, SiteState.REVIVED, kind=EventKind.SITE_REVIVED, message="up again: same content"
    )
    # The monitor links the recurrence (same address, the earlier site first seen before).
    Site.objects.filter(pk__in=[old.pk, new.pk]).update(ip="192.0.2.44")
    Site.objects.filter(pk=old.pk).update(created=new.created.replace(year=2020))
    site_transition(old, SiteState.LOCATED)
    site_link_recurrence(Site.objects.get(pk=new.pk))
    _user("hana", "handler")

    # Japanese: the queue names both, says what the monitor saw, and marks the revival reviewed.
    page = _login(chromium, server, "hana", locale="ja-JP")
    queue = page.inner_text("section.queue")
    assert "確認が必要な復活" in queue and "確認が必要な再発" in queue
    assert "再び稼働: 内容に変化なし" in queue and f"サイト {old.pk} と同じIP アドレス" in queue
    entry = page.locator("li.entry", has=page.locator(f"a[href='/sites/{back.pk}/']"))
    entry.locator("form:has(input[value=review]) button").click()
    page.wait_for_url(f"{server}/")
    assert "確認済みにする: 1 件のサイトで実行しました。" in _messages(page)
    assert "確認が必要な復活" not in page.inner_text("section.queue")
    page.goto(f"{server}/sites/{back.pk}/")
    assert "hana が復活を確認しました。" in page.inner_text("table.timeline")
    assert page.locator("form:has(input[value=review])").count() == 0

    # English: the new site's page says what waits; the earlier one reads as the news it is.
    page = _login(chromium, server, "hana")
    page.goto(f"{server}/sites/{old.pk}/")
    assert f"Site {new.pk} appeared on the same IP address." in page.inner_text("table.timeline")
    assert page.locator("form:has(input[value=review])").count() == 0
    page.goto(f"{server}/sites/{new.pk}/")
    assert "To review\nrecurrence" in page.inner_text("dl")
    page.click("form:has(input[value=review]) button")
    assert "Mark reviewed: done for 1 site." in _messages(page)
    assert "hana reviewed the recurrence." in page.inner_text("table.timeline")
    page.goto(f"{server}/")
    assert "Nothing waits for a handler." in page.inner_text("section.queue")
    assert Event.objects.filter(kind=EventKind.SITE_REVIEWED, actor="hana").count() == 2


def test_it_lets_a_viewer_read_and_act_on_nothing(chromium: Any, server: str) -> None:
    from takedown.cases.services import sites_create_bulk

    url = "http://view.example/login"
    site = sites_create_bulk(
        [{"url": url, "host": "view.example", "registered_domain": "view.example"}]
    )[url]
    _user("vic", None)
    page = _login(chromium, server, "vic")
    page.goto(f"{server}/sites/{site.pk}/")
    assert page.locator("form[action*='/act']").count() == 0
    assert page.locator("a[href='/reports/new']").count() == 0
    page.goto(f"{server}/sites/")
    assert page.locator("#bulk").count() == 0
    token = next(c["value"] for c in page.context.cookies() if c["name"] == "csrftoken")
    for path, form in [
        (f"/sites/{site.pk}/act", {"action": "reject", "reason": "x"}),
        ("/sites/bulk", {"scope": "ticked", "site": str(site.pk), "action": "recheck"}),
        ("/reports/new", {"text": "hxxp://x[.]example/"}),
    ]:
        r = page.request.post(f"{server}{path}", form=form, headers={"X-CSRFToken": token})
        assert r.status == 403, path
    assert Site.objects.get(pk=site.pk).state == SiteState.REPORTED


def test_it_sends_an_anonymous_user_to_login(chromium: Any, server: str) -> None:
    page = chromium.new_context().new_page()
    for path in ["/", "/sites/", "/incidents/", "/reporters/", "/notices/inbound/"]:
        page.goto(f"{server}{path}")
        assert page.url.startswith(f"{server}/login/?next="), path


def _hostile_world() -> list[str]:
    """Hostile strings in every field a page shows; returns the pages to look at."""
    from takedown.cases.services import (
        incident_create,
        site_note_add,
        site_reject,
        site_transition,
    )
    from takedown.intake.models import Reporter
    from takedown.intake.services import ReporterInfo, report_receive
    from takedown.locate.models import Organization
    from takedown.monitor.models import Check
    from takedown.notices.inbound import inbound_receive

    org = Organization.objects.create(name=HOSTILE, name_local=HOSTILE, country="JP", kind="isp")
    result = report_receive(
        channel="api",
        text=f"hxxp://evil[.]example/{HOSTILE} and hxxp://evil2[.]example/",
        reporter=ReporterInfo(name=HOSTILE, email="evil@reporter.example"),
        subject=HOSTILE,
        brand=HOSTILE,
    )
    site, second = result.sites
    site.organization = org
    site_transition(site, SiteState.LOCATED, update_fields=["organization"], message=HOSTILE)
    site_note_add(site=site, actor="alice", text=HOSTILE)
    # A check's details are a server's words too (its reason phrase), both browsers'.
    Check.objects.create(
        site=site,
        outcome="http_error",
        status=403,
        detail=f"HTTP 403 {HOSTILE}",
        other_agent="mobile",
        other_outcome="http_error",
        other_detail=f"HTTP 403 {HOSTILE}",
    )
    site_reject(site=second, actor="alice", reason=HOSTILE)
    incident = incident_create(title=HOSTILE, sites=[site, second], actor="alice")
    msg = EmailMessage()
    msg["From"] = f'"{HOSTILE}" <x@evil.example>'
    msg["To"] = "takedown@csirt.example"
    msg["Subject"] = f"Re: {HOSTILE}"
    msg.set_content(HOSTILE)
    inbound = inbound_receive(msg.as_bytes())
    reporter = Reporter.objects.get(email="evil@reporter.example")
    q = "%3Cscript%3Ewindow.__pwned%3D1%3C%2Fscript%3E%22%27%3E"
    return [
        "/",
        "/queue/",
        "/sites/",
        f"/sites/?q={q}",
        f"/sites/?brand={q}&state=located",
        f"/sites/{site.pk}/",
        f"/sites/{second.pk}/",
        "/incidents/",
        f"/incidents/{incident.pk}/",
        "/reporters/",
        f"/reporters/{reporter.pk}/",
        "/orgs/",
        f"/orgs/{org.pk}/",
        "/notices/",
        "/notices/inbound/",
        f"/notices/inbound/{inbound.pk}/",
        f"/reports/{result.report.pk}/",
        "/reports/new",
        "/notices/bad-addresses/",
        "/stats/",
    ]


def test_it_renders_hostile_strings_inert_on_every_page(
    chromium: Any, server: str, record_property: Any, monkeypatch: Any
) -> None:
    # The sites need no locating here: no worker runs their locate steps.
    pages = _hostile_world()
    _user("hana", "handler")
    checked = 0
    dialogs: list[str] = []
    for locale in ("en-US", "ja-JP"):
        page = _login(chromium, server, "hana", locale=locale)

        def refuse(dialog: Any) -> None:
            dialogs.append(dialog.message)
            dialog.dismiss()

        page.on("dialog", refuse)
        for path in pages:
            response = page.goto(f"{server}{path}")
            assert response is not None and response.status == 200, path
            assert page.evaluate("() => window.__pwned === undefined"), path
            assert page.locator("img[src='x'], [onerror]").count() == 0, path
            scripts = page.eval_on_selector_all("script", "els => els.map(e => e.src)")
            assert all(src.startswith(f"{server}/static/") for src in scripts), (path, scripts)
            checked += 1
        assert dialogs == []
    record_property("hostile_pages_checked", checked)
    print(
        f"hostile strings checked inert on {checked} page loads ({len(pages)} pages x 2 languages)"
    )
    assert checked == 2 * len(pages)

"""Notices to organisations: batching, content, X-ARF, sending through real SMTP."""

from __future__ import annotations

import json

import pytest

from takedown.cases.models import Event, EventKind, SiteState
from takedown.notices.models import Notice, NoticeKind, NoticeState
from takedown.notices.planning import notice_plan_site
from takedown.notices.tests.conftest import SmtpSink, make_org, make_site
from takedown.notices.tick import mail_tick
from takedown.notices.xarf import xarf_errors

pytestmark = [pytest.mark.concurrency, pytest.mark.django_db]


def test_it_sends_one_notice_per_organisation(smtp: SmtpSink) -> None:
    orgs = [make_org(f"Net {i}", country="US") for i in range(5)]
    sites = []
    for n in range(17):
        org = orgs[n % 5]
        sites.append(make_site(f"http://login{n}.bank-{n}.example/", org, ip=f"192.0.2.{n + 1}"))
    for site in sites:
        notice_plan_site(site.pk)
    assert mail_tick() > 0
    assert len(smtp.messages) == 5
    assert Notice.objects.filter(kind=NoticeKind.INITIAL, state=NoticeState.SENT).count() == 5
    for site in sites:
        site.refresh_from_db()
        assert site.state == SiteState.NOTIFIED
        event = Event.objects.get(site=site, kind=EventKind.NOTICE_SENT)
        assert event.organization_id == site.organization_id
        assert event.data["to"] == orgs[(sites.index(site)) % 5].abuse_emails
    # Nothing more to do: a second round sends nothing again.
    mail_tick()
    assert len(smtp.messages) == 5


def test_it_writes_a_japanese_notice_with_english_below(smtp: SmtpSink) -> None:
    org = make_org("Example Net A", country="JP")
    site = make_site("http://login.bank-a.example/jp/", org, ip="192.0.2.10", brand="Example Bank")
    notice_plan_site(site.pk)
    mail_tick()
    [msg] = smtp.messages
    text = msg.text
    print(msg.raw.decode()[:3000])
    print(text)
    assert msg.rcpt_tos == ["abuse@example-net-a.example"]
    notice = Notice.objects.get()
    # The thread's token carries a random tag: it cannot be guessed from the number.
    assert notice.token == f"TKD#N{notice.pk}-{notice.token_tag}" and len(notice.token_tag) == 10
    assert f"[{notice.token}]" in msg.message["Subject"]
    assert msg.message["Message-ID"] == notice.message_id
    assert "hxxp://login[.]bank-a[.]example/jp/" in text
    assert "http://login.bank-a.example" not in msg.raw.decode("ascii", "replace")
    assert "192.0.2.10" in text
    assert "Example Bank" in text
    assert "フィッシングサイト" in text
    assert text.index("フィッシングサイト") < text.index("phishing site")
    assert "unattended" in text and "テスト用サーバを放置しない" in text


def test_it_attaches_a_valid_xarf_report(smtp: SmtpSink) -> None:
    org = make_org("Net B", country="US")
    sites = [
        make_site("http://login.bank-b.example/", org, ip="192.0.2.20"),
        make_site("http://203.0.113.9/mal.exe", org, ip="203.0.113.9", kind="malware", brand=""),
    ]
    for site in sites:
        notice_plan_site(site.pk)
    mail_tick()
    [msg] = smtp.messages
    [att] = [p for p in msg.message.iter_attachments() if p.get_filename() == "xarf.json"]
    reports = json.loads(att.get_content())
    assert [r["type"] for r in reports] == ["phishing", "malware"]
    assert [r["url"] for r in reports] == [s.url for s in sites]
    for report in reports:
        assert xarf_errors(report) == []
    assert reports[0]["source_identifier"] == "192.0.2.20"
    assert reports[0]["target_brand"] == "Example Bank"
    assert "domain" not in reports[1]  # an IP host is not a domain

"""Texts our code stores in English read in Japanese on Japanese pages; a stranger's do not change.

The texts are written by the steps' own code wherever that is cheap (the
queue's selector, the monitor's recurrence link, the inbound mail router), so
a changed wording fails here instead of showing in English.
"""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from django.test import Client
from django.utils import translation

from takedown.cases.models import Event, EventKind, Site, SiteState, Step, Work
from takedown.cases.services import site_transition, sites_create_bulk
from takedown.handler_queue import handler_items
from takedown.web.texts import ours
from takedown.web.timeline import check_text, event_sentence

pytestmark = pytest.mark.django_db
JA = {"Accept-Language": "ja"}
# Three English words in a row: a sentence left untranslated.
ENGLISH = re.compile(r"[A-Za-z]{2,}(?:[ ,;:]+[A-Za-z]{2,}){2,}")
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def _site(name: str, ip: str = "") -> Site:
    url = f"http://{name}.example/login"
    site = sites_create_bulk(
        [{"url": url, "host": f"{name}.example", "registered_domain": f"{name}.example"}]
    )[url]
    if ip:
        Site.objects.filter(pk=site.pk).update(ip=ip)
        site.ip = ip
    return site


def _ja(text: str) -> str:
    with translation.override("ja"):
        return ours(text)


def _inbound(subject: str, *, sender: str = "someone@isp.example", **headers: str) -> str:
    from takedown.notices.inbound import inbound_receive

    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = "takedown@csirt.example"
    mail["Subject"] = subject
    mail["Message-ID"] = make_msgid(domain="isp.example")
    for name, value in headers.items():
        mail[name.replace("_", "-")] = value
    mail.set_content("Please see below.")
    return str(inbound_receive(mail.as_bytes()).reason)


def _unsigned_bounce() -> str:
    from takedown.notices.inbound import inbound_receive

    raw = (
        "From: Mail Delivery System <MAILER-DAEMON@mx.isp.example>\r\n"
        "To: takedown@csirt.example\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="X"\r\n\r\n'
        "--X\r\nContent-Type: text/plain\r\n\r\nThe mail could not be delivered.\r\n"
        "--X\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.isp.example\r\n\r\n"
        "Final-Recipient: rfc822; abuse@isp.example\r\nAction: failed\r\nStatus: 5.1.1\r\n"
        "--X--\r\n"
    )
    return str(inbound_receive(raw.encode()).reason)


def test_it_says_the_monitors_recurrence_texts_in_japanese() -> None:
    from takedown.monitor.services import site_link_recurrence

    earlier, new = _site("first", "192.0.2.7"), _site("second", "192.0.2.7")
    Site.objects.filter(pk=earlier.pk).update(created=new.created.replace(year=2020))
    site_transition(earlier, SiteState.LOCATED)
    site_link_recurrence(new)

    on_new = Event.objects.get(site=new, kind=EventKind.SITE_RECURRENCE)
    on_earlier = Event.objects.get(site=earlier, kind=EventKind.SITE_RECURRENCE)
    assert _ja(on_new.message) == f"サイト {earlier.pk} と同じIP アドレス"
    assert _ja(on_earlier.message) == f"同じIP アドレスにサイト {new.pk} が現れました"
    with translation.override("en"):
        assert event_sentence(on_new) == f"A recurrence of site {earlier.pk} (same IP address)."
        assert event_sentence(on_earlier) == f"Site {new.pk} appeared on the same IP address."


def test_it_says_the_queues_step_failure_in_japanese_with_the_error_as_it_came() -> None:
    site = _site("failing")
    Work.objects.filter(site=site).delete()
    Work.objects.create(
        step=Step.LOCATE, site=site, due=None, attempts=5, last_error="OSError: no route"
    )
    (item,) = [i for i in handler_items() if i.reason == "step_failed"]

    said = _ja(item.detail)

    assert said == "自動処理「管理者の特定」が 5 回失敗しました: OSError: no route"


def test_it_says_the_monitors_inconclusive_queue_item_in_japanese(settings: object) -> None:
    from django.utils import timezone

    from takedown.monitor.models import Watch
    from takedown.monitor.selectors import handler_items as monitor_items

    site = _site("trickling")
    site_transition(site, SiteState.LOCATED)
    Site.objects.filter(pk=site.pk).update(next_check=timezone.now())
    Watch.objects.create(
        site=site,
        inconclusive_streak=3,
        inconclusive_since=timezone.now().replace(year=2020),
        last_outcome="timeout",
    )
    (item,) = monitor_items(timezone.now())

    assert item.detail == "3 inconclusive checks in a row, the last: timeout"
    assert _ja(item.detail) == "3 回連続で判定不能 (最後: タイムアウト)"


@pytest.mark.parametrize(
    "written",
    [
        lambda: _inbound("Re: your message", In_Reply_To="<nothing-of-ours@isp.example>"),
        lambda: _inbound("About [TKD-R999999]"),
        _unsigned_bounce,
    ],
    ids=["reply-without-token", "unknown-report-token", "unsigned-bounce"],
)
def test_it_says_why_inbound_mail_waits_in_japanese(written: object) -> None:
    assert callable(written)
    text = written()

    said = _ja(text)

    assert said != text
    assert not ENGLISH.search(said.replace("In-Reply-To", "").replace("Message-ID", "")), said


@pytest.mark.parametrize(
    "text,expected",
    [
        (
            "DNS: nxdomain (the name does not exist) (no further automatic retries)",
            "DNS NXDOMAIN: 名前が存在しません (自動での再試行はこれ以上行いません)",
        ),
        ("DNS: timeout (no answer within 5s)", "DNS TIMEOUT: 5 秒以内に応答がありません"),
        (
            "registry lookup failed: rdap: HTTP 503",
            "レジストリへの問い合わせに失敗しました: rdap: HTTP 503",
        ),
        ("up again: same content", "再び稼働: 内容に変化なし"),
        (
            "the worker sending this message stopped; it may or may not have left",
            "送信中の処理が停止しました。送信されたかどうか分かりません",
        ),
        (
            "the mail server refused the message: SMTPDataError: (554, b'spam')",
            "メールサーバがメールを拒否しました: SMTPDataError: (554, b'spam')",
        ),
        (
            "no contact left: every address bounced or none is known",
            "連絡先が残っていません: すべての宛先が不達か、宛先が分かりません",
        ),
    ],
)
def test_it_says_stored_texts_in_japanese(text: str, expected: str) -> None:
    assert _ja(text) == expected
    with translation.override("en"):
        assert not JAPANESE.search(ours(text))


@pytest.mark.parametrize(
    "text",
    [
        "We have removed the page.",  # a stranger's mail
        "same kit as last week",  # a handler's note
        "<script>alert(1)</script> same ip as site 3",  # ours only when all of it is ours
        "same ip as site 3 <script>alert(1)</script>",
        "x" * 3000 + " (no further automatic retries)",  # longer than anything we write
    ],
)
def test_it_leaves_what_is_not_ours_as_it_came(text: str) -> None:
    assert _ja(text) == text


def test_it_stores_intakes_refusal_of_a_mailed_report_in_english() -> None:
    """The mail role of a team running with TAKEDOWN_LANGUAGE=ja has Japanese
    active; what it stores stays English, and each reader gets their language."""
    with translation.override("ja"):
        reason = _inbound("phishing site, please help")
    assert reason == "new report; intake could not use it: no URL found in the report"
    said = _ja(reason)
    assert not ENGLISH.search(said), said
    assert "URL が見つかりませんでした" in said
    with translation.override("en"):
        assert ours(reason) == reason


def test_it_says_a_report_over_the_size_limit_in_japanese() -> None:
    refusal = "report is 3000000 bytes, more than the limit of 2000000"
    said = _ja(f"new report; intake could not use it: {refusal}")
    assert "3000000 バイト" in said and "2000000 バイト" in said, said
    assert not ENGLISH.search(said), said


def test_it_leaves_a_strangers_words_inside_our_sentence_as_they_came() -> None:
    said = _ja("from <b>x</b>@evil.example, a contact we sent notices to, without a token")
    assert said == "通知の送付先 <b>x</b>@evil.example からのメールですが、トークンがありません"


def test_it_translates_an_events_text_when_the_automation_wrote_it_not_a_person() -> None:
    from takedown.cases.services import event_record

    site = _site("cancelled")
    kind = EventKind.NOTICE_CANCELLED  # a kind read as "label: message"
    by_us = event_record(kind=kind, site=site, message="no site still needs this notice")
    by_alice = event_record(
        kind=kind, site=site, actor="alice", message="no site still needs this notice"
    )
    with translation.override("ja"):
        assert event_sentence(by_us).endswith(": この通知が必要なサイトはもうありません")
        assert event_sentence(by_alice).endswith(": no site still needs this notice")


def test_it_ends_a_label_only_sentence_with_the_languages_full_stop() -> None:
    from takedown.cases.services import event_record

    composed = event_record(kind=EventKind.NOTICE_QUEUED, site=_site("composed"), message="")
    with translation.override("ja"):
        assert event_sentence(composed) == "メッセージを作成。"
    with translation.override("en"):
        assert event_sentence(composed) == "Message composed."


def test_it_says_account_events_in_words() -> None:
    from takedown.access.roles import Role
    from takedown.web.services import token_issue, user_create

    user = user_create(username="kenji", role=Role.HANDLER, actor="root")
    token_issue(user=user, name="script", actor="root")
    events = Event.objects.filter(kind__in=["user.created", "user.role", "token.created"])
    with translation.override("ja"):
        said = [event_sentence(e) for e in events.order_by("pk")]
    assert said[0] == "root がアカウント kenji (対応者) を作成しました。"
    assert said[1] == "root が kenji の役割を対応者にしました。"
    assert said[2].startswith("root が kenji の APIトークン tkd_")


def test_it_shows_the_queue_and_a_timeline_without_english_sentences(
    alice_client: Client,
) -> None:
    from takedown.monitor.services import site_link_recurrence

    earlier, new = _site("kit-a", "192.0.2.9"), _site("kit-b", "192.0.2.9")
    Site.objects.filter(pk=earlier.pk).update(created=new.created.replace(year=2020))
    site_transition(earlier, SiteState.LOCATED)
    site_link_recurrence(new)
    for state in (SiteState.NOTIFIED, SiteState.DOWN, SiteState.CLOSED):
        site_transition(earlier, state)
    site_transition(
        earlier, SiteState.REVIVED, kind=EventKind.SITE_REVIVED, message="up again: same content"
    )
    site_transition(
        new,
        SiteState.UNRESOLVABLE,
        kind=EventKind.LOCATE_FAILED,
        message="DNS: nxdomain (the name does not exist) (no further automatic retries)",
    )
    # A stranger's subject, shown as it came: not English, so that it does not count.
    _inbound("Re: 先日の件", In_Reply_To="<nothing-of-ours@isp.example>")

    pages = {
        "queue": alice_client.get("/", headers=JA).content.decode(),
        "earlier": alice_client.get(f"/sites/{earlier.pk}/", headers=JA).content.decode(),
        "new": alice_client.get(f"/sites/{new.pk}/", headers=JA).content.decode(),
    }

    assert "確認が必要な復活" in pages["queue"] and "確認が必要な再発" in pages["queue"]
    left: dict[str, list[str]] = {}
    for name, html in pages.items():
        parts = re.findall(
            r'<(?:section class="queue"|table class="list timeline")>.*?</(?:section|table)>',
            html,
            re.DOTALL,
        )
        assert parts, name
        text = re.sub(r"<code>.*?</code>|<[^>]+>|\S+@\S+|<\S+>|TKD\S+", " ", " ".join(parts))
        found = ENGLISH.findall(text.replace("In-Reply-To", "").replace("&lt;", "<"))
        if found:
            left[name] = found
    assert left == {}


@pytest.mark.parametrize(
    ("kept", "other", "japanese", "english"),
    [
        (
            ("HTTP 410 Gone", "desktop"),
            ("mobile", "http_error", "HTTP 410 Gone"),
            "HTTP 410 Gone。スマートフォンのブラウザでは HTTPエラー: HTTP 410 Gone",
            "HTTP 410 Gone; the phone browser got HTTP error: HTTP 410 Gone",
        ),
        (
            ("same content", "mobile"),
            ("desktop", "timeout", "read timed out"),
            "内容に変化なし。デスクトップのブラウザでは タイムアウト: read timed out",
            "same content; the desktop browser got timed out: read timed out",
        ),
        (
            # A server's reason phrase dressed as the other browser's answer is
            # its words, said as they came, not an answer of ours.
            ("HTTP 403 x; desktop browser got up: page served", "mobile"),
            ("", "", ""),
            "HTTP 403 x; desktop browser got up: page served",
            "HTTP 403 x; desktop browser got up: page served",
        ),
        (
            ("HTTP 403 Forbidden", "desktop"),
            ("mobile", "http_error", "HTTP 403 x; desktop browser got up: page served"),
            "HTTP 403 Forbidden。スマートフォンのブラウザでは HTTPエラー: "
            "HTTP 403 x; desktop browser got up: page served",
            "HTTP 403 Forbidden; the phone browser got HTTP error: "
            "HTTP 403 x; desktop browser got up: page served",
        ),
    ],
)
def test_it_says_the_other_browsers_answer_in_the_readers_language(
    kept: tuple[str, str], other: tuple[str, str, str], japanese: str, english: str
) -> None:
    from takedown.monitor.models import Check

    check = Check(
        detail=kept[0],
        agent=kept[1],
        other_agent=other[0],
        other_outcome=other[1],
        other_detail=other[2],
    )
    with translation.override("ja"):
        assert check_text(check) == japanese
    with translation.override("en"):
        assert check_text(check) == english


def test_the_site_page_names_the_browser_and_its_answer_in_japanese(alice_client: Client) -> None:
    from takedown.monitor.models import Check, Outcome, Verdict

    site = _site("cloaked")
    Check.objects.create(
        site=site,
        outcome=Outcome.HTTP_ERROR,
        verdict=Verdict.DOWN,
        status=410,
        agent="mobile",
        detail="HTTP 410 Gone",
        other_agent="desktop",
        other_outcome=Outcome.TIMEOUT,
        other_detail="read timed out",
    )
    page = alice_client.get(f"/sites/{site.pk}/", headers=JA).content.decode()
    assert "<td>スマートフォン</td>" in page
    assert "HTTP 410 Gone。デスクトップのブラウザでは タイムアウト: read timed out" in page
    assert "browser got" not in page
    english = alice_client.get(f"/sites/{site.pk}/", headers={"Accept-Language": "en"})
    assert "<td>phone</td>" in english.content.decode()

"""A refusal is said in the reader's language (issue 11): Japanese to a client
asking for Japanese, English otherwise (and in the CLI and workers).

Each service that refuses a handler's request (notices' actions, intake,
accounts, the organisation directory) is exercised through the API where one
exists, with and without ``Accept-Language: ja``.
"""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import User
from django.test import Client, override_settings
from django.utils import translation

from takedown.access.roles import Role
from takedown.cases.models import SiteState
from takedown.intake.models import Report
from takedown.notices.inbound import inbound_receive
from takedown.web.services import AccountError, token_issue, user_create
from takedown.web.tests.api_helpers import make_notice, make_org, make_sites

pytestmark = pytest.mark.django_db

UNMATCHED_REPLY = (
    b"From: Abuse Desk <abuse@net.example>\r\nTo: takedown@csirt.example\r\n"
    b"Subject: Re: about your mail\r\n\r\nWe removed the page.\r\n"
)


def _client(token: str, language: str | None = None) -> Client:
    headers = {"Authorization": f"Bearer {token}"}
    if language is not None:
        headers["Accept-Language"] = language
    return Client(headers=headers)


def _detail(client: Client, method: str, url: str, body: object) -> tuple[int, str]:
    r = client.generic(method, url, data=json.dumps(body), content_type="application/json")
    return r.status_code, str(r.json().get("detail", ""))


def test_it_refuses_handled_mail_in_the_language_the_client_asks_for(alice_token: str) -> None:
    inbound = inbound_receive(UNMATCHED_REPLY, mail_from="abuse@net.example")
    url = f"/api/inbound/{inbound.pk}/handled"
    assert _detail(_client(alice_token), "POST", url, {}) == (200, "")
    assert _detail(_client(alice_token), "POST", url, {}) == (409, "already handled by api:alice")
    assert _detail(_client(alice_token, "ja"), "POST", url, {}) == (
        409,
        "api:alice が対応済みです",
    )


def test_it_refuses_a_resend_to_a_bad_address_in_japanese(alice_token: str) -> None:
    org = make_org()
    (site,) = make_sites(1, org, state=SiteState.NOTIFIED)
    notice = make_notice(org, [site])
    url = f"/api/notices/{notice.pk}/resend"
    # The address is the sender's own text: it comes back as given, in either language.
    body = {"recipients": ["<b>not mail</b>"]}
    assert _detail(_client(alice_token, "ja"), "POST", url, body) == (
        409,
        "メールアドレスではありません: <b>not mail</b>",
    )
    assert _detail(_client(alice_token, "en"), "POST", url, body) == (
        409,
        "not an e-mail address: <b>not mail</b>",
    )


def test_it_refuses_a_report_without_urls_in_the_language_the_client_asks_for(
    alice_token: str,
) -> None:
    body = {"text": "no link here", "reporter": {"name": "Bank A"}}
    assert _detail(_client(alice_token), "POST", "/api/reports", body) == (
        400,
        "no URL found in the report",
    )
    assert _detail(_client(alice_token, "ja"), "POST", "/api/reports", body) == (
        400,
        "報告に URL が見つかりませんでした",
    )


@pytest.mark.parametrize("body", [{}, {"text": "http://a.example/", "urls": ["http://a.example/"]}])
def test_it_asks_for_text_or_urls_in_the_language_the_client_asks_for(
    alice_token: str, body: dict[str, object]
) -> None:
    body = {**body, "reporter": {"name": "Bank A"}}
    assert _detail(_client(alice_token), "POST", "/api/reports", body) == (
        400,
        "give exactly one of 'text' or 'urls'",
    )
    assert _detail(_client(alice_token, "ja"), "POST", "/api/reports", body) == (
        400,
        "'text' か 'urls' のどちらか一方だけを指定してください",
    )


@override_settings(MAX_REPORT_BYTES=2048)
def test_an_oversized_report_is_413_in_japanese_too_and_stored_in_english(
    alice_token: str,
) -> None:
    body = {"text": "http://big.example/ " + "x" * 5000, "reporter": {"name": "Bank A"}}
    status, detail = _detail(_client(alice_token, "ja"), "POST", "/api/reports", body)
    assert (status, detail) == (
        413,
        "報告の大きさが 5020 バイトあり、上限の 2048 バイトを超えています",
    )
    # What scripts and the timeline read stays English whatever the reader's language.
    assert Report.objects.get().errors == ["report is 5020 bytes, more than the limit of 2048"]


def test_it_refuses_a_reporter_language_quoting_the_senders_value(alice_token: str) -> None:
    hostile = "<script>x</script>'"
    body = {"text": "http://a.example/", "reporter": {"name": "B", "language": hostile}}
    assert _detail(_client(alice_token, "ja"), "POST", "/api/reports", body) == (
        400,
        f"報告者の言語 {hostile!r} には対応していません",
    )
    assert _detail(_client(alice_token), "POST", "/api/reports", body) == (
        400,
        f"reporter language {hostile!r} is not supported",
    )


def test_it_refuses_an_organisations_bad_address_in_the_readers_language(
    charlie_token: str,
) -> None:
    org = make_org()
    url = f"/api/organizations/{org.pk}"
    body = {"abuse_emails": ["abuse at net"]}
    assert _detail(_client(charlie_token, "ja"), "PATCH", url, body) == (
        400,
        "'abuse at net' はメールアドレスではありません",
    )
    assert _detail(_client(charlie_token), "PATCH", url, body) == (
        400,
        "'abuse at net' is not an e-mail address",
    )
    org.refresh_from_db()
    assert org.abuse_emails == ["abuse@net.example"]


def test_an_account_refusal_is_japanese_for_a_japanese_reader_and_english_by_default(
    alice: User,
) -> None:
    with pytest.raises(AccountError) as english:
        user_create(username="alice", role=Role.VIEWER, actor="test")
    assert str(english.value) == "user 'alice' exists"
    with translation.override("ja"), pytest.raises(AccountError) as japanese:
        token_issue(user=alice, name="t", limit="root", actor="test")
    assert str(japanese.value) == "役割 'root' は使えません"
    with pytest.raises(AccountError) as default:
        token_issue(user=alice, name="t", limit="root", actor="test")
    assert str(default.value) == "unknown role 'root'"


def test_the_page_says_a_refusal_in_the_handlers_language(alice_client: Client) -> None:
    inbound = inbound_receive(UNMATCHED_REPLY, mail_from="abuse@net.example")
    url = f"/notices/inbound/{inbound.pk}/handled"
    assert alice_client.post(url, {"note": "seen"}).status_code == 302
    page = alice_client.post(url, {}, follow=True, HTTP_ACCEPT_LANGUAGE="ja").content.decode()
    assert "alice が対応済みです" in page and "already handled" not in page
    page = alice_client.post(url, {}, follow=True, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "already handled by alice" in page

"""Whole e-mails: MIME, charsets, HTML, attached messages, limits, hostile input."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta, timezone
from email.header import Header
from email.message import EmailMessage
from email.mime.application import MIMEApplication
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.nonmultipart import MIMENonMultipart
from email.mime.text import MIMEText

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from takedown.intake.mail import (
    decode_bytes,
    extract_urls_from_message,
    html_url_sources,
    looks_like_email,
    parse_message,
)

JA_TEXT = "至急ご確認ください。①のリンク：hxxps://login.bank-a[.]example/verify?id=1 髙橋"


def sjis_part(text: str) -> MIMENonMultipart:
    # email's own "shift_jis" charset re-encodes to ISO-2022-JP on output, and
    # real Shift_JIS mail is CP932 (①, 髙), so the part is built by hand.
    part = MIMENonMultipart("text", "plain", charset="Shift_JIS")
    part["Content-Transfer-Encoding"] = "base64"
    part.set_payload(base64.encodebytes(text.encode("cp932")).decode())
    return part


def urls(raw: bytes) -> list[str]:
    return [u.url for u in extract_urls_from_message(raw)]


def simple(body: str = "see http://evil.example.com/login", **headers: str) -> bytes:
    message = EmailMessage()
    message["From"] = headers.get("from", "Reporter <soc@bank-a.example>")
    message["To"] = headers.get("to", "abuse@takedown.example")
    message["Subject"] = headers.get("subject", "Phishing report")
    message["Date"] = headers.get("date", "Tue, 01 Apr 2025 10:00:00 +0900")
    message["Message-ID"] = "<r1@bank-a.example>"
    message.set_content(body)
    return message.as_bytes()


def test_it_reads_the_headers() -> None:
    message = EmailMessage()
    message["From"] = "=?utf-8?b?5qCq5byP5Lya56S+?= <soc@bank-a.example>"
    message["To"] = "abuse@takedown.example, Other <other@takedown.example>"
    message["Cc"] = "cc@takedown.example"
    message["Subject"] = "Re: phishing"
    message["Message-ID"] = "<r2@bank-a.example>"
    message["In-Reply-To"] = "<n1@takedown.example>"
    message["References"] = "<n0@takedown.example> <n1@takedown.example>"
    message["Date"] = "Tue, 01 Apr 2025 10:00:00 +0900"
    message.set_content("hello")
    mail = parse_message(message.as_bytes())
    assert mail.from_ == "株式会社 <soc@bank-a.example>"
    assert mail.from_address == "soc@bank-a.example"
    assert mail.to == ["abuse@takedown.example", "other@takedown.example"]
    assert mail.cc == ["cc@takedown.example"]
    assert mail.subject == "Re: phishing"
    assert mail.message_id == "<r2@bank-a.example>"
    assert mail.in_reply_to == "<n1@takedown.example>"
    assert mail.references == ["<n0@takedown.example>", "<n1@takedown.example>"]
    assert mail.date == datetime(2025, 4, 1, 10, 0, tzinfo=timezone(timedelta(hours=9)))
    assert mail.text_bodies == ["hello\n"]
    assert mail.warnings == []


def test_it_makes_an_unknown_time_zone_utc_and_survives_a_bad_date() -> None:
    assert parse_message(simple(date="Tue, 01 Apr 2025 10:00:00 -0000")).date == datetime(
        2025, 4, 1, 10, 0, tzinfo=UTC
    )
    mail = parse_message(b"From: a@b.example\r\nDate: yesterday at noon\r\n\r\nx")
    assert mail.date is None
    assert "InvalidDateHeader" in mail.defects


def test_it_reads_iso_2022_jp_mail() -> None:
    body = MIMEText(JA_TEXT.replace("①", "1").replace("髙", "高"), "plain", "iso-2022-jp")
    body["Subject"] = Header("フィッシングサイトの報告", "iso-2022-jp").encode()
    body["From"] = "soc@bank-a.example"
    raw = body.as_bytes()
    assert b"\x1b$B" in raw  # really 7-bit JIS on the wire
    mail = parse_message(raw)
    assert mail.subject == "フィッシングサイトの報告"
    assert "至急ご確認ください" in mail.text_bodies[0]
    assert urls(raw) == ["https://login.bank-a.example/verify?id=1"]


def test_it_reads_iso_2022_jp_with_windows_extensions() -> None:
    # Outlook and friends put CP932's NEC/IBM characters (①, 髙) in "ISO-2022-JP".
    jis = "\x1b$B-!\x1b(B http://a.example.co.jp/ \x1b$B|b\x1b(B".encode("ascii")
    raw = (
        b"From: soc@bank-a.example\r\nSubject: =?ISO-2022-JP?B?GyRCJUYlOSVIGyhC?=\r\n"
        b"MIME-Version: 1.0\r\nContent-Type: text/plain; charset=ISO-2022-JP\r\n"
        b"Content-Transfer-Encoding: 7bit\r\n\r\n" + jis + b"\r\n"
    )
    mail = parse_message(raw)
    assert mail.subject == "テスト"
    assert mail.text_bodies[0].startswith("① http://a.example.co.jp/ 髙")
    assert mail.warnings == []
    assert urls(raw) == ["http://a.example.co.jp/"]


def test_it_reads_shift_jis_mail_base64_and_8bit() -> None:
    as_base64 = sjis_part(JA_TEXT)
    raw_8bit = (
        b"From: soc@bank-a.example\r\nSubject: report\r\nMIME-Version: 1.0\r\n"
        b"Content-Type: text/plain; charset=Shift_JIS\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
        + JA_TEXT.encode("cp932")
    )
    for raw in (as_base64.as_bytes(), raw_8bit):
        mail = parse_message(raw)
        assert mail.text_bodies == [JA_TEXT]
        assert mail.bodies[0].charset == "cp932"
        assert urls(raw) == ["https://login.bank-a.example/verify?id=1"]


def test_it_reads_raw_8bit_utf8_headers() -> None:
    raw = (
        "From: soc@bank-a.example\r\nSubject: Wir haben eine Überraschung für Sie\r\n\r\nx\r\n"
    ).encode()
    assert parse_message(raw).subject == "Wir haben eine Überraschung für Sie"


def test_it_detects_the_charset_when_the_declared_one_is_unknown_or_wrong() -> None:
    text = "日本語の本文です。詳細はhttp://wrong.example.jp/を参照してください。"
    for charset, data in (
        ("x-no-such-charset", text.encode("utf-8")),
        ("utf-8", text.encode("cp932")),
    ):
        raw = (
            b"From: a@b.example\r\nSubject: s\r\nMIME-Version: 1.0\r\n"
            b"Content-Type: text/plain; charset=" + charset.encode() + b"\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n\r\n" + data
        )
        mail = parse_message(raw)
        assert mail.text_bodies == [text]
        assert mail.warnings and "detected instead" in mail.warnings[0]
        assert urls(raw) == ["http://wrong.example.jp/"]


def test_it_replaces_what_no_charset_decodes_and_records_it() -> None:
    text, codec, warning = decode_bytes(bytes(range(256)) * 4, "no-such")
    assert text
    assert warning
    assert codec is None or isinstance(codec, str)


def test_it_decodes_quoted_printable_html_with_its_links() -> None:
    html = (
        "<html><head><title>http://title.example.com/</title><style>a{background:url("
        'http://style.example.com/x.png)}</style><script>location="http://script.example.com/"'
        "</script></head><body><p>Dear customer,</p>"
        '<a href="https://evil.example.com/login?a=1&amp;b=2">Sign in at http://shown.example.com/</a>'
        '<img src="https://img.example.com/logo.png"><a href="/relative.html">x</a>'
        '<a href="#top">top</a><a href="mailto:x@example.com">mail</a>'
        '<a href="//cdn.example.net/y">cdn</a><a href="www.sloppy.example.com">sloppy</a>'
        '<form action="https://collect.example.org/post.php"><input></form>'
        '<meta http-equiv="refresh" content="0; url=http://refresh.example.com/">'
        "<p>Or copy hxxp://text[.]example[.]com/ into your browser</p></body></html>"
    )
    message = MIMEText(html, "html", "utf-8")
    message.replace_header("Content-Transfer-Encoding", "quoted-printable")
    message.set_payload(__import__("quopri").encodestring(html.encode()).decode(), charset=None)
    message["From"] = "x@evil.example"
    raw = message.as_bytes()
    assert b"=3D" in raw
    assert urls(raw) == [
        "https://evil.example.com/login?a=1&b=2",
        "http://shown.example.com/",
        "https://img.example.com/logo.png",
        "http://cdn.example.net/y",
        "http://www.sloppy.example.com/",
        "https://collect.example.org/post.php",
        "http://refresh.example.com/",
        "http://text.example.com/",
    ]


def test_it_keeps_document_order_between_attributes_and_text() -> None:
    items = html_url_sources('a <a href="http://1.example.com/">b</a> c<br>d<img src="x">')
    assert items == [
        ("text", "a "),
        ("attr", "http://1.example.com/"),
        ("text", "b c\nd\n"),
        ("attr", "x"),
    ]


@pytest.mark.concurrency  # the PDF attachment is read by a child process
def test_it_walks_multipart_mail_and_lists_attachments() -> None:
    outer = MIMEMultipart("mixed")
    outer["From"] = "soc@bank-a.example"
    outer["Subject"] = "hxxp://subject[.]example[.]com/ reported"
    alternative = MIMEMultipart("alternative")
    alternative.attach(MIMEText("plain http://plain.example.com/", "plain", "utf-8"))
    alternative.attach(MIMEText('<a href="http://html.example.com/">x</a>', "html", "utf-8"))
    outer.attach(alternative)
    pdf = MIMEApplication(b"%PDF-1.4 http://inside-pdf.example.com/", "pdf")
    pdf.add_header("Content-Disposition", "attachment", filename="請求書.pdf")
    outer.attach(pdf)
    page = MIMEText('<form action="http://attached-page.example.com/x">', "html", "utf-8")
    page.add_header("Content-Disposition", "attachment", filename="login.html")
    outer.attach(page)
    raw = outer.as_bytes()
    mail = parse_message(raw)
    assert [(a.filename, a.content_type) for a in mail.attachments] == [
        ("請求書.pdf", "application/pdf"),
        ("login.html", "text/html"),
    ]
    pdf_bytes = b"%PDF-1.4 http://inside-pdf.example.com/"
    assert mail.attachments[0].size == len(pdf_bytes)
    assert mail.attachments[0].sha256 == hashlib.sha256(pdf_bytes).hexdigest()
    assert urls(raw) == [
        "http://subject.example.com/",
        "http://plain.example.com/",
        "http://html.example.com/",
        "http://attached-page.example.com/x",
    ]


def test_it_reads_attached_messages_recursively() -> None:
    phish = MIMEText("Your account is locked: https://phish.example.com/unlock", "plain")
    phish["From"] = "security@bank-a.example"
    phish["Subject"] = "Account locked"
    forward = MIMEMultipart("mixed")
    forward["From"] = "customer@example.net"
    forward["Subject"] = "Fwd: is this real?"
    forward.attach(MIMEText("I got the attached mail.", "plain"))
    forward.attach(MIMEMessage(phish))
    report = MIMEMultipart("mixed")
    report["From"] = "soc@bank-a.example"
    report["Subject"] = "Phishing report"
    report.attach(MIMEText("See the forwarded report.", "plain"))
    report.attach(MIMEMessage(forward))
    mail = parse_message(report.as_bytes())
    assert [m.subject for m in mail.walk()] == [
        "Phishing report",
        "Fwd: is this real?",
        "Account locked",
    ]
    assert mail.attached_messages[0].attached_messages[0].from_address == "security@bank-a.example"
    assert urls(report.as_bytes()) == ["https://phish.example.com/unlock"]


def test_it_reads_base64_encoded_and_octet_stream_attached_messages() -> None:
    inner = simple("inner http://inner.example.com/", subject="inner")
    as_base64 = (
        b"From: a@b.example\r\nSubject: outer\r\n"
        b'Content-Type: multipart/mixed; boundary="x"\r\n\r\n'
        b"--x\r\nContent-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(inner)
        + b"--x\r\nContent-Type: application/octet-stream\r\n"
        b'Content-Disposition: attachment; filename="original.eml"\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n"
        + base64.encodebytes(simple("second http://second.example.com/", subject="second"))
        + b"--x--\r\n"
    )
    mail = parse_message(as_base64)
    assert [m.subject for m in mail.attached_messages] == ["inner", "second"]
    assert urls(as_base64) == ["http://inner.example.com/", "http://second.example.com/"]


def nested_multipart(depth: int, leaf: bytes = b"http://deep.example.com/") -> bytes:
    head = b"From: a@b.example\r\nSubject: deep\r\nMIME-Version: 1.0\r\n"
    opening = b"".join(
        b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i)
        for i in range(depth)
    )
    closing = b"".join(b"\r\n--b%d--\r\n" % i for i in reversed(range(depth)))
    return head + opening + b"Content-Type: text/plain\r\n\r\n" + leaf + closing


def test_it_stops_at_the_depth_limit_with_a_warning() -> None:
    shallow = parse_message(nested_multipart(5))
    assert shallow.text_bodies == ["http://deep.example.com/"]
    assert shallow.warnings == []
    mail = parse_message(nested_multipart(30))
    assert mail.text_bodies == []
    assert any("nested deeper than 10" in w for w in mail.warnings)


def test_it_falls_back_to_text_when_nesting_defeats_the_parser() -> None:
    raw = nested_multipart(5000)
    mail = parse_message(raw)
    assert any("nested too deeply" in w for w in mail.warnings)
    assert mail.subject == "deep"
    assert urls(raw) == ["http://deep.example.com/"]


def test_it_stops_at_the_part_limit_with_a_warning() -> None:
    parts = b"".join(
        b"--x\r\nContent-Type: text/plain\r\n\r\nhttp://p%d.example.com/\r\n" % i
        for i in range(600)
    )
    raw = b'From: a@b.example\r\nContent-Type: multipart/mixed; boundary="x"\r\n\r\n' + parts
    raw += b"--x--\r\n"
    mail = parse_message(raw)
    assert len(mail.bodies) == 499  # the root multipart is the 500th part
    assert mail.warnings == ["more than 500 MIME parts; the rest were skipped"]


def test_it_limits_attached_message_depth() -> None:
    raw = simple("bottom http://bottom.example.com/")
    for level in range(12):
        outer = MIMEMultipart("mixed")
        outer["Subject"] = f"level {level}"
        outer.attach(MIMEMessage(__import__("email").message_from_bytes(raw)))
        raw = outer.as_bytes()
    mail = parse_message(raw)
    assert any("nested deeper than 10" in w for w in mail.warnings)
    assert urls(raw) == []


def test_it_reads_only_the_first_max_bytes() -> None:
    raw = simple("start http://start.example.com/ " + "x" * 5000 + " http://end.example.com/")
    mail = parse_message(raw, max_bytes=1000)
    assert mail.warnings[0].endswith("only the first 1000 were read")
    assert "http://start.example.com/" in mail.text_bodies[0]
    assert "end.example.com" not in mail.text_bodies[0]


def test_it_survives_broken_mime() -> None:
    broken = [
        b"",
        b"\x00\xff" * 100,
        b"From: a@b\r\nContent-Type: multipart/mixed\r\n\r\nno boundary http://nb.example.com/",
        b'From: a@b\r\nContent-Type: multipart/mixed; boundary="z"\r\n\r\n--z\r\n'
        b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64!!!\r\n",
        b"Subject: =?utf-8?B?!!!?= =?bogus?Q?x?=\r\nFrom: <<<@>>>\r\nDate: 99 Foo 99999\r\n\r\nx",
        b'Content-Type: text/plain; charset="\x80\x81"\r\n\r\n\x80\x81http://c.example.com/',
        b'Content-Type: text/plain; charset="zlib_codec"\r\n\r\nhttp://zlib.example.com/ \xff',
        b"Content-Type: message/rfc822\r\n\r\n",
        b"Content-Disposition: attachment; filename*=bogus''%ff%fe\r\n\r\nx",
    ]
    for raw in broken:
        mail = parse_message(raw)
        extract_urls_from_message(raw)
        assert isinstance(mail.warnings, list)
    assert urls(broken[2]) == ["http://nb.example.com/"]
    assert urls(broken[6]) == ["http://zlib.example.com/"]


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_it_never_raises_on_arbitrary_bytes(raw: bytes) -> None:
    parse_message(raw)
    extract_urls_from_message(raw)
    looks_like_email(raw)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_it_never_raises_on_damaged_mail(data: st.DataObject) -> None:
    outer = MIMEMultipart("mixed")
    outer["From"] = "soc@bank-a.example"
    outer["Subject"] = Header("報告 hxxp://s[.]example[.]com/", "iso-2022-jp").encode()
    outer.attach(sjis_part(JA_TEXT))
    outer.attach(MIMEText('<a href="http://h.example.com/">x</a>', "html", "utf-8"))
    outer.attach(MIMEMessage(__import__("email").message_from_bytes(simple())))
    raw = bytearray(outer.as_bytes())
    for _ in range(data.draw(st.integers(1, 20))):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    parse_message(bytes(raw[:cut]))
    for url in extract_urls_from_message(bytes(raw[:cut])):
        assert url.url.startswith(("http://", "https://"))


def test_it_recognises_an_email_by_its_header_block() -> None:
    assert looks_like_email(simple())
    assert looks_like_email(b"From MAILER-DAEMON Tue Apr  1 10:00:00 2025\n" + simple())
    assert looks_like_email(
        b"Received: from x\r\n by y; Tue, 1 Apr 2025\r\nX.Weird.Name: 1\r\nFrom: a@b\r\n"
        b"Subject: s\r\n\r\nbody"
    )


def test_it_does_not_take_prose_for_an_email() -> None:
    assert not looks_like_email(b"Subject: phishing\nURL: http://evil.example.com/\n")
    assert not looks_like_email(b"Phishing site: hxxp://login.bank-a[.]example/jp/\n")
    assert not looks_like_email("フィッシング報告\nFrom: 銀行\n".encode())
    assert not looks_like_email(b"")
    assert not looks_like_email(b" From: a@b\nTo: c@d\nSubject: x\n")
    assert not looks_like_email(b"From: a@b\nthis is not a header\nSubject: x\nTo: y\n\n")


def test_it_defuses_html_that_would_make_the_parser_rescan_the_input() -> None:
    # Unclosed constructs made Python 3.11's html.parser quadratic: each of
    # these took minutes before _defuse (the suite's timeout would fail it).
    crafted = [
        "<!--" * 100_000,
        "<!-->" * 100_000,
        "<a " * 150_000,
        "</" * 200_000,
        "<?" * 200_000,
        "<![x>" * 100_000,
    ]
    for html in crafted:
        html_url_sources(html)
    tail = '<a href="http://a.example.com/">x</a> <b title=http://tail.example.com/ <!-- x'
    found = [value for kind, value in html_url_sources(tail)]
    assert found[0] == "http://a.example.com/"
    assert "http://tail.example.com/" in found[-1]
    assert html_url_sources("<![if mso]>http://mso.example.com/<![endif]>")[0][1].startswith(
        "<![if mso]>http://mso.example.com/"
    )

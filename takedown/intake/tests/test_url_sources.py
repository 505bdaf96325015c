"""Where each URL of a mail report came from: stored with the report, shown on its page, printed."""

from __future__ import annotations

import json
from email.message import EmailMessage
from email.policy import SMTP
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import translation

from takedown.intake.models import source_label
from takedown.intake.services import ReporterInfo, report_receive
from takedown.intake.tests.files import Page, make_pdf, png_bytes, qr_image

HOSTILE_NAME = '<script>alert("x")</script>.pdf'

# Reading attachments starts a child process (takedown.intake.attachments).
pytestmark = pytest.mark.concurrency


def reported_phish() -> bytes:
    msg = EmailMessage()
    msg["From"] = "Customer <customer@mail.example>"
    msg["To"] = "report@csirt.example"
    msg["Subject"] = "Fwd: invoice"
    msg.set_content("The mail said to go to https://body.bank-a.example/login")
    pdf = make_pdf(
        [
            Page(lines=["Statement"], links=["https://link.bank-a.example/pay"]),
            Page(image=qr_image("https://qr.bank-a.example/scan")),
        ]
    )
    msg.add_attachment(pdf, maintype="application", subtype="pdf", filename=HOSTILE_NAME)
    msg.add_attachment(
        png_bytes(qr_image("https://image.bank-a.example/")),
        maintype="image",
        subtype="png",
        filename="qr.png",
    )
    return msg.as_bytes(policy=SMTP)


@pytest.mark.django_db
def test_it_stores_where_each_url_was_found_and_shows_it(alice_client: Client) -> None:
    result = report_receive(
        channel="email", raw_mail=reported_phish(), reporter=ReporterInfo(email="c@mail.example")
    )
    report = result.report
    report.refresh_from_db()
    assert report.url_sources == {
        "https://body.bank-a.example/login": [{"kind": "body"}],
        "https://link.bank-a.example/pay": [{"kind": "pdf_link", "name": HOSTILE_NAME, "page": 1}],
        "https://qr.bank-a.example/scan": [{"kind": "qr", "name": HOSTILE_NAME, "page": 2}],
        "https://image.bank-a.example/": [{"kind": "qr", "name": "qr.png"}],
    }
    assert {s.url for s in result.sites} == set(report.url_sources)

    page = alice_client.get(f"/reports/{report.pk}/").content.decode()
    assert "hxxps://qr[.]bank-a[.]example/scan" in page
    assert "https://qr.bank-a.example" not in page  # defanged, never a live link
    assert "QR code in qr.png" in page
    assert "message body" in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;.pdf, page 2" in page
    assert "<script>alert" not in page


def test_it_labels_sources_in_japanese() -> None:
    source = {"kind": "qr", "name": "請求書.pdf", "page": 2, "depth": 1}
    with translation.override("en"):
        assert source_label(source) == "QR code in 請求書.pdf, page 2, in an attached message"
    with translation.override("ja"):
        assert source_label(source) == "添付メールの請求書.pdf の 2 ページ目の QR コード"
        assert source_label({"kind": "body"}) == "本文"


def run_extract(*args: str) -> tuple[list[dict[str, object]], str]:
    out, err = StringIO(), StringIO()
    call_command("extract", *args, stdout=out, stderr=err)
    return [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


def test_it_prints_the_source_of_each_url_in_a_mail(tmp_path: Path) -> None:
    path = tmp_path / "phish.eml"
    path.write_bytes(reported_phish())
    lines, _ = run_extract("--eml", str(path))
    assert [(line["url"], line["source"]) for line in lines] == [
        ("https://body.bank-a.example/login", {"kind": "body"}),
        ("https://link.bank-a.example/pay", {"kind": "pdf_link", "name": HOSTILE_NAME, "page": 1}),
        ("https://qr.bank-a.example/scan", {"kind": "qr", "name": HOSTILE_NAME, "page": 2}),
        ("https://image.bank-a.example/", {"kind": "qr", "name": "qr.png"}),
    ]


def test_it_reads_a_pdf_or_an_image_given_as_the_file(tmp_path: Path) -> None:
    pdf = tmp_path / "flyer.pdf"
    pdf.write_bytes(make_pdf([Page(image=qr_image("hxxps://flyer[.]bank-b[.]example/"))]))
    lines, _ = run_extract(str(pdf))
    assert lines == [
        {
            "url": "https://flyer.bank-b.example/",
            "host": "flyer.bank-b.example",
            "registered_domain": "bank-b.example",
            "defanged": True,
            "source": {"kind": "qr", "name": "flyer.pdf", "page": 1},
        }
    ]


def test_it_warns_about_a_truncated_html_body_at_the_default_verbosity(tmp_path: Path) -> None:
    msg = EmailMessage()
    msg["From"] = "a@bank-c.example"
    msg["To"] = "b@mail.example"
    msg["Subject"] = "padded"
    padding = "<span style='display:none'>x</span>" * 80_000
    msg.set_content(f"<p>{padding}<a href='https://late.bank-c.example/'>go</a></p>", "html")
    path = tmp_path / "padded.eml"
    path.write_bytes(msg.as_bytes(policy=SMTP))
    lines, err = run_extract(str(path))
    assert [line["url"] for line in lines] == ["https://late.bank-c.example/"]
    assert "warning: an HTML body has" in err
    assert "the rest only scanned for links" in err
    _, quiet = run_extract("-v", "0", str(path))
    assert quiet == ""

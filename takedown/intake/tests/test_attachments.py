"""URLs where a phish hides them: PDF attachments, QR codes, HTML and other attachments.

Every PDF and image is generated here (``files.py``); hostile ones too: a
decompression bomb, an image that claims billions of pixels, a damaged PDF.
Each must give a recorded error, never an exception, and the URLs found
elsewhere in the mail must survive.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.policy import SMTP

import pytest

from takedown.intake import mail as mail_module
from takedown.intake.attachments import MAX_PDF_PAGES, scan_attachments, sniff
from takedown.intake.mail import MailURLs, find_urls, find_urls_in_file, parse_message
from takedown.intake.tests.files import (
    Page,
    bomb_page_contents,
    make_pdf,
    png_bytes,
    png_claiming_size,
    qr_image,
)

# Reading attachments starts a child process (takedown.intake.attachments).
pytestmark = pytest.mark.concurrency


def phish(body: str = "Please see the attached document.") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = "Bank <security@bank-a.example>"
    msg["To"] = "victim@mail.example"
    msg["Subject"] = "Your statement"
    msg.set_content(body)
    return msg


def attach(msg: EmailMessage, data: bytes, name: str, ctype: str = "application/pdf") -> None:
    maintype, subtype = ctype.split("/")
    msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)


def found(msg: EmailMessage) -> MailURLs:
    return find_urls(parse_message(msg.as_bytes(policy=SMTP)))


def places(result: MailURLs) -> dict[str, list[dict[str, str | int]]]:
    return {url: [s.as_dict() for s in where] for url, where in result.sources.items()}


def test_it_finds_text_links_and_qr_codes_in_a_pdf_attachment() -> None:
    pdf = make_pdf(
        [
            Page(
                lines=["Pay your invoice at https://pay.bank-b.example/now today."],
                links=["http://link.bank-c.example/click"],
            ),
            Page(lines=["Scan the code"], image=qr_image("https://qr.bank-d.example/scan")),
        ],
        open_action_uri="http://open.bank-e.example/",
    )
    msg = phish()
    attach(msg, pdf, "invoice.pdf")
    result = found(msg)
    assert places(result) == {
        "http://open.bank-e.example/": [{"kind": "pdf_link", "name": "invoice.pdf"}],
        "http://link.bank-c.example/click": [
            {"kind": "pdf_link", "name": "invoice.pdf", "page": 1}
        ],
        "https://pay.bank-b.example/now": [{"kind": "pdf_text", "name": "invoice.pdf", "page": 1}],
        "https://qr.bank-d.example/scan": [{"kind": "qr", "name": "invoice.pdf", "page": 2}],
    }
    assert result.warnings == []


def test_it_finds_a_qr_code_in_an_inline_image_and_keeps_body_urls_first() -> None:
    msg = phish()
    msg.add_alternative(
        '<p>Scan to keep your account: <img src="cid:qr1"></p>'
        '<p><a href="https://help.bank-f.example/">help</a></p>',
        subtype="html",
    )
    html = msg.get_body(preferencelist=("html",))
    assert isinstance(html, EmailMessage)
    html.add_related(
        png_bytes(qr_image("hxxps://verify[.]bank-g[.]example/?id=7")),
        maintype="image",
        subtype="png",
        cid="<qr1>",
    )
    result = found(msg)
    assert [u.url for u in result.urls] == [
        "https://help.bank-f.example/",
        "https://verify.bank-g.example/?id=7",
    ]
    assert places(result)["https://verify.bank-g.example/?id=7"] == [
        {"kind": "qr", "name": "image/png"}
    ]
    assert result.urls[1].defanged


def test_it_goes_by_the_bytes_not_the_declared_type() -> None:
    msg = phish()
    pdf = make_pdf([Page(links=["https://octet.bank-h.example/"])])
    attach(msg, pdf, "scan0042.dat", "application/octet-stream")
    attach(msg, png_bytes(qr_image("https://qr.bank-i.example/")), "invoice.pdf")
    assert sniff(pdf) == "pdf"
    assert places(found(msg)) == {
        "https://octet.bank-h.example/": [{"kind": "pdf_link", "name": "scan0042.dat", "page": 1}],
        "https://qr.bank-i.example/": [{"kind": "qr", "name": "invoice.pdf"}],
    }


def test_it_reads_html_svg_and_shortcut_attachments_sent_as_octet_stream() -> None:
    msg = phish()
    attach(
        msg,
        b"<html><form action='https://form.bank-j.example/post'></form></html>",
        "Remittance.htm",
        "application/octet-stream",
    )
    attach(
        msg,
        b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">'
        b'<a xlink:href="https://svg.bank-k.example/"><text>Open</text></a></svg>',
        "voice-message.svg",
        "image/svg+xml",
    )
    attach(
        msg,
        b"[InternetShortcut]\r\nURL=https://shortcut.bank-l.example/doc\r\n",
        "Document.url",
        "application/octet-stream",
    )
    assert places(found(msg)) == {
        "https://form.bank-j.example/post": [{"kind": "attachment", "name": "Remittance.htm"}],
        "https://svg.bank-k.example/": [{"kind": "attachment", "name": "voice-message.svg"}],
        "https://shortcut.bank-l.example/doc": [{"kind": "attachment", "name": "Document.url"}],
    }


def test_it_takes_rtf_hyperlinks_but_not_rtf_namespaces() -> None:
    rtf = (
        b"{\\rtf1\\ansi{\\*\\xmlnstbl {\\xmlns1 http://schemas.microsoft.com/office/word/2003}}"
        b'{\\field{\\*\\fldinst HYPERLINK "https://storage.bank-m.example/pay.html" }'
        b"{\\fldrslt Review document}}}"
    )
    msg = phish()
    attach(msg, rtf, "review.RTF", "application/rtf")
    assert places(found(msg)) == {
        "https://storage.bank-m.example/pay.html": [{"kind": "attachment", "name": "review.RTF"}]
    }


def test_it_finds_a_pdf_link_inside_a_forwarded_message() -> None:
    inner = phish()
    attach(inner, make_pdf([Page(links=["https://fwd.bank-n.example/"])]), "statement.pdf")
    report = phish("Forwarding a phish I received.")
    report.add_attachment(inner)
    assert places(found(report)) == {
        "https://fwd.bank-n.example/": [
            {"kind": "pdf_link", "name": "statement.pdf", "page": 1, "depth": 1}
        ]
    }


def test_it_records_a_damaged_pdf_and_keeps_the_body_urls() -> None:
    msg = phish("Log in at https://body.bank-o.example/ now")
    attach(msg, b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R\nxref garbage \x00\xff", "a.pdf")
    result = found(msg)
    assert [u.url for u in result.urls] == ["https://body.bank-o.example/"]
    assert any(w.startswith("a.pdf: PDF could not be read") for w in result.warnings)


def test_it_stops_a_pdf_bomb_page_and_reads_the_other_pages() -> None:
    # Page 1's content stream inflates to 200 MiB from 200 KiB.
    pdf = make_pdf(
        [Page(raw_contents=bomb_page_contents(200)), Page(lines=["https://after.bank-p.example/"])]
    )
    assert len(pdf) < 400_000
    msg = phish()
    attach(msg, pdf, "bomb.pdf")
    result = found(msg)
    assert [u.url for u in result.urls] == ["https://after.bank-p.example/"]
    assert any(
        w.startswith("bomb.pdf: PDF page 1 could not be read") and "Limit" in w
        for w in result.warnings
    ), result.warnings


def test_it_refuses_an_image_too_big_before_decoding_it() -> None:
    msg = phish("Body link https://body.bank-q.example/")
    attach(msg, png_claiming_size(50_000, 50_000), "huge.png", "image/png")
    attach(msg, png_claiming_size(8_000, 6_000), "big.png", "image/png")
    result = found(msg)
    assert [u.url for u in result.urls] == ["https://body.bank-q.example/"]
    assert len([w for w in result.warnings if "pixels" in w]) == 2, result.warnings
    big = "big.png: image not scanned: 8000x6000 pixels"
    assert any(w.startswith(big) for w in result.warnings)


def test_it_reads_only_the_first_pages_of_a_long_pdf() -> None:
    pages = [Page(lines=[f"page {n}"]) for n in range(MAX_PDF_PAGES + 10)]
    pages[0] = Page(lines=["https://first.bank-r.example/"])
    pages[-1] = Page(lines=["https://last.bank-r.example/"])
    result = find_urls_in_file(make_pdf(pages), "long.pdf")
    assert [u.url for u in result.urls] == ["https://first.bank-r.example/"]
    pages_note = f"PDF has {MAX_PDF_PAGES + 10} pages; only the first {MAX_PDF_PAGES} were searched"
    assert result.warnings == [f"long.pdf: {pages_note}"]


def test_it_records_attachments_it_had_no_time_for() -> None:
    image = png_bytes(qr_image("https://qr.bank-s.example/"))
    scans = scan_attachments([("image", image), ("image", image)], seconds=0.001)
    assert [s.found for s in scans] == [[], []]
    assert "stopped after" in scans[0].errors[0]
    assert scans[1].errors == ["not scanned: the attachments took more than 0.001 s"]


def test_it_scans_a_bounded_number_of_attachments(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mail_module, "MAX_SCANNED", 1)
    msg = phish()
    attach(msg, png_bytes(qr_image("https://one.bank-t.example/")), "1.png", "image/png")
    attach(msg, png_bytes(qr_image("https://two.bank-t.example/")), "2.png", "image/png")
    result = found(msg)
    assert [u.url for u in result.urls] == ["https://one.bank-t.example/"]
    assert "2 PDF and image attachments; only the first 1 were scanned" in result.warnings


def test_it_takes_a_qr_code_that_is_not_a_url_as_text() -> None:
    vcard = "BEGIN:VCARD\nFN:Support\nURL:https://vcard.bank-u.example/\nEND:VCARD"
    result = find_urls_in_file(png_bytes(qr_image(vcard)), "card.png")
    assert [u.url for u in result.urls] == ["https://vcard.bank-u.example/"]
    wifi = find_urls_in_file(png_bytes(qr_image("WIFI:S:cafe;T:WPA;P:secret;;")), "wifi.png")
    assert wifi.urls == [] and wifi.warnings == []


def test_it_finds_a_link_hidden_past_the_html_size_cap() -> None:
    # The measured phish: 2.5 MB of hidden spans, then the only link.
    padding = '<span style="display:none">lorem ipsum</span>' * 60_000
    html = (
        f"<html><body><p>Dear customer,</p>{padding}"
        '<a href="https://hidden.bank-v.example/login?a=1&amp;b=2">Verify</a>'
        "<p>or visit www.text.bank-v.example today</p></body></html>"
    )
    assert len(html) > 2.5e6
    msg = phish()
    msg.set_content(html, subtype="html")
    result = found(msg)
    assert [u.url for u in result.urls] == [
        "https://hidden.bank-v.example/login?a=1&b=2",
        "http://www.text.bank-v.example/",
    ]
    assert any("the rest only scanned for links" in w for w in result.warnings)


def test_it_scans_hostile_markup_past_the_cap_and_still_finds_what_follows() -> None:
    # Unclosed attribute values and tags by the million: each must be read once.
    hostile = '<a href="x' * 300_000 + "<" * 1_000_000 + "href='" * 300_000
    html = "<p>start</p>" + "x" * mail_module.MAX_HTML_CHARS + hostile
    html += ' <a href="https://end.bank-w.example/">end</a>'
    msg = phish()
    msg.set_content(html, subtype="html")
    assert "https://end.bank-w.example/" in [u.url for u in found(msg).urls]


def test_it_says_when_links_past_the_cap_are_too_many(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(mail_module, "MAX_SCANNED_VALUES", 2)
    links = "".join(f'<a href="https://many{n}.bank-x.example/">{n}</a>' for n in range(3))
    html = "<p>" + " " * mail_module.MAX_HTML_CHARS + "</p>" + links
    msg = phish()
    msg.set_content(html, subtype="html")
    result = found(msg)
    assert [u.url for u in result.urls][:2] == [
        "https://many0.bank-x.example/",
        "https://many1.bank-x.example/",
    ]
    assert "more than 2 links past the HTML size cap" in result.warnings

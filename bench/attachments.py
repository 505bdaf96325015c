"""PDF text and link extraction: pypdf (ours) beside pdfminer.six and pypdfium2.

Reads the PDF attachments of the real phishing mails in ../shared (and a
generated 30-page PDF), extracts page text and link annotations with each
library in this process, and prints the time and the URLs found. Also times
QR decoding with zxing-cpp on generated images and rendered PDF pages.

    .venv/bin/python bench/attachments.py
"""

from __future__ import annotations

import io
import logging
import os
import platform
import time
from pathlib import Path

from takedown.intake.attachments import sniff
from takedown.intake.extract import extract_urls
from takedown.intake.mail import parse_message
from takedown.intake.tests.files import Page, make_pdf, png_bytes, qr_image

POT = Path(__file__).resolve().parents[2] / "shared" / "data" / "eml" / "phishing_pot"
ROUNDS = 3


def corpus_pdfs() -> list[bytes]:
    pdfs = []
    for path in sorted(POT.glob("*.eml")) if POT.is_dir() else []:
        for attachment in parse_message(path.read_bytes()).attachments:
            if attachment.kind == "pdf" and attachment.data:
                pdfs.append(attachment.data)
    lines = [f"line {n} of the statement, see https://p{n}.bank.example/" for n in range(40)]
    pdfs.append(make_pdf([Page(lines=lines, links=["https://link.bank.example/"])] * 30))
    return pdfs


def with_pypdf(data: bytes) -> set[str]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(data), strict=False)
    if reader.is_encrypted and not reader.decrypt(""):
        return set()
    found: set[str] = set()
    for page in reader.pages:
        found.update(u.url for u in extract_urls(page.extract_text()))
        for annotation in page.get("/Annots") or []:
            action = annotation.get_object().get("/A")
            uri = action.get_object().get("/URI") if action else None
            if uri:
                found.update(u.url for u in extract_urls(str(uri)))
    return found


def with_pdfminer(data: bytes) -> set[str]:
    from pdfminer.high_level import extract_text
    from pdfminer.pdfdocument import PDFDocument
    from pdfminer.pdfpage import PDFPage
    from pdfminer.pdfparser import PDFParser
    from pdfminer.pdftypes import resolve1

    found = {u.url for u in extract_urls(extract_text(io.BytesIO(data)))}
    document = PDFDocument(PDFParser(io.BytesIO(data)))
    for page in PDFPage.create_pages(document):
        for annotation in resolve1(page.annots) or []:
            action = resolve1(resolve1(annotation).get("A"))
            uri = resolve1(action.get("URI")) if action else None
            if isinstance(uri, bytes):
                found.update(u.url for u in extract_urls(uri.decode("latin-1")))
    return found


def with_pdfium(data: bytes) -> set[str]:
    import pypdfium2

    found: set[str] = set()
    document = pypdfium2.PdfDocument(data)
    for page in document:
        found.update(u.url for u in extract_urls(page.get_textpage().get_text_range()))
    document.close()
    return found


def measure(name: str, fn, pdfs: list[bytes]) -> None:  # type: ignore[no-untyped-def]
    best = float("inf")
    urls = 0
    errors = 0
    for _ in range(ROUNDS):
        start = time.process_time()
        urls = errors = 0
        for data in pdfs:
            try:
                urls += len(fn(data))
            except Exception:
                errors += 1
        best = min(best, time.process_time() - start)
    print(f"| {name} | {best:.2f} s | {urls} | {errors} |")


def main() -> None:
    logging.disable(logging.WARNING)  # pypdf and pdfminer log every repair they make
    pdfs = corpus_pdfs()
    load = os.getloadavg()[0]
    print(f"{platform.machine()}, Python {platform.python_version()}, load average {load:.1f}")
    print(f"{len(pdfs)} PDFs ({sum(map(len, pdfs))} bytes), best CPU time of {ROUNDS} rounds")
    print("| library | CPU | URLs found | files it could not read |")
    print("| --- | --- | --- | --- |")
    measure("pypdf (text + link annotations)", with_pypdf, pdfs)
    measure("pdfminer.six (text + link annotations)", with_pdfminer, pdfs)
    measure("pypdfium2 (text only)", with_pdfium, pdfs)

    import pypdfium2
    import zxingcpp

    image = qr_image("https://qr.bank.example/verify?id=42")
    pdf = make_pdf([Page(lines=["Scan me"], image=image)])
    start = time.process_time()
    for _ in range(20):
        page = pypdfium2.PdfDocument(pdf)[0]
        rendered = page.render(scale=200 / 72, grayscale=True).to_pil()
        assert zxingcpp.read_barcodes(rendered)
    per_page = (time.process_time() - start) / 20
    print(f"render one Letter page at 200 dpi and decode its QR code: {per_page * 1000:.0f} ms CPU")
    assert sniff(png_bytes(image)) == "image"


if __name__ == "__main__":
    main()

"""Find link text in attachments: PDF text and links, QR codes in images and PDF pages.

Framework-free; see docs/extraction.md. Attachments are written by attackers,
and the libraries that read them (pypdf, PDFium through pypdfium2, Pillow,
zxing-cpp) are large parsers, three of them native code. So the work runs in
a child process (``python -m takedown.intake.attachments``) with limits on
address space and CPU time, a wall-clock deadline, and limits of its own on
pages, pixels and decompressed bytes. A child that crashes, runs out of
memory or time costs only the attachment it was reading: what it found before
is kept, the attachment gets a recorded error, and a new child goes on with
the next one. Nothing here raises on bad input.

``scan_attachments`` returns, for each attachment, the strings that may hold
URLs (page text, link targets, QR payloads) with where they were found; the
caller turns them into URLs with ``takedown.intake.extract``.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "MAX_SCANNED",
    "MAX_SCAN_BYTES",
    "Found",
    "Scan",
    "scan_attachments",
    "sniff",
]

# Per attachment: bigger files are not opened (the mail size limit is 25 MiB).
MAX_SCAN_BYTES = 10 * 1024 * 1024
# Per mail: a phish needs one attachment; hundreds are an attack on our time.
MAX_SCANNED = 20
# PDF pages whose text and link annotations are read, and pages rendered for QR codes.
MAX_PDF_PAGES = 30
MAX_RENDERED_PAGES = 5
# 200 dpi gives a QR code one inch wide about 6 pixels per module (33 modules),
# enough for zxing; a page rendered bigger than MAX_RENDER_PIXELS is scaled down.
RENDER_DPI = 200
MAX_RENDER_PIXELS = 16_000_000
# Declared image size, checked from the header before any pixel is decoded.
MAX_IMAGE_PIXELS = 40_000_000
# Text kept per PDF: enough for hundreds of pages of prose.
MAX_PDF_TEXT_CHARS = 1_000_000
# Wall-clock: one attachment (checked between pages) and the whole mail (enforced).
SECONDS_PER_ATTACHMENT = 10.0
SECONDS_PER_MAIL = 30.0
# The child's address space: PDFium, zxing and Pillow mapped take about 400 MB.
CHILD_MEMORY_BYTES = 1536 * 1024 * 1024

_PDF_MAGIC = b"%PDF-"
_IMAGE_MAGIC = (
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",  # JPEG
    b"GIF87a",
    b"GIF89a",
    b"BM",
    b"II*\x00",  # TIFF
    b"MM\x00*",
)


def sniff(data: bytes, content_type: str = "", filename: str | None = None) -> str:
    """``"pdf"``, ``"image"`` or ``""``: what the bytes are, whatever the part claims.

    Phishers label a PDF ``application/octet-stream`` and name an image
    ``invoice.pdf``; the magic bytes decide. A PDF may have up to 1 KiB of
    junk before its header (readers accept it).
    """
    if _PDF_MAGIC in data[:1024]:
        return "pdf"
    if data.startswith(_IMAGE_MAGIC) or (data[:4] == b"RIFF" and data[8:12] == b"WEBP"):
        return "image"
    return ""


@dataclass(frozen=True, slots=True)
class Found:
    """A string that may hold URLs, and where in the attachment it was."""

    text: str
    how: str  # "text" (PDF page text), "link" (a PDF link or action), "qr"
    page: int | None = None  # 1-based PDF page


@dataclass
class Scan:
    found: list[Found] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


# --- the parent side ---------------------------------------------------------------


def scan_attachments(
    items: list[tuple[str, bytes]], *, seconds: float = SECONDS_PER_MAIL
) -> list[Scan]:
    """Scan ``(kind, data)`` pairs (kind from ``sniff``) in child processes.

    One result per item, in order. The total time is bounded by ``seconds``;
    items not reached in time get an error saying so.
    """
    results = [Scan() for _ in items]
    deadline = time.monotonic() + seconds
    start = 0
    while start < len(items):
        left = deadline - time.monotonic()
        if left <= 0:
            for scan in results[start:]:
                scan.errors.append(f"not scanned: the attachments took more than {seconds:g} s")
            break
        reached, failure = _run_child(items[start:], results[start:], left)
        if failure is None:
            break
        # The child died reading item ``start + reached``: record why, go on after it.
        results[start + reached].errors.append(failure)
        start += reached + 1
    return results


# How a child usually dies: RLIMIT_CPU sends SIGXCPU, PDFium aborts when an
# allocation fails under RLIMIT_AS.
_SIGNALS = {
    6: "aborted, probably out of memory",
    9: "killed",
    11: "crashed",
    24: "ran out of CPU time",
}


def _run_child(
    items: list[tuple[str, bytes]], results: list[Scan], seconds: float
) -> tuple[int, str | None]:
    """Run one child over ``items``; returns (index it stopped at, why) or (n, None)."""
    header = json.dumps({"kinds": [k for k, _ in items], "sizes": [len(d) for _, d in items]})
    payload = header.encode() + b"\n" + b"".join(d for _, d in items)
    package_root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": package_root}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "takedown.intake.attachments"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
    except OSError as exc:
        for scan in results:
            scan.errors.append(f"not scanned: the scanner could not start ({exc.strerror or exc})")
        return len(items), None
    timed_out = False
    try:
        out, _ = proc.communicate(payload, timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        timed_out = True
    done = -1  # the last item the child finished
    for line in out.splitlines():
        try:
            row = json.loads(line)
            index = int(row["i"])
            scan = results[index]
        except (ValueError, KeyError, TypeError, IndexError):
            continue
        for text, how, page in row.get("found", ()):
            scan.found.append(Found(str(text), str(how), page if isinstance(page, int) else None))
        scan.errors.extend(str(e) for e in row.get("errors", ()))
        if row.get("done"):
            done = max(done, index)
    stopped_at = done + 1
    if stopped_at >= len(items):
        return len(items), None
    if timed_out:
        return stopped_at, f"not scanned completely: stopped after {seconds:.0f} s"
    code = proc.returncode
    if code is not None and code < 0:
        reason = _SIGNALS.get(-code, f"killed by signal {-code}")
        return stopped_at, f"not scanned completely: the reader {reason}"
    return stopped_at, f"not scanned completely: the reader failed (exit status {code})"


# --- the child side ----------------------------------------------------------------


def _limit_resources() -> None:
    import resource

    for limit, value in (
        (resource.RLIMIT_AS, CHILD_MEMORY_BYTES),
        (resource.RLIMIT_CPU, int(SECONDS_PER_MAIL) + 5),
        (resource.RLIMIT_CORE, 0),
    ):
        try:
            _soft, hard = resource.getrlimit(limit)
            if hard != resource.RLIM_INFINITY:
                value = min(value, hard)
            resource.setrlimit(limit, (value, hard))
        except (ValueError, OSError):  # pragma: no cover - a platform without the limit
            pass


def _emit(index: int, found: list[Found], errors: list[str], *, done: bool) -> None:
    row = {
        "i": index,
        "found": [[f.text, f.how, f.page] for f in found],
        "errors": errors,
        "done": done,
    }
    sys.stdout.write(json.dumps(row, ensure_ascii=False) + "\n")
    sys.stdout.flush()


def _describe(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def _child_main() -> None:
    _limit_resources()
    stdin = sys.stdin.buffer
    header = json.loads(stdin.readline())
    for index, (kind, size) in enumerate(zip(header["kinds"], header["sizes"], strict=True)):
        data = stdin.read(size)
        deadline = time.monotonic() + SECONDS_PER_ATTACHMENT
        if kind == "pdf":
            _scan_pdf(index, data, deadline)
        elif kind == "image":
            found, errors = _scan_image(data)
            _emit(index, found, errors, done=True)
        else:
            _emit(index, [], [f"not scanned: unknown kind {kind!r}"], done=True)


def _scan_image(data: bytes) -> tuple[list[Found], list[str]]:
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if width * height > MAX_IMAGE_PIXELS:
                return [], [
                    f"image not scanned: {width}x{height} pixels,"
                    f" more than the limit of {MAX_IMAGE_PIXELS}"
                ]
            image.load()  # only the first frame of an animation
            gray = image.convert("L")
    except Image.DecompressionBombError as exc:
        return [], [f"image not scanned: {_describe(exc)}"]
    except Exception as exc:  # any decoder error: a damaged or hostile image
        return [], [f"image could not be read: {_describe(exc)}"]
    return [Found(text, "qr") for text in _qr_texts(gray)], []


def _qr_texts(image: Any) -> list[str]:
    import zxingcpp

    formats = (
        zxingcpp.BarcodeFormat.QRCode
        | zxingcpp.BarcodeFormat.MicroQRCode
        | zxingcpp.BarcodeFormat.RMQRCode
    )
    return [b.text for b in zxingcpp.read_barcodes(image, formats=formats) if b.valid and b.text]


def _scan_pdf(index: int, data: bytes, deadline: float) -> None:
    """Text and link targets with pypdf, then QR codes on pages rendered by PDFium.

    Two rows: a crash while rendering (native code) keeps what pypdf found.
    """
    found, errors = _pdf_text_and_links(data, deadline)
    _emit(index, found, errors, done=False)
    found, errors = _pdf_qr_codes(data, deadline)
    _emit(index, found, errors, done=True)


def _pdf_text_and_links(data: bytes, deadline: float) -> tuple[list[Found], list[str]]:
    from pypdf import PdfReader

    found: list[Found] = []
    errors: list[str] = []
    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            return [], ["PDF text not read: it is encrypted with a password"]
        pages = len(reader.pages)
        for uri in _document_actions(reader.trailer.get("/Root")):
            found.append(Found(uri, "link"))
    except Exception as exc:  # pypdf raises many types on damaged files
        return [], [f"PDF could not be read: {_describe(exc)}"]
    if pages > MAX_PDF_PAGES:
        errors.append(f"PDF has {pages} pages; only the first {MAX_PDF_PAGES} were searched")
    chars = 0
    for number in range(1, min(pages, MAX_PDF_PAGES) + 1):
        if time.monotonic() > deadline:
            errors.append(f"PDF search stopped at page {number}: time limit")
            break
        try:
            page = reader.pages[number - 1]
            annotations = page.get("/Annots")
            for annotation in _resolved_list(annotations):
                for uri in _actions(annotation):
                    found.append(Found(uri, "link", number))
            if chars < MAX_PDF_TEXT_CHARS:
                text = page.extract_text()[: MAX_PDF_TEXT_CHARS - chars]
                chars += len(text)
                if text.strip():
                    found.append(Found(text, "text", number))
        except Exception as exc:  # one bad page must not lose the others
            errors.append(f"PDF page {number} could not be read: {_describe(exc)}")
    return found, errors


def _resolved(value: Any) -> Any:
    get_object = getattr(value, "get_object", None)
    return get_object() if get_object else value


def _resolved_list(value: Any) -> list[Any]:
    value = _resolved(value)
    return [_resolved(v) for v in value[:1000]] if isinstance(value, list) else []


def _actions(holder: Any) -> Iterator[str]:
    """URIs (and JavaScript that may name them) in an annotation's or a document's actions."""
    if not hasattr(holder, "get"):
        return
    candidates = [holder.get("/A")]
    additional = _resolved(holder.get("/AA"))
    if hasattr(additional, "values"):
        candidates.extend(additional.values())
    seen = 0
    while candidates and seen < 50:  # /Next chains can loop
        action = _resolved(candidates.pop())
        seen += 1
        if not hasattr(action, "get"):
            continue
        kind = action.get("/S")
        if kind == "/URI":
            uri = _resolved(action.get("/URI"))
            if isinstance(uri, bytes):
                uri = uri.decode("latin-1")
            if isinstance(uri, str):
                yield uri
        elif kind in ("/Launch", "/SubmitForm", "/GoToR"):
            target = _resolved(action.get("/F"))
            if hasattr(target, "get"):
                target = _resolved(target.get("/F"))
            if isinstance(target, str):
                yield target
        elif kind == "/JavaScript":
            script = _resolved(action.get("/JS"))
            if hasattr(script, "get_data"):
                script = script.get_data()[:65536].decode("latin-1")
            if isinstance(script, str):
                yield script[:65536]
        following = _resolved(action.get("/Next"))
        candidates.extend(following if isinstance(following, list) else [following])


def _document_actions(root: Any) -> Iterator[str]:
    root = _resolved(root)
    if not hasattr(root, "get"):
        return
    opening = _resolved(root.get("/OpenAction"))
    if hasattr(opening, "get"):
        yield from _actions({"/A": opening})
    yield from _actions({"/AA": root.get("/AA")})


def _pdf_qr_codes(data: bytes, deadline: float) -> tuple[list[Found], list[str]]:
    import pypdfium2

    found: list[Found] = []
    errors: list[str] = []
    try:
        document = pypdfium2.PdfDocument(data)
    except Exception as exc:
        return [], [f"PDF could not be rendered: {_describe(exc)}"]
    try:
        for number in range(1, min(len(document), MAX_RENDERED_PAGES) + 1):
            if time.monotonic() > deadline:
                errors.append(f"PDF rendering stopped at page {number}: time limit")
                break
            try:
                page = document[number - 1]
                width, height = page.get_size()
                scale = RENDER_DPI / 72
                if width * height * scale * scale > MAX_RENDER_PIXELS:
                    scale = (MAX_RENDER_PIXELS / max(width * height, 1.0)) ** 0.5
                image = page.render(scale=scale, grayscale=True).to_pil()
                found.extend(Found(text, "qr", number) for text in _qr_texts(image))
            except Exception as exc:
                errors.append(f"PDF page {number} could not be rendered: {_describe(exc)}")
    finally:
        document.close()
    return found, errors


if __name__ == "__main__":
    _child_main()

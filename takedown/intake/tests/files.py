"""Build the PDFs and images the attachment tests read: nothing binary is committed.

PDFs are written by hand (objects, then the cross-reference table), so a test
can make exactly the file it needs: text, link annotations, an image on the
page, thousands of pages, a stream that inflates to gigabytes, broken syntax.
"""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass, field

import segno
from PIL import Image


def qr_image(text: str, *, module: int = 8, border: int = 4) -> Image.Image:
    """A grayscale image of a QR code for ``text``, ``module`` pixels per module."""
    qr = segno.make(text, micro=False, error="m")
    buffer = io.BytesIO()
    qr.save(buffer, kind="png", scale=module, border=border)
    buffer.seek(0)
    with Image.open(buffer) as image:
        return image.convert("L")


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def png_claiming_size(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares ``width`` x ``height`` (a decompression bomb's shape)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit grayscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + chunk(b"IEND", b"")
    )


@dataclass
class Page:
    lines: list[str] = field(default_factory=list)  # text, top to bottom
    links: list[str] = field(default_factory=list)  # URI link annotations
    image: Image.Image | None = None  # drawn at (72, 72), 3 inches wide
    raw_image_stream: bytes | None = None  # a prebuilt image XObject (dictionary + stream)
    raw_contents: bytes | None = None  # a prebuilt content stream, instead of the lines


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def make_pdf(pages: list[Page], *, open_action_uri: str | None = None) -> bytes:
    """A valid PDF 1.7 file with the given pages (US Letter, Helvetica)."""
    objects: list[bytes] = []

    def add(body: bytes) -> int:
        objects.append(body)
        return len(objects)

    catalog = add(b"")  # filled in below
    tree = add(b"")
    font = add(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>")
    page_ids = []
    for page in pages:
        ops = [b"BT /F1 12 Tf 72 720 Td 14 TL"]
        ops += [f"({_escape(line)}) Tj T*".encode("latin-1") for line in page.lines]
        ops.append(b"ET")
        xobjects = b""
        if page.image is not None or page.raw_image_stream is not None:
            if page.raw_image_stream is not None:
                image_id = add(page.raw_image_stream)
            else:
                gray = page.image.convert("L") if page.image is not None else None
                assert gray is not None
                data = zlib.compress(gray.tobytes())
                image_id = add(
                    b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace"
                    b" /DeviceGray /BitsPerComponent 8 /Filter /FlateDecode /Length %d >>\n"
                    b"stream\n" % (gray.width, gray.height, len(data)) + data + b"\nendstream"
                )
            ops.append(b"q 216 0 0 216 72 72 cm /Im1 Do Q")
            xobjects = b" /XObject << /Im1 %d 0 R >>" % image_id
        content = b"\n".join(ops)
        if page.raw_contents is not None:
            content_id = add(page.raw_contents)
        else:
            stream = b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream"
            content_id = add(stream)
        annots = []
        for n, uri in enumerate(page.links):
            y = 600 - 20 * n
            annots.append(
                add(
                    b"<< /Type /Annot /Subtype /Link /Rect [72 %d 300 %d] /Border [0 0 0]"
                    b" /A << /S /URI /URI (%s) >> >>" % (y, y + 14, _escape(uri).encode())
                )
            )
        annots_entry = (
            b" /Annots [" + b" ".join(b"%d 0 R" % a for a in annots) + b"]" if annots else b""
        )
        page_ids.append(
            add(
                b"<< /Type /Page /Parent %d 0 R /MediaBox [0 0 612 792] /Contents %d 0 R"
                b" /Resources << /Font << /F1 %d 0 R >>%s >>%s >>"
                % (tree, content_id, font, xobjects, annots_entry)
            )
        )
    open_action = b""
    if open_action_uri is not None:
        open_action = b" /OpenAction << /S /URI /URI (%s) >>" % _escape(open_action_uri).encode()
    objects[catalog - 1] = b"<< /Type /Catalog /Pages %d 0 R%s >>" % (tree, open_action)
    kids = b" ".join(b"%d 0 R" % p for p in page_ids)
    objects[tree - 1] = b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(page_ids))
    return _serialise(objects, catalog)


def _serialise(objects: list[bytes], root: int) -> bytes:
    out = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root %d 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        root,
        xref,
    )
    return bytes(out)


def deflate_bomb(megabytes: int, byte: bytes = b" ") -> bytes:
    """zlib data that inflates to ``megabytes`` MiB of ``byte``, built in milliseconds.

    After a full flush a deflate compressor starts afresh, so the compressed
    form of each identical 1 MiB block is the same bytes: compress one, repeat
    it, and close the stream with an empty final block and the Adler-32.
    """
    block = byte * (1024 * 1024)
    compressor = zlib.compressobj(9)
    first = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    again = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    checksum = 1
    for _ in range(megabytes):
        checksum = zlib.adler32(block, checksum)
    return first + again * (megabytes - 1) + b"\x03\x00" + struct.pack(">I", checksum)


def bomb_page_contents(megabytes: int) -> bytes:
    """A page content stream (dictionary + stream) that inflates to ``megabytes`` MiB."""
    data = deflate_bomb(megabytes)
    return b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(data) + data + b"\nendstream"

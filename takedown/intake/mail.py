"""Parse a whole e-mail (a report, a forwarded phish) and find the URLs in it.

Framework-free; see docs/extraction.md. Mail is written by strangers and by
attackers, so nothing here raises on bad input: what cannot be read is recorded
in ``ParsedMail.warnings`` (our limits and fallbacks) or ``ParsedMail.defects``
(what the stdlib parser found wrong with the message), and parsing carries on.

The walk:

1. Parse with the stdlib parser (``compat32`` policy: the most lenient); a
   MIME tree nested deeper than Python's recursion limit falls back to headers
   plus the raw body as text.
2. Walk the MIME tree depth first, counting parts against one budget shared
   with attached messages (``max_parts``) and stopping at ``max_depth``.
3. Decode each text part (quoted-printable/base64, then the declared charset,
   then charset detection, then UTF-8 with replacement).
4. Attached ``message/rfc822`` parts (also base64-encoded ones and ``.eml``
   files sent as octet streams) are parsed the same way, one level deeper.
5. HTML, SVG, text and shortcut attachments become bodies, whatever their
   declared type; PDFs and images (by their magic bytes) keep their bytes.

``find_urls`` then searches all of it, PDFs and images included
(``takedown.intake.attachments``), and says where each URL was found.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.errors import MessageError
from email.header import decode_header
from email.message import Message
from email.parser import BytesParser
from email.utils import getaddresses, parsedate_to_datetime
from html import unescape
from html.parser import HTMLParser

import charset_normalizer

from takedown.intake.attachments import (
    MAX_SCAN_BYTES,
    MAX_SCANNED,
    Scan,
    scan_attachments,
    sniff,
)
from takedown.intake.extract import ExtractedURL, InvalidURL, extract_urls, normalise_url

__all__ = [
    "MAX_DEPTH",
    "MAX_MESSAGE_BYTES",
    "MAX_PARTS",
    "Attachment",
    "MailBody",
    "MailURLs",
    "ParsedMail",
    "Source",
    "extract_urls_from_message",
    "find_urls",
    "find_urls_in_file",
    "html_url_sources",
    "looks_like_email",
    "parse_message",
    "urls_from_parsed",
]

MAX_MESSAGE_BYTES = 25 * 1024 * 1024
MAX_PARTS = 500
MAX_DEPTH = 10
# html.parser is linear on sane markup but slows down badly on some crafted
# input; real mail bodies are far below this. The rest of a longer body is
# searched for links by a linear scan instead (``_scan_markup``).
MAX_HTML_CHARS = 2 * 1024 * 1024
# Where a URL was found, kept per URL: the first few places are enough to
# show a handler, and a URL repeated in 500 parts must not bloat the report.
MAX_SOURCES_PER_URL = 5
# Attachments read as documents whatever their declared type: phishing sends
# HTML and SVG pages (which open in a browser) and Internet shortcuts as
# application/octet-stream.
_HTML_SUFFIXES = (".htm", ".html", ".shtml", ".xhtml", ".xht", ".svg")
_HTML_TYPES = frozenset({"application/xhtml+xml", "image/svg+xml"})
_TEXT_SUFFIXES = (".txt", ".url", ".webloc", ".website")


@dataclass(frozen=True)
class Attachment:
    filename: str | None
    content_type: str
    size: int
    sha256: str
    # "pdf" or "image" when the bytes are one (whatever the part claims); then
    # ``data`` holds them for ``find_urls`` unless larger than MAX_SCAN_BYTES.
    kind: str = ""
    data: bytes = field(default=b"", repr=False, compare=False)

    @property
    def label(self) -> str:
        return self.filename or self.content_type


@dataclass(frozen=True)
class MailBody:
    content_type: str  # text/plain or text/html
    charset: str | None  # the codec that decoded it, None when replaced
    text: str
    filename: str | None = None  # set when the text came from an attachment


@dataclass
class ParsedMail:
    subject: str = ""
    from_: str = ""
    from_address: str = ""
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    message_id: str = ""
    in_reply_to: str = ""
    references: list[str] = field(default_factory=list)
    date: datetime | None = None
    bodies: list[MailBody] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    attached_messages: list[ParsedMail] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def text_bodies(self) -> list[str]:
        return [b.text for b in self.bodies if b.content_type == "text/plain"]

    @property
    def html_bodies(self) -> list[str]:
        return [b.text for b in self.bodies if b.content_type == "text/html"]

    def walk(self) -> Iterator[ParsedMail]:
        """This message, then every attached message, depth first."""
        yield self
        for sub in self.attached_messages:
            yield from sub.walk()


# --- charsets -------------------------------------------------------------------

# Windows writes "ISO-2022-JP" with the NEC and IBM extensions of CP932 (①,
# Roman numerals, 髙...), which no Python codec reads: this name stands for
# converting the JIS codes to CP932 and decoding that.
_ISO2022JP_MS = "iso-2022-jp-ms"
_JIS_ESCAPES = {
    b"\x1b(B": "ascii",
    b"\x1b(J": "ascii",
    b"\x1b$@": "jis",
    b"\x1b$B": "jis",
    b"\x1b(I": "kana",
}


def _decode_iso2022jp_ms(data: bytes) -> str:
    """ISO-2022-JP read as CP50221: JIS X 0208 codes mapped to CP932, then decoded."""
    out = bytearray()
    mode = "ascii"
    i, n = 0, len(data)
    while i < n:
        byte = data[i]
        if byte == 0x1B:
            mode_name = _JIS_ESCAPES.get(data[i : i + 3])
            if mode_name is None:
                raise UnicodeDecodeError(_ISO2022JP_MS, data, i, i + 3, "unsupported escape")
            mode = mode_name
            i += 3
        elif byte in (0x0A, 0x0D) or mode == "ascii":
            out.append(byte)
            i += 1
        elif mode == "kana":
            if not 0x21 <= byte <= 0x5F:
                raise UnicodeDecodeError(_ISO2022JP_MS, data, i, i + 1, "not half-width kana")
            out.append(byte + 0x80)
            i += 1
        else:
            if i + 1 >= n:
                raise UnicodeDecodeError(_ISO2022JP_MS, data, i, n, "truncated character")
            j1, j2 = byte, data[i + 1]
            if not (0x21 <= j1 <= 0x7E and 0x21 <= j2 <= 0x7E):
                raise UnicodeDecodeError(_ISO2022JP_MS, data, i, i + 2, "not a JIS code")
            s1 = (j1 + 1) // 2 + (0x70 if j1 <= 0x5E else 0xB0)
            s2 = j2 + 0x1F + (j2 >= 0x60) if j1 % 2 else j2 + 0x7E
            out += bytes((s1, s2))
            i += 2
    return out.decode("cp932")


# Declared charsets are often a subset of what the sender really used
# (Windows code pages for "Shift_JIS", NEC/IBM extensions in "ISO-2022-JP"), so
# each name maps to the codecs worth trying, strictly, in order.
_CHARSET_CHAINS: dict[str, tuple[str, ...]] = {
    "iso-2022-jp": ("iso2022_jp", "iso2022_jp_ext", _ISO2022JP_MS, "iso2022_jp_2"),
    "csiso2022jp": ("iso2022_jp", "iso2022_jp_ext", _ISO2022JP_MS, "iso2022_jp_2"),
    "shift_jis": ("cp932", "shift_jis_2004"),
    "shift-jis": ("cp932", "shift_jis_2004"),
    "sjis": ("cp932", "shift_jis_2004"),
    "x-sjis": ("cp932", "shift_jis_2004"),
    "ms_kanji": ("cp932",),
    "csshiftjis": ("cp932",),
    "windows-31j": ("cp932",),
    "euc-jp": ("euc_jp", "euc_jis_2004"),
    "x-euc-jp": ("euc_jp", "euc_jis_2004"),
    "gb2312": ("gb18030",),
    "gbk": ("gb18030",),
    "ks_c_5601-1987": ("cp949",),
    "euc-kr": ("cp949",),
    # WHATWG decodes these labels as windows-1252; mail clients do the same.
    "iso-8859-1": ("cp1252", "latin-1"),
    "latin1": ("cp1252", "latin-1"),
    # Declared ASCII with 8-bit content is nearly always UTF-8 or cp1252.
    "us-ascii": ("ascii", "utf-8", "cp1252"),
    "ascii": ("ascii", "utf-8", "cp1252"),
    "utf8": ("utf-8",),
}
# 7-bit stateful encodings: their bytes are ASCII, so the ASCII fast path must not apply.
_SEVEN_BIT = ("iso-2022", "csiso2022", "utf-7", "hz")


def decode_bytes(data: bytes, charset: str | None) -> tuple[str, str | None, str | None]:
    """Decode text from a mail part: ``(text, codec used or None, warning or None)``.

    Tries the declared charset (and its usual supersets) strictly, then
    charset detection, then UTF-8 with replacement characters. Never raises.
    """
    name = (charset or "").strip().strip("\"'").lower()
    if data.isascii() and not name.startswith(_SEVEN_BIT):
        return data.decode("ascii"), "ascii", None
    chain = _CHARSET_CHAINS.get(name)
    if chain is None and name:
        try:
            chain = (codecs.lookup(name).name,)
        except (LookupError, ValueError):
            chain = ()
    warning = None
    if name and not chain:
        warning = f"unknown charset {name[:40]!r}; detected instead"
    for codec in chain or ():
        try:
            if codec == _ISO2022JP_MS:
                return _decode_iso2022jp_ms(data), codec, None
            return data.decode(codec), codec, None
        except (UnicodeDecodeError, LookupError):
            continue
    if name and chain:
        warning = f"text is not valid {name[:40]!r}; detected instead"
    best = charset_normalizer.from_bytes(data).best()
    if best is not None:
        return str(best), best.encoding, warning
    text = data.decode("utf-8", errors="replace")
    declared = name[:40] or "none declared"
    return text, None, f"charset not recognised ({declared}); undecodable bytes replaced"


_ENCODED_WORD_RE = re.compile(r"=\?[^?\s]+\?[bBqQ]\?")


def _header_text(value: object) -> str:
    """A header as text: RFC 2047 encoded words and raw 8-bit bytes decoded."""
    if value is None:
        return ""
    raw = str(value)
    if any("\udc80" <= ch <= "\udcff" for ch in raw):
        # compat32 keeps raw 8-bit header bytes as surrogate escapes.
        raw = decode_bytes(raw.encode("ascii", "surrogateescape"), None)[0]
    if not _ENCODED_WORD_RE.search(raw):
        return _unfold(raw)
    try:
        chunks = decode_header(raw)
    except (ValueError, LookupError, AssertionError, MessageError):
        # A broken encoded word ("=?utf-8?B?!!!?="): keep the header as written.
        return _unfold(raw)
    out = []
    for chunk, chunk_charset in chunks:
        if isinstance(chunk, bytes):
            out.append(decode_bytes(chunk, chunk_charset or "utf-8")[0])
        else:
            out.append(chunk)
    return _unfold("".join(out))


def _unfold(text: str) -> str:
    return re.sub(r"\r?\n[ \t]*", " ", text).strip()


def _addresses(values: list[str]) -> list[str]:
    try:
        pairs = getaddresses([_header_text(v) for v in values])
    except (ValueError, IndexError, TypeError, MessageError):
        return []
    return [addr for _name, addr in pairs if addr and "@" in addr]


# --- headers heuristics -------------------------------------------------------

_HEADER_LINE_RE = re.compile(rb"[!-9;-~]{1,200}:")  # RFC 5322 ftext
_KNOWN_HEADERS = frozenset(
    {
        b"from",
        b"to",
        b"cc",
        b"subject",
        b"date",
        b"message-id",
        b"received",
        b"return-path",
        b"mime-version",
        b"content-type",
        b"content-transfer-encoding",
        b"delivered-to",
        b"reply-to",
        b"in-reply-to",
        b"references",
        b"dkim-signature",
        b"authentication-results",
        b"x-mailer",
        b"sender",
        b"arc-seal",
        b"received-spf",
        b"thread-topic",
    }
)


def looks_like_email(data: bytes) -> bool:
    """Whether ``data`` starts with an RFC 5322 header block.

    True when the first line is a header field (an mbox ``From `` line may come
    first), every line up to the blank line is a field or a continuation, and
    at least three well-known fields (From, Subject, Received...) are present,
    so prose with a "Subject:" line in it is still prose.
    """
    head = data[:65536]
    lines = head.split(b"\n")
    if lines and lines[0].startswith(b"From "):
        lines = lines[1:]
    known = 0
    seen_field = False
    for index, raw_line in enumerate(lines[:500]):
        line = raw_line.rstrip(b"\r")
        if not line:
            break
        if line[:1] in (b" ", b"\t"):
            if not seen_field:
                return False
            continue
        match = _HEADER_LINE_RE.match(line)
        if match is None:
            # The sample may end mid-line when the header block is huge.
            return index == len(lines) - 1 and index > 0 and known >= 3
        seen_field = True
        if match.group()[:-1].lower() in _KNOWN_HEADERS:
            known += 1
    return seen_field and known >= 3


# --- HTML -----------------------------------------------------------------------

# data-saferedirecturl: Gmail's copy of a link (a google.com/url redirect),
# kept when a phisher or a reporter forwards mail out of Gmail.
# xlink:href: links in SVG attachments.
_URL_ATTRIBUTES = frozenset(
    {"href", "src", "action", "formaction", "background", "poster", "cite",
     "data-saferedirecturl", "xlink:href"}
)  # fmt: skip
_INVISIBLE = frozenset({"script", "style", "template", "head", "title"})
_INLINE = frozenset(
    {"a", "abbr", "b", "bdi", "bdo", "big", "code", "em", "font", "i", "kbd", "mark", "q",
     "s", "samp", "small", "span", "strike", "strong", "sub", "sup", "tt", "u", "var", "wbr"}
)  # fmt: skip
_REFRESH_URL_RE = re.compile(r"url\s*=\s*['\"]?([^'\"]+)", re.IGNORECASE)


class _HtmlSources(HTMLParser):
    """Collects, in document order, URL-bearing attribute values and visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.items: list[tuple[str, str]] = []
        self._text: list[str] = []
        self._hidden = 0

    def _flush(self) -> None:
        if self._text:
            self.items.append(("text", "".join(self._text)))
            self._text = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _INVISIBLE:
            self._hidden += 1
        elif tag not in _INLINE:
            self._text.append("\n")
        values = dict(attrs)
        if tag == "meta" and (values.get("http-equiv") or "").lower() == "refresh":
            found = _REFRESH_URL_RE.search(values.get("content") or "")
            if found:
                self._flush()
                self.items.append(("attr", found.group(1)))
        for name, value in attrs:
            if value and name in _URL_ATTRIBUTES:
                self._flush()
                self.items.append(("attr", value))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <br/>, <img .../>: no content, so never opens an invisible section.
        if tag in _INVISIBLE:
            return
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in _INVISIBLE:
            self._hidden = max(0, self._hidden - 1)
        elif tag not in _INLINE:
            self._text.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self._text.append(data)

    def close(self) -> None:
        super().close()
        self._flush()


def _defuse(html: str) -> str:
    """Escape the "<" that html.parser would rescan the rest of the input for.

    Python 3.11's parser, at the end of the input, searches from every unclosed
    "<..." (and every "<!--" with no "-->" after it) to the end of the text:
    quadratic, minutes for a crafted body of a few hundred kilobytes. Nothing
    after the last ">" can be markup, and a comment opened after the last
    "-->" never closes, so both are turned into text, which keeps the parse
    linear. Marked sections ("<![CDATA[", Outlook's "<![if mso]>") have the
    same problem and carry no links, so they always become text.
    """
    html = html.replace("<![", "&lt;![")
    last_gt = html.rfind(">")
    if "<" in html[last_gt + 1 :]:
        html = html[: last_gt + 1] + html[last_gt + 1 :].replace("<", "&lt;")
    last_close = html.rfind("-->")
    after = last_close + 3 if last_close >= 0 else 0
    if "<!--" in html[after:]:
        html = html[:after] + html[after:].replace("<!--", "&lt;!--")
    return html


def html_url_sources(html: str) -> list[tuple[str, str]]:
    """``("attr", value)`` and ``("text", visible text)`` items in document order.

    The first MAX_HTML_CHARS are read with html.parser; the rest of a longer
    body (phishing pads a body with megabytes of hidden markup to push its
    link past such a limit) is scanned for links by ``_scan_markup``.
    """
    head = html[:MAX_HTML_CHARS]
    parser = _HtmlSources()
    try:
        parser.feed(_defuse(head))
        parser.close()
    except (AssertionError, ValueError, IndexError):
        # Older html.parser releases assert on some malformed declarations;
        # the markup is then scanned instead.
        return _scan_markup(html)
    items = parser.items
    if len(html) > MAX_HTML_CHARS:
        # Start at the tag the cut may have split, so its link is not lost.
        start = html.rfind("<", MAX_HTML_CHARS - _MAX_SCANNED_VALUE, MAX_HTML_CHARS)
        items.extend(_scan_markup(html[start if start >= 0 else MAX_HTML_CHARS :]))
    return items


# Longer values cannot hold a URL we would take (MAX_URL_LENGTH is 2,048).
_MAX_SCANNED_VALUE = 8192
# Distinct attribute values taken past the cap: far more links than any real
# mail has, few enough that normalising them all stays cheap.
MAX_SCANNED_VALUES = 20_000
_VALUE = (
    rf"""\s*=\s*(?:"([^"]{{1,{_MAX_SCANNED_VALUE}}})|'([^']{{1,{_MAX_SCANNED_VALUE}}})"""
    rf"""|([^\s"'<>`]{{1,{_MAX_SCANNED_VALUE}}}))"""
)
# One pattern per attribute name, each starting with its name as a literal,
# which Python's re finds by a fast substring search (an alternation of names
# would be tried at every position). Matched on a lower-cased copy. No closing
# quote is required and each match consumes what it read: nothing is read
# twice, whatever the markup.
_MARKUP_VALUE_RES = tuple(re.compile(re.escape(name) + _VALUE) for name in sorted(_URL_ATTRIBUTES))
_MARKUP_TAG_RE = re.compile(rf"<[^<>]{{0,{_MAX_SCANNED_VALUE}}}>")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_:-")


def _scan_markup(html: str) -> list[tuple[str, str]]:
    """Links in markup without parsing it: URL attribute values, then the text between tags.

    Linear scans only, so any amount of hostile markup costs time in
    proportion to its length. Less exact than html.parser: the text of
    ``<script>`` and of hidden elements is searched too.
    """
    lower = html.lower()
    if len(lower) != len(html):  # a few characters change length when lower-cased
        lower = "".join(ch if len(ch.lower()) != 1 else ch.lower() for ch in html)
    first_seen: dict[str, int] = {}  # value -> where it first appears
    overflow = False
    for pattern in _MARKUP_VALUE_RES:
        seen_here = 0
        for match in pattern.finditer(lower):
            start = match.start()
            if start and lower[start - 1] in _NAME_CHARS:
                continue  # "data-href=", "xsrc="
            group = next(i for i, v in enumerate(match.groups(), 1) if v is not None)
            value = unescape(html[match.start(group) : match.end(group)])
            if value not in first_seen:
                first_seen[value] = start
                seen_here += 1
                if seen_here > MAX_SCANNED_VALUES:
                    overflow = True
                    break
    ordered = sorted(first_seen, key=first_seen.__getitem__)
    items = [("attr", value) for value in ordered[:MAX_SCANNED_VALUES]]
    if overflow or len(ordered) > MAX_SCANNED_VALUES:
        items.append(("warning", f"more than {MAX_SCANNED_VALUES} links past the HTML size cap"))
    items.append(("text", unescape(_MARKUP_TAG_RE.sub(" ", html))))
    return items


_ABSOLUTE_RE = re.compile(r"\s*(?:[a-z][a-z0-9+.\-]*:|//)", re.IGNORECASE)


def _urls_from_attribute(value: str) -> list[ExtractedURL]:
    # A relative reference has no base in a mail body, and "/a.html" must not
    # become the host "a.html"; only absolute values are taken as one URL.
    if _ABSOLUTE_RE.match(value):
        candidate = value.strip()
        if candidate.startswith("//"):
            candidate = "http:" + candidate
        try:
            return [normalise_url(candidate)]
        except InvalidURL:
            pass
    return extract_urls(value)


# --- the walk -------------------------------------------------------------------


class _Budget:
    """Limits shared by a message and every message attached to it.

    ``warnings`` is the top-level message's list: a limit hit deep inside an
    attached message is reported where callers look.
    """

    def __init__(self, max_parts: int, max_depth: int, warnings: list[str]) -> None:
        self.parts_left = max_parts
        self.max_parts = max_parts
        self.max_depth = max_depth
        self.exhausted = False
        self.warnings = warnings


_BYTES_PARSER = BytesParser(policy=policy.compat32)


def parse_message(
    raw: bytes,
    *,
    max_bytes: int = MAX_MESSAGE_BYTES,
    max_parts: int = MAX_PARTS,
    max_depth: int = MAX_DEPTH,
) -> ParsedMail:
    """Parse one e-mail; never raises on bad input (see the module docstring)."""
    warnings: list[str] = []
    if len(raw) > max_bytes:
        warnings.append(f"message is {len(raw)} bytes; only the first {max_bytes} were read")
        raw = raw[:max_bytes]
    mail = _parse_bytes(raw, 0, _Budget(max_parts, max_depth, warnings))
    mail.warnings = warnings
    return mail


def _parse_bytes(raw: bytes, depth: int, budget: _Budget) -> ParsedMail:
    try:
        message = _BYTES_PARSER.parsebytes(raw)
    except RecursionError:
        budget.warnings.append("MIME structure nested too deeply to parse; body read as text")
        return _fallback(raw)
    except Exception as exc:  # a stdlib parser bug must not lose the mail
        budget.warnings.append(f"message could not be parsed ({type(exc).__name__}); read as text")
        return _fallback(raw)
    mail = _headers(message)
    _walk(message, mail, depth, budget)
    return mail


def _fallback(raw: bytes) -> ParsedMail:
    head, _sep, body = raw.partition(b"\r\n\r\n") if b"\r\n\r\n" in raw else raw.partition(b"\n\n")
    try:
        message = BytesParser(policy=policy.compat32).parsebytes(head + b"\n\n", headersonly=True)
        mail = _headers(message)
    except Exception:  # see _parse_bytes
        mail = ParsedMail()
    text, codec, _warning = decode_bytes(body, None)
    mail.bodies.append(MailBody("text/plain", codec, text))
    return mail


def _headers(message: Message) -> ParsedMail:
    # Raw values: compat32 would wrap raw 8-bit headers in Header objects whose
    # str() loses the bytes; _header_text decodes them instead.
    raw: dict[str, list[str]] = {}
    for name, value in message.raw_items():
        raw.setdefault(name.lower(), []).append(str(value))

    def first(name: str) -> str:
        values = raw.get(name)
        return _header_text(values[0]) if values else ""

    mail = ParsedMail()
    mail.subject = first("subject")
    mail.from_ = first("from")
    senders = _addresses(raw.get("from", []))
    mail.from_address = senders[0] if senders else ""
    mail.to = _addresses(raw.get("to", []))
    mail.cc = _addresses(raw.get("cc", []))
    mail.message_id = first("message-id")
    mail.in_reply_to = first("in-reply-to")
    mail.references = re.findall(r"<[^<>\s]+>", first("references"))
    date = first("date")
    if date:
        try:
            parsed = parsedate_to_datetime(date)
        except (TypeError, ValueError, IndexError, OverflowError):
            mail.defects.append("InvalidDateHeader")
        else:
            # "-0000" means "time zone unknown"; RFC 5322 says to read it as UTC.
            mail.date = parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return mail


def _record_defects(part: Message, mail: ParsedMail) -> None:
    for defect in getattr(part, "defects", ()):
        name = type(defect).__name__
        if name not in mail.defects:
            mail.defects.append(name)


def _walk(part: Message, mail: ParsedMail, depth: int, budget: _Budget) -> None:
    if budget.parts_left <= 0:
        if not budget.exhausted:
            budget.exhausted = True
            budget.warnings.append(
                f"more than {budget.max_parts} MIME parts; the rest were skipped"
            )
        return
    budget.parts_left -= 1
    _record_defects(part, mail)
    ctype = part.get_content_type()

    if ctype in ("message/rfc822", "message/global"):
        _attached_message(part, mail, depth, budget)
        return
    if ctype.startswith("multipart/") and not part.is_multipart():
        # No usable boundary: the parser kept the body as one string.
        budget.warnings.append(f"a {ctype} part has no usable boundary; read as text")
        ctype = "text/plain"
    if part.is_multipart():
        if depth >= budget.max_depth:
            budget.warnings.append(f"MIME parts nested deeper than {budget.max_depth}; skipped")
            return
        payload = part.get_payload()
        for child in payload if isinstance(payload, list) else ():
            if isinstance(child, Message):
                _walk(child, mail, depth + 1, budget)
        return
    _leaf(part, ctype, mail, depth, budget)


def _attached_message(part: Message, mail: ParsedMail, depth: int, budget: _Budget) -> None:
    if depth >= budget.max_depth:
        budget.warnings.append(f"attached messages nested deeper than {budget.max_depth}; skipped")
        return
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    if not isinstance(inner, Message):
        inner = None
    encoding = str(part.get("content-transfer-encoding", "")).strip().lower()
    if encoding in ("base64", "quoted-printable") and inner is not None:
        # Not allowed by RFC 2046 but common: the parser read the encoded text
        # as a header-less message, so decode that text and parse it again.
        text = inner.get_payload()
        data = _decode_transfer(text if isinstance(text, str) else "", encoding)
        mail.attached_messages.append(_parse_bytes(data, depth + 1, budget))
    elif inner is not None:
        sub = _headers(inner)
        _walk(inner, sub, depth + 1, budget)
        mail.attached_messages.append(sub)
    else:
        budget.warnings.append("an attached message/rfc822 part is empty")


def _decode_transfer(text: str, encoding: str) -> bytes:
    data = text.encode("ascii", "surrogateescape")
    if encoding == "base64":
        try:
            return base64.b64decode(re.sub(rb"[^A-Za-z0-9+/=]", b"", data) + b"==")
        except (binascii.Error, ValueError):
            return data
    return binascii.a2b_qp(data)


def _leaf(part: Message, ctype: str, mail: ParsedMail, depth: int, budget: _Budget) -> None:
    try:
        data = part.get_payload(decode=True)
    except Exception:  # a broken encoding must not lose the rest of the mail
        data = None
        budget.warnings.append(f"a {ctype} part could not be decoded")
    if not isinstance(data, bytes):
        data = b""
    try:
        filename = part.get_filename()
    except Exception:  # RFC 2231 decoding of hostile names
        filename = None
    filename = _header_text(filename) if filename else None
    disposition = part.get_content_disposition()

    if _is_rtf(ctype, filename, data):
        # Only the targets of HYPERLINK fields: the rest of RTF is markup whose
        # namespace URLs (schemas.microsoft.com ...) are not sites.
        targets = "\n".join(m.decode("latin-1") for m in _RTF_HYPERLINK_RE.findall(data))
        _add_body(mail, budget, "text/plain", "latin-1", targets, filename or ctype)
    elif ctype in ("text/plain", "text/html") or (ctype.startswith("text/") and not disposition):
        charset = part.get_param("charset")
        charset_name = charset if isinstance(charset, str) else None
        text, codec, warning = decode_bytes(data, charset_name)
        if warning:
            budget.warnings.append(warning)
        body_type = "text/html" if ctype == "text/html" else "text/plain"
        is_attachment = disposition == "attachment" or filename is not None
        _add_body(mail, budget, body_type, codec, text, filename if is_attachment else None)
        if not is_attachment:
            return
    elif ctype in _HTML_TYPES or (filename or "").lower().endswith(_HTML_SUFFIXES + _TEXT_SUFFIXES):
        text, codec, _warning = decode_bytes(data, None)
        html = ctype in _HTML_TYPES or (filename or "").lower().endswith(_HTML_SUFFIXES)
        body_type = "text/html" if html else "text/plain"
        _add_body(mail, budget, body_type, codec, text, filename or ctype)
    elif (filename or "").lower().endswith(".eml") and looks_like_email(data):
        if depth >= budget.max_depth:
            budget.warnings.append(
                f"attached messages nested deeper than {budget.max_depth}; skipped"
            )
        else:
            mail.attached_messages.append(_parse_bytes(data, depth + 1, budget))
    kind = sniff(data)
    mail.attachments.append(
        Attachment(
            filename,
            ctype,
            len(data),
            hashlib.sha256(data).hexdigest(),
            kind,
            data if kind and len(data) <= MAX_SCAN_BYTES else b"",
        )
    )


_RTF_HYPERLINK_RE = re.compile(rb'HYPERLINK\s+"([^"]{1,8192})"')


def _is_rtf(ctype: str, filename: str | None, data: bytes) -> bool:
    return (
        ctype in ("application/rtf", "text/rtf")
        or (filename or "").lower().endswith(".rtf")
        or data.startswith(b"{\\rtf")
    )


def _add_body(
    mail: ParsedMail,
    budget: _Budget,
    body_type: str,
    codec: str | None,
    text: str,
    name: str | None,
) -> None:
    if body_type == "text/html" and len(text) > MAX_HTML_CHARS:
        budget.warnings.append(
            f"an HTML body has {len(text)} characters; the first {MAX_HTML_CHARS} were read as"
            " HTML, the rest only scanned for links"
        )
    mail.bodies.append(MailBody(body_type, codec, text, name))


# --- URLs -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Source:
    """Where in a mail a URL was found.

    ``kind``: ``subject``, ``body`` (a text or HTML body of the message),
    ``attachment`` (a text, HTML or SVG attachment), ``pdf_text`` (the text of
    a PDF page), ``pdf_link`` (a link or action in a PDF), ``qr`` (a QR code in
    an image, or on a PDF page when ``page`` is set); ``text`` for plain text
    input. ``name`` is the attachment's file name (its content type when it
    has none), ``page`` the 1-based PDF page, ``depth`` how deep the message is
    attached (0: the mail itself).
    """

    kind: str
    name: str | None = None
    page: int | None = None
    depth: int = 0

    def as_dict(self) -> dict[str, str | int]:
        out: dict[str, str | int] = {"kind": self.kind}
        if self.name is not None:
            out["name"] = self.name
        if self.page is not None:
            out["page"] = self.page
        if self.depth:
            out["depth"] = self.depth
        return out


@dataclass
class MailURLs:
    urls: list[ExtractedURL] = field(default_factory=list)
    # url -> where it was found, first place first (at most MAX_SOURCES_PER_URL)
    sources: dict[str, list[Source]] = field(default_factory=dict)
    # the mail's warnings, then what could not be read in its attachments
    warnings: list[str] = field(default_factory=list)

    def add(self, urls: list[ExtractedURL], source: Source) -> None:
        for url in urls:
            places = self.sources.get(url.url)
            if places is None:
                self.urls.append(url)
                self.sources[url.url] = [source]
            elif source not in places and len(places) < MAX_SOURCES_PER_URL:
                places.append(source)


def _with_depth(mail: ParsedMail, depth: int = 0) -> Iterator[tuple[int, ParsedMail]]:
    yield depth, mail
    for sub in mail.attached_messages:
        yield from _with_depth(sub, depth + 1)


def _urls_from_qr(payload: str) -> list[ExtractedURL]:
    # A QR code holds one thing: a URL, possibly without a scheme, or other
    # data (a vCard, Wi-Fi settings) that may mention one.
    text = payload.strip()
    if text and len(text) < 4 * 2048 and not any(ch.isspace() for ch in text):
        try:
            return [normalise_url(text)]
        except InvalidURL:
            pass
    return extract_urls(payload)


def find_urls(mail: ParsedMail, *, scan_attachments_too: bool = True) -> MailURLs:
    """Distinct URLs of a parsed mail, each with where it was found; never raises.

    In order: subject, bodies (plain text as prose; in HTML, URL attributes
    such as href, src, form action and meta refresh, and the visible text, in
    document order), then each attached message the same way, then the PDF and
    image attachments (``takedown.intake.attachments``: PDF text and links, QR
    codes), which a child process reads within limits of time and memory.
    """
    result = MailURLs(warnings=list(mail.warnings))
    scannable: list[tuple[int, Attachment]] = []
    for depth, message in _with_depth(mail):
        result.add(extract_urls(message.subject), Source("subject", depth=depth))
        for body in message.bodies:
            if body.filename is None:
                source = Source("body", depth=depth)
            else:
                source = Source("attachment", body.filename, depth=depth)
            if body.content_type != "text/html":
                result.add(extract_urls(body.text), source)
                continue
            for kind, value in html_url_sources(body.text):
                if kind == "warning":
                    result.warnings.append(value)
                    continue
                urls = _urls_from_attribute(value) if kind == "attr" else extract_urls(value)
                result.add(urls, source)
        scannable.extend((depth, a) for a in message.attachments if a.kind)
    if not scan_attachments_too or not scannable:
        return result
    for _depth, attachment in scannable:
        if not attachment.data:
            result.warnings.append(
                f"{attachment.label}: not scanned: {attachment.size} bytes, more than the"
                f" limit of {MAX_SCAN_BYTES}"
            )
    scannable = [(depth, a) for depth, a in scannable if a.data]
    if len(scannable) > MAX_SCANNED:
        result.warnings.append(
            f"{len(scannable)} PDF and image attachments; only the first {MAX_SCANNED} were scanned"
        )
        scannable = scannable[:MAX_SCANNED]
    scans = scan_attachments([(a.kind, a.data) for _depth, a in scannable])
    for (depth, attachment), scan in zip(scannable, scans, strict=True):
        _add_scan(result, scan, attachment.label, depth)
    return result


def _add_scan(result: MailURLs, scan: Scan, name: str, depth: int) -> None:
    for found in scan.found:
        if found.how == "qr":
            urls, kind = _urls_from_qr(found.text), "qr"
        elif found.how == "link":
            urls, kind = _urls_from_attribute(found.text), "pdf_link"
        else:
            urls, kind = extract_urls(found.text), "pdf_text"
        result.add(urls, Source(kind, name, found.page, depth))
    result.warnings.extend(f"{name}: {error}" for error in scan.errors)


def find_urls_in_file(data: bytes, name: str) -> MailURLs:
    """URLs in one PDF or image file (``takedown extract invoice.pdf``); never raises."""
    result = MailURLs()
    kind = sniff(data)
    if not kind:
        result.warnings.append(f"{name}: not a PDF or an image")
    elif len(data) > MAX_SCAN_BYTES:
        result.warnings.append(
            f"{name}: not scanned: {len(data)} bytes, more than {MAX_SCAN_BYTES}"
        )
    else:
        _add_scan(result, scan_attachments([(kind, data)])[0], name, 0)
    return result


def urls_from_parsed(mail: ParsedMail) -> list[ExtractedURL]:
    """Distinct URLs of a parsed mail in order (``find_urls`` without the places)."""
    return find_urls(mail).urls


def extract_urls_from_message(raw: bytes) -> list[ExtractedURL]:
    """Every distinct URL in a whole e-mail; never raises on bad input."""
    return urls_from_parsed(parse_message(raw))

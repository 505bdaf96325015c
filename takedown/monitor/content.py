"""Is this still the reported page?  Facts from a fetched body, compared with the first evidence.

A status code alone says little: hosters answer 200 with an "account suspended"
page, registrars park expired domains, kits answer 404 to the wrong visitors.
So every 2xx page is reduced to a few facts (title, form fields, password field,
brand words, suspension/parking markers, body hash) and compared with the facts
of the first evidence of the site.  No Django here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

# Only the start of a page is parsed: titles, forms and suspension notices sit
# near the top, and parsing a capped body stays cheap at thousands of checks/s.
PARSE_LIMIT = 256 * 1024
_META_CHARSET = re.compile(rb"""<meta[^>]+charset=["']?([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_HEADER_CHARSET = re.compile(r"charset=[\"']?([A-Za-z0-9_.:-]+)", re.IGNORECASE)
_WORD = re.compile(r"\w{3,}", re.UNICODE)

# Lower-case phrases of hosters' suspension pages, parking pages, default server
# pages and soft 404s.  A page that shows one and has no password field is gone.
GONE_MARKERS = (
    "account suspended",
    "account has been suspended",
    "this account has been suspended",
    "website is suspended",
    "site has been suspended",
    "this site has been suspended",
    "site suspended",
    "account has been disabled",
    "this website is no longer available",
    "site has been removed",
    "content has been removed",
    "domain is parked",
    "parked domain",
    "parked free",
    "this domain is for sale",
    "domain may be for sale",
    "buy this domain",
    "domain has expired",
    "this domain has expired",
    "welcome to nginx",
    "apache2 debian default page",
    "apache2 ubuntu default page",
    "test page for the apache",
    "iis windows server",
    "default web site page",
    "index of /",
    "page not found",
    "404 not found",
    "410 gone",
    "403 forbidden",
    "phishing site removed",
    "this site has been reported",
    "deceptive site",
    "アカウントは停止",
    "アカウントが停止",
    "サイトは停止",
    "サイトを停止",
    "公開を停止",
    "ご指定のページが見つかりません",
    "ページが見つかりません",
    "お探しのページは見つかりません",
    "このドメインは販売中",
    "ドメインパーキング",
    "有効期限が切れ",
)
# Phrases matched only in the title (too common in body text).
GONE_TITLE_MARKERS = ("404", "not found", "suspended", "parked", "error", "forbidden")


@dataclass
class PageFacts:
    is_html: bool = False
    title: str = ""
    form_fields: list[str] = field(default_factory=list)
    has_password: bool = False
    brand_hits: list[str] = field(default_factory=list)
    gone_marker: str = ""
    text_length: int = 0
    empty: bool = False

    def as_dict(self) -> dict[str, object]:
        return {
            "is_html": self.is_html,
            "title": self.title,
            "form_fields": self.form_fields,
            "has_password": self.has_password,
            "brand_hits": self.brand_hits,
            "gone_marker": self.gone_marker,
            "text_length": self.text_length,
            "empty": self.empty,
        }


@dataclass(frozen=True)
class Reference:
    """What the first evidence of a site looked like."""

    sha256: str = ""
    is_html: bool = True
    title: str = ""
    form_fields: tuple[str, ...] = ()
    has_password: bool = False
    brand_hits: tuple[str, ...] = ()


class _Parser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.in_title = False
        self.title_parts: list[str] = []
        self.fields: set[str] = set()
        self.has_password = False
        self.text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self.in_title = True
        elif tag in ("script", "style", "noscript"):
            self._skip += 1
        elif tag in ("input", "select", "textarea"):
            a = {k: (v or "") for k, v in attrs}
            kind = a.get("type", "text").lower() if tag == "input" else tag
            if kind in ("hidden", "submit", "button", "image", "reset"):
                return
            if kind == "password":
                self.has_password = True
            name = (a.get("name") or a.get("id") or kind)[:60].lower()
            self.fields.add(f"{kind}:{name}")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        elif tag in ("script", "style", "noscript") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title_parts.append(data)
        elif not self._skip:
            self.text.append(data)


def decode_body(body: bytes, content_type: str = "") -> str:
    """Text of an HTML body: the header's charset, then a <meta> charset, then guesses."""
    candidates: list[str] = []
    m = _HEADER_CHARSET.search(content_type or "")
    if m:
        candidates.append(m.group(1))
    m2 = _META_CHARSET.search(body[:4096])
    if m2:
        candidates.append(m2.group(1).decode("ascii", "replace"))
    for name in candidates:
        try:
            return body.decode(name)
        except (LookupError, UnicodeDecodeError):
            continue
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    best = from_bytes(body[:65536]).best()
    if best is not None and best.encoding:
        try:
            return body.decode(best.encoding, errors="replace")
        except LookupError:
            pass
    return body.decode("utf-8", errors="replace")


def looks_like_html(body: bytes, content_type: str) -> bool:
    ctype = (content_type or "").split(";")[0].strip().lower()
    if ctype in ("text/html", "application/xhtml+xml"):
        return True
    if ctype and ctype not in ("text/plain", "application/octet-stream"):
        return False
    head = body[:512].lstrip().lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<title", b"<body"))


def brand_words(brand: str) -> list[str]:
    """The brand's name and its distinctive words, lower-case."""
    brand = brand.strip().lower()
    if not brand:
        return []
    words = {brand}
    words.update(w for w in _WORD.findall(brand) if len(w) >= 4 or not w.isascii())
    words -= {"bank", "card", "online", "login", "the", "inc", "corp", "company"}
    return sorted(words)


def page_facts(body: bytes, content_type: str, brand: str = "") -> PageFacts:
    facts = PageFacts(is_html=looks_like_html(body, content_type), empty=len(body.strip()) < 32)
    if not facts.is_html:
        return facts
    text = decode_body(body[:PARSE_LIMIT], content_type)
    parser = _Parser()
    try:
        parser.feed(text)
        parser.close()
    except Exception:  # noqa: S110 - html.parser copes with nearly anything; keep what was parsed
        pass
    facts.title = " ".join("".join(parser.title_parts).split())[:300]
    facts.form_fields = sorted(parser.fields)[:50]
    facts.has_password = parser.has_password
    visible = " ".join(" ".join(parser.text).split())
    facts.text_length = len(visible)
    haystack = f"{facts.title} {visible}".lower()
    facts.brand_hits = [w for w in brand_words(brand) if w in haystack]
    for marker in GONE_MARKERS:
        if marker in haystack:
            facts.gone_marker = marker
            break
    else:
        title = facts.title.lower()
        for marker in GONE_TITLE_MARKERS:
            if marker in title:
                facts.gone_marker = f"title: {marker}"
                break
    return facts


def still_there(facts: PageFacts, sha256: str, ref: Reference | None) -> tuple[bool, str]:
    """Whether a 2xx page is still the reported content, and why (for the Check's detail).

    1. The same bytes as the first evidence: still there.
    2. An empty body, or a suspension, parking, default-server or soft-404 page without a password
       field: gone.
    3. Without a reference (the site was down when first checked), any other
       page with content counts as there.
    4. The same title, at least half of the first evidence's form fields, or the
       brand's words together with a login form: still there.
    5. Anything else is a different page: gone.
    """
    if ref is not None and ref.sha256 and sha256 == ref.sha256:
        return True, "same content"
    if facts.empty:
        return False, "empty body"
    if ref is not None and not ref.is_html:
        # A download that turned into an HTML page is an error or notice page;
        # a different binary is still something served as the sample was.
        return (False, "download replaced by a page") if facts.is_html else (True, "download")
    if not facts.is_html:
        return True, "not HTML"
    if facts.gone_marker and not facts.has_password:
        return False, f"gone marker: {facts.gone_marker}"
    if ref is None:
        return True, "page served"
    if ref.title and facts.title == ref.title:
        return True, "same title"
    if ref.form_fields:
        common = set(ref.form_fields) & set(facts.form_fields)
        if len(common) * 2 >= len(ref.form_fields):
            return True, "same form fields"
    if facts.brand_hits and (facts.has_password or facts.form_fields):
        return True, "brand and login form"
    if ref.has_password and facts.has_password and set(ref.brand_hits) & set(facts.brand_hits):
        return True, "brand and password field"
    return False, "different page"

"""Find URLs in free text and normalise them; see docs/extraction.md.

Framework-free on purpose: the CLI, the API, the mail listener, the CSV importer
and the benchmark all call it, and it must never raise on hostile text.

How ``extract_urls`` works:

1. One compiled regex finds candidates: something that starts like a URL (an
   ``http``-ish scheme, possibly defanged or full-width, or a scheme-less
   ``www.``) followed by host characters and an optional path.
2. Each candidate loses the sentence punctuation it picked up at its end.
3. The candidate is refanged (scheme, separators, bracketed dots, full-width
   characters, ideographic full stops in the host) into a URL string.
4. ada (the WHATWG URL parser) serialises it; the fragment is dropped.
5. Links wrapped by mail security gateways are unwrapped (bounded recursion).
6. The host's registered domain comes from the Public Suffix List (tldextract's
   bundled snapshot, offline).

Steps 2-6 depend only on the candidate string, so they are cached: mail and
reports repeat the same links many times.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl, unquote

import ada_url
import tldextract

__all__ = [
    "MAX_URL_LENGTH",
    "ExtractedURL",
    "InvalidURL",
    "extract_urls",
    "normalise_url",
    "registered_domain",
]

# Matches the ``Site.url`` column; a longer serialisation could not be stored.
MAX_URL_LENGTH = 2048
# Gateways can wrap a wrapped link (Safe Links around Proofpoint...); real chains
# are two deep, the bound keeps a crafted chain from costing more.
MAX_UNWRAP_DEPTH = 5
# Candidates longer than this cannot serialise under MAX_URL_LENGTH (ada never
# shortens more than dot segments would), so they are not worth parsing.
_MAX_CANDIDATE = 4 * MAX_URL_LENGTH


class InvalidURL(ValueError):
    """The input is not an http(s) URL we can take; the message says why."""


@dataclass(frozen=True, slots=True)
class ExtractedURL:
    url: str
    host: str
    registered_domain: str
    defanged: bool

    def as_dict(self) -> dict[str, str | bool]:
        # The key order is the CONTRACT's JSON line order.
        return {
            "url": self.url,
            "host": self.host,
            "registered_domain": self.registered_domain,
            "defanged": self.defanged,
        }


# --- the candidate regex ----------------------------------------------------
#
# Full-width forms (U+FF01-FF5E) are accepted wherever their ASCII twin is, so
# ``ｈｔｔｐ：／／ｅｘａｍｐｌｅ．ｃｏｍ`` is one candidate; they are folded later.
_SCHEME_WORD = r"(?:[hｈ]{1,2}[tｔxｘ*＊]{1,2}|(?<![a-zａ-ｚ])[tｔ]{2})[pｐ][sｓ]?"
_COLON = r"(?:[:：]|[\[(\{［（｛][:：][\])\}］）｝])"
_SLASHES = r"(?:[/／\\]{2}|[\[(\{［（｛][/／]{1,2}[\])\}］）｝](?:[/／])?)"
_SEPARATOR = rf"(?:[\[(\{{［（｛][:：][/／]{{2}}[\])\}}］）｝]|{_COLON}{_SLASHES})"
_DOT_FORMS = r"(?:[.．。｡]|[\[(\{［（｛](?:[.．]|dot|ｄｏｔ)[\])\}］）｝])"
# Host characters: ASCII host/userinfo/port characters, brackets (IPv6, ``[.]``),
# and non-ASCII letters for IDN hosts. Whitespace, general punctuation
# (U+2000-206F: quotes, zero-width spaces) and CJK punctuation other than the
# ideographic full stop end the host, as do full-width ``／？＃，``.
_HOST_CHAR = (
    r"[A-Za-z0-9\-_.:@%\[\]"
    r"\u00a1-\u1fff\u2070-\u2fff\u3002\u3040-\ufefe"
    r"\uff01\uff02\uff04-\uff0b\uff0d\uff0e\uff10-\uff1e\uff20-\uffef"
    r"\U00010000-\U0010ffff]"
)
_HOST_DEFANG = r"(?:[({]\.[)}]|[({]dot[)}])"
# Path characters: printable ASCII minus the ones that delimit URLs in prose
# and markup (space " < > \ ^ ` { | }), Latin/Greek/Cyrillic/... letters and
# full-width ASCII. Kana, kanji and Hangul end the path: in Japanese prose a URL
# is routinely followed by text with no space ("http://a.example/にアクセス").
_PATH_CHAR = r"[!#-;=?-\[\]_a-z~\u00a1-\u1fff\u2070-\u2dff\uff01-\uff5e]"
_CANDIDATE_RE = re.compile(
    rf"""
    (?:
        {_SCHEME_WORD}{_SEPARATOR}
      | (?<![A-Za-z0-9@._\-/％＠])[wｗ]{{3}}(?={_DOT_FORMS})
    )
    (?:{_HOST_CHAR}|{_HOST_DEFANG})*
    (?:[/?#／？＃]{_PATH_CHAR}*)?
    """,
    re.IGNORECASE | re.VERBOSE,
)

# --- refanging ----------------------------------------------------------------

# Full-width ASCII -> ASCII (what NFKC does to them) and the ideographic full
# stops -> ".". One character to one character, so indices survive.
_WIDE = {c: c - 0xFEE0 for c in range(0xFF01, 0xFF5F)}
_WIDE[0x3002] = ord(".")  # 。 ideographic full stop
_WIDE[0xFF61] = ord(".")  # ｡ half-width ideographic full stop

_SCHEME_RE = re.compile(
    r"(?P<word>(?:h{1,2}[tx*]{1,2}|tt)ps?)"
    r"(?P<sep>(?:[\[({]:/*[\])}]|:)(?:[\[({]/+[\])}]|[/\\])*)",
    re.IGNORECASE,
)
_OTHER_SCHEME_RE = re.compile(r"([a-z][a-z0-9+.\-]*):", re.IGNORECASE)
_WWW_RE = re.compile(r"www(?:\.|[\[({](?:\.|dot)[\])}])", re.IGNORECASE)
_AUTHORITY_END_RE = re.compile(r"\[/\]|[/?#\\]")
_HOST_DOT_RE = re.compile(r"[\[({](?:\.|dot)[\])}]", re.IGNORECASE)
_PORT_COLON_RE = re.compile(r"[\[({]:[\])}]")
_PATH_DOT_RE = re.compile(r"\[(?:\.|dot)\]", re.IGNORECASE)
_DNS_HOST_RE = re.compile(r"[a-z0-9_\-.]+")

# Sentence punctuation that is not part of a URL when it ends one.
_TRAILING = frozenset(".,;:!?'\"`…‥、。，．；：！？”’»›」』）】〕〉》｣〗〙〛\u3000")
_CLOSERS = {")": "(", "]": "[", ">": "<", "}": "{", "）": "（"}
_TRAILING_ENTITIES = ("&gt;", "&lt;", "&quot;", "&#39;", "&apos;", "&#x27;")


def _trim(candidate: str) -> str:
    s = candidate
    while s:
        last = s[-1]
        if last == ";" and s.endswith(_TRAILING_ENTITIES):
            # HTML-escaped prose: "&lt;http://a.example/&gt;"
            s = s[: s.rfind("&")]
        elif last in _TRAILING or (last in _CLOSERS and s.count(_CLOSERS[last]) < s.count(last)):
            s = s[:-1]
        else:
            break
    return s


_EMBEDDED_SCHEME_RE = re.compile(r"(?:h{1,2}[tx*]{1,2}|tt)ps?(?:[\[({]:|:)", re.IGNORECASE)
# An ideographic full stop followed by Japanese (not by full-width ASCII) ends a
# sentence, it does not separate labels: "http://a.example。詳細は".
_STOP_THEN_PROSE_RE = re.compile(r"[。｡．](?=[^\x00-\x7f\uff01-\uff5e])")
_LABEL_SEP_RE = re.compile(r"\.|[\[({](?:\.|dot)[\])}]", re.IGNORECASE)
_ASCII_PREFIX_RE = re.compile(r"([A-Za-z0-9\-]*)(?::[0-9]*)?")  # a label, maybe a port


def _prose_cut(t_hostport: str, raw_hostport: str) -> int:
    """Where a host found in prose really ends, or -1 when it ends at the end.

    The host pattern accepts non-ASCII letters (IDN hosts) and the ideographic
    full stop, so in Japanese prose it runs on into the sentence:
    ``www.example.jpへアクセス。http://...``. A host ends early at:
    1. the start of another URL;
    2. an ideographic full stop followed by Japanese;
    3. a label that runs from ASCII into another script, when its ASCII part is
       a TLD or it is the last label (no TLD mixes scripts).
    """
    cut = -1
    if ":" in t_hostport:
        embedded = _EMBEDDED_SCHEME_RE.search(t_hostport, 1)
        if embedded:
            cut = embedded.start()
    if not raw_hostport.isascii():
        stop = _STOP_THEN_PROSE_RE.search(raw_hostport)
        if stop and (cut < 0 or stop.start() < cut):
            cut = stop.start()
        limit = len(t_hostport) if cut < 0 else cut
        separators = list(_LABEL_SEP_RE.finditer(t_hostport, 0, limit))
        bounds = [m.end() for m in separators]
        for i, begin in enumerate(bounds):
            end = separators[i + 1].start() if i + 1 < len(separators) else limit
            label = t_hostport[begin:end]
            if not label or label.isascii() or not label[0].isascii():
                continue
            prefix = _ASCII_PREFIX_RE.match(label)
            assert prefix is not None  # the pattern matches the empty string
            if end == limit or prefix[1].lower() in _ascii_tlds():
                cut = begin + prefix.end()
                break
    return cut


def _refang(raw: str, *, from_text: bool) -> tuple[str, bool, int]:
    """Turn a candidate (text) or an explicit URL into an http(s) URL string.

    Returns ``(url, defanged, consumed)``: ``consumed`` is how much of ``raw``
    the URL took (less than all of it when prose was glued to the host).
    Raises InvalidURL when it cannot be an http(s) URL.
    """
    wide = not raw.isascii()
    t = raw.translate(_WIDE) if wide else raw
    defanged = False
    consumed = len(raw)

    m = _SCHEME_RE.match(t)
    if m:
        word = m["word"].lower()
        scheme = "https" if word.endswith("s") else "http"
        sep = m["sep"]
        start = m.end()
        # "http:/x" and "http:\\x" are sloppy, not defanged: browsers take them.
        defanged = word != scheme or "[" in sep or "(" in sep or "{" in sep
    elif from_text or _WWW_RE.match(t):
        # The candidate regex only yields a scheme-less candidate for "www."
        scheme, start = "http", 0
    else:
        other = _OTHER_SCHEME_RE.match(t)
        if other:
            name = other[1]
            after = t[other.end() : other.end() + 1]
            # "example.com:8080/x" and "localhost:80" are a host and a port.
            if "." not in name and not after.isdigit():
                raise InvalidURL(f"unsupported scheme {name.lower()!r}: only http and https")
        scheme, start = "http", 0

    end_match = _AUTHORITY_END_RE.search(t, start)
    end = end_match.start() if end_match else len(t)
    if end_match and end_match.group() == "[/]":
        defanged = True
        tail_start, prefix = end + 3, "/"
    else:
        tail_start, prefix = end, ""
    # In prose a URL typed entirely in full-width is refanged entirely; an
    # explicit URL keeps its path as given (the link's real bytes).
    head_wide = wide and t[:end] != raw[:end]
    tail = prefix + (t if (from_text and head_wide) else raw)[tail_start:]

    at = t.rfind("@", start, end)
    if at >= 0 and not m and not from_text:
        raise InvalidURL("an e-mail address is not a URL")
    host_start = at + 1 if at >= 0 else start
    userinfo, hostport = t[start:host_start], t[host_start:end]
    if from_text:
        cut = _prose_cut(hostport, raw[host_start:end])
        if cut >= 0:
            hostport, tail = hostport[:cut].rstrip("."), ""
            consumed = host_start + len(hostport)
            head_wide = wide and t[:consumed] != raw[:consumed]
    if "[" in tail:
        # Defangers bracket the dots of paths too ("/login[.]php"); a literal
        # "[.]" in a real path is far rarer. Repeated so "[[.]]" cannot leave
        # a "[.]" behind and the result re-normalises to itself.
        while (refanged_tail := _PATH_DOT_RE.sub(".", tail)) != tail:
            tail = refanged_tail
            defanged = True
    if "[" in hostport or "(" in hostport or "{" in hostport:
        refanged = _PORT_COLON_RE.sub(":", _HOST_DOT_RE.sub(".", hostport))
        if refanged != hostport:
            defanged = True
            hostport = refanged
    if head_wide:
        defanged = True
    return f"{scheme}://{userinfo}{hostport}{tail}", defanged, consumed


# --- public suffix list -------------------------------------------------------

# tldextract's bundled snapshot, never a download: Takedown runs on closed
# networks and a lookup must not depend on the network.
_PSL = tldextract.TLDExtract(suffix_list_urls=(), include_psl_private_domains=True, cache_dir=None)


@dataclass(frozen=True, slots=True)
class _SuffixRules:
    exact: frozenset[str]
    wildcard: frozenset[str]  # "ck" for the rule "*.ck"
    exception: frozenset[str]  # "www.ck" for the rule "!www.ck"
    tlds: frozenset[str]  # single-label ASCII rules: "com", "jp"


def _ascii_rule(rule: str) -> str:
    if rule.isascii():
        return rule.lower()
    return bytes(ada_url.idna.encode(rule)).decode("ascii")


@lru_cache(maxsize=1)
def _suffix_rules() -> _SuffixRules:
    """The snapshot's rules (ICANN and private), in the ASCII form hosts come in.

    The match below is the PSL algorithm itself, over sets: tldextract's own
    lookup re-parses its input as a URL each time and was a third of the cost
    of extracting a URL.
    """
    exact, wildcard, exception = set(), set(), set()
    for rule in _PSL.tlds:
        if rule.startswith("!"):
            exception.add(_ascii_rule(rule[1:]))
        elif rule.startswith("*."):
            wildcard.add(_ascii_rule(rule[2:]))
        else:
            exact.add(_ascii_rule(rule))
    tlds = frozenset(r for r in exact if "." not in r)
    return _SuffixRules(frozenset(exact), frozenset(wildcard), frozenset(exception), tlds)


def _ascii_tlds() -> frozenset[str]:
    return _suffix_rules().tlds


def _public_suffix_start(labels: list[str]) -> int:
    """Index of the first label of the public suffix (the longest matching rule)."""
    rules = _suffix_rules()
    for i in range(len(labels)):
        suffix = ".".join(labels[i:])
        if suffix in rules.exception:
            return i + 1  # "!www.ck": the suffix is "ck", "www.ck" is registrable
        if suffix in rules.exact or ".".join(labels[i + 1 :]) in rules.wildcard:
            return i
    return len(labels) - 1  # the default rule "*": the TLD


@lru_cache(maxsize=65536)
def registered_domain(host: str) -> str:
    """The registrable domain of ``host`` per the Public Suffix List (with its private section).

    ``a.b.workers.dev`` -> ``b.workers.dev``. An IP address is its own registered
    domain. A host with no registrable domain (a public suffix itself, such as
    ``co.jp``, or a single label) is returned unchanged, so every site has a
    grouping key. An unlisted TLD follows the PSL's default rule ``*``.
    Expects the ASCII (Punycode) form that ``ExtractedURL.host`` has.
    """
    h = host.strip().lower()
    if h.startswith("[") and h.endswith("]"):
        h = h[1:-1]
    if ":" in h or h[-1:].isdigit():
        try:
            return str(ipaddress.ip_address(h))
        except ValueError:
            pass
    bare = h.rstrip(".")
    if not bare or bare.startswith(".") or ".." in bare:
        return h  # empty labels: not a domain name, so nothing is registrable
    labels = bare.split(".")
    start = _public_suffix_start(labels)
    return ".".join(labels[start - 1 :]) if start > 0 else h


# --- unwrapping ---------------------------------------------------------------

_V3_RUN_LENGTHS = {
    ch: i + 2
    for i, ch in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
}
_V3_TOKEN_RE = re.compile(r"\*\*(.)|\*")
_GOOGLE_HOST_RE = re.compile(r"(?:www\.)?google\.(?:com|co\.[a-z]{2}|com\.[a-z]{2}|[a-z]{2})")


def _query_param(search: str, *names: str) -> str | None:
    params = dict(parse_qsl(search.lstrip("?"), keep_blank_values=True))
    for name in names:
        if params.get(name):
            return params[name]
    return None


def _proofpoint_v2(search: str) -> str | None:
    for pair in search.lstrip("?").split("&"):
        if pair.startswith("u="):
            # v2 writes "%" as "-" and "/" as "_" so the URL survives as one parameter.
            return unquote(pair[2:].replace("-", "%").replace("_", "/"))
    return None


def _proofpoint_v3(href: str) -> str | None:
    """``https://urldefense.com/v3/__<url>__;<base64>!!<token>``.

    Characters of the URL that Proofpoint would not keep are replaced by ``*``
    (one character) or ``**X`` (a run of 2-65 characters, X its length code),
    and the replaced characters follow ``__;`` as URL-safe base64.
    """
    start = href.find("/v3/__")
    end = href.find("__;", start + 6)
    if start < 0 or end < 0:
        return None
    encoded_url = unquote(href[start + 6 : end])
    bang = href.find("!", end + 3)
    encoded_chars = href[end + 3 : bang if bang >= 0 else len(href)]
    if "*" not in encoded_url:
        return encoded_url
    try:
        chars = base64.urlsafe_b64decode(encoded_chars + "=" * (-len(encoded_chars) % 4))
        replaced = chars.decode("utf-8")
    except (binascii.Error, ValueError):
        return None
    out: list[str] = []
    pos = used = 0
    for token in _V3_TOKEN_RE.finditer(encoded_url):
        out.append(encoded_url[pos : token.start()])
        run = _V3_RUN_LENGTHS.get(token[1], 0) if token[1] else 1
        if not run or used + run > len(replaced):
            return None
        out.append(replaced[used : used + run])
        used += run
        pos = token.end()
    out.append(encoded_url[pos:])
    return "".join(out)


def _wrapped_target(href: str, hostname: str) -> str | None:
    """The URL a security gateway's link points at, or None when it is not one."""
    if hostname.endswith(
        (".safelinks.protection.outlook.com", ".safelinks.protection.office365.us")
    ):
        parts = ada_url.parse_url(href, attributes=("search",))
        return _query_param(parts["search"], "url")
    if hostname == "urldefense.proofpoint.com":
        parts = ada_url.parse_url(href, attributes=("pathname", "search"))
        if parts["pathname"].startswith("/v2/"):
            return _proofpoint_v2(parts["search"])
        if parts["pathname"].startswith("/v1/"):
            return _query_param(parts["search"], "u")
        return None
    if hostname == "urldefense.com":
        return _proofpoint_v3(href)
    if _GOOGLE_HOST_RE.fullmatch(hostname):
        parts = ada_url.parse_url(href, attributes=("pathname", "search"))
        if parts["pathname"] == "/url":
            return _query_param(parts["search"], "q", "url")
    return None


# --- normalisation ------------------------------------------------------------

try:
    # ada_url's own compiled module: calling it directly halves the cost of
    # parse_url, which wraps every getter in Python. ada-url is pinned < 5.
    from ada_url._ada_wrapper import ffi as _ada_ffi
    from ada_url._ada_wrapper import lib as _ada_lib
except ImportError:  # pragma: no cover - a future ada-url may move it
    _ada_lib = None

_ADA_ATTRIBUTES = ("href", "hostname", "host_type")


def _ada_parse_portable(url: str) -> tuple[str, str, int] | None:
    try:
        parts = ada_url.parse_url(url, attributes=_ADA_ATTRIBUTES)
    except ValueError:
        return None
    return parts["href"], parts["hostname"], int(parts["host_type"])


def _ada_parse(url: str) -> tuple[str, str, int] | None:
    """``(href, hostname, host type)`` per WHATWG, or None when it is no URL."""
    if _ada_lib is None:  # pragma: no cover
        return _ada_parse_portable(url)
    try:
        data = url.encode()
    except UnicodeEncodeError:
        return None  # lone surrogates
    parsed = _ada_lib.ada_parse(data, len(data))
    try:
        if not _ada_lib.ada_is_valid(parsed):
            return None
        href = _ada_lib.ada_get_href(parsed)
        hostname = _ada_lib.ada_get_hostname(parsed)
        return (
            _ada_ffi.string(href.data, href.length).decode(),
            _ada_ffi.string(hostname.data, hostname.length).decode(),
            _ada_lib.ada_get_host_type(parsed),
        )
    finally:
        _ada_lib.ada_free(parsed)


def _finish(url: str, defanged: bool, depth: int) -> ExtractedURL:
    """Serialise with ada, check the host, unwrap gateways."""
    parts = _ada_parse(url)
    if parts is None:
        raise InvalidURL("not a valid URL")
    href, hostname, host_type = parts
    if not href.startswith(("http://", "https://")):  # pragma: no cover - we built the scheme
        raise InvalidURL("only http and https URLs are taken")
    if host_type == ada_url.HostType.DEFAULT:
        if not hostname:
            raise InvalidURL("the URL has no host")
        if "." not in hostname.strip("."):
            raise InvalidURL(f"host {hostname[:100]!r} is not a public host name (no dot)")
        if not _DNS_HOST_RE.fullmatch(hostname):
            raise InvalidURL(f"host {hostname[:100]!r} has characters a DNS name cannot have")
        host = hostname
    else:
        host = hostname.strip("[]")

    if depth < MAX_UNWRAP_DEPTH and (
        "google." in hostname or "urldefense." in hostname or "safelinks." in hostname
    ):
        target = _wrapped_target(href, hostname)
        if target:
            try:
                inner = _normalise(target, from_text=False, depth=depth + 1)
            except InvalidURL:
                # The gateway's own link is still the reported one.
                pass
            else:
                if defanged and not inner.defanged:
                    inner = ExtractedURL(inner.url, inner.host, inner.registered_domain, True)
                return inner

    hash_at = href.find("#")
    if hash_at >= 0:
        href = href[:hash_at]
    if len(href) > MAX_URL_LENGTH:
        raise InvalidURL(f"URL longer than {MAX_URL_LENGTH} characters")
    return ExtractedURL(href, host, registered_domain(host), defanged)


def _normalise(raw: str, *, from_text: bool, depth: int = 0) -> ExtractedURL:
    if len(raw) > _MAX_CANDIDATE:
        raise InvalidURL(f"URL longer than {MAX_URL_LENGTH} characters")
    url, defanged, _ = _refang(raw, from_text=from_text)
    return _finish(url, defanged, depth)


@lru_cache(maxsize=65536)
def _from_candidate(candidate: str) -> tuple[ExtractedURL | None, int]:
    """The URL a regex candidate stands for, and how much of the candidate it used."""
    trimmed = _trim(candidate)
    if len(trimmed) > _MAX_CANDIDATE:
        return None, len(candidate)
    url, defanged, consumed = _refang(trimmed, from_text=True)
    if not 0 < consumed < len(trimmed):
        consumed = len(candidate)
    try:
        return _finish(url, defanged, 0), consumed
    except InvalidURL:
        return None, consumed


def extract_urls(text: str) -> list[ExtractedURL]:
    """Every distinct http(s) URL in ``text``, in order of first appearance.

    Never raises: a candidate that does not normalise is skipped. When the same
    URL appears more than once, its first appearance decides ``defanged``.
    """
    found: dict[str, ExtractedURL] = {}
    search = _CANDIDATE_RE.search
    pos = 0
    while (match := search(text, pos)) is not None:
        extracted, consumed = _from_candidate(match.group())
        if extracted is not None and extracted.url not in found:
            found[extracted.url] = extracted
        # When prose was glued to a host, the rest of the candidate may hold
        # the next URL, so the search resumes right after what was used.
        pos = match.start() + consumed
    return list(found.values())


_C0_AND_SPACE = "".join(map(chr, range(0x21)))
_TAB_NEWLINE = dict.fromkeys(map(ord, "\t\n\r"))


def normalise_url(raw: str) -> ExtractedURL:
    """Normalise one URL given explicitly (API, CLI, CSV, an ``href``).

    The whole string is the URL: nothing is trimmed but surrounding whitespace
    and ``<...>``. Defanged forms are refanged; a scheme-less ``host/path`` is
    taken as ``http://``. Raises InvalidURL for anything that is not an
    http(s) URL with a public-looking host.
    """
    if not isinstance(raw, str):
        raise InvalidURL("a URL must be text")
    # As the WHATWG parser does: C0 controls and spaces around the URL and
    # tabs/newlines inside it are dropped (a URL wrapped over lines in a CSV
    # cell or a form field comes out whole). Unicode spaces around it too.
    s = raw.strip(_C0_AND_SPACE).strip()
    if "\t" in s or "\n" in s or "\r" in s:
        s = s.translate(_TAB_NEWLINE)
    if s.startswith("<") and s.endswith(">"):
        s = s[1:-1].strip()
    if not s:
        raise InvalidURL("empty URL")
    # The message says why, not what: callers show it next to the input they hold.
    return _normalise(s, from_text=False)

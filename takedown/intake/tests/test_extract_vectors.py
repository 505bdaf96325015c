"""Extraction against published test vectors: WHATWG URL, the Public Suffix List, iocextract.

The vectors live in ../shared (read-only, not part of the repository); each test
skips with the reason when they are absent.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import ada_url
import idna
import pytest

from takedown.intake.extract import (
    _PSL,
    InvalidURL,
    _ada_parse,
    _ada_parse_portable,
    _refang,
    extract_urls,
    normalise_url,
    registered_domain,
)
from takedown.intake.mail import extract_urls_from_message

SHARED = Path(__file__).resolve().parents[3].parent / "shared"


def shared(*parts: str) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared test data not available: {path}")
    return path


# --- WHATWG URL -----------------------------------------------------------------

# Inputs the WHATWG vectors call failures but ada 4.0.0 (our parser) accepts:
# it does not yet reject an "xn--" label that is not valid Punycode/IDNA. Such a
# host never resolves, so the site would end "unresolvable", not be mis-handled.
ADA_ACCEPTS_DESPITE_WHATWG_FAILURE = {
    "http://a.b.c.xn--pokxncvks": "ada 4.0.0 does not validate Punycode labels",
    "http://10.0.0.xn--pokxncvks": "ada 4.0.0 does not validate Punycode labels",
    "http://a.b.c.XN--pokxncvks": "ada 4.0.0 does not validate Punycode labels",
    "http://a.b.c.Xn--pokxncvks": "ada 4.0.0 does not validate Punycode labels",
    "http://10.0.0.XN--pokxncvks": "ada 4.0.0 does not validate Punycode labels",
    "http://10.0.0.xN--pokxncvks": "ada 4.0.0 does not validate Punycode labels",
}
# Our policy on top of WHATWG: a reportable host has a dot (or is an IP) and
# only DNS characters. These rejections are checked to be the policy, and the
# ada serialisation of the same input is still checked against the vector.
POLICY_REASONS = ("no dot", "DNS name")
_HTTP_INPUT = re.compile(r"^[\x00-\x20]*https?:", re.IGNORECASE)


def whatwg_cases() -> list[dict[str, Any]]:
    path = SHARED / "data" / "url" / "urltestdata.json"
    if not path.exists():
        return []
    return [case for case in json.loads(path.read_text("utf-8")) if isinstance(case, dict)]


def test_it_serialises_http_urls_like_the_whatwg_vectors() -> None:
    shared("data", "url", "urltestdata.json")
    cases = [c for c in whatwg_cases() if c.get("base") is None and _HTTP_INPUT.match(c["input"])]
    assert len(cases) > 200
    checked = policy = 0
    problems = []
    for case in cases:
        raw = case["input"]
        if case.get("failure"):
            if raw in ADA_ACCEPTS_DESPITE_WHATWG_FAILURE:
                # Still a deviation? When ada starts rejecting it, drop the entry.
                assert ada_url.check_url(raw), f"{raw!r} now fails in ada: remove the exception"
                continue
            try:
                got = normalise_url(raw).url
            except InvalidURL:
                checked += 1
                continue
            problems.append(f"{raw!r}: WHATWG failure, we gave {got!r}")
            continue
        expected = case["href"].split("#", 1)[0]
        try:
            got = normalise_url(raw).url
        except InvalidURL as exc:
            if not any(reason in str(exc) for reason in POLICY_REASONS):
                problems.append(f"{raw!r}: rejected ({exc}), expected {expected!r}")
                continue
            refanged = _refang(raw.strip("".join(map(chr, range(0x21)))), from_text=False)[0]
            got = ada_url.parse_url(refanged, attributes=("href",))["href"].split("#", 1)[0]
            policy += 1
        if got != expected:
            problems.append(f"{raw!r}: got {got!r}, expected {expected!r}")
        checked += 1
    assert problems == []
    assert checked > 200 and policy > 0


def test_it_resolves_protocol_relative_links_like_the_whatwg_vectors() -> None:
    # HTML mail bodies hold "//host/path" links; we read them against an http base.
    shared("data", "url", "urltestdata.json")
    cases = [
        c
        for c in whatwg_cases()
        if (c.get("base") or "").startswith(("http:", "https:"))
        and c["input"].startswith("//")
        and not c.get("failure")
    ]
    assert cases
    for case in cases:
        scheme = case["base"].split(":", 1)[0]
        try:
            got = normalise_url(f"{scheme}:{case['input']}").url
        except InvalidURL as exc:
            assert any(reason in str(exc) for reason in POLICY_REASONS), case
            continue
        assert got == case["href"].split("#", 1)[0], case


# --- Public Suffix List ----------------------------------------------------------

_CHECK = re.compile(r"^checkPublicSuffix\((null|'[^']*'), (null|'[^']*')\);")


def test_it_follows_the_public_suffix_list_test_vectors() -> None:
    """checkPublicSuffix(host, registrable domain or null) from the PSL's own tests.

    Hosts reach ``registered_domain`` from ada, so in ASCII (Punycode) form; the
    Unicode vectors are converted first. Where the PSL says null (the host is a
    public suffix or has empty labels), we return the host itself, so every site
    has a grouping key. tldextract 5.4.0's bundled snapshot agrees with every
    vector; there are no exceptions to list.
    """
    path = shared("data", "url", "test_psl.txt")
    checked = 0
    for line in path.read_text("utf-8").splitlines():
        match = _CHECK.match(line.strip())
        if not match or match[1] == "null":
            continue  # comments, and the null input our function cannot receive (it takes str)
        host = match[1].strip("'").lower()
        expected = None if match[2] == "null" else match[2].strip("'")
        if not host.isascii():
            host = idna.encode(host, uts46=True).decode()
            expected = expected and idna.encode(expected, uts46=True).decode()
        assert registered_domain(host) == (expected or host), line
        checked += 1
    assert checked >= 70


# --- iocextract ------------------------------------------------------------------

# valid.txt lists what iocextract must find in input.txt, verbatim (it does not
# refang), for every indicator type; invalid.txt what it must not. We extract
# http(s) URLs only, so each valid line is either a URL we claim to find (its
# expected form computed below with a reference refang + ada) or excluded by
# one of these rules, each with its reason.
_URL_SCHEME = re.compile(r"^(?:h[tx]{2}ps?)(?:://|\[:\]//|\[://\])", re.IGNORECASE)
EXCLUSIONS: dict[str, tuple[str, Any]] = {
    "not-a-url": (
        "hashes, IP addresses, bare or defanged domains without a scheme, phone numbers: "
        "we extract URLs, and scheme-less hosts only when they start with www. (CONTRACT)",
        lambda line: "://" not in line,
    ),
    "other-scheme": (
        "tcp:// is not a scheme a takedown applies to (http and https only)",
        lambda line: "://" in line and not _URL_SCHEME.match(line),
    ),
    "not-whatwg-valid": (
        "the refanged text is no URL under WHATWG (an unclosed '[' host, an IPv6 "
        "address without brackets), so neither browsers nor we can fetch it",
        lambda line: _URL_SCHEME.match(line) and not ada_url.check_url(reference_refang(line)),
    ),
    "comma-host": (
        "'example,com' is a WHATWG-valid host but not a DNS name: no site can be at it",
        lambda line: _URL_SCHEME.match(line) and "," in line,
    ),
}


def reference_refang(line: str) -> str:
    """A deliberately simple refang to compute what we should find."""
    out = re.sub(r"^h[tx]{2}p", "http", line, flags=re.IGNORECASE)
    for defanged, plain in (("[://]", "://"), ("[:]", ":"), ("[.]", "."), ("(.)", "."),
                            ("[dot]", "."), ("[/]", "/")):  # fmt: skip
        out = out.replace(defanged, plain)
    return out


def classify(line: str) -> str | None:
    for name, (_reason, applies) in EXCLUSIONS.items():
        if applies(line):
            return name
    return None


def test_it_finds_the_iocextract_url_vectors_it_claims() -> None:
    valid = shared("data", "extract", "iocextract", "valid.txt").read_text("utf-8").splitlines()
    text = shared("data", "extract", "iocextract", "input.txt").read_text("utf-8")
    found = {u.url for u in extract_urls(text)}
    excluded: dict[str, list[str]] = {name: [] for name in EXCLUSIONS}
    claimed = 0
    for line in filter(None, valid):
        assert line in text, f"vector {line!r} is not in input.txt"
        rule = classify(line)
        if rule:
            excluded[rule].append(line)
            continue
        expected = ada_url.parse_url(reference_refang(line), attributes=("href",))["href"]
        assert expected in found, f"{line!r}: expected {expected!r} among {sorted(found)}"
        alone = extract_urls(line)
        assert [(u.url, u.defanged) for u in alone] == [
            (expected, reference_refang(line) != line)
        ], line
        claimed += 1
    assert claimed >= 15
    for name, lines in excluded.items():
        assert lines, f"exclusion rule {name!r} no longer applies to any vector: remove it"
    for line in excluded["not-whatwg-valid"] + excluded["comma-host"] + excluded["other-scheme"]:
        assert not extract_urls(line), line


def test_it_finds_nothing_in_the_iocextract_invalid_vectors() -> None:
    invalid = shared("data", "extract", "iocextract", "invalid.txt").read_text("utf-8")
    text = shared("data", "extract", "iocextract", "input.txt").read_text("utf-8")
    lines = [line for line in invalid.splitlines() if line]
    assert lines
    hosts = {u.host for u in extract_urls(text)}
    for line in lines:
        assert extract_urls(line) == [], line
        assert line.strip("+").lower() not in hosts, line


# --- our fast paths against the libraries they stand in for ------------------------


def test_it_parses_like_ada_parse_url_through_the_fast_path() -> None:
    shared("data", "url", "urltestdata.json")
    inputs = [c["input"] for c in whatwg_cases()] + ["http://\ud800.example/", "http://a.b/\x00"]
    for raw in inputs:
        assert _ada_parse(raw) == _ada_parse_portable(raw), raw


@pytest.mark.concurrency  # its mails have attachments: a child process reads them
def test_it_agrees_with_tldextract_on_real_hosts() -> None:
    """Our PSL match (over tldextract's rules) against tldextract's own lookup."""
    folder = shared("data", "eml", "phishing_pot")
    hosts: set[str] = set()
    for path in sorted(folder.glob("*.eml")):
        hosts.update(u.host for u in extract_urls_from_message(path.read_bytes()))
    hosts -= {h for h in hosts if h.replace(".", "").isdigit() or ":" in h}
    assert len(hosts) > 300
    for host in hosts:
        theirs = _PSL.extract_str(host)
        expected = f"{theirs.domain}.{theirs.suffix}" if theirs.domain and theirs.suffix else None
        if not theirs.suffix:  # unlisted TLD: the PSL's default rule "*"
            expected = ".".join(host.split(".")[-2:])
        assert registered_domain(host) == (expected or host), host

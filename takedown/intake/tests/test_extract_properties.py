"""Property tests: extraction never raises, and what it returns is a fixed point."""

from __future__ import annotations

import ada_url
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from takedown.intake.extract import ExtractedURL, InvalidURL, extract_urls, normalise_url

# Pieces that make the regex, the refang and the trimming work hard when
# shuffled together: schemes, separators, defanged dots, brackets, full-width
# forms, Japanese punctuation, wrappers, IP forms.
PIECES = [
    "http", "https", "hxxp", "hXXps", "h**p", "ttp", "hhttps", "ｈｔｔｐ", "://", ":", "//",
    "[:]", "[://]", "(:)", "：／／", "www", "www.", ".", "[.]", "(.)", "{.}", "[dot]", "(dot)",
    "。", "．", "｡", "example", "com", "co.jp", "jp", "例え", "にアクセス", "xn--r8jz45g",
    "/", "?", "#", "&", "=", "%", "%2F", "@", "[", "]", "(", ")", "<", ">", "\"", "'", "、",
    "」", "）", "!", ",", ";", " ", "\n", "\t", "0x7f", "2130706433", "[::1]", "127.0.0.1",
    ":80", ":443", ":99999", "safelinks.protection.outlook.com/?url=", "google.com/url?q=",
    "urldefense.com/v3/__", "__;", "urldefense.proofpoint.com/v2/url?u=", "-3A__", "*", "**A",
    "&gt;", "\u200b", "\u3000", "\x00", "\udcff", "ℌ", "ß", "İ",
]  # fmt: skip
urlish = st.lists(st.sampled_from(PIECES) | st.text(max_size=4), max_size=40).map("".join)


@st.composite
def url_in_prose(draw: st.DrawFn) -> str:
    """One plausible (often defanged) URL with prose around it."""
    scheme = draw(
        st.sampled_from(["http", "https", "hxxp", "hXXps", "h**p", "ttp", "ｈｔｔｐ", ""])
    )
    dot = st.sampled_from([".", ".", "[.]", "(.)", "{.}", "[dot]", "(dot)", "。", "．"])
    label = st.from_regex(r"[a-zA-Z0-9][a-zA-Z0-9\-]{0,6}", fullmatch=True) | st.sampled_from(
        ["例え", "ｅｘａｍｐｌｅ", "xn--r8jz45g", "bücher", "urldefense", "google"]
    )
    labels = draw(st.lists(label, min_size=1, max_size=3))
    host = "".join(part + draw(dot) for part in labels) + draw(
        st.sampled_from(["com", "jp", "co.jp", "workers.dev", "example", "ｃｏｍ", "みんな"])
    )
    if scheme:
        start = scheme + draw(st.sampled_from(["://", "[:]//", "[://]", "：／／", ":/", "://"]))
    else:
        start = "www" + draw(dot)
    port = draw(st.sampled_from(["", "", ":80", ":8080", ":443", "[:]81"]))
    path_piece = st.sampled_from([*"abc/?#=&%.-_~()[]:@!$'*+,;", "パス", "ａ", "[.]", "%2F"])
    path = "".join(draw(st.lists(path_piece, max_size=12)))
    before = draw(st.sampled_from(["", " ", "see ", "「", "(", "<", "こちら", "x", "@"]))
    after = draw(st.sampled_from(["", ".", ",", ")", "」", "。", "にアクセス", "!?", "&gt;", "'"]))
    slash = "/" if path and not path.startswith("/") else ""
    return f"{before}{start}{host}{port}{slash}{path}{after}"


prose = st.lists(url_in_prose(), min_size=1, max_size=4).flatmap(
    lambda parts: st.sampled_from([" ", "", "\n", "、", "。"]).map(lambda sep: sep.join(parts))
)


def assert_fixed_point(found: ExtractedURL) -> None:
    assert ada_url.check_url(found.url)
    assert found.url.startswith(("http://", "https://"))
    assert "#" not in found.url
    assert "." in found.host or ":" in found.host or found.host.replace(".", "").isdigit()
    again = normalise_url(found.url)
    assert (again.url, again.host, again.registered_domain) == (
        found.url,
        found.host,
        found.registered_domain,
    )
    assert again.defanged is False


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_it_never_raises_on_arbitrary_text(text: str) -> None:
    for found in extract_urls(text):
        assert_fixed_point(found)


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(urlish)
def test_it_returns_urls_that_renormalise_to_themselves(text: str) -> None:
    found = extract_urls(text)
    assert len({u.url for u in found}) == len(found)
    for url in found:
        assert_fixed_point(url)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prose)
def test_it_finds_urls_in_prose_that_renormalise_to_themselves(text: str) -> None:
    for url in extract_urls(text):
        assert_fixed_point(url)


@settings(max_examples=300, deadline=None)
@given(urlish | url_in_prose())
def test_it_raises_only_invalid_url_for_explicit_input(raw: str) -> None:
    try:
        found = normalise_url(raw)
    except InvalidURL as exc:
        assert str(exc)
    else:
        assert_fixed_point(found)

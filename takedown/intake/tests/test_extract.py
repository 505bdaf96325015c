"""URL extraction and normalisation: what CONTRACT.md promises for ``takedown extract``."""

from __future__ import annotations

import base64
from urllib.parse import quote

import pytest

from takedown.intake.extract import (
    MAX_URL_LENGTH,
    ExtractedURL,
    InvalidURL,
    extract_urls,
    normalise_url,
    registered_domain,
)


def urls(text: str) -> list[str]:
    return [u.url for u in extract_urls(text)]


def only(text: str) -> ExtractedURL:
    found = extract_urls(text)
    assert len(found) == 1, found
    return found[0]


def test_it_gives_the_contract_keys_in_order() -> None:
    found = only("Phishing site: hxxp://login.bank-a[.]example/jp/")
    assert list(found.as_dict()) == ["url", "host", "registered_domain", "defanged"]
    assert found.as_dict() == {
        "url": "http://login.bank-a.example/jp/",
        "host": "login.bank-a.example",
        "registered_domain": "bank-a.example",
        "defanged": True,
    }


def test_it_keeps_order_of_first_appearance_and_drops_duplicates() -> None:
    text = "b http://b.example.com/ a http://a.example.com/ b again HTTP://B.EXAMPLE.COM:80/#x"
    assert urls(text) == ["http://b.example.com/", "http://a.example.com/"]


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("hxxp://example.com/a", "http://example.com/a"),
        ("hXXps://example.com/a", "https://example.com/a"),
        ("h**p://example.com/a", "http://example.com/a"),
        ("http[:]//example.com/a", "http://example.com/a"),
        ("http[://]example.com/a", "http://example.com/a"),
        ("https[:]//example[.]com/a", "https://example.com/a"),
        ("http://example(.)com/a", "http://example.com/a"),
        ("http://example{.}com/a", "http://example.com/a"),
        ("http://example[dot]com/a", "http://example.com/a"),
        ("http://example(dot)com/a", "http://example.com/a"),
        ("http://example[DOT]com/a", "http://example.com/a"),
        ("http://example.com[/]a", "http://example.com/a"),
        ("hxxp://example[.]com/login[.]php", "http://example.com/login.php"),
        ("http://example[.]com[:]8080/", "http://example.com:8080/"),
        ("ｈｔｔｐ：／／ｅｘａｍｐｌｅ．ｃｏｍ／ｌｏｇｉｎ", "http://example.com/login"),
        ("http://example。com/a", "http://example.com/a"),
        ("http://example．com/a", "http://example.com/a"),
        ("http://example｡com/a", "http://example.com/a"),
        ("ttp://example.com/a", "http://example.com/a"),
        ("hhttps://example.com/a", "https://example.com/a"),
        ("www[.]example[.]com/a", "http://www.example.com/a"),
    ],
)
def test_it_refangs(text: str, url: str) -> None:
    found = only(f"see {text} now")
    assert found.url == url
    assert found.defanged is True


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("http://example.com/a", "http://example.com/a"),
        ("HTTPS://Example.COM/a", "https://example.com/a"),
        ("www.example.com/a", "http://www.example.com/a"),
        ("http://例え.jp/", "http://xn--r8jz45g.jp/"),
    ],
)
def test_it_does_not_call_plain_urls_defanged(text: str, url: str) -> None:
    found = only(f"see {text} now")
    assert (found.url, found.defanged) == (url, False)


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("HTTP://EXAMPLE.COM", "http://example.com/"),
        ("http://example.com:80/a", "http://example.com/a"),
        ("https://example.com:443/a", "https://example.com/a"),
        ("http://example.com:443/a", "http://example.com:443/a"),
        ("http://0x7f.1/", "http://127.0.0.1/"),
        ("http://2130706433/", "http://127.0.0.1/"),
        ("http://0300.0250.0.1/", "http://192.168.0.1/"),
        (
            "http://[fdc4:2581:575b:5a72:0000:0000:0000:0001]:80/p",
            "http://[fdc4:2581:575b:5a72::1]/p",
        ),
        ("http://bücher.example/", "http://xn--bcher-kva.example/"),
        ("http://example.com/a/../b/./c", "http://example.com/b/c"),
        ("http://example.com/a b", "http://example.com/a"),
        ("http://example.com/パス", "http://example.com/"),
        ("http://example.com/p?q=1#frag", "http://example.com/p?q=1"),
        ("http://example.com/#", "http://example.com/"),
    ],
)
def test_it_serialises_like_whatwg_without_the_fragment(text: str, url: str) -> None:
    assert urls(text) == [url]


@pytest.mark.parametrize(
    ("text", "url"),
    [
        ("Go to http://example.com/login.", "http://example.com/login"),
        ("Go to http://example.com/login, then", "http://example.com/login"),
        ("Really http://example.com/login?!", "http://example.com/login"),
        ("It's 'http://example.com/a';", "http://example.com/a"),
        ('He said "http://example.com/a"', "http://example.com/a"),
        ("“http://example.com/a”", "http://example.com/a"),
        ("(see http://example.com/a)", "http://example.com/a"),
        ("(see http://example.com/a_(b))", "http://example.com/a_(b)"),
        ("[http://example.com/a]", "http://example.com/a"),
        ("<http://example.com/a>", "http://example.com/a"),
        ("&lt;http://example.com/a&gt;", "http://example.com/a"),
        ("[link](http://example.com/a)", "http://example.com/a"),
        ("「http://example.com/a」を確認", "http://example.com/a"),
        ("『http://example.com/a』", "http://example.com/a"),
        ("（http://example.com/a）", "http://example.com/a"),
        ("【http://example.com/a】", "http://example.com/a"),
        ("http://example.com/a、http://example.org/b。", "http://example.com/a"),
        ("URLはhttp://example.com/aです", "http://example.com/a"),
    ],
)
def test_it_strips_trailing_punctuation(text: str, url: str) -> None:
    assert urls(text)[0] == url


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Japanese prose glued to a host: the host ends where the TLD does.
        ("www.example.co.jpへアクセス", ["http://www.example.co.jp/"]),
        ("http://example.comにアクセス", ["http://example.com/"]),
        ("hxxp://example[.]comにアクセス", ["http://example.com/"]),
        ("http://example.com。詳細は", ["http://example.com/"]),
        (
            "http://example.com。http://example.org/",
            ["http://example.com/", "http://example.org/"],
        ),
        (
            "こちらwww.example.jpへ。http://例え.jp/パス",
            ["http://www.example.jp/", "http://xn--r8jz45g.jp/"],
        ),
        ("http://例え.jpです", ["http://xn--r8jz45g.jp/"]),
        ("http://例え。jp/", ["http://xn--r8jz45g.jp/"]),
    ],
)
def test_it_separates_urls_from_japanese_prose(text: str, expected: list[str]) -> None:
    assert urls(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "user@www.example.com",
        "sub.www.example.com",
        "example.com",
        "example[.]com/login",
        "http://localhost/",
        "http://intranet/a",
        "http://example,com/",
        "http://[example.com",
        "ftp://example.com/",
        "javascript:alert(1)",
        "http://",
        "https:// example.com",
        "http://exa!mple.com/",
        "http://1.2.3.999/",
    ],
)
def test_it_finds_nothing_where_there_is_no_public_http_url(text: str) -> None:
    assert urls(text) == []


def test_it_unwraps_safe_links() -> None:
    text = (
        "https://apc01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fevil.example.com"
        "%2Flogin%3Fa%3D1%26b%3D2&data=05%7C01%7Cx%40y.jp&sdata=abc%3D&reserved=0"
    )
    assert urls(text) == ["https://evil.example.com/login?a=1&b=2"]


def test_it_unwraps_proofpoint_v2() -> None:
    text = (
        "https://urldefense.proofpoint.com/v2/url?u=http-3A__evil.example.com_login-3Fa-3D1"
        "-26b-3D2&d=DwMFaQ&c=euGZstcaTDllvimEN8b7jXrwqOf-v5A_CdpgnVfiiMM&r=x&m=y&s=z&e="
    )
    assert urls(text) == ["http://evil.example.com/login?a=1&b=2"]


def test_it_unwraps_proofpoint_v3_with_its_substitutions() -> None:
    # "*" stands for one replaced character, "**A" for a run of two; the
    # replaced characters follow "__;" in URL-safe base64.
    replaced = base64.urlsafe_b64encode(b"%#!!").decode().rstrip("=")
    text = (
        "https://urldefense.com/v3/__https://evil.example.com/o/a*2Fb.html?x=1*frag**A__;"
        f"{replaced}!!ABCdef!ghi$"
    )
    assert urls(text) == ["https://evil.example.com/o/a%2Fb.html?x=1"]
    plain = "https://urldefense.com/v3/__http://evil.example.com/login__;!!ABC!def$"
    assert urls(plain) == ["http://evil.example.com/login"]


def test_it_unwraps_google_redirects() -> None:
    text = "https://www.google.com/url?q=http://evil.example.com/x&sa=D&ust=1&usg=AOv"
    assert urls(text) == ["http://evil.example.com/x"]


def test_it_unwraps_nested_wrappers() -> None:
    inner = "https://www.google.com/url?q=" + quote("http://evil.example.com/x", safe="")
    outer = "https://nam12.safelinks.protection.outlook.com/?url=" + quote(inner, safe="")
    assert urls(outer) == ["http://evil.example.com/x"]


def test_it_keeps_a_wrapper_whose_target_is_not_an_http_url() -> None:
    text = "https://www.google.com/url?q=javascript:alert(1)"
    assert urls(text) == ["https://www.google.com/url?q=javascript:alert(1)"]


def test_it_stops_unwrapping_a_crafted_chain() -> None:
    url = "http://evil.example.com/"
    for _ in range(20):
        url = "https://www.google.com/url?q=" + quote(url, safe="")
    found = urls(url)
    assert len(found) == 1
    assert found[0].startswith("https://www.google.com/url?q=")
    assert found[0] != "http://evil.example.com/"


def test_it_keeps_the_defanged_flag_through_unwrapping() -> None:
    found = only("hxxps://www.google[.]com/url?q=http://evil.example.com/x")
    assert (found.url, found.defanged) == ("http://evil.example.com/x", True)


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("a.b.workers.dev", "b.workers.dev"),
        ("www.example.co.jp", "example.co.jp"),
        ("login.bank-a.example", "bank-a.example"),
        ("foo.github.io", "foo.github.io"),
        ("192.0.2.1", "192.0.2.1"),
        ("[2001:db8::1]", "2001:db8::1"),
        ("2001:db8::1", "2001:db8::1"),
        ("co.jp", "co.jp"),
        ("example.com.", "example.com"),
        ("WWW.Example.COM", "example.com"),
    ],
)
def test_it_finds_the_registered_domain(host: str, expected: str) -> None:
    assert registered_domain(host) == expected


def test_it_gives_the_ip_as_host_and_registered_domain_for_ip_urls() -> None:
    found = only("http://[2001:db8::1]:8080/x and")
    assert found.url == "http://[2001:db8::1]:8080/x"
    assert found.host == found.registered_domain == "2001:db8::1"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("javascript:alert(1)", "unsupported scheme 'javascript'"),
        ("data:text/html,<b>x</b>", "unsupported scheme 'data'"),
        ("file:///etc/passwd", "unsupported scheme 'file'"),
        ("ftp://example.com/", "unsupported scheme 'ftp'"),
        ("mailto:abuse@example.com", "unsupported scheme 'mailto'"),
        ("tcp://example.com:80/", "unsupported scheme 'tcp'"),
        ("", "empty URL"),
        ("   ", "empty URL"),
        ("hello", "no dot"),
        ("localhost:8080", "no dot"),
        ("abuse@example.com", "e-mail address"),
        ("http://[::1", "not a valid URL"),
        ("http://exa mple.com/", "not a valid URL"),
        ("http://a_b!.example.com/", "DNS name"),
        ("http://example.com/" + "a" * MAX_URL_LENGTH, "longer than"),
    ],
)
def test_it_rejects_what_is_not_an_http_url_with_a_clear_message(raw: str, message: str) -> None:
    with pytest.raises(InvalidURL, match=message):
        normalise_url(raw)


def test_it_rejects_non_text_input() -> None:
    with pytest.raises(InvalidURL):
        normalise_url(b"http://example.com/")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "url", "defanged"),
    [
        ("http://example.com/x", "http://example.com/x", False),
        ("  <https://example.com/x>  ", "https://example.com/x", False),
        ("example.com/login", "http://example.com/login", False),
        ("example.com:8080/x", "http://example.com:8080/x", False),
        ("hxxp://example[.]com/x", "http://example.com/x", True),
        ("example[.]com", "http://example.com/", True),
        ("http:example.com/x", "http://example.com/x", False),
        # An explicit URL is taken whole: its path keeps what a prose match would cut.
        ("http://example.com/パス。", "http://example.com/%E3%83%91%E3%82%B9%E3%80%82", False),
        ("http://example.com/ＡＢ", "http://example.com/%EF%BC%A1%EF%BC%A2", False),
        ("http://example.com/login.", "http://example.com/login.", False),
    ],
)
def test_it_normalises_explicit_urls(raw: str, url: str, defanged: bool) -> None:
    found = normalise_url(raw)
    assert (found.url, found.defanged) == (url, defanged)


def test_it_skips_an_overlong_url_in_text() -> None:
    text = "http://example.com/" + "a" * MAX_URL_LENGTH + " http://ok.example.com/"
    assert urls(text) == ["http://ok.example.com/"]


def test_it_survives_hostile_text() -> None:
    hostile = [
        "\udcff http://\ud800.example.com/ http://ok.example.com/",
        "http://" + "[" * 10000,
        "h" * 100000,
        "http://" + "a." * 50000 + "com/",
        "www." * 20000,
        "\x00http://nul.example.com/\x00",
        "http://example.com/" + "%" * 5000,
        "hxxp[://]" * 5000,
    ]
    for text in hostile:
        for found in extract_urls(text):
            assert normalise_url(found.url).url == found.url
    assert "http://ok.example.com/" in urls(hostile[0])
    assert urls(hostile[5]) == ["http://nul.example.com/"]

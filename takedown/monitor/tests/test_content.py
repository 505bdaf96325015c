"""Recognising the reported page (or its absence) from a body, not from the status code."""

from __future__ import annotations

import hashlib

import pytest

from takedown.monitor.content import Reference, brand_words, decode_body, page_facts, still_there
from takedown.monitor.tests.farm import OTHER_PAGE, PHISH_PAGE, SUSPENDED_PAGE


def ref_of(html: str, brand: str = "Example Bank") -> Reference:
    facts = page_facts(html.encode(), "text/html", brand)
    return Reference(
        sha256=hashlib.sha256(html.encode()).hexdigest(),
        is_html=True,
        title=facts.title,
        form_fields=tuple(facts.form_fields),
        has_password=facts.has_password,
        brand_hits=tuple(facts.brand_hits),
    )


def verdict(html: str | bytes, ref: Reference | None, ctype: str = "text/html") -> bool:
    body = html.encode() if isinstance(html, str) else html
    facts = page_facts(body, ctype, "Example Bank")
    return still_there(facts, hashlib.sha256(body).hexdigest(), ref)[0]


def test_it_reads_title_form_fields_and_brand_words() -> None:
    facts = page_facts(PHISH_PAGE.encode(), "text/html; charset=utf-8", "Example Bank")
    assert facts.title == "Example Bank Login"
    assert facts.has_password
    assert facts.form_fields == ["password:pass", "text:user"]
    assert "example bank" in facts.brand_hits
    assert not facts.gone_marker


def test_it_recognises_the_same_page_with_changed_bytes() -> None:
    ref = ref_of(PHISH_PAGE)
    assert verdict(PHISH_PAGE, ref)
    # A per-visit token changes the hash but not the page.
    assert verdict(PHISH_PAGE.replace("</form>", '<input type="hidden" name="t" value="9">'), ref)
    # New title, same login form.
    assert verdict(PHISH_PAGE.replace("Example Bank Login", "Sign in"), ref)


@pytest.mark.parametrize(
    "page",
    [
        SUSPENDED_PAGE,
        OTHER_PAGE,
        "<html><head><title>404 Not Found</title></head><body>nginx</body></html>",
        "<html><head><title>Welcome to nginx!</title></head><body>Welcome to nginx!</body></html>",
        "<html><body><h1>This domain is for sale</h1></body></html>",
        "<html><head><meta charset=shift_jis><title>\x83G\x83\x89\x81[</title></head>"
        "<body>ご指定のページが見つかりません</body></html>",
        "",
        "   \n ",
    ],
)
def test_it_sees_suspension_parking_default_and_empty_pages_as_gone(page: str) -> None:
    assert not verdict(page, ref_of(PHISH_PAGE))


def test_it_keeps_a_login_page_even_if_it_says_not_found_somewhere() -> None:
    page = PHISH_PAGE.replace("<h1>Example Bank</h1>", "<p>Page not found? Log in again.</p>")
    assert verdict(page, ref_of(PHISH_PAGE))


def test_it_takes_any_real_page_as_up_without_a_reference() -> None:
    assert verdict(PHISH_PAGE, None)
    assert verdict(OTHER_PAGE, None)
    assert not verdict(SUSPENDED_PAGE, None)


def test_it_treats_a_download_replaced_by_a_page_as_gone() -> None:
    ref = Reference(sha256="0" * 64, is_html=False)
    assert not verdict(OTHER_PAGE, ref)
    assert verdict(b"MZ\x90\x00" + b"\x00" * 100, ref, ctype="application/octet-stream")


def test_it_decodes_japanese_pages_by_meta_charset_or_guess() -> None:
    text = "<html><head><meta charset='shift_jis'><title>ログイン</title></head></html>"
    assert "ログイン" in decode_body(text.encode("shift_jis"))
    euc = "<html><head><title>三井住友銀行 ログイン</title></head><body>パスワード</body></html>"
    assert "ログイン" in decode_body(euc.encode("euc_jp"), "text/html; charset=EUC-JP")


def test_it_survives_broken_html() -> None:
    facts = page_facts(b"<html><title>x</ti<<form><input type=password name=>" * 50, "", "")
    assert facts.is_html
    assert facts.has_password


def test_it_derives_brand_words_without_generic_ones() -> None:
    assert brand_words("Example Bank") == ["example", "example bank"]
    assert brand_words("") == []
    assert "三井住友銀行" in brand_words("三井住友銀行")

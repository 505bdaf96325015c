"""Signed envelope senders (VERP): only ours parse, and they name one recipient."""

from __future__ import annotations

from django.test import override_settings

from takedown.notices.bounce_address import bounce_address, bounce_address_parse

DOMAIN = "bounces.csirt.example"


@override_settings(NOTICE_BOUNCE_DOMAIN=DOMAIN)
def test_it_names_the_notice_and_the_recipient() -> None:
    address = bounce_address(notice_id=42, recipient="Abuse@ISP.example")
    assert address is not None
    local, _, domain = address.partition("@")
    assert domain == DOMAIN
    assert len(local) <= 64  # RFC 5321 4.5.3.1.1
    assert "abuse" not in local  # the address itself is never shown
    target = bounce_address_parse(address.upper())  # some MTAs change the case
    assert target is not None
    assert target.notice_id == 42
    assert target.recipient_in(["noc@isp.example", "abuse@isp.example"]) == "abuse@isp.example"
    assert target.recipient_in(["noc@isp.example"]) is None


@override_settings(NOTICE_BOUNCE_DOMAIN=DOMAIN)
def test_each_recipient_gets_its_own_address() -> None:
    one = bounce_address(notice_id=42, recipient="abuse@isp.example")
    other = bounce_address(notice_id=42, recipient="noc@isp.example")
    later = bounce_address(notice_id=43, recipient="abuse@isp.example")
    assert len({one, other, later}) == 3


@override_settings(NOTICE_BOUNCE_DOMAIN=DOMAIN)
def test_a_forged_address_does_not_parse() -> None:
    real = bounce_address(notice_id=42, recipient="abuse@isp.example")
    assert real is not None
    local, _, _ = real.partition("@")
    _, notice, tag, signature = local.split(".")
    forgeries = [
        f"b.43.{tag}.{signature}@{DOMAIN}",  # another notice
        f"b.{notice}.{'0' * 8}.{signature}@{DOMAIN}",  # another recipient
        f"b.{notice}.{tag}.{'0' * 16}@{DOMAIN}",  # guessed signature
        f"b.{notice}.{tag}.{signature}@evil.example",  # another domain
        f"b.{notice}.{tag}@{DOMAIN}",
        "notices@csirt.example",
        "",
        "@",
        "b." + "9" * 5000 + f"@{DOMAIN}",
    ]
    for forged in forgeries:
        assert bounce_address_parse(forged) is None, forged


@override_settings(NOTICE_BOUNCE_DOMAIN=DOMAIN)
def test_another_secret_key_signs_differently() -> None:
    signed_here = bounce_address(notice_id=42, recipient="abuse@isp.example")
    assert signed_here is not None
    with override_settings(SECRET_KEY="another-secret-key-for-this-test-0123456789"):
        assert bounce_address_parse(signed_here) is None


@override_settings(NOTICE_BOUNCE_DOMAIN="")
def test_nothing_is_signed_or_accepted_without_a_bounce_domain() -> None:
    assert bounce_address(notice_id=42, recipient="abuse@isp.example") is None
    with override_settings(NOTICE_BOUNCE_DOMAIN=DOMAIN):
        address = bounce_address(notice_id=42, recipient="abuse@isp.example")
    assert address is not None
    assert bounce_address_parse(address) is None

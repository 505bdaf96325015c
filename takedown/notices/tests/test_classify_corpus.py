"""Classification on real mail: sisimai's set of bounces, ARF reports and auto-replies.

The corpus (../shared/data/eml/sisimai/, BSD-2) holds bounces from ~50 MTAs
(``lhost-*``), remote-host bounces (``rhost-*``), RFC 3464 DSNs
(``rfc3464-*``), ARF reports (``arf-*``) and RFC 3834 auto-replies.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from takedown.lib.testdata import require_shared
from takedown.notices.classify import classify_message

# Files whose prefix says "bounce" but that are not failures, read by hand:
NOT_BOUNCES = {
    "lhost-amazonses-11.eml": "arf",  # an SES *complaint* notification (feedback, not a bounce)
    "lhost-amazonses-12.eml": "auto_reply",  # an SES *delivery* notification: success
    "lhost-amazonses-13.eml": "auto_reply",  # idem
}

# Read by hand: file -> (failed recipients we must find, permanent?)
EXPECTED = {
    "rfc3464-01.eml": (["userunknown@bouncehammer.jp"], True),
    "lhost-postfix-01.eml": (["r@p351355.pool.example.ne.jp", "kijitora@example.org"], True),
    "lhost-exim-01.eml": (["kijitora@example.ed.jp"], True),
    "lhost-qmail-01.eml": (["kijitora@example.ne.jp"], True),
    "lhost-sendmail-02.eml": (["userunknown@example.org", "filtered@example.com"], True),
    "lhost-gmail-01.eml": (["userunknown@example.jp"], True),
    "lhost-office365-02.eml": (["kijitora@example.onmicrosoft.com"], True),
    "lhost-kddi-01.eml": (["kijitora@x0000000000000.dion.ne.jp"], True),
    "lhost-amazonses-10.eml": (["bounce@simulator.amazonses.com"], True),
    "lhost-verizon-02.eml": (["may-be-straycat-nyaaaaaan@vtext.com"], True),
    "lhost-imailserver-01.eml": (["kijitora@example.com"], True),
    "lhost-mfilter-01.eml": (["kijitora@example.com"], True),
    "lhost-opensmtpd-03.eml": (["kijitora@neko.example.jp"], True),
    "lhost-exim-38.eml": (["kijitora@example.co.jp"], False),  # "delayed 24 hours"
    "lhost-gmail-06.eml": (["kijitora@example.jp"], False),  # "(Delay)"
}


def _corpus() -> Path:
    return require_shared("data", "eml", "sisimai")


def _files(*prefixes: str) -> list[Path]:
    return sorted(p for p in _corpus().glob("*.eml") if p.name.split("-")[0] in prefixes)


def test_it_classifies_every_bounce_as_a_bounce() -> None:
    files = _files("lhost", "rhost", "rfc3464")
    assert len(files) > 450
    wrong = []
    for path in files:
        kind = classify_message(path.read_bytes()).kind
        if kind != NOT_BOUNCES.get(path.name, "bounce"):
            wrong.append((path.name, kind))
    assert wrong == []


def test_it_finds_the_failed_recipient_for_most_bounces() -> None:
    files = [p for p in _files("lhost", "rhost", "rfc3464") if p.name not in NOT_BOUNCES]
    found = sum(1 for p in files if classify_message(p.read_bytes()).failed_recipients)
    # 95% measured when written; the floor guards against regressions.
    assert found / len(files) >= 0.93, f"{found}/{len(files)}"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_it_finds_the_right_recipient(name: str) -> None:
    path = _corpus() / name
    c = classify_message(path.read_bytes())
    recipients, permanent = EXPECTED[name]
    assert c.kind == "bounce"
    assert c.failed_recipients == recipients
    assert c.permanent is permanent


def test_it_recognises_arf_reports() -> None:
    files = _files("arf")
    kinds = {p.name: classify_message(p.read_bytes()).kind for p in files}
    # arf-26 is Apple Mail's unsubscribe notice, marked Auto-Submitted: an automatic message.
    assert kinds.pop("arf-26.eml") == "auto_reply"
    assert set(kinds.values()) == {"arf"}
    assert classify_message((_corpus() / "arf-01.eml").read_bytes()).feedback_type == "abuse"


def test_it_recognises_rfc3834_auto_replies() -> None:
    files = _files("rfc3834")
    assert files
    assert {p.name: classify_message(p.read_bytes()).kind for p in files} == {
        p.name: "auto_reply" for p in files
    }


def test_it_calls_a_plain_human_reply_human() -> None:
    raw = (
        b"From: Abuse Desk <abuse@isp.example>\r\nSubject: Re: [TKD#N12] Phishing site\r\n"
        b"In-Reply-To: <tkd.n12.0123456789abcdef@csirt.example>\r\n\r\nWe removed the content.\r\n"
    )
    c = classify_message(raw)
    assert c.kind == "human"
    assert c.notice_tokens == [12]
    assert c.references == ["<tkd.n12.0123456789abcdef@csirt.example>"]


def test_it_never_raises_on_garbage() -> None:
    for raw in [
        b"",
        b"\x00\xff" * 1000,
        b"Content-Type: multipart/mixed; boundary=x\r\n\r\n--x\r\n" * 50,
    ]:
        assert classify_message(raw).kind in {"human", "bounce", "auto_reply", "arf"}

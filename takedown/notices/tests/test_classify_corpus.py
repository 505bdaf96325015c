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
from takedown.notices.tests import sisimai_expected as expected

# A few mails whose reading is worth stating here (the whole table, with how each
# expectation was established, is in sisimai_expected.py).
SPOT_CHECKS = {
    # Original-Recipient (the address we sent to) before the Final-Recipient of the alias.
    "lhost-postfix-01.eml": (["kijitora@example.org", "r@p351355.pool.example.ne.jp"], True),
    "lhost-exim-01.eml": (["kijitora@example.ed.jp"], True),
    "lhost-qmail-01.eml": (["kijitora@example.ne.jp"], True),
    "lhost-sendmail-02.eml": (["userunknown@example.org", "filtered@example.com"], True),
    "lhost-kddi-01.eml": (["kijitora@x0000000000000.dion.ne.jp"], True),
    "lhost-amazonses-10.eml": (["bounce@simulator.amazonses.com"], True),  # SNS JSON
    "lhost-exim-38.eml": (["kijitora@example.co.jp"], False),  # "delayed 24 hours"
    "lhost-gmail-06.eml": (["kijitora@example.jp"], False),  # "(Delay)"
    # A postmaster@ address is a real recipient, not the mail system talking.
    "lhost-biglobe-01.eml": (["postmaster@mxr.biglobe.ne.jp"], True),
    # Broken MIME (a space before the boundary): the DSN fields read inline,
    # two failed; the third recipient was only delayed.
    "rfc3464-35.eml": (["kijitora@nyaan.example.com", "mikeneko@neko.example.or.jp"], True),
    # Gmail's X-Failed-Recipients on a 4.x.x failure: the DSN's word wins.
    "rhost-gsuite-03.eml": (["neko@libsisimai.org"], False),
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
        if kind != expected.NOT_BOUNCES.get(path.name, "bounce"):
            wrong.append((path.name, kind))
    assert wrong == []


def test_the_expectations_cover_the_corpus() -> None:
    names = {p.name for p in _files("lhost", "rhost", "rfc3464")}
    assert names == set(expected.EXPECTED) | set(expected.NOT_BOUNCES) | set(expected.UNSURE)


def test_it_gives_the_right_failed_recipient_first() -> None:
    wrong = []
    for name in sorted(expected.EXPECTED):
        found = classify_message((_corpus() / name).read_bytes()).failed_recipients
        spellings = {s for one in expected.recipients(name) for s in one}
        if not found or found[0] not in spellings:
            wrong.append((name, found[:3]))
    # 100% when written (481 of 481); the floor is 99%.
    assert len(wrong) <= len(expected.EXPECTED) // 100, wrong


def test_it_finds_every_failed_recipient() -> None:
    missing = []
    for name in sorted(expected.EXPECTED):
        found = classify_message((_corpus() / name).read_bytes()).failed_recipients
        for one in expected.recipients(name):
            if not set(one) & set(found):
                missing.append((name, one))
    assert missing == []


def test_it_tells_a_failure_from_a_delay() -> None:
    wrong = []
    for name, (_, permanent, _) in sorted(expected.EXPECTED.items()):
        if permanent is not None:
            got = classify_message((_corpus() / name).read_bytes()).permanent
            if got is not permanent:
                wrong.append(name)
    assert wrong == []


def test_it_never_counts_a_success_report_as_a_failure() -> None:
    for name, kind in expected.NOT_BOUNCES.items():
        c = classify_message((_corpus() / name).read_bytes())
        assert c.kind == kind
        assert c.failed_recipients == []


@pytest.mark.parametrize("name", sorted(SPOT_CHECKS))
def test_it_finds_the_right_recipient(name: str) -> None:
    c = classify_message((_corpus() / name).read_bytes())
    recipients, permanent = SPOT_CHECKS[name]
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

"""Who failed, as the RFCs say: one test per way a bounce used to be misread.

Each mail is built here in the shape the MTA (or the forger) writes it; the
real corpus is measured in test_classify_corpus.py.
"""

from __future__ import annotations

import json

import pytest

from takedown.notices.classify import classify_message

DAEMON = (
    "From: Mail Delivery System <MAILER-DAEMON@mx.isp.example>\r\nTo: notices@csirt.example\r\n"
)


def _report(status_text: str, *, human: str = "Your message could not be delivered.") -> bytes:
    """A multipart/report with the given message/delivery-status text."""
    return (
        DAEMON + "Subject: Delivery Status Notification\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\r\n\r\n'
        "--B\r\nContent-Type: text/plain\r\n\r\n" + human + "\r\n\r\n"
        "--B\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mx.isp.example\r\n\r\n" + status_text + "\r\n"
        "--B\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        "From: notices@csirt.example\r\nTo: abuse@isp.example, noc@isp.example\r\n"
        "Message-ID: <tkd.n7.0123456789abcdef@csirt.example>\r\n"
        "Subject: [TKD#N7] Phishing site\r\n\r\n"
        "--B--\r\n"
    ).encode()


@pytest.mark.parametrize(
    "action,status",
    [("delivered", "2.0.0"), ("relayed", "2.0.0"), ("expanded", "2.1.5"), ("", "2.0.0")],
)
def test_it_never_counts_a_success_report_as_a_failure(action: str, status: str) -> None:
    fields = f"Final-Recipient: rfc822; abuse@isp.example\r\nStatus: {status}\r\n"
    if action:
        fields = f"Action: {action}\r\n" + fields
    c = classify_message(_report(fields, human="Your message was delivered."))
    assert c.kind == "auto_reply"
    assert c.failed_recipients == []
    assert "success" in c.reason


def test_it_reads_fields_written_with_a_space_before_the_colon() -> None:
    c = classify_message(
        _report(
            "Final-Recipient : rfc822;abuse@isp.example\r\nAction : failed\r\nStatus : 5.1.1\r\n"
        )
    )
    assert c.kind == "bounce"
    assert c.failed_recipients == ["abuse@isp.example"]
    assert c.permanent is True
    assert c.status == "5.1.1"


def test_it_reads_fields_inline_when_there_is_no_report_part() -> None:
    raw = (
        DAEMON + "Subject: Undelivered Mail Returned to Sender\r\n\r\n"
        "I'm sorry to have to inform you that your message could not be delivered.\r\n"
        "For further assistance, please contact <postmaster@mx.isp.example>\r\n\r\n"
        "Final-Recipient :  rfc822; abuse@isp.example\r\n"
        "Action:failed\r\nStatus: 5.2.2\r\n"
    ).encode()
    c = classify_message(raw)
    assert c.failed_recipients == ["abuse@isp.example"]


def test_it_finds_every_failed_recipient_and_only_failures() -> None:
    c = classify_message(
        _report(
            "Final-Recipient: rfc822; abuse@isp.example\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
            "Final-Recipient: rfc822; ok@isp.example\r\nAction: delivered\r\nStatus: 2.0.0\r\n\r\n"
            "Final-Recipient: rfc822; slow@isp.example\r\nAction: delayed\r\nStatus: 4.4.1\r\n\r\n"
            "Final-Recipient: rfc822; noc@isp.example\r\nAction: failed\r\nStatus: 5.2.1\r\n"
        )
    )
    assert c.failed_recipients == ["abuse@isp.example", "noc@isp.example"]
    assert c.delayed_recipients == ["slow@isp.example"]
    assert c.permanent is True


def test_a_delay_is_temporary_and_a_transient_failure_proves_nothing() -> None:
    delayed = classify_message(
        _report(
            "Final-Recipient: rfc822; abuse@isp.example\r\nAction: delayed\r\nStatus: 4.4.7\r\n"
        )
    )
    assert (delayed.kind, delayed.failed_recipients, delayed.permanent) == (
        "bounce",
        ["abuse@isp.example"],
        False,
    )
    given_up = classify_message(
        _report("Final-Recipient: rfc822; abuse@isp.example\r\nAction: failed\r\nStatus: 4.4.7\r\n")
    )
    assert given_up.permanent is False


def test_it_puts_the_address_we_sent_to_first() -> None:
    c = classify_message(
        _report(
            "Original-Recipient: rfc822;abuse@isp.example\r\n"
            "Final-Recipient: rfc822;abuse-team@mailhost.isp.example\r\n"
            "Action: failed\r\nStatus: 5.1.1\r\n"
        )
    )
    assert c.failed_recipients == ["abuse@isp.example", "abuse-team@mailhost.isp.example"]


def test_it_reads_every_x_failed_recipients() -> None:
    raw = (
        DAEMON
        + "X-Failed-Recipients: abuse@isp.example\r\nX-Failed-Recipients: noc@isp.example\r\n"
        "Subject: Mail delivery failed: returning message to sender\r\n\r\n"
        "A message that you sent could not be delivered. See https://help.example/bounce?u=x@y.example\r\n"
    ).encode()
    assert classify_message(raw).failed_recipients == ["abuse@isp.example", "noc@isp.example"]


def test_it_takes_no_address_from_the_text_when_structured_fields_exist() -> None:
    c = classify_message(
        _report(
            "Final-Recipient: rfc822; abuse@isp.example\r\nAction: failed\r\nStatus: 5.1.1\r\n",
            human="<victim@other.example>: host said 550 user unknown\r\n",
        )
    )
    assert c.failed_recipients == ["abuse@isp.example"]


@pytest.mark.parametrize(
    "noise",
    [
        "For further assistance, please contact <support@isp.example>",
        "Message-ID: <20260101.1234@isp.example>",
        "To unsubscribe: https://lists.isp.example/unsub?email=someone@isp.example",
        ">>> MAIL FROM:<owner@isp.example> SIZE=1024",
        "(envelope-from <sender@csirt.example>)",
    ],
)
def test_it_never_takes_the_recipient_from_help_text_ids_links_or_the_sender(noise: str) -> None:
    raw = (
        DAEMON + "Subject: Undelivered Mail Returned to Sender\r\n\r\n"
        f"This is the mail system.\r\n\r\n{noise}\r\n\r\n"
        "<abuse@isp.example>: host mx.isp.example said: 550 5.1.1 User unknown\r\n"
    ).encode()
    c = classify_message(raw)
    assert c.failed_recipients == ["abuse@isp.example"]


def test_it_reads_the_mail_from_line_of_a_forwarded_bounce_as_the_sender() -> None:
    raw = (
        b"From: Helpdesk <helpdesk@isp.example>\r\nTo: notices@csirt.example\r\n"
        b"Subject: Fwd: Returned mail: see transcript for details\r\n\r\n"
        b"FYI, forwarding the bounce.\r\n\r\n"
        b"> ----- Transcript of session follows -----\r\n"
        b"> >>> MAIL From:<notices@csirt.example> SIZE=2048\r\n"
        b"> >>> RCPT To:<abuse@isp.example>\r\n"
        b"> <<< 550 5.1.1 <abuse@isp.example>... User unknown\r\n"
    )
    c = classify_message(raw)
    assert c.kind == "bounce"
    assert c.failed_recipients == ["abuse@isp.example"]


def test_it_parses_rcpt_to_with_orcpt() -> None:
    raw = (
        DAEMON + "Subject: Returned mail: User unknown\r\n\r\n"
        "----- Transcript of session follows -----\r\n"
        ">>> RCPT TO:<abuse-desk@relay.isp.example> ORCPT=rfc822;abuse@isp.example\r\n"
        "<<< 550 5.1.1 no such user\r\n"
    ).encode()
    assert classify_message(raw).failed_recipients == [
        "abuse@isp.example",
        "abuse-desk@relay.isp.example",
    ]


@pytest.mark.parametrize(
    "subject,body",
    [
        ("Undeliverable mail", "Your message was undeliverable to abuse@isp.example."),
        (
            "Mail failed, returning to sender",
            "Reference: <tkd.n7.0123456789abcdef@csirt.example>\r\n\r\n"
            "|------------------------- Failed addresses follow: ---------------------|\r\n"
            " abuse@isp.example ... unknown user\r\n",
        ),
    ],
)
def test_it_reads_wording_only_bounces(subject: str, body: str) -> None:
    raw = (DAEMON + f"Subject: {subject}\r\n\r\n{body}\r\n").encode()
    c = classify_message(raw)
    assert c.kind == "bounce"
    assert c.failed_recipients == ["abuse@isp.example"]


def test_a_mailing_list_refusing_non_members_is_a_bounce_not_a_reply() -> None:
    raw = (
        b"From: abuse-owner@isp.example\r\nTo: notices@csirt.example\r\n"
        b"Subject: Your message to abuse@isp.example was rejected\r\n"
        b"Auto-Submitted: auto-replied\r\n\r\n"
        b"You are not a member of abuse@isp.example; only members can post to this list.\r\n"
    )
    c = classify_message(raw)
    assert c.kind == "bounce"
    assert c.failed_recipients == ["abuse@isp.example"]
    assert c.permanent is True


def test_it_keeps_a_recipient_that_looks_like_a_mail_system() -> None:
    raw = (
        b"From: postmaster@isp.example\r\nTo: notices@csirt.example\r\n"
        b"Subject: Returned mail: Service unavailable\r\n\r\n"
        b"   ----- The following addresses had delivery problems -----\r\n"
        b"postmaster@mx.isp.example\r\n\r\n"
        b"   ----- Non-delivered information -----\r\n"
        b"The number of messages in recipient's mailbox exceeded the local limit.\r\n"
    )
    assert classify_message(raw).failed_recipients == ["postmaster@mx.isp.example"]


def test_it_reads_an_sns_wrapped_ses_bounce() -> None:
    message = {
        "notificationType": "Bounce",
        "bounce": {
            "bounceType": "Permanent",
            "bouncedRecipients": [{"emailAddress": "abuse@isp.example"}],
        },
        "mail": {"destination": ["abuse@isp.example", "noc@isp.example"]},
    }
    body = json.dumps({"Type": "Notification", "Message": json.dumps(message)})
    raw = (
        "From: no-reply@sns.amazonaws.com\r\nTo: notices@csirt.example\r\n"
        f"Subject: AWS Notification Message\r\n\r\n{body}\r\n"
    ).encode()
    c = classify_message(raw)
    assert (c.kind, c.failed_recipients, c.permanent) == ("bounce", ["abuse@isp.example"], True)

    message["bounce"]["bounceType"] = "Transient"  # type: ignore[index]
    body = json.dumps({"Type": "Notification", "Message": json.dumps(message)})
    raw = raw.split(b"\r\n\r\n")[0] + f"\r\n\r\n{body}\r\n".encode()
    assert classify_message(raw).permanent is False


def test_it_survives_hostile_delivery_status() -> None:
    many = "".join(
        f"Final-Recipient: rfc822; u{i}@isp.example\r\nAction: failed\r\n\r\n" for i in range(5000)
    )
    c = classify_message(_report(many))
    assert c.kind == "bounce"
    assert 0 < len(c.failed_recipients) <= 200
    for junk in [
        "Final-Recipient: rfc822;\r\nAction: failed",
        "Action: failed\r\n" * 1000,
        "Final-Recipient: " + "a" * 100_000,
    ]:
        assert classify_message(_report(junk)).kind == "bounce"

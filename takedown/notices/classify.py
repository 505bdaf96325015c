"""What an inbound message is: a bounce, an ARF report, an automatic reply or a human's mail.

Framework-free and total: any bytes give a ``Classified``, never an
exception (the caller still guards).  The rules, in order:

1. ARF feedback (RFC 5965): ``multipart/report; report-type=feedback-report``,
   a ``message/feedback-report`` part, or Hotmail's JMRP form.
2. Bounce: an RFC 3464 delivery-status part; or a sender that is a mail
   system (``MAILER-DAEMON``, ``postmaster``, null return path,
   ``X-Failed-Recipients``) together with a bounce subject or bounce wording;
   or a bounce subject with bounce wording from anyone (forwarded bounces).
   The failed recipients come from the DSN fields, ``X-Failed-Recipients``,
   then from the MTA's own wording (Postfix, Exim, qmail, sendmail ...).
3. Automatic reply (RFC 3834 ``Auto-Submitted``, ``Precedence``,
   ``X-Autoreply``, vacation subjects like "Out of office", "自動応答").
4. Anything else was written by a human.

Which notice a message belongs to is decided by the caller from the
references collected here: In-Reply-To/References, tokens in the subject,
and the Message-IDs and tokens of the original message a bounce carries.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from email import policy as email_policy
from email.header import Header, decode_header, make_header
from email.message import Message
from email.parser import BytesParser
from email.utils import parseaddr

# "TKD#N12-3f9a0c1b7e": the number, and the notice's random tag (notices from
# before tags carry "TKD#N12" alone).
NOTICE_TOKEN = re.compile(r"TKD#N(\d{1,12})(?:-([0-9a-z]{6,16})\b)?", re.IGNORECASE)
REPORT_TOKEN = re.compile(r"TKD-R(\d{1,12})", re.IGNORECASE)
# Our own Message-IDs, as found anywhere in a bounce (attached headers, quoted text).
OUR_MESSAGE_ID = re.compile(rb"<tkd\.[a-z]+\d+\.[0-9a-f]+@[^>\s]+>", re.IGNORECASE)
_MSGID = re.compile(r"<[^<>\s]{1,500}>")
_ADDR = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")

MAX_PARTS = 500
MAX_TEXT = 200_000

_DAEMON_LOCAL = re.compile(
    r"^(mailer-?daemon|mail-?daemon|postmaster|post_master|poostmaster|mmsc|mail\.?delivery|"
    r"bounce[s]?|nobody|mdaemon|mail-?system)$",
    re.IGNORECASE,
)
_DAEMON_NAME = re.compile(
    r"mail delivery (sub)?system|mail deliver system|mailer.?daemon|postmaster|"
    r"interscan|ndr administrator|system administrator",
    re.IGNORECASE,
)
_BOUNCE_SUBJECT = re.compile(
    r"undeliver|returned mail|returning message|delivery status notification|"
    r"delivery (status|failure|failed|notification)|failure (notice|delivery)|mail delivery failed|"
    r"delivery has failed|could not be delivered|non.?delivery|mail system error|"
    r"error sending your mail|delayed mail|message .* delayed|could not send mail|loop alert|"
    r"permanent delivery failure|delivery failure|email delivery failure|mail failure|"
    r"failed delivery|bounce|returned to sender|mail failed|returning to sender|"
    r"配信|送信できませんでした|宛先不明|エラー",
    re.IGNORECASE,
)
_BOUNCE_BODY = re.compile(
    r"could ?n[o']t be delivered|undeliverable|delivery to the following recipients? (failed|was)|"
    r"permanent (fatal )?error|user unknown|unknown user|no such (user|mailbox|address)|"
    r"mailbox (unavailable|not found|is full|full)|recipient address rejected|"
    r"message was not delivered|delivery has failed|returned to sender|"
    r"this is the mail system at host|wasn'?t able to deliver|"
    r"failed permanently|smtp error from remote mail server|qmail-send program|unable to deliver|"
    r"message not delivered|delivery failed|could not deliver|host unknown|"
    r"transcript of session follows|the following addresses had|mail delivery failed|"
    r"did not reach the following recipient|isn'?t available|does not exist|"
    r"retry timeout exceeded|has been delayed|will be retried|still being retried|"
    r"\b5\.\d{1,3}\.\d{1,3}\b|\b55[0-4][ -]|notificationtype\W+bounce|bouncetype|"
    r"message could not|delivery to .* failed|could not be sent|duplicated message-id|"
    r"original mail as follows|invalid user|undeliverable to|returning to sender|"
    r"宛先|配信|送信できません|届きません",
    re.IGNORECASE,
)
_AUTO_SUBJECT = re.compile(
    r"^\s*(\[[^\]]*\]\s*)?(auto(matic)?[ _-]?(reply|response|respons|answer|antwort)|auto:|"
    r"out of (the )?office|away from|on vacation|vacation|abwesenheit|absence|"
    r"automatische antwort|r[ée]ponse automatique|respuesta autom|"
    r"自動応答|自動返信|自動送信|不在|休暇)",
    re.IGNORECASE,
)
_AUTO_BODY = re.compile(
    r"out of (the )?office|on vacation|i am away|i'?m away|i will be out|automatic reply|"
    r"this is an automated|auto-?generated|do not reply to this|不在|自動返信|自動応答",
    re.IGNORECASE,
)
_DSN_TYPES = {"message/delivery-status", "message/global-delivery-status"}
_ORIGINAL_TYPES = {
    "message/rfc822",
    "text/rfc822-headers",
    "message/rfc822-headers",
    "message/global",
}


@dataclass
class Classified:
    kind: str = "human"  # human | bounce | auto_reply | arf
    reason: str = ""
    subject: str = ""
    from_header: str = ""
    from_address: str = ""
    message_id: str = ""
    references: list[str] = field(default_factory=list)  # In-Reply-To first, then References
    in_reply_to: str = ""
    notice_tokens: list[int] = field(default_factory=list)
    # The tag written with each token (subject or original subject), "" when none.
    token_tags: dict[int, str] = field(default_factory=dict)
    report_tokens: list[int] = field(default_factory=list)
    # Where the receiving MTA says it delivered the message (for mail fetched by
    # IMAP, which has no envelope): Delivered-To, X-Original-To, Envelope-To.
    delivered_to: list[str] = field(default_factory=list)
    # From the original message carried by a bounce or an ARF report.
    original_message_ids: list[str] = field(default_factory=list)
    original_notice_tokens: list[int] = field(default_factory=list)
    failed_recipients: list[str] = field(default_factory=list)
    # When some recipients failed for good: the others, delayed or failed for a
    # transient reason (their addresses are not proven wrong).
    delayed_recipients: list[str] = field(default_factory=list)
    permanent: bool = True
    status: str = ""
    diagnostic: str = ""
    feedback_type: str = ""
    text: str = ""
    has_urls: bool = False
    parts: int = 0
    warnings: list[str] = field(default_factory=list)


def _notice_tokens(subject: str, tags: dict[int, str]) -> list[int]:
    numbers = []
    for number, tag in NOTICE_TOKEN.findall(subject):
        numbers.append(int(number))
        tags[int(number)] = tags.get(int(number)) or tag.lower()
    return numbers


def _guess(data: bytes, charset: str | None) -> str:
    codecs = [charset] if charset and charset != "unknown-8bit" else []
    for codec in [*codecs, "utf-8", "iso2022_jp", "cp932", "euc_jp"]:
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError):
            continue
    return data.decode("utf-8", "replace")


def _header(msg: Message, name: str) -> str:
    value = msg.get(name)
    if value is None:
        return ""
    if isinstance(value, Header):
        # compat32 wraps raw 8-bit header bytes in a Header of unknown charset:
        # read them as UTF-8, else as the Japanese legacy charsets.
        pieces = []
        for data, charset in decode_header(value):
            pieces.append(_guess(data, charset) if isinstance(data, bytes) else data)
        text = "".join(pieces)
    else:
        text = str(value)
    if any("\udc80" <= ch <= "\udcff" for ch in text):
        text = _guess(text.encode("utf-8", "surrogateescape"), None)
    if "=?" not in text:
        return text
    try:
        return str(make_header(decode_header(text)))
    except Exception:
        return text


def _decode(part: Message) -> str:
    try:
        payload = part.get_payload(decode=True)
    except Exception:
        payload = None
    if not isinstance(payload, bytes):
        raw = part.get_payload()
        return raw if isinstance(raw, str) else ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except (LookupError, ValueError):
        # An unknown or bogus charset name: keep the text readable anyway.
        return payload.decode("utf-8", errors="replace")


def _parse(raw: bytes, warnings: list[str]) -> Message:
    parser = BytesParser(policy=email_policy.compat32)
    try:
        return parser.parsebytes(raw)
    except (RecursionError, Exception) as exc:  # the stdlib parser is not total on hostile input
        warnings.append(f"MIME structure could not be parsed ({type(exc).__name__}); headers only")
        return parser.parsebytes(raw, headersonly=True)


def _walk(msg: Message, warnings: list[str]) -> list[Message]:
    parts: list[Message] = []
    stack: list[tuple[Message, int]] = [(msg, 0)]
    while stack:
        part, depth = stack.pop()
        if len(parts) >= MAX_PARTS:
            warnings.append(f"more than {MAX_PARTS} MIME parts; the rest was not read")
            break
        parts.append(part)
        if depth > 20:
            continue
        payload = part.get_payload()
        if isinstance(payload, list):
            stack.extend((sub, depth + 1) for sub in reversed(payload) if isinstance(sub, Message))
    return parts


def _addresses_in(value: str) -> list[str]:
    out: list[str] = []
    for addr in _ADDR.findall(value or ""):
        addr = addr.lower().strip(".")
        if addr not in out:
            out.append(addr)
    return out


def _dsn_fields(part: Message) -> list[Message]:
    """The per-message and per-recipient field groups of a feedback-report part."""
    payload = part.get_payload()
    groups: list[Message] = []
    if isinstance(payload, list):
        groups = [p for p in payload if isinstance(p, Message)]
    elif isinstance(payload, str):
        parser = BytesParser(policy=email_policy.compat32)
        for chunk in re.split(r"\r?\n\s*\r?\n", payload):
            if chunk.strip():
                groups.append(parser.parsebytes(chunk.strip().encode("utf-8", "replace") + b"\n\n"))
    return groups


# --- RFC 3464 delivery status -------------------------------------------------

# A DSN field, as MTAs really write them: any spacing around the colon, and a
# "> " quote prefix when a person forwarded the bounce.
_DSN_FIELD = re.compile(
    r"^[ \t>]*(original-recipient|final-recipient|action|status|diagnostic-code)"
    r"[ \t]*:[ \t]*(.*?)\s*$",
    re.IGNORECASE,
)
_SUCCESS_ACTIONS = {"delivered", "relayed", "expanded"}


@dataclass
class DeliveryStatus:
    """One per-recipient group of a delivery status notification (RFC 3464 2.3)."""

    addresses: list[str]  # Original-Recipient (the address the sender used) first
    action: str = ""
    status: str = ""
    diagnostic: str = ""

    @property
    def outcome(self) -> str:
        """``failed`` (permanent), ``transient`` (given up for a transient
        reason), ``delayed`` (still trying) or ``delivered`` (a success).

        RFC 3464 2.3.3: only ``failed`` and ``delayed`` are failures; a 4.x.x
        status on a failure says the cause was transient, which does not prove
        the address wrong. ``expired`` is SendGrid's word for a failure after
        retries. With no Action the status class decides (RFC 3463).
        """
        action = self.action.split(" ")[0].strip("();").lower()
        status = self.status.strip()[:1]
        if action in _SUCCESS_ACTIONS:
            return "delivered"
        if action == "delayed":
            return "delayed"
        if action == "expired":
            return "transient"
        if action == "failed":
            return "transient" if status == "4" else "failed"
        return {"2": "delivered", "4": "delayed"}.get(status, "failed")


def _dsn_address(value: str) -> list[str]:
    """The address of a recipient field: ``rfc822; <a@b>``, ``rfc822;"a..b"@c``."""
    value = value.partition(";")[2] if ";" in value else value
    return _addresses_in(value.replace('"', ""))


def _delivery_statuses(text: str) -> list[DeliveryStatus]:
    """Per-recipient groups read from delivery-status text, wherever it is.

    A group ends at a blank line or when a field it already has comes again
    (some MTAs leave out the blank lines); a group without a recipient field
    (the per-message fields) is dropped.
    """
    groups: list[DeliveryStatus] = []
    fields: dict[str, str] = {}

    def close() -> None:
        addresses: list[str] = []
        for name in ("original-recipient", "final-recipient"):
            addresses += [a for a in _dsn_address(fields.get(name, "")) if a not in addresses]
        if addresses:
            groups.append(
                DeliveryStatus(
                    addresses=addresses,
                    action=fields.get("action", ""),
                    status=fields.get("status", ""),
                    diagnostic=fields.get("diagnostic-code", ""),
                )
            )
        fields.clear()

    for line in text[:MAX_TEXT].splitlines():
        if not line.strip(" \t>"):
            close()
            continue
        match = _DSN_FIELD.match(line)
        if match is None:
            continue
        name = match.group(1).lower()
        if name in fields:
            close()
        fields[name] = match.group(2)
        if len(groups) >= 200:
            break
    close()
    return groups[:200]


def _part_text(part: Message) -> str:
    """The text of a delivery-status part, fields as written.

    compat32 parses each group into a Message; a field it cannot read as a
    header ("Final-Recipient : ...") ends that Message's headers, so the rest
    of the group is its body: glue them back without a blank line.
    """
    payload = part.get_payload()
    if isinstance(payload, str):
        return _decode(part) if part.get("Content-Transfer-Encoding") else payload
    chunks = []
    for block in payload if isinstance(payload, list) else []:
        if not isinstance(block, Message):
            continue
        lines = [f"{name}: {value}" for name, value in block.items()]
        body = block.get_payload()
        if isinstance(body, str):
            lines.append(body)
        chunks.append("\n".join(lines))
    return "\n\n".join(chunks)


# --- Amazon SES / SNS ------------------------------------------------------------


def _ses_notification(text: str) -> dict[str, object] | None:
    """The SES notification in a mail's text: bare, or inside an SNS envelope."""
    start = text.find("{")
    if start < 0 or ("notificationType" not in text and "eventType" not in text):
        return None
    try:
        data, _ = json.JSONDecoder().raw_decode(text[start:].strip())
    except ValueError:
        return None
    if isinstance(data, dict) and isinstance(data.get("Message"), str):
        try:
            data = json.loads(data["Message"])
        except ValueError:
            return None
    return data if isinstance(data, dict) else None


def _ses_kind(data: dict[str, object]) -> str:
    return str(data.get("notificationType") or data.get("eventType") or "")


def _ses_bounce(data: dict[str, object]) -> tuple[list[str], bool]:
    bounce = data.get("bounce")
    if not isinstance(bounce, dict):
        return [], False
    addresses: list[str] = []
    for entry in bounce.get("bouncedRecipients") or []:
        if isinstance(entry, dict):
            addresses += _addresses_in(str(entry.get("emailAddress") or ""))
    # "Transient" and "Undetermined" do not prove the address wrong.
    return list(dict.fromkeys(addresses)), bounce.get("bounceType") == "Permanent"


# --- the MTA's own words -----------------------------------------------------------

_A = r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"
# Lines whose addresses are never the failed recipient: help text, the
# envelope sender, message ids, links, the quoted original's own headers.
_NOT_RECIPIENT_LINE = re.compile(
    r"contact|assistance|questions|send (an? )?(e-?)?mail to|postmaster of|help ?desk|"
    r"mail ?from|envelope-from|return-path|sender|message-id\s*:|references:|in-reply-to:|"
    r"https?://|mailto:[^>\s]*\?|unsubscribe|^\s*(>\s*)*(from|reply-to|to|cc|received|for)\b",
    re.IGNORECASE,
)
# Sentences after which the MTA lists the failed addresses, one per line.
_INTRO = re.compile(
    r"following address(?:\(es\)|es)? (?:failed|had [^\n]*?(?:errors|problems))|"
    r"did not reach the following recipient|following recipients? could not be reached|"
    r"delivery has failed to these recipients|"
    r"following recipients? (?:was|were) (?:rejected|affected)|"
    r"del[ei]very to the following recipients? (?:failed|has been delayed|was aborted|was|has)|"
    r"following list of recipients|cannot be delivered to the following recipients|"
    r"following recipients did not receive|wasn't able to deliver your message to the following|"
    r"could not be delivered to the following|following recipients?:|"
    r"(?:un)?able to deliver (?:your message )?to the following",
    re.IGNORECASE,
)
_BLOCK_END = re.compile(
    r"^\s*(?:-{3,}|_{3,}|={3,}|transcript|reason:|reporting-mta|this is a copy|"
    r"below this line|original message|the original message)",
    re.IGNORECASE,
)
# An address leading a line: "<a@b>:", "a@b:", "* a@b", "-- a@b", ">>> a@b",
# '"a@b":', "a@b on <date>", "a@b [User unknown]", "Recipient address: a@b".
_LEADING = re.compile(
    r"^[ \t]*(?:[*•\-]+|>>>|recipient(?: address)?\s*:|rcpt to\s*:)?[ \t]*[<\"]?(" + _A + r")[>\"]?"
    r"(?=\s|:|\.\.\.|,|\[|<mailto|$)",
    re.IGNORECASE | re.MULTILINE,
)
# One-line forms: the address after words that say it failed.
_PHRASE = re.compile(
    r"(?:error delivering your mail to|could not be delivered to|unable to deliver (?:message )?to|"
    r"undeliverable to|undeliverable:|your message to|delivery failed(?: \d+ attempts)?:|"
    r"unknown user:|mailbox exceeds allowed size:|invalid final delivery userid:|"
    r"rejected recipient|mailbox is full:|did not reach the following recipient:|"
    r"returned permanent errors:|duplicated message-id in|delivery to|"
    r"address:|not a member of|post(?:ing)? to)\s*:?\s*[<\"]?(" + _A + r")",
    re.IGNORECASE,
)
_RCPT = re.compile(
    r"RCPT TO:\s*<\s*(" + _A + r")\s*>(?:[^\n]*?ORCPT=rfc822;\s*(" + _A + r"))?", re.IGNORECASE
)
# sendmail's transcript: "550 5.1.1 <a@b>... User unknown", "554 <a@b>... 550 Host unknown"
_TRANSCRIPT = re.compile(
    r"^\s*[45]\d\d[ -](?:[45]\.\d{1,3}\.\d{1,3} )?<(" + _A + r")>\.\.\.", re.MULTILINE
)
# Postfix: "<a@b> (expanded from <c@d>): ..." -- c@d is the address that was sent to.
_POSTFIX = re.compile(
    r"^<(" + _A + r")>(?: \(expanded from\s*<(" + _A + r")>\))?:", re.MULTILINE | re.IGNORECASE
)
# Exim: "a@b\n    (generated from c@d)".
_EXIM_GENERATED = re.compile(r"\((?:ultimately )?generated from (" + _A + r")\)", re.IGNORECASE)
_MAILER_DAEMON = re.compile(r"^(mailer-?daemon|mail-?daemon)$", re.IGNORECASE)


def _listed_after_introductions(lines: list[str]) -> list[str]:
    """Addresses leading the lines of each list an introduction announces."""
    found: list[str] = []
    for i, line in enumerate(lines):
        intro = _INTRO.search(line)
        if intro is None:
            continue
        # Some MTAs write the address on the introduction's own line.
        found += [m.group(1) for m in _LEADING.finditer(line[intro.end() :])]
        seen_address = False
        for j in range(i + 1, min(i + 40, len(lines))):
            current = lines[j]
            if _BLOCK_END.match(current) or (seen_address and _INTRO.search(current)):
                break
            if _NOT_RECIPIENT_LINE.search(current):
                continue
            leading = _LEADING.match(current)
            if leading:
                found.append(leading.group(1))
                following = lines[j + 1] if j + 1 < len(lines) else ""
                found += [m.group(1) for m in _EXIM_GENERATED.finditer(following)]
                seen_address = True
            elif not current.strip() and seen_address:
                following = lines[j + 1] if j + 1 < len(lines) else ""
                if not _LEADING.match(following):
                    break  # a blank line ends the list unless another address follows
    return found


def _text_recipients(text: str, exclude: set[str]) -> list[str]:
    """The failed recipients an MTA names in its own words, the first step that finds any.

    1. An address leading a line in the list that follows an introduction
       ("The following address(es) failed:", "did not reach the following
       recipient(s):", ...), as every MTA that lists several writes it.
    2. Postfix paragraphs ("<a@b> (expanded from <c@d>): ...", the address
       sent to first), the RCPT TO of a transcript (its ORCPT first) and
       sendmail's "5xx <a@b>..." lines.
    3. One-line wordings ("Unknown user: a@b", "undeliverable to a@b").
    4. An address leading a line, unless it is a mail daemon's.
    Lines of help text, the envelope sender, message ids and links never count.
    """
    lines = text[:MAX_TEXT].splitlines()
    usable = "\n".join(line for line in lines if not _NOT_RECIPIENT_LINE.search(line))
    steps: list[list[str | None]] = [
        list(_listed_after_introductions(lines)),
        [
            *(a for m in _POSTFIX.finditer(usable) for a in (m.group(2), m.group(1))),
            *(a for m in _RCPT.finditer(text[:MAX_TEXT]) for a in (m.group(2), m.group(1))),
            *(m.group(1) for m in _TRANSCRIPT.finditer(usable)),
        ],
        [m.group(1) for m in _PHRASE.finditer(usable)],
        [
            m.group(1)
            for m in _LEADING.finditer(usable)
            if not _MAILER_DAEMON.match(m.group(1).partition("@")[0])
        ],
    ]
    for step in steps:
        found: list[str] = []
        for addr in step:
            addr = (addr or "").lower().rstrip(".")
            if addr and addr not in exclude and addr not in found:
                found.append(addr)
        if found:
            return found
    return []


# Where a bounce starts quoting the original message: addresses after this are
# the original's, not the failed recipient's.
_ORIGINAL_MARKER = re.compile(
    r"^[ \t-]*(this is a copy of the message|below this line is a copy|"
    r"original message (follows|headers)|original message:?\s*$|"
    r"-+ ?(original|returned|unsent) message|received: |return-path: |"
    r"以下.*(元|原|オリジナル)のメッセージ)",
    re.IGNORECASE | re.MULTILINE,
)
# A mailing list refusing a post from a non-member: a failure for that address.
_LIST_REJECTION = re.compile(
    r"not a member|non-?member|only (list )?members|members only|only subscribers|"
    r"subscribers only|not (allowed|authori[sz]ed|permitted) to (post|send)|"
    r"permission to post|posting .{0,40}(rejected|denied|not allowed)|"
    r"(post|message) to .{0,80} (was|has been) rejected",
    re.IGNORECASE,
)
_LIST_SENDER = re.compile(
    r"(-owner|-bounces?|-request|^owner-|^mailman|^sympa|^listserv|^majordomo|^ezmlm|^fml)",
    re.IGNORECASE,
)


def _is_list_software(from_address: str, msg: Message) -> bool:
    local = from_address.partition("@")[0]
    return bool(
        _LIST_SENDER.search(local)
        or msg.get("List-Id") is not None
        or str(msg.get("Auto-Submitted") or "no").strip().lower() != "no"
    )


def _is_report(part: Message) -> bool:
    """Whether an attached message is itself a delivery report (a wrapped bounce)."""
    payload = part.get_payload()
    inner = payload[0] if isinstance(payload, list) and payload else None
    return (
        isinstance(inner, Message)
        and inner.get_content_type() == "multipart/report"
        and str(inner.get_param("report-type") or "").lower() == "delivery-status"
    )


def _is_daemon(from_address: str, from_header: str, return_path: str) -> bool:
    local = from_address.partition("@")[0]
    if _DAEMON_LOCAL.match(local) or _DAEMON_NAME.search(from_header):
        return True
    return return_path.strip() in {"<>", ""} and return_path != ""


def classify_message(raw: bytes) -> Classified:
    warnings: list[str] = []
    msg = _parse(raw, warnings)
    out = Classified(warnings=warnings)
    out.subject = " ".join(_header(msg, "Subject").split())[:500]
    out.from_header = _header(msg, "From")[:500]
    out.from_address = parseaddr(out.from_header)[1].lower()
    out.message_id = (_MSGID.findall(_header(msg, "Message-ID")) or [""])[0][:998]
    in_reply_to = _MSGID.findall(_header(msg, "In-Reply-To"))
    refs = _MSGID.findall(_header(msg, "References"))
    out.in_reply_to = in_reply_to[0] if in_reply_to else ""
    out.references = list(dict.fromkeys(in_reply_to + list(reversed(refs))))[:50]
    out.notice_tokens = _notice_tokens(out.subject, out.token_tags)
    for name in ("Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To"):
        for value in msg.get_all(name) or []:
            out.delivered_to += [a for a in _addresses_in(str(value)) if a not in out.delivered_to]
    out.delivered_to = out.delivered_to[:20]
    out.report_tokens = [int(t) for t in REPORT_TOKEN.findall(out.subject)]
    return_path = str(msg.get("Return-Path", "")) if msg.get("Return-Path") is not None else "?"

    parts = _walk(msg, warnings)
    out.parts = len(parts)
    texts: list[str] = []  # the message's own text, without the original it carries
    dsn_parts: list[Message] = []
    feedback_parts: list[Message] = []
    originals: list[Message] = []
    inside_original: set[int] = set()
    for part in parts:
        if id(part) in inside_original:
            continue
        ctype = part.get_content_type()
        if ctype in _DSN_TYPES:
            dsn_parts.append(part)
        elif ctype == "message/feedback-report":
            feedback_parts.append(part)
        elif ctype in _ORIGINAL_TYPES and not dsn_parts and _is_report(part):
            # A bounce wrapped in another system's notice: its report is ours to read.
            continue
        elif ctype in _ORIGINAL_TYPES:
            originals.append(part)
            for sub in _walk(part, []):
                if sub is not part:
                    inside_original.add(id(sub))
        elif (
            (ctype.startswith("text/") or ctype.startswith("multipart/"))
            and not part.is_multipart()
            and sum(len(t) for t in texts) < MAX_TEXT
        ):
            # (a multipart whose boundary could not be found is read as text)
            texts.append(_decode(part))
    text = "\n".join(texts)
    out.text = text[:MAX_TEXT]
    out.has_urls = bool(re.search(r"h(tt|xx)ps?\s*(://|\[:\]//)|www\.", text, re.IGNORECASE))

    # References to the original message: attached parts first, then anything
    # that looks like one of our Message-IDs anywhere in the raw bytes (exim and
    # qmail quote the original inline).
    original_ids: list[str] = []
    original_tokens: list[int] = []
    original_to: list[str] = []
    for orig in originals:
        headers = orig
        payload = orig.get_payload()
        if (
            orig.get_content_type() != "text/rfc822-headers"
            and isinstance(payload, list)
            and payload
        ):
            first = payload[0]
            headers = first if isinstance(first, Message) else orig
        elif isinstance(payload, str):
            headers = BytesParser(policy=email_policy.compat32).parsebytes(
                payload.encode("utf-8", "replace"), headersonly=True
            )
        original_ids += _MSGID.findall(_header(headers, "Message-ID"))
        original_tokens += _notice_tokens(_header(headers, "Subject"), out.token_tags)
        for name in ("To", "Cc"):
            original_to += [
                a for a in _addresses_in(_header(headers, name)) if a not in original_to
            ]
    original_ids += [m.decode("ascii", "replace") for m in OUR_MESSAGE_ID.findall(raw[:5_000_000])]
    out.original_message_ids = list(dict.fromkeys(original_ids))[:50]

    ses = _ses_notification(text[:MAX_TEXT])
    ses_kind = _ses_kind(ses) if ses else ""
    if not ses_kind:
        legacy = re.search(r"notificationType\W+(Bounce|Complaint|Delivery)", text[:50_000])
        ses_kind = legacy.group(1) if legacy else ""
    if ses_kind == "Delivery":
        out.kind = "auto_reply"
        out.reason = "delivery notification (Amazon SES): a success, not a failure"
        return out

    # 1. ARF
    report_type = (
        (msg.get_param("report-type") or "") if msg.get_content_type() == "multipart/report" else ""
    )
    if (
        feedback_parts
        or str(report_type).lower() == "feedback-report"
        or ses_kind == "Complaint"
        or (originals and re.search(r"complaint about message", out.subject, re.IGNORECASE))
    ):
        out.kind = "arf"
        for fb in feedback_parts:
            for group in _dsn_fields(fb):
                if group.get("Feedback-Type"):
                    out.feedback_type = str(group.get("Feedback-Type")).strip().lower()
                    break
        out.reason = f"ARF feedback report ({out.feedback_type or 'type not given'})"
        out.original_notice_tokens = original_tokens
        return out

    # 2. bounce
    statuses: list[DeliveryStatus] = []
    for dsn in dsn_parts:
        statuses += _delivery_statuses(_part_text(dsn))
    if not statuses:
        # A report whose MIME structure is broken, or one forwarded (quoted) by a person.
        statuses = _delivery_statuses(text)
    outcomes: dict[str, list[str]] = {}
    for status in statuses:
        bucket = outcomes.setdefault(status.outcome, [])
        bucket += [a for a in status.addresses if a not in bucket]
    if statuses and set(outcomes) == {"delivered"}:
        out.kind = "auto_reply"
        out.reason = "delivery status notification: delivered (a success, not a failure)"
        return out
    x_failed: list[str] = []
    for value in msg.get_all("X-Failed-Recipients") or []:
        x_failed += [a for a in _addresses_in(str(value)) if a not in x_failed]
    daemon = _is_daemon(out.from_address, out.from_header, return_path)
    bounce_subject = bool(_BOUNCE_SUBJECT.search(out.subject))
    bounce_body = bool(_BOUNCE_BODY.search(text[:50_000]))
    list_rejection = bool(_LIST_REJECTION.search(f"{out.subject}\n{text[:20_000]}")) and (
        daemon or _is_list_software(out.from_address, msg)
    )
    ses_bounce = ses_kind == "Bounce"
    failures = set(outcomes) - {"delivered"}
    if not (
        failures
        or dsn_parts
        or x_failed
        or ses_bounce
        or list_rejection
        or (daemon and (bounce_subject or bounce_body))
        or (bounce_subject and bounce_body)
    ):
        return _auto_or_human(out, msg, text, return_path)

    out.kind = "bounce"
    # Structured fields first, and only them when there are any (RFC 3464
    # groups, Exim's X-Failed-Recipients, SES): the text is for people.
    # Gmail sets X-Failed-Recipients on a failure its DSN calls transient (4.x.x):
    # the DSN's word wins for the addresses it names.
    in_dsn = {a for group in statuses for a in group.addresses}
    permanent = [*outcomes.get("failed", []), *(a for a in x_failed if a not in in_dsn)]
    permanent = list(dict.fromkeys(permanent))
    not_proven = [
        a
        for a in [*outcomes.get("transient", []), *outcomes.get("delayed", [])]
        if a not in permanent
    ]
    source = ""
    if permanent:
        out.failed_recipients, out.permanent = permanent, True
        out.delayed_recipients = not_proven
        source = "delivery status" if outcomes.get("failed") else "X-Failed-Recipients"
    elif not_proven:
        out.failed_recipients, out.permanent = not_proven, False
        source = "delivery status"
    elif ses_bounce and ses is not None:
        out.failed_recipients, out.permanent = _ses_bounce(ses)
        source = "SES notification"
    if not out.failed_recipients and ses_bounce:
        out.failed_recipients = _addresses_in(
            " ".join(re.findall(r"emailAddress\W+([^\"\\\s]+)", text[:MAX_TEXT]))
        )
        source = "SES notification"
    if not out.failed_recipients:
        marker = _ORIGINAL_MARKER.search(text)
        own_text = text[: marker.start()] if marker and marker.start() > 0 else text
        out.failed_recipients = _text_recipients(own_text, {out.from_address})
        source = "the MTA's wording"
        if not out.failed_recipients:
            # Nothing names the recipient: the original's only one did not get it.
            quoted = (
                _addresses_in(
                    " ".join(re.findall(r"(?im)^[ \t>]*(?:to|cc):(.*)$", text[marker.start() :]))
                )
                if marker
                else []
            )
            only = original_to or quoted
            if len(only) == 1:
                out.failed_recipients = only
                source = "the original's only recipient"
        out.permanent = not re.search(
            r"delay|still being retried|will be retried|warning|could not send mail for past",
            out.subject,
            re.IGNORECASE,
        )
    chosen = [g for g in statuses if set(g.addresses) & set(out.failed_recipients)]
    out.status = next((g.status for g in chosen if g.status), "")
    diagnostic = next((g.diagnostic for g in chosen if g.diagnostic), "")
    out.diagnostic = " ".join(diagnostic.split())[:500]
    signals = [
        name
        for name, on in (
            ("delivery-status part", bool(dsn_parts)),
            ("delivery status fields", bool(statuses) and not dsn_parts),
            ("X-Failed-Recipients", bool(x_failed)),
            ("mail-system sender", daemon),
            ("bounce subject", bounce_subject),
            ("bounce wording", bounce_body),
            ("mailing-list rejection", list_rejection),
            ("SES notification", ses_bounce),
        )
        if on
    ]
    kind = "permanent failure" if out.permanent else "delay or transient failure"
    found = f"; recipients from {source}" if out.failed_recipients and source else ""
    out.reason = f"bounce ({kind}; {', '.join(signals)}{found})"
    out.original_notice_tokens = original_tokens
    return out


def _auto_or_human(out: Classified, msg: Message, text: str, return_path: str) -> Classified:
    # 3. automatic reply
    auto_submitted = _header(msg, "Auto-Submitted").strip().lower()
    precedence = _header(msg, "Precedence").strip().lower()
    signals = []
    if auto_submitted and auto_submitted != "no":
        signals.append(f"Auto-Submitted: {auto_submitted}")
    if precedence in {"auto_reply", "bulk", "junk", "list"}:
        signals.append(f"Precedence: {precedence}")
    for name in ("X-Autoreply", "X-Autorespond", "X-Autogenerated", "X-Vacation"):
        if msg.get(name) is not None:
            signals.append(name)
    if _AUTO_SUBJECT.search(out.subject):
        signals.append("automatic-reply subject")
    if return_path.strip() == "<>" and _AUTO_BODY.search(text[:20_000]):
        signals.append("null return path and vacation wording")
    if signals:
        out.kind = "auto_reply"
        out.reason = "automatic reply (" + ", ".join(signals) + ")"
        return out

    out.kind = "human"
    out.reason = "written by a person"
    return out

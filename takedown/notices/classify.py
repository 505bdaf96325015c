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

import re
from dataclasses import dataclass, field
from email import policy as email_policy
from email.header import Header, decode_header, make_header
from email.message import Message
from email.parser import BytesParser
from email.utils import parseaddr

NOTICE_TOKEN = re.compile(r"TKD#N(\d{1,12})", re.IGNORECASE)
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
    r"failed delivery|bounce|returned to sender|配信|送信できませんでした|宛先不明|エラー",
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
    r"original mail as follows|invalid user|"
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
    report_tokens: list[int] = field(default_factory=list)
    # From the original message carried by a bounce or an ARF report.
    original_message_ids: list[str] = field(default_factory=list)
    original_notice_tokens: list[int] = field(default_factory=list)
    failed_recipients: list[str] = field(default_factory=list)
    permanent: bool = True
    status: str = ""
    diagnostic: str = ""
    feedback_type: str = ""
    text: str = ""
    has_urls: bool = False
    parts: int = 0
    warnings: list[str] = field(default_factory=list)


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
    """The per-message and per-recipient field groups of a delivery-status part."""
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


# Where MTAs put the failed address in their own words (first group is the address).
_BODY_RECIPIENT = [
    re.compile(r"RCPT TO:\s*<?([^\s<>]+@[^\s<>]+?)>?\s*$", re.IGNORECASE | re.MULTILINE),
    re.compile(
        r"^\s*<([^<>\s]+@[^<>\s]+)>\s*(\(expanded from|:|\.\.\.)", re.MULTILINE
    ),  # postfix, qmail
    re.compile(r"^\s*([^\s<>:]+@[^\s<>:]+):\s", re.MULTILINE),  # opensmtpd
    re.compile(r"^\s*([^\s<>:]+@[^\s<>:]+)\s*\.\.\.\s", re.MULTILINE),  # sendmail
    re.compile(
        r"^\s*<?([^\s<>:]+@[^\s<>:]+?)>?(?:<mailto:[^>]*>)?\s*$", re.MULTILINE
    ),  # alone on a line
    re.compile(
        r"(?:failed recipient|original recipient|final recipient|recipient address|unknown user|"
        r"following (?:recipients?|address(?:es)?)[^:\n]*|delivery to|to the following|"
        r"could not be delivered to|address)\s*[:\-]?\s*(?:rfc822;)?\s*"
        r"<?([^\s<>;,\"']+@[^\s<>;,\"']+)>?",
        re.IGNORECASE,
    ),
    re.compile(r":\s*<?([^\s<>:]+@[^\s<>:]+?)>?\s*$", re.MULTILINE),  # "...: addr" at a line end
    re.compile(r"<([^<>\s]+@[^<>\s]+)>"),
]
# Where a bounce starts quoting the original message: addresses after this are
# the original's, not the failed recipient's.
_ORIGINAL_MARKER = re.compile(
    r"^[ \t-]*(original message|this is a copy of the message|below this line is a copy|"
    r"original message (follows|headers)|"
    r"-+ ?(original|returned) message|received: |message-id: |return-path: |"
    r"以下.*(元|原|オリジナル)のメッセージ)",
    re.IGNORECASE | re.MULTILINE,
)


def _body_recipients(text: str, exclude: set[str]) -> list[str]:
    marker = _ORIGINAL_MARKER.search(text)
    own_text = text[: marker.start()] if marker and marker.start() > 0 else text
    for pattern in _BODY_RECIPIENT:
        found = []
        for match in pattern.finditer(own_text):
            addr = match.group(1).strip("<>.,;:'\"()[]").lower()
            local = addr.partition("@")[0]
            if (
                "@" in addr
                and addr not in exclude
                and not _DAEMON_LOCAL.match(local)
                and addr not in found
                and _ADDR.fullmatch(addr)
            ):
                found.append(addr)
        if found:
            return found
    return []


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
    out.notice_tokens = [int(t) for t in NOTICE_TOKEN.findall(out.subject)]
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
        original_tokens += [int(t) for t in NOTICE_TOKEN.findall(_header(headers, "Subject"))]
    original_ids += [m.decode("ascii", "replace") for m in OUR_MESSAGE_ID.findall(raw[:5_000_000])]
    out.original_message_ids = list(dict.fromkeys(original_ids))[:50]

    ses = re.search(r"notificationType\W+(Bounce|Complaint|Delivery)", text[:50_000])
    if ses and ses.group(1) == "Delivery":
        out.kind = "auto_reply"
        out.reason = "delivery notification (Amazon SES), not a failure"
        return out

    # 1. ARF
    report_type = (
        (msg.get_param("report-type") or "") if msg.get_content_type() == "multipart/report" else ""
    )
    if (
        feedback_parts
        or str(report_type).lower() == "feedback-report"
        or bool(ses and ses.group(1) == "Complaint")
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
    failed: list[str] = []
    delayed: list[str] = []
    statuses: list[str] = []
    for dsn in dsn_parts:
        for group in _dsn_fields(dsn):
            action = str(group.get("Action") or "").strip().lower()
            status = str(group.get("Status") or "").strip()
            diag = str(group.get("Diagnostic-Code") or "").strip()
            addrs = []
            # Final-Recipient first; Original-Recipient is the address we sent
            # to when an alias was expanded on the way.
            for name in ("Final-Recipient", "Original-Recipient"):
                value = str(group.get(name) or "")
                addrs += [
                    a for a in _addresses_in(value.partition(";")[2] or value) if a not in addrs
                ]
            if not addrs:
                continue
            if status:
                statuses.append(status)
            if diag and not out.diagnostic:
                out.diagnostic = " ".join(diag.split())[:500]
            if action in {"delayed", "relayed", "delivered", "expanded"} or status.startswith("4"):
                delayed += addrs
            else:
                failed += addrs
    x_failed = _addresses_in(_header(msg, "X-Failed-Recipients"))
    daemon = _is_daemon(out.from_address, out.from_header, return_path)
    bounce_subject = bool(_BOUNCE_SUBJECT.search(out.subject))
    bounce_body = bool(_BOUNCE_BODY.search(text[:50_000]))
    sns_bounce = bool(ses and ses.group(1) == "Bounce")
    is_bounce = bool(
        dsn_parts
        or x_failed
        or sns_bounce
        or (daemon and (bounce_subject or bounce_body))
        or (bounce_subject and bounce_body)
    )
    if is_bounce:
        out.kind = "bounce"
        out.status = statuses[0] if statuses else ""
        own = {out.from_address, *(_addresses_in(_header(msg, "To")))}
        recipients = failed or x_failed
        if not recipients and not delayed:
            recipients = _body_recipients(text, own)
            if not recipients and sns_bounce:
                recipients = _addresses_in(
                    " ".join(re.findall(r"emailAddress\W+([^\"\\\s]+)", text))
                )
        out.failed_recipients = recipients or delayed
        out.permanent = bool(recipients) or not delayed
        if (
            not failed
            and not x_failed
            and re.search(
                r"delay|still being retried|will be retried|warning", out.subject, re.IGNORECASE
            )
        ):
            out.permanent = False
        signals = [
            name
            for name, on in (
                ("delivery-status part", bool(dsn_parts)),
                ("X-Failed-Recipients", bool(x_failed)),
                ("mail-system sender", daemon),
                ("bounce subject", bounce_subject),
                ("bounce wording", bounce_body),
                ("SES notification", sns_bounce),
            )
            if on
        ]
        kind = "permanent failure" if out.permanent else "delay warning"
        out.reason = f"bounce ({kind}; {', '.join(signals)})"
        out.original_notice_tokens = original_tokens
        return out

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

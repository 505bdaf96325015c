"""The IMAP poller against a small IMAP4rev1 server on loopback.

The server speaks just the commands the poller needs (LOGIN, SELECT, UID
SEARCH, UID FETCH, UID STORE, LOGOUT), over a real socket, so imapclient and
imaplib run unchanged.
"""

from __future__ import annotations

import re
import socketserver
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from takedown.notices.listener import ImapPoller
from takedown.notices.models import InboundKind, InboundMessage
from takedown.notices.tests.conftest import free_port

pytestmark = pytest.mark.concurrency

MAILBOX: dict[int, dict[str, Any]] = {}


class _Imap(socketserver.StreamRequestHandler):
    def send(self, line: str | bytes) -> None:
        self.wfile.write(line if isinstance(line, bytes) else line.encode() + b"\r\n")

    def handle(self) -> None:
        self.send("* OK IMAP4rev1 test server ready")
        while True:
            line = self.rfile.readline().decode().strip()
            if not line:
                return
            tag, _, rest = line.partition(" ")
            command = rest.upper()
            if command.startswith("CAPABILITY"):
                self.send("* CAPABILITY IMAP4rev1")
                self.send(f"{tag} OK done")
            elif command.startswith("LOGIN"):
                ok = '"secret"' in rest or " secret" in rest
                self.send(f"{tag} OK logged in" if ok else f"{tag} NO bad password")
            elif command.startswith("SELECT"):
                self.send(f"* {len(MAILBOX)} EXISTS")
                self.send("* FLAGS (\\Seen)")
                self.send(f"{tag} OK [READ-WRITE] selected")
            elif command.startswith("UID SEARCH"):
                unseen = [str(u) for u, m in MAILBOX.items() if not m["seen"]]
                self.send("* SEARCH " + " ".join(unseen))
                self.send(f"{tag} OK search done")
            elif command.startswith("UID FETCH"):
                uid = int(rest.split()[2])
                raw = MAILBOX[uid]["raw"]
                self.send(
                    f"* {uid} FETCH (UID {uid} BODY[] {{{len(raw)}}}".encode()
                    + b"\r\n"
                    + raw
                    + b")\r\n"
                )
                self.send(f"{tag} OK fetch done")
            elif command.startswith("UID STORE"):
                uid = int(rest.split()[2])
                MAILBOX[uid]["seen"] = True
                self.send(f"* {uid} FETCH (UID {uid} FLAGS (\\Seen))")
                self.send(f"{tag} OK store done")
            elif command.startswith("LOGOUT"):
                self.send("* BYE")
                self.send(f"{tag} OK bye")
                return
            else:
                self.send(f"{tag} BAD {re.sub(r'[^A-Z ]', '', command)[:20]} not supported")


@pytest.fixture
def imap_server() -> Iterator[int]:
    port = free_port()
    server = socketserver.ThreadingTCPServer(("127.0.0.1", port), _Imap)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield port
    server.shutdown()
    server.server_close()


def test_it_stores_unseen_messages_once_and_marks_them_seen(
    imap_server: int, transactional_db: Any
) -> None:
    MAILBOX.clear()
    MAILBOX[7] = {
        "raw": b"From: a@isp.example\r\nSubject: phishing\r\n\r\nhxxp://login[.]bank-i[.]example/\r\n",
        "seen": False,
    }
    MAILBOX[8] = {
        "raw": b"From: b@isp.example\r\nSubject: old\r\n\r\nalready read\r\n",
        "seen": True,
    }
    poller = ImapPoller(f"imap://takedown:secret@127.0.0.1:{imap_server}/INBOX")
    assert poller.poll() == 1
    assert MAILBOX[7]["seen"] is True
    inbound = InboundMessage.objects.get()
    assert inbound.source == "imap"
    assert bytes(inbound.raw) == MAILBOX[7]["raw"]
    assert inbound.kind == InboundKind.REPORT
    # Not marked seen by a crash: the next poll finds it again but does not store it twice.
    MAILBOX[7]["seen"] = False
    assert poller.poll() == 0
    assert InboundMessage.objects.count() == 1


def test_it_refuses_a_bad_url() -> None:
    with pytest.raises(ValueError):
        ImapPoller("http://mail.example/")

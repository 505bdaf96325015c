from __future__ import annotations

import re
import socket

from takedown.sandbox.core import Sandbox


def whois(port: int, query: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(query.encode() + b"\r\n")
        chunks = []
        while chunk := s.recv(4096):
            chunks.append(chunk)
    return b"".join(chunks)


def _refer(text: str, key: str = "refer") -> int:
    m = re.search(rf"^{key}:\s*127\.0\.0\.1:(\d+)\s*$", text, re.MULTILINE)
    assert m, text
    return int(m.group(1))


def test_it_refers_from_iana_to_the_registry(sandbox: Sandbox) -> None:
    text = whois(sandbox.whois_server[1], "127.6.0.52").decode()
    port = _refer(text)
    assert port == sandbox.whois_ports["ripe"]
    ripe = whois(port, "-B 127.6.0.52").decode()
    assert "inetnum:        127.6.0.0 - 127.6.255.255" in ripe
    assert "% Abuse contact for '127.6.0.0 - 127.6.255.255' is 'abuse@host-f.example'" in ripe
    assert "e-mail:         noc@host-f.example" in ripe
    asn = whois(sandbox.whois_server[1], "AS64505").decode()
    assert _refer(asn) == sandbox.whois_ports["arin"]


def test_it_answers_jpnic_in_iso_2022_jp(sandbox: Sandbox) -> None:
    raw = whois(sandbox.whois_ports["jpnic"], "127.1.0.10")
    assert b"\x1b$B" in raw  # the ISO-2022-JP escape into JIS X 0208
    assert b"\r\n" in raw  # JPNIC ends lines with CRLF, IANA and the RIRs with LF
    assert b"\r\n" not in whois(sandbox.whois_server[1], "127.1.0.10")
    text = raw.decode("iso-2022-jp")
    assert re.search(r"f\. \[組織名\]\s+例示ネットワーク株式会社", text)
    assert re.search(r"g\. \[Organization\]\s+Example Net A", text)
    assert re.search(r"b\. \[ネットワーク名\]\s+NETA-NET", text)
    assert re.search(r"o\. \[Abuse\]\s+abuse@net-a\.example", text)
    english = whois(sandbox.whois_ports["jpnic"], "127.1.0.10/e").decode("ascii")
    assert "[Network Number]             127.1.0.0/16" in english


def test_it_mirrors_jpnic_blocks_at_apnic_with_a_pointer(sandbox: Sandbox) -> None:
    text = whois(sandbox.whois_ports["apnic"], "127.3.0.40").decode()
    assert "source:         JPNIC" in text
    assert "abuse-mailbox:  hostmaster@nic.ad.jp" in text
    assert f"127.0.0.1:{sandbox.whois_ports['jpnic']} for WHOIS client" in text
    assert "abuse@corp-c.example" not in text


def test_it_serves_whois_only_organisations(sandbox: Sandbox) -> None:
    text = whois(sandbox.whois_ports["lacnic"], "127.7.0.54").decode()
    assert "abuse-c:" in text and "e-mail:      abuse@net-g.example" in text
    assert "ownerid:" in text


def test_it_says_no_match(sandbox: Sandbox) -> None:
    assert b"No match found for n + 127.6.0.1." in whois(
        sandbox.whois_ports["arin"], "n + 127.6.0.1"
    )
    assert b"%ERROR:101: no entries found" in whois(sandbox.whois_ports["ripe"], "127.5.0.1")
    assert "No match!!" in whois(sandbox.whois_ports["jpnic"], "127.6.0.1").decode("iso-2022-jp")
    assert b"IANA - Loopback" in whois(sandbox.whois_server[1], "127.200.0.1")


def test_it_refers_domains_to_the_registrar(sandbox: Sandbox) -> None:
    iana = whois(sandbox.whois_server[1], "bank-a.example").decode()
    registry = whois(_refer(iana), "bank-a.example").decode()
    assert "Registrar: Example Registrar, Inc." in registry
    port = _refer(registry, r"\s*Registrar WHOIS Server")
    registrar = whois(port, "bank-a.example").decode()
    assert "Registrar Abuse Contact Email: abuse@registrar.example" in registrar
    assert b"No match for" in whois(_refer(iana), "unknown.example")


def test_it_counts_queries(sandbox: Sandbox) -> None:
    before = sandbox.whois_queries["afrinic"]
    text = whois(sandbox.whois_ports["afrinic"], "127.8.0.55").decode()
    assert "remarks:        please send abuse reports to abuse@net-h.example" in text
    assert sandbox.whois_queries["afrinic"] == before + 1

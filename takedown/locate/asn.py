"""Offline IP address -> origin AS and announced prefix, from a pyasn/ipasn table.

The table is the ``ipasn`` text format written by pyasn's converter: comment
lines starting with ``;`` and one ``prefix<TAB>asn`` line per announced prefix,
IPv4 and IPv6 mixed, optionally gzip-compressed.  ``settings.ASN_TABLE`` names
the file; tests use the 2014 table in ``../shared/data/asn/``.

Layout: for each prefix length, a sorted array of network addresses and a
parallel array of AS numbers.  A lookup masks the address for every length
present (longest first) and bisects that length's array, so it costs about
25 C-level bisections: a few microseconds.  IPv4 arrays are ``array('I')``
(4 bytes per prefix, ~4 MB for 500k prefixes); IPv6 keeps Python ints.

Loading parses the text once (about half a second for 500k prefixes on a small
machine) and writes a binary copy next to the data directory; later loads of
the same file read that copy in a few milliseconds.  See docs/locate.md.
"""

from __future__ import annotations

import gzip
import hashlib
import ipaddress
import json
import logging
import operator
import socket
import threading
from array import array
from bisect import bisect_left
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

log = logging.getLogger(__name__)

_CACHE_MAGIC = b"TKDASN1\n"


class AsnTableError(ValueError):
    """The table file is missing or not in the ipasn format."""


@dataclass(frozen=True)
class AsnMatch:
    asn: int
    prefix: str


class AsnTable:
    def __init__(self) -> None:
        # prefix length -> (sorted network addresses, AS numbers)
        self._v4: dict[int, tuple[array[int], array[int]]] = {}
        self._v6: dict[int, tuple[list[int], list[int]]] = {}
        # (length, netmask, networks, AS numbers), longest prefix first
        self._v4_probe: list[tuple[int, int, array[int], array[int]]] = []
        self._v6_probe: list[tuple[int, int, list[int], list[int]]] = []
        self.source = ""

    def __len__(self) -> int:
        return sum(len(a) for a, _ in self._v4.values()) + sum(len(a) for a, _ in self._v6.values())

    # --- loading -------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path, *, cache_dir: Path | None = None) -> AsnTable:
        path = Path(path)
        try:
            stat = path.stat()
        except OSError as exc:
            raise AsnTableError(f"ASN table {path}: {exc.strerror or exc}") from None
        cache_file = None
        if cache_dir is not None:
            key = hashlib.sha256(
                f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()
            ).hexdigest()[:20]
            cache_file = cache_dir / f"asn-{key}.bin"
            table = cls._read_cache(cache_file)
            if table is not None:
                table.source = str(path)
                return table
        table = cls.parse(_read_text(path))
        table.source = str(path)
        if cache_file is not None:
            table._write_cache(cache_file)
        return table

    @classmethod
    def parse(cls, text: str) -> AsnTable:
        table = cls()
        groups4: dict[str, tuple[list[str], list[str]]] = {}
        groups6: dict[str, tuple[list[str], list[str]]] = {}
        count = 0
        # The hot loop: half a million lines, so only string partitions here;
        # the conversions to integers happen per prefix length below, in C.
        for line in text.splitlines():
            if not line or line[0] == ";":
                continue
            prefix, _, asn = line.partition("\t")
            addr, _, plen = prefix.partition("/")
            groups = groups6 if ":" in addr else groups4
            group = groups.get(plen)
            if group is None:
                group = groups[plen] = ([], [])
            group[0].append(addr)
            group[1].append(asn)
            count += 1
        if count == 0 and text.strip():
            raise AsnTableError("no prefixes found: not an ipasn table")
        try:
            for plen, (addrs, asns) in groups4.items():
                length = int(plen)
                if not 0 <= length <= 32:
                    raise AsnTableError(f"bad IPv4 prefix length /{plen}")
                nets = array("I")
                nets.frombytes(b"".join(map(socket.inet_aton, addrs)))
                if nets.itemsize != 4:  # pragma: no cover - every platform we run on
                    raise AsnTableError("array('I') is not 32-bit here")
                if array("I", [1]).tobytes() != b"\x00\x00\x00\x01":
                    nets.byteswap()
                numbers = array("I", map(int, asns))
                table._v4[length] = _sorted_pair(nets, numbers)
            for plen, (addrs, asns) in groups6.items():
                length = int(plen)
                if not 0 <= length <= 128:
                    raise AsnTableError(f"bad IPv6 prefix length /{plen}")
                ints = [int.from_bytes(socket.inet_pton(socket.AF_INET6, a), "big") for a in addrs]
                pairs = sorted(zip(ints, map(int, asns), strict=True))
                table._v6[length] = ([p[0] for p in pairs], [p[1] for p in pairs])
        except (OSError, ValueError) as exc:
            if isinstance(exc, AsnTableError):
                raise
            raise AsnTableError(f"not an ipasn table: {exc}") from None
        table._index()
        return table

    def _index(self) -> None:
        full4, full6 = (1 << 32) - 1, (1 << 128) - 1
        self._v4_probe = [
            (plen, (full4 << (32 - plen)) & full4, *self._v4[plen])
            for plen in sorted(self._v4, reverse=True)
        ]
        self._v6_probe = [
            (plen, (full6 << (128 - plen)) & full6, *self._v6[plen])
            for plen in sorted(self._v6, reverse=True)
        ]

    def _write_cache(self, cache_file: Path) -> None:
        header = {
            "v4": [[plen, len(nets)] for plen, (nets, _) in self._v4.items()],
            "v6": {str(plen): [nets, asns] for plen, (nets, asns) in self._v6.items()},
        }
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_file.with_suffix(".tmp")
            with tmp.open("wb") as fh:
                head = json.dumps(header).encode()
                fh.write(_CACHE_MAGIC + len(head).to_bytes(8, "big") + head)
                for nets, asns in self._v4.values():
                    fh.write(nets.tobytes())
                    fh.write(asns.tobytes())
            tmp.replace(cache_file)
        except OSError as exc:
            # The cache only saves time; a read-only data directory is fine.
            log.info("cannot write ASN table cache %s: %s", cache_file, exc)

    @classmethod
    def _read_cache(cls, cache_file: Path) -> AsnTable | None:
        try:
            data = cache_file.read_bytes()
        except OSError:
            return None
        try:
            if not data.startswith(_CACHE_MAGIC):
                return None
            pos = len(_CACHE_MAGIC)
            size = int.from_bytes(data[pos : pos + 8], "big")
            pos += 8
            header = json.loads(data[pos : pos + size])
            pos += size
            table = cls()
            for plen, n in header["v4"]:
                nets, asns = array("I"), array("I")
                nets.frombytes(data[pos : pos + 4 * n])
                pos += 4 * n
                asns.frombytes(data[pos : pos + 4 * n])
                pos += 4 * n
                table._v4[int(plen)] = (nets, asns)
            for plen, (nets6, asns6) in header["v6"].items():
                table._v6[int(plen)] = (list(nets6), list(asns6))
            if pos != len(data):
                return None
        except (ValueError, KeyError, TypeError):
            return None
        table._index()
        return table

    # --- lookups -------------------------------------------------------------

    def lookup(self, ip: str) -> AsnMatch | None:
        """The origin AS and the most specific announced prefix holding ``ip``."""
        try:
            if ":" in ip:
                value = int.from_bytes(socket.inet_pton(socket.AF_INET6, ip), "big")
                return self._lookup6(value)
            value = int.from_bytes(socket.inet_aton(ip), "big")
        except OSError:
            return None
        if ip.count(".") != 3:
            # inet_aton accepts "127.1"; only dotted quads are addresses here.
            return None
        for plen, mask, nets, asns in self._v4_probe:
            net = value & mask
            i = bisect_left(nets, net)
            if i < len(nets) and nets[i] == net:
                return AsnMatch(asns[i], f"{socket.inet_ntoa(net.to_bytes(4, 'big'))}/{plen}")
        return None

    def _lookup6(self, value: int) -> AsnMatch | None:
        for plen, mask, nets, asns in self._v6_probe:
            net = value & mask
            i = bisect_left(nets, net)
            if i < len(nets) and nets[i] == net:
                return AsnMatch(asns[i], f"{ipaddress.IPv6Address(net)}/{plen}")
        return None


def _sorted_pair(nets: array[int], asns: array[int]) -> tuple[array[int], array[int]]:
    # pyasn's converter writes prefixes in address order, so each length's
    # subsequence is already sorted; sort only when a hand-made file is not.
    if all(map(operator.le, nets, islice(nets, 1, None))):
        return nets, asns
    pairs = sorted(zip(nets, asns, strict=True))
    return array("I", (p[0] for p in pairs)), array("I", (p[1] for p in pairs))


def _read_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        return raw.decode("ascii")
    except OSError as exc:
        raise AsnTableError(f"ASN table {path}: {exc.strerror or exc}") from None
    except (EOFError, gzip.BadGzipFile, UnicodeDecodeError) as exc:
        raise AsnTableError(f"ASN table {path}: not an ipasn table ({exc})") from None


_loaded: dict[str, AsnTable] = {}
_lock = threading.Lock()


def asn_table() -> AsnTable | None:
    """The table named by ``settings.ASN_TABLE``, loaded once per process; None when unset."""
    from django.conf import settings

    path = settings.ASN_TABLE
    if not path:
        return None
    with _lock:
        table = _loaded.get(path)
        if table is None:
            table = AsnTable.load(path, cache_dir=Path(settings.DATA_DIR) / "cache")
            _loaded.clear()
            _loaded[path] = table
        return table

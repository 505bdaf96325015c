"""Benchmark: who failed, in sisimai's ~480 real bounces, beside flufl.bounce.

Runs ``takedown.notices.classify.classify_message`` over every bounce of
``../shared/data/eml/sisimai/`` (``lhost-*``, ``rhost-*``, ``rfc3464-*``) and
compares the failed recipients with the expectations read by hand in
``takedown/notices/tests/sisimai_expected.py``. Each mail counts once as:

- right-first: the first failed recipient is a right one;
- present: a right one is found, but not first;
- wrong: recipients are found, none of them right;
- missed: no recipient (or not recognised as a bounce).

Also: "all found" (every failed recipient of the mails that name several),
"permanence" (failure vs delay, where the mail says), and "success as failure"
(the delivery notifications in the corpus reported as failures).

The peer, in the same run: flufl.bounce's ``all_failures`` (Mailman's bounce
detectors). It returns unordered sets, so its "first" is right only when every
address it returns is right (whichever one a caller takes first is then right).

    .venv/bin/python bench/bounces.py [-v]
"""

from __future__ import annotations

import argparse
import email
import os
import platform
import sys
import time
from collections import Counter
from collections.abc import Callable
from email import policy
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from takedown.notices.classify import classify_message  # noqa: E402 - after the path tweak
from takedown.notices.tests import sisimai_expected as expected  # noqa: E402

CORPUS = REPO.parent / "shared" / "data" / "eml" / "sisimai"
SUCCESS = [name for name, kind in expected.NOT_BOUNCES.items() if kind == "auto_reply"]

# (ordered failed recipients, permanent?) of one raw mail
Reader = Callable[[bytes], tuple[list[str], bool | None]]


def ours(raw: bytes) -> tuple[list[str], bool | None]:
    found = classify_message(raw)
    if found.kind != "bounce":
        return [], None
    return found.failed_recipients, found.permanent


def flufl_bounce(raw: bytes) -> tuple[list[str], bool | None]:
    from flufl.bounce import all_failures

    temporary, permanent = all_failures(email.message_from_bytes(raw, policy=policy.compat32))

    def text(values: set[bytes] | set[str]) -> list[str]:
        return sorted(v.decode("utf-8", "replace") if isinstance(v, bytes) else v for v in values)

    addresses = text(permanent) + text(temporary)
    return [a.lower() for a in addresses], bool(permanent) if addresses else None


def verdict(name: str, found: list[str], ordered: bool) -> str:
    right = expected.recipients(name)
    spellings = {s for one in right for s in one}
    if not found:
        return "missed"
    if (found[0] in spellings) if ordered else all(a in spellings for a in found):
        return "right-first"
    if any(a in spellings for a in found):
        return "present"
    return "wrong"


def measure(reader: Reader, ordered: bool, verbose: bool) -> dict[str, object]:
    counts: Counter[str] = Counter()
    several = all_found = perm_total = perm_right = 0
    started = time.process_time()
    for name in sorted(expected.EXPECTED):
        found, permanent = reader((CORPUS / name).read_bytes())
        outcome = verdict(name, found, ordered)
        counts[outcome] += 1
        if verbose and outcome != "right-first":
            print(f"  {outcome:11} {name}: {found[:3]} want {expected.EXPECTED[name][0]}")
        right = expected.recipients(name)
        if len(right) > 1:
            several += 1
            all_found += all(any(s in found for s in one) for one in right)
        want = expected.EXPECTED[name][1]
        if want is not None and found:
            perm_total += 1
            perm_right += permanent is want
    cpu = time.process_time() - started
    success_as_failure = sum(1 for name in SUCCESS if reader((CORPUS / name).read_bytes())[0])
    return {
        **{k: counts[k] for k in ("right-first", "present", "wrong", "missed")},
        "all found": f"{all_found}/{several}",
        "permanence": f"{perm_right}/{perm_total}",
        "success as failure": f"{success_as_failure}/{len(SUCCESS)}",
        "cpu s": f"{cpu:.2f}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="list every miss")
    args = parser.parse_args()
    if not CORPUS.is_dir():
        sys.exit(f"corpus not found: {CORPUS}")
    total = len(expected.EXPECTED)
    try:
        import flufl.bounce

        peer = f"flufl.bounce {flufl.bounce.__version__}"
    except ImportError:
        sys.exit("flufl.bounce is not installed: .venv/bin/pip install -e '.[dev]'")
    rows = [
        ("takedown", measure(ours, ordered=True, verbose=args.verbose)),
        (peer, measure(flufl_bounce, ordered=False, verbose=args.verbose)),
    ]
    print(f"sisimai bounces with a hand-read failed recipient: {total}")
    columns = list(rows[0][1])
    print(f"{'':22}" + "".join(f"{c:>20}" for c in columns))
    for label, row in rows:
        cells = []
        for column in columns:
            value = row[column]
            cells.append(f"{value} ({value / total:.1%})" if isinstance(value, int) else value)
        print(f"{label:22}" + "".join(f"{c:>20}" for c in cells))
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} cpus, {platform.platform()}, "
        f"Python {platform.python_version()}"
    )


if __name__ == "__main__":
    main()

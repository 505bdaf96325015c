"""Make a URL safe to show or send: it stays readable but is not a live link."""

from __future__ import annotations

import re

_SCHEME = re.compile(r"^(h)(tt)(ps?)(://)", re.IGNORECASE)


def defang(url: str) -> str:
    """``http://a.example/x`` -> ``hxxp://a[.]example/x``.

    Only the scheme and the dots of the host are changed, the way CSIRTs write
    URLs in tickets and notices, so the text can be refanged unambiguously.
    """
    rest = _SCHEME.sub(lambda m: f"{m.group(1)}xx{m.group(3)}{m.group(4)}", url, count=1)
    scheme, sep, tail = rest.partition("://")
    if not sep:
        return rest.replace(".", "[.]")
    host, slash, path = tail.partition("/")
    return f"{scheme}://{host.replace('.', '[.]')}{slash}{path}"

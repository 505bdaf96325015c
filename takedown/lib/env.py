"""Typed readers for settings taken from the environment.

Each reader fails loudly (``ImproperlyConfigured``) on a value it cannot parse,
so a typo in a deployment stops the service at start instead of silently
falling back to a default.  Secrets can be given as ``NAME`` or as ``NAME_FILE``
(a path whose content is the secret), the convention of container platforms.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={raw!r} is not a boolean (use 1/0, true/false, yes/no)")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not an integer") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} is below the minimum {minimum}")
    return value


def env_float(name: str, default: float, *, minimum: float | None = None) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}={raw!r} is not a number") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name}={value} is below the minimum {minimum}")
    return value


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_int_list(name: str, default: list[int], *, minimum: int | None = None) -> list[int]:
    """Comma-separated integers; any item that is not one stops the start."""
    raw = os.environ.get(name)
    if raw is None:
        return list(default)
    values = []
    for item in (part.strip() for part in raw.split(",")):
        if not item:
            continue
        try:
            value = int(item)
        except ValueError:
            raise ImproperlyConfigured(f"{name}: {item!r} is not an integer") from None
        if minimum is not None and value < minimum:
            raise ImproperlyConfigured(f"{name}: {value} is below the minimum {minimum}")
        values.append(value)
    return values


def env_secret(name: str, default: str = "") -> str:
    """Read a secret from ``NAME`` or from the file named by ``NAME_FILE``."""
    file_name = os.environ.get(f"{name}_FILE")
    if file_name:
        try:
            return Path(file_name).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_name!r} cannot be read: {exc}") from None
    return os.environ.get(name, default)


def env_choice(name: str, default: str, choices: set[str]) -> str:
    value = os.environ.get(name, default).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name}={value!r} is not one of {sorted(choices)}")
    return value


def env_hostport(name: str, default: str = "") -> tuple[str, int] | None:
    """Parse ``host:port`` (``[v6]:port`` too); ``None`` when unset."""
    raw = os.environ.get(name, default).strip()
    if not raw:
        return None
    host, sep, port = raw.rpartition(":")
    if not sep or not port.isdigit():
        raise ImproperlyConfigured(f"{name}={raw!r} is not host:port")
    return host.strip("[]"), int(port)

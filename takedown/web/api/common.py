"""What every API resource shares: pages with a total, strict JSON, error bodies."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from ninja import Field, Schema
from ninja.parser import Parser
from pydantic import AfterValidator

from takedown.lib.ids import MAX_ID

T = TypeVar("T")
MAX_LIMIT = 1000


class StrictJSONParser(Parser):
    """JSON that PostgreSQL and the mail code can store as text, or a 400.

    ``json.loads`` accepts lone surrogates (``"\\ud800"``) and NUL characters;
    neither can be encoded to UTF-8 text in the database, so a body carrying
    them is refused here instead of failing half way through a service.
    """

    def parse_body(self, request: HttpRequest) -> Any:
        data = json.loads(request.body)
        _check_strings(data)
        return data


def _check_strings(value: Any) -> None:
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            item.encode("utf-8")  # UnicodeEncodeError (a ValueError) on a lone surrogate
            _no_nul(item)
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("NUL characters are not accepted")
    return value


# A text query parameter: Django has decoded it already (invalid UTF-8 becomes
# U+FFFD), so only NUL, which PostgreSQL refuses in a query, is left to check.
Text = Annotated[str, AfterValidator(_no_nul)]
Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT, description=f"at most {MAX_LIMIT}")]
Offset = Annotated[int, Field(ge=0, le=2**31)]
# An object's id as given by a client: the range of a BigAutoField, so that a
# huge number is a 422, not an overflow in the database driver.
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Asn = Annotated[int, Field(ge=0, le=2**32 - 1)]


def _utc(value: datetime) -> datetime:
    # PostgreSQL refuses UTC offsets beyond 15:59 that Python accepts (up to
    # 23:59), and a naive time is the service's: so every moment goes to the
    # database in UTC, and one that has no UTC equivalent (year 0) is a 422.
    if timezone.is_naive(value):
        value = timezone.make_aware(value)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("out of range") from None


Moment = Annotated[datetime, AfterValidator(_utc)]


class Page(Schema, Generic[T]):
    """One page of a list: ``count`` is the total over all pages."""

    count: int
    limit: int
    offset: int
    items: list[T]


class ErrorOut(Schema):
    detail: str


def page_of(qs: QuerySet[Any], *, limit: int, offset: int, out: Any) -> dict[str, Any]:
    """``qs`` sliced to one page, each row through ``out``, with the total."""
    return {
        "count": qs.count(),
        "limit": limit,
        "offset": offset,
        "items": [out(row) for row in qs[offset : offset + limit]],
    }

"""What every API resource shares: pages with a total, strict JSON, error bodies."""

from __future__ import annotations

import json
from typing import Annotated, Any, Generic, TypeVar

from django.db.models import QuerySet
from django.http import HttpRequest
from ninja import Field, Schema
from ninja.parser import Parser
from pydantic import AfterValidator

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

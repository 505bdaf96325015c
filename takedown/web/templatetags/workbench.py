"""``{% load workbench %}``: events as sentences, labels for codes, action forms."""

from __future__ import annotations

from typing import Any

from django import template

from takedown.web.texts import ours
from takedown.web.timeline import (
    actor_name,
    check_agent,
    check_text,
    event_label,
    event_sentence,
)

register = template.Library()


@register.filter
def sentence(event: Any) -> str:
    return event_sentence(event)


@register.filter
def kind_label(kind: str) -> str:
    return event_label(kind)


@register.filter
def actor(value: str) -> str:
    return actor_name(value)


@register.filter(name="check_text")
def check_text_filter(check: Any) -> str:
    return check_text(check)


@register.filter(name="check_agent")
def check_agent_filter(agent: str) -> str:
    return check_agent(agent or "")


@register.filter(name="ours")
def ours_filter(text: str) -> str:
    """A text our code stored in English, in the reader's language (``takedown.web.texts``)."""
    return ours(text or "")

"""How the Django admin may change things: read-only, or through a service.

The admin is for admins only (``admin_site.py``); still, a bare ``save()``
there would change a site, a notice or an organisation with no trace on the
timeline.  So every model admin in the project is either ``ReadOnlyAdmin``
(state changes happen in the handler UI, through the services) or saves
through a service: ``AuditedAdmin`` for plain directory rows (reporters,
national CSIRTs) records each add, change and delete on the timeline with
``admin_change_record``; the organisations' admin calls ``organization_edit``.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db import transaction
from django.db.models import Model
from django.http import HttpRequest

from takedown.access.roles import request_actor


class ReadOnlyAdmin(admin.ModelAdmin):
    """Look, never touch: what changes these rows is a service called from the UI."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _plain(value: Any) -> Any:
    if isinstance(value, Model):
        return value.pk
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


def admin_change_record(
    *, obj: Model, action: str, actor: str, changes: dict[str, Any] | None = None
) -> None:
    """The timeline entry for an admin's add, change or delete of a directory row."""
    from takedown.cases.models import EventKind
    from takedown.cases.services import event_record

    kinds = {
        "added": EventKind.ADMIN_ADDED,
        "changed": EventKind.ADMIN_CHANGED,
        "deleted": EventKind.ADMIN_DELETED,
    }
    meta = obj._meta
    event_record(
        kind=kinds[action],
        actor=actor,
        message=str(obj)[:200],
        data={
            "model": meta.label_lower,
            meta.model_name or "object": obj.pk,
            "changes": changes or {},
        },
    )


class AuditedAdmin(admin.ModelAdmin):
    """Saves and deletes as usual, each with its timeline entry in the same transaction."""

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        before: dict[str, Any] = {}
        columns = {f.name for f in obj._meta.concrete_fields}
        changed = [name for name in form.changed_data if name in columns]
        if change and obj.pk is not None and changed:
            old = type(obj).objects.filter(pk=obj.pk).values(*changed).first() or {}
            before = {k: _plain(v) for k, v in old.items()}
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            changes = {
                name: {"from": before.get(name), "to": _plain(form.cleaned_data.get(name))}
                for name in changed
            }
            admin_change_record(
                obj=obj,
                action="changed" if change else "added",
                actor=request_actor(request),
                changes=changes,
            )

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        with transaction.atomic():
            admin_change_record(obj=obj, action="deleted", actor=request_actor(request))
            super().delete_model(request, obj)

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        with transaction.atomic():
            for obj in queryset:
                admin_change_record(obj=obj, action="deleted", actor=request_actor(request))
            super().delete_queryset(request, queryset)

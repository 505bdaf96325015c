from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from takedown.locate.models import Organization, OrgKind


class OrganizationEditForm(forms.Form):
    kind = forms.ChoiceField(label=_("Type"), choices=OrgKind.choices)
    language = forms.ChoiceField(label=_("Language for notices"), choices=settings.LANGUAGES)
    abuse_emails = forms.CharField(
        label=_("Abuse addresses"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("One address per line. Your addresses replace the registry's."),
    )
    note = forms.CharField(
        label=_("Note for the timeline"),
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    @classmethod
    def for_org(cls, org: Organization, data: Any = None) -> OrganizationEditForm:
        initial = {
            "kind": org.kind,
            "language": org.language,
            "abuse_emails": "\n".join(org.abuse_emails or []),
        }
        return cls(data=data, initial=initial)

    def changes(self, org: Organization) -> dict[str, Any]:
        """Only what the handler actually changed becomes an override."""
        out: dict[str, Any] = {}
        if self.cleaned_data["kind"] != org.kind:
            out["kind"] = self.cleaned_data["kind"]
        if self.cleaned_data["language"] != org.language:
            out["language"] = self.cleaned_data["language"]
        emails = [
            line.strip().lower()
            for line in self.cleaned_data["abuse_emails"].replace(",", "\n").splitlines()
            if line.strip()
        ]
        if emails != list(org.abuse_emails or []):
            out["abuse_emails"] = emails
        return out

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from takedown.intake.models import TLP, Purpose, ReporterKind


class ReportForm(forms.Form):
    text = forms.CharField(
        label=_("URLs or text of the report"),
        widget=forms.Textarea(attrs={"rows": 8, "spellcheck": "false"}),
        help_text=_("Defanged URLs (hxxp, [.]) are understood."),
    )
    kind = forms.ChoiceField(
        label=_("Site type"), choices=[("phishing", _("phishing")), ("malware", _("malware"))]
    )
    brand = forms.CharField(label=_("Impersonated brand"), required=False, max_length=200)
    reporter_name = forms.CharField(label=_("Reporter"), required=False, max_length=200)
    reporter_email = forms.EmailField(label=_("Reporter e-mail"), required=False)
    reporter_type = forms.ChoiceField(label=_("Reporter type"), choices=ReporterKind.choices)
    reporter_country = forms.CharField(
        label=_("Reporter country"), required=False, max_length=2, help_text=_("ISO code, e.g. JP")
    )
    purpose = forms.ChoiceField(
        label=_("Purpose"), choices=Purpose.choices, initial=Purpose.REQUEST
    )
    tlp = forms.ChoiceField(label="TLP", choices=TLP.choices, initial=TLP.AMBER)

"""Evidence as handlers see it: screenshots as images, pages as downloads, never rendered.

Every view needs a login.  The HTML a phishing kit served is returned as an
attachment with a neutral type, so a browser saves it instead of running it.
"""

from __future__ import annotations

from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404

from takedown.access.roles import Role, role_required
from takedown.monitor.models import Evidence


@role_required(Role.VIEWER)
def evidence_screenshot(request: HttpRequest, evidence_id: int) -> FileResponse:
    evidence = get_object_or_404(Evidence.objects.defer("body"), pk=evidence_id)
    if not evidence.screenshot:
        raise Http404("no screenshot")
    response = FileResponse(evidence.screenshot.open("rb"), content_type="image/png")
    response["Cache-Control"] = "private, max-age=3600"
    return response


@role_required(Role.VIEWER)
def evidence_body(request: HttpRequest, evidence_id: int) -> HttpResponse:
    evidence = get_object_or_404(Evidence, pk=evidence_id)
    response = HttpResponse(bytes(evidence.body), content_type="application/octet-stream")
    response["Content-Disposition"] = (
        f'attachment; filename="site{evidence.site_id}-evidence{evidence.pk}.html.txt"'
    )
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@role_required(Role.HANDLER)
def evidence_sample(request: HttpRequest, evidence_id: int) -> FileResponse:
    evidence = get_object_or_404(Evidence.objects.defer("body"), pk=evidence_id)
    if not evidence.sample:
        raise Http404("no sample kept")
    return FileResponse(
        evidence.sample.open("rb"),
        as_attachment=True,
        filename=f"{evidence.sha256 or 'sample'}.zip",
        content_type="application/zip",
    )

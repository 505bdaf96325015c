from django.urls import path

from takedown.monitor import views

urlpatterns = [
    path(
        "evidence/<int:evidence_id>/screenshot.png",
        views.evidence_screenshot,
        name="evidence_screenshot",
    ),
    path("evidence/<int:evidence_id>/body", views.evidence_body, name="evidence_body"),
    path("evidence/<int:evidence_id>/sample", views.evidence_sample, name="evidence_sample"),
]

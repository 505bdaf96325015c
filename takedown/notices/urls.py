from django.urls import path

from takedown.notices import views

urlpatterns = [
    path("", views.notice_list, name="notice_list"),
    path("<int:notice_id>/", views.notice_detail, name="notice_detail"),
    path("<int:notice_id>/close", views.notice_close, name="notice_close"),
    path("<int:notice_id>/resend", views.notice_resend_view, name="notice_resend"),
    path("<int:notice_id>/answer", views.notice_answer_view, name="notice_answer"),
    path("inbound/", views.inbound_list, name="inbound_list"),
    path("inbound/<int:inbound_id>/", views.inbound_detail, name="inbound_detail"),
    path("inbound/<int:inbound_id>/raw", views.inbound_raw, name="inbound_raw"),
    path("inbound/<int:inbound_id>/link", views.inbound_link_view, name="inbound_link"),
    path("inbound/<int:inbound_id>/report", views.inbound_to_report_view, name="inbound_to_report"),
    path("inbound/<int:inbound_id>/handled", views.inbound_handled_view, name="inbound_handled"),
    path("inbound/<int:inbound_id>/answer", views.inbound_answer_view, name="inbound_answer"),
    path("bad-addresses/", views.bad_address_list, name="bad_address_list"),
    path(
        "bad-addresses/<int:bad_id>/allow", views.bad_address_allow_view, name="bad_address_allow"
    ),
]

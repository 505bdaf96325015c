from django.urls import path

from takedown.notices import views

urlpatterns = [
    path("", views.notice_list, name="notice_list"),
    path("<int:notice_id>/", views.notice_detail, name="notice_detail"),
    path("<int:notice_id>/close", views.notice_close, name="notice_close"),
    path("inbound/", views.inbound_list, name="inbound_list"),
    path("inbound/<int:inbound_id>/", views.inbound_detail, name="inbound_detail"),
    path("inbound/<int:inbound_id>/raw", views.inbound_raw, name="inbound_raw"),
    path("bad-addresses/", views.bad_address_list, name="bad_address_list"),
    path(
        "bad-addresses/<int:bad_id>/allow", views.bad_address_allow_view, name="bad_address_allow"
    ),
]

from django.urls import path

from takedown.cases import views

urlpatterns = [
    path("sites/", views.site_list, name="site_list"),
    path("sites/bulk", views.site_bulk, name="site_bulk"),
    path("sites/<int:site_id>/", views.site_detail, name="site_detail"),
    path("sites/<int:site_id>/act", views.site_act, name="site_act"),
    path("incidents/", views.incident_list, name="incident_list"),
    path("incidents/<int:incident_id>/", views.incident_detail, name="incident_detail"),
    path("incidents/<int:incident_id>/merge", views.incident_merge_view, name="incident_merge"),
]

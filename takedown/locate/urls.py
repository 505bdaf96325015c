from django.urls import path

from takedown.locate import views

app_name = "locate"

urlpatterns = [
    path("", views.org_list, name="org_list"),
    path("<int:org_id>/", views.org_detail, name="org_detail"),
    path("<int:org_id>/reset", views.org_reset, name="org_reset"),
]

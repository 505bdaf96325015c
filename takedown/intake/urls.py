from django.urls import path

from takedown.intake import views

urlpatterns = [
    path("", views.reporter_list, name="reporter_list"),
    path("<int:reporter_id>/", views.reporter_detail, name="reporter_detail"),
]

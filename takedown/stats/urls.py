from django.urls import path

from takedown.stats import views

app_name = "stats"

urlpatterns = [
    path("", views.index, name="index"),
    path("more/", views.more, name="more"),
    path("chart/<slug:name>.<slug:fmt>", views.chart, name="chart"),
    path("csv/<slug:name>.csv", views.table_csv_view, name="csv"),
]

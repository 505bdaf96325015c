from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from takedown.web import accounts, audit, preferences, views
from takedown.web.api import api

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("queue/", views.queue_page, name="queue"),
    path("preferences/timezone", preferences.set_timezone, name="set_timezone"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("", include("takedown.cases.urls")),
    path("reporters/", include("takedown.intake.urls")),
    path("reports/new", views.report_new, name="report_new"),
    path("reports/<int:report_id>/", views.report_detail, name="report_detail"),
    path("reports/<int:report_id>/raw", views.report_raw, name="report_raw"),
    path("audit/", audit.audit, name="audit"),
    path("users/", accounts.user_list, name="user_list"),
    path("users/<int:user_id>/", accounts.user_detail, name="user_detail"),
    path("tokens/<int:token_id>/revoke", accounts.token_revoke_view, name="token_revoke"),
    path("stats/", include("takedown.stats.urls")),
    path("notices/", include("takedown.notices.urls")),
    path("monitor/", include("takedown.monitor.urls")),
    path("orgs/", include("takedown.locate.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
]

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("analytics/", include("analytics.urls")),
    path("staff/", include("chat.staff_urls")),
    path("", include("chat.urls")),
]

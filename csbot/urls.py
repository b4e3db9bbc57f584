from django.contrib import admin
from django.contrib.auth.views import LoginView
from django.urls import include, path

from chat.forms import AdminSignInForm, StaffSignInForm

# Both sign-in pages throttle password guessing (chat/sign_in_throttle.py).
admin.site.login_form = AdminSignInForm

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", LoginView.as_view(authentication_form=StaffSignInForm), name="login"),
    path("accounts/", include("django.contrib.auth.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("analytics/", include("analytics.urls")),
    path("staff/", include("chat.staff_urls")),
    path("", include("chat.urls")),
]

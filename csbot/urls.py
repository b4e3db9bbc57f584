from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponseRedirect
from django.templatetags.static import static
from django.urls import include, path

from chat.forms import AdminSignInForm, StaffSignInForm

# Both sign-in pages throttle password guessing (chat/sign_in_throttle.py).
admin.site.login_form = AdminSignInForm

# Django's auth views without password reset: csbot offers none and sends no email (an
# admin sets a forgotten password). Left in, the reset form let any visitor have reset
# links mailed to a staff address at will where a mail server listens, and where none
# does, write an error with a traceback to the log for each address of a staff account.
accounts = [
    path("login/", auth_views.LoginView.as_view(authentication_form=StaffSignInForm), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password_change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("password_change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
]


def favicon(request: HttpRequest) -> HttpResponseRedirect:
    """Browsers ask for /favicon.ico on any page that links no icon (a 404, a console error and
    a log WARNING each time, before the admin linked one): the pages' own icon answers."""
    return HttpResponseRedirect(static("chat/favicon.svg"))


urlpatterns = [
    path("favicon.ico", favicon),
    path("admin/", admin.site.urls),
    path("accounts/", include(accounts)),
    path("i18n/", include("django.conf.urls.i18n")),
    path("analytics/", include("analytics.urls")),
    path("staff/", include("chat.staff_urls")),
    path("", include("chat.urls")),
]

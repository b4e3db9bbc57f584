from django.urls import path

from chat import views

app_name = "chat"

urlpatterns = [
    path("", views.player_page, name="player"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
]

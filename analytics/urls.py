from django.urls import path

from analytics import views

app_name = "analytics"

urlpatterns = [
    path("", views.overview, name="overview"),
    path("intents/", views.intents, name="intents"),
    path("sentiment/", views.sentiment, name="sentiment"),
    path("agents/", views.agents, name="agents"),
    path("gaps/", views.gaps, name="gaps"),
    path("chats/", views.chats, name="chats"),
    path("anomalies/", views.anomalies_page, name="anomalies"),
]

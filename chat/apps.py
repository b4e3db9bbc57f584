from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = "Chat"

    def ready(self) -> None:
        from csbot.deploy_checks import see_subclassed_middleware

        see_subclassed_middleware()

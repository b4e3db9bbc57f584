"""Managers keep the bot's brain in the admin: knowledge documents, intents, facts and tools.

chat/migrations/0005_staff_permissions.py gave the `manager` group the chat models only,
so the admin showed managers no "Bot brain" section. Knowledge chunks are left out: the
indexing task writes them from the documents, and the admin does not list them.
"""

from django.db import migrations

from csbot.permissions import app_permissions

MODELS = ["knowledgedocument", "intent", "fact", "tool"]
MANAGER = [f"{action}_{model}" for model in MODELS for action in ("view", "add", "change", "delete")]


def grant(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    group, _ = Group.objects.get_or_create(name="manager")
    group.permissions.add(*app_permissions(apps, "agents", MANAGER))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    group = Group.objects.filter(name="manager").first()
    if group:
        group.permissions.remove(*app_permissions(apps, "agents", MANAGER))


class Migration(migrations.Migration):
    dependencies = [
        ("agents", "0005_plural_names"),
        ("chat", "0005_staff_permissions"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(grant, revoke)]

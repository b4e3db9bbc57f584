"""What each role may do in the Django admin.

Agents read conversations, messages, players and the audit trail. Managers also
export conversations and set agents' capacity. Superusers can do everything anyway.
"""

from django.db import migrations

from csbot.permissions import app_permissions

AGENT = [
    "view_conversation",
    "view_message",
    "view_player",
    "view_conversationevent",
    "view_agentprofile",
]
MANAGER = [*AGENT, "export_conversation", "change_agentprofile"]


def grant(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    for name, codenames in (("agent", AGENT), ("manager", MANAGER)):
        group, _ = Group.objects.get_or_create(name=name)
        group.permissions.add(*app_permissions(apps, "chat", codenames))


def revoke(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in (("agent", AGENT), ("manager", MANAGER)):
        group = Group.objects.filter(name=name).first()
        if group:
            group.permissions.remove(*Permission.objects.filter(content_type__app_label="chat", codename__in=codenames))


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0004_staff_handoff"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]
    operations = [migrations.RunPython(grant, revoke)]

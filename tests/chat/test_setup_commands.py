"""`csbot_setup` is what production runs every release; `demo_setup` adds the demo's
knowledge base and its staff logins, whose passwords are published."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import CommandError, call_command

from agents.models import Intent, KnowledgeDocument


def test_csbot_setup_puts_back_the_staff_groups_and_the_intents_and_creates_no_login(db):
    Group.objects.filter(name__in=["agent", "manager"]).delete()
    Intent.objects.all().delete()

    call_command("csbot_setup", verbosity=0)

    assert not User.objects.exists()
    assert not KnowledgeDocument.objects.exists()
    assert Intent.objects.exists()
    manager = Group.objects.get(name="manager").permissions.values_list("codename", flat=True)
    assert {"view_conversation", "export_conversation", "change_agentprofile"} <= set(manager)
    agent = Group.objects.get(name="agent").permissions.values_list("codename", flat=True)
    assert "view_conversation" in agent and "export_conversation" not in agent


def test_csbot_setup_leaves_intents_a_manager_edited(db):
    Intent.objects.update(label_en="ours")

    call_command("csbot_setup", verbosity=0)

    assert set(Intent.objects.values_list("label_en", flat=True)) == {"ours"}


def test_demo_setup_refuses_the_published_logins_with_debug_off(db, settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="--allow-demo-accounts"):
        call_command("demo_setup", verbosity=0)

    assert not User.objects.exists()
    assert not KnowledgeDocument.objects.exists()


@pytest.mark.parametrize("debug, args", [(True, []), (False, ["--allow-demo-accounts"])])
def test_demo_setup_creates_the_demo_logins_in_debug_or_when_allowed(db, settings, debug, args):
    settings.DEBUG = debug

    call_command("demo_setup", *args, verbosity=0)

    agent, manager = User.objects.get(username="agent"), User.objects.get(username="manager")
    assert agent.check_password("agent-demo-2026") and agent.groups.filter(name="agent").exists()
    assert manager.check_password("manager-demo-2026") and manager.groups.filter(name="manager").exists()
    assert manager.is_staff and not manager.is_superuser
    assert KnowledgeDocument.objects.exists()

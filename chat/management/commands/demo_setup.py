"""Loads what the demo needs: the knowledge base and the staff accounts.

Idempotent: the run command calls it on every start.
"""

from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import BaseCommand, call_command

from agents.demo_brain import seed_if_empty

DEMO_ACCOUNTS = [
    # username, password, group, first name
    ("agent", "agent-demo-2026", "agent", "Alice"),
    ("manager", "manager-demo-2026", "manager", "Mia"),
]


class Command(BaseCommand):
    help = "Load the demo knowledge base and the demo agent and manager accounts."

    def add_arguments(self, parser):
        parser.add_argument("--no-kb", action="store_true", help="skip the knowledge base")

    def handle(self, *args, no_kb: bool = False, **options):
        if not no_kb:
            kb_dir = Path(settings.BASE_DIR) / "agents" / "demo_kb"
            files = sorted(str(p) for p in kb_dir.iterdir() if p.suffix in {".md", ".txt", ".csv"})
            call_command("kb_import", *files, verbosity=0)
            self.stdout.write(f"Knowledge base: {len(files)} demo files loaded.")
        if seed_if_empty():
            self.stdout.write("Intents, facts and tools: the demo set loaded.")
        User = get_user_model()
        for username, password, group, first_name in DEMO_ACCOUNTS:
            user, created = User.objects.get_or_create(username=username, defaults={"first_name": first_name})
            if created:
                user.set_password(password)
                user.is_staff = True
                if group == "manager":
                    user.is_superuser = False
                user.save()
            user.groups.add(Group.objects.get_or_create(name=group)[0])
            if created:
                self.stdout.write(f"Created {group} account {username!r} (password {password!r}).")

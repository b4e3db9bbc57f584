"""Loads what the demo needs on top of `csbot_setup`: the demo knowledge base and
the demo staff accounts, whose passwords are published (README, run.sh).

Idempotent: the run command calls it on every start. Not for production: with
DEBUG off it refuses unless told `--allow-demo-accounts` (tests and the bench run
production settings on throwaway databases).
"""

from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import BaseCommand, CommandError, call_command

DEMO_ACCOUNTS = [
    # username, password, group, first name
    ("agent", "agent-demo-2026", "agent", "Alice"),
    ("manager", "manager-demo-2026", "manager", "Mia"),
]


class Command(BaseCommand):
    help = "Load the demo knowledge base and the demo agent and manager accounts (known passwords: not for production)."

    def add_arguments(self, parser):
        parser.add_argument("--no-kb", action="store_true", help="skip the knowledge base")
        parser.add_argument(
            "--allow-demo-accounts",
            action="store_true",
            help="create the demo accounts even with DEBUG off (a throwaway database only)",
        )

    def handle(self, *args, no_kb: bool = False, allow_demo_accounts: bool = False, **options):
        if not settings.DEBUG and not allow_demo_accounts:
            raise CommandError(
                "DEBUG is off: demo_setup would create staff logins whose passwords are published "
                "(agent/agent-demo-2026, manager/manager-demo-2026). In production run `csbot_setup` "
                "and create real accounts (README, Production); on a throwaway database pass --allow-demo-accounts."
            )
        call_command("csbot_setup", verbosity=0)
        if not no_kb:
            kb_dir = Path(settings.BASE_DIR) / "agents" / "demo_kb"
            files = sorted(str(p) for p in kb_dir.iterdir() if p.suffix in {".md", ".txt", ".csv"})
            call_command("kb_import", *files, verbosity=0)
            self.stdout.write(f"Knowledge base: {len(files)} demo files loaded.")
        User = get_user_model()
        for username, password, group, first_name in DEMO_ACCOUNTS:
            user, created = User.objects.get_or_create(username=username, defaults={"first_name": first_name})
            if created:
                user.set_password(password)
                user.is_staff = True
                user.save()
            user.groups.add(Group.objects.get(name=group))
            if created:
                self.stdout.write(f"Created {group} account {username!r} (password {password!r}).")

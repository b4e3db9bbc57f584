"""What every installation needs, production included: safe to run on every release.

The migrations create the staff groups, their permissions and the bot's intents,
facts and tools on a fresh database; this puts back what a flushed or restored
database, or a deleted group, lacks. It never creates a login and never touches
the knowledge base (`kb_import` loads yours; `demo_setup` loads the demo's).
"""

from importlib import import_module

from django.apps import apps
from django.core.management import BaseCommand

from agents.demo_brain import seed_if_empty

# The grant migration 0005 ran, with the live models: one list of what each role may do.
_staff_permissions = import_module("chat.migrations.0005_staff_permissions")


class Command(BaseCommand):
    help = "Ensure the staff groups (agent, manager) and their permissions, and the bot's intents if none exist."

    def handle(self, *args, **options):
        _staff_permissions.grant(apps, None)
        seeded = seed_if_empty()
        if options["verbosity"]:
            self.stdout.write("Staff groups: agent and manager, with their permissions.")
            if seeded:
                self.stdout.write("Intents, facts and tools: the starting set loaded (none existed).")

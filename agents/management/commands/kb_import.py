"""Import knowledge files into the bot's knowledge base.

Usage: python manage.py kb_import agents/demo_kb/ faq.csv manual.pdf
"""

from django.core.management import BaseCommand, CommandError

from agents.knowledge.importing import SUPPORTED_SUFFIXES, KnowledgeImportError, import_paths


class Command(BaseCommand):
    help = f"Import knowledge files ({', '.join(SUPPORTED_SUFFIXES)}) or directories of them."

    def add_arguments(self, parser):
        parser.add_argument("paths", nargs="+", metavar="FILE", help="a file, or a directory of files")

    def handle(self, *args, paths: list[str], **options):
        try:
            # Indexed here, not by a worker: README runs this before any worker starts, and an
            # operator who asks (`manage.py ask`) right after must find the documents.
            report = import_paths(paths, index_now=True)
        except KnowledgeImportError as exc:
            # CommandError prints one line to stderr and exits with status 1.
            raise CommandError(str(exc)) from exc
        for file in report.files:
            self.stdout.write(
                f"{file.path}: {file.created} created, {file.updated} updated, "
                f"{file.unchanged} unchanged, {file.deleted} deleted"
            )
        if len(report.files) > 1:
            self.stdout.write(
                f"total: {report.created} created, {report.updated} updated, "
                f"{report.unchanged} unchanged, {report.deleted} deleted"
            )

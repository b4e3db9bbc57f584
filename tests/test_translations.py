"""Everything csbot shows reads in Chinese too.

- The catalogue: `makemessages`, run on a copy of the code, finds no string that
  locale/zh_Hans lacks or only guesses (fuzzy). It once left 47 out, unnoticed.
- The admin: every label of our models that it shows (names, plurals, fields'
  names and help, choices) has its translation. Django's default plural of a
  Chinese name is the name with an "s": 会话s.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from django.apps import apps as django_apps
from django.contrib import admin
from django.utils import translation
from django.utils.functional import Promise

from tests.services import require_gettext

OUR_APPS = {"chat", "agents", "analytics"}
ROOT = Path(__file__).resolve().parent.parent
# Where translatable strings live: the apps, the project and the templates.
SOURCES = ["chat", "agents", "analytics", "csbot", "templates", "locale"]


def test_makemessages_finds_no_string_the_chinese_catalogue_lacks(tmp_path):
    require_gettext()
    for name in SOURCES:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    shutil.copy(ROOT / "manage.py", tmp_path)
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "--locale", "zh_Hans", "--no-obsolete", "--no-location"],
        cwd=tmp_path,
        check=True,
        capture_output=True,
        env={"PATH": "/usr/bin:/bin", "SQLITE_PATH": str(tmp_path / "db.sqlite3")},
    )
    po = tmp_path / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"
    lacking = []
    for option in ("--untranslated", "--only-fuzzy"):
        found = subprocess.run(["msgattrib", option, "--no-obsolete", str(po)], capture_output=True, text=True)
        lacking += [msgid for msgid in _msgids(found.stdout) if msgid]  # "": the catalogue's header
    assert not lacking, "strings without their Chinese in locale/zh_Hans (run makemessages):\n" + "\n".join(lacking)


def _msgids(po_text: str) -> list[str]:
    """The msgid of every entry of a .po file's text, its continued lines joined."""
    msgids, current = [], None
    for line in po_text.splitlines():
        if line.startswith("msgid "):
            current = [line[len("msgid ") :].strip('"')]
        elif current is not None and line.startswith('"'):
            current.append(line.strip('"'))
        elif current is not None:
            msgids.append("".join(current))
            current = None
    if current is not None:
        msgids.append("".join(current))
    return msgids


def admin_labels():
    for model in admin.site._registry:
        if model._meta.app_label not in OUR_APPS:
            continue
        name = model.__name__
        yield name, model._meta.verbose_name
        yield f"{name} (plural)", model._meta.verbose_name_plural
        for field in model._meta.get_fields():
            for attr in ("verbose_name", "help_text"):
                yield f"{name}.{field.name} {attr}", getattr(field, attr, None)
            for _value, label in getattr(field, "choices", None) or ():
                yield f"{name}.{field.name} choice", label


def test_every_admin_label_of_our_models_reads_in_chinese():
    untranslated = []
    for where, label in admin_labels():
        if not isinstance(label, Promise):  # a name Django made from the field's: not ours to translate
            continue
        with translation.override("en"):
            english = str(label)
        with translation.override("zh-hans"):
            chinese = str(label)
        if chinese == english or (chinese.endswith("s") and not chinese.isascii()):
            untranslated.append(f"{where}: {english!r} -> {chinese!r}")
    assert not untranslated, "\n".join(untranslated)


def test_every_field_of_our_models_in_the_admin_has_a_name_to_translate():
    """Without a verbose_name Django makes one from the field's ("Ttft ms"), English in every language."""
    unnamed = [
        f"{model.__name__}.{field.name}"
        for model in admin.site._registry
        if model._meta.app_label in OUR_APPS
        for field in model._meta.get_fields()
        if field.concrete and not field.auto_created and not isinstance(field.verbose_name, Promise)
    ]
    assert not unnamed, "give these a verbose_name with gettext_lazy: " + ", ".join(unnamed)


def test_the_admins_sections_of_our_apps_read_in_chinese():
    for app in sorted(OUR_APPS):
        name = django_apps.get_app_config(app).verbose_name
        with translation.override("zh-hans"):
            chinese = str(name)
        assert isinstance(name, Promise) and not chinese.isascii(), f"the {app} app's section: {chinese!r}"

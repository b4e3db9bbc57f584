"""Staff read the admin in Chinese too: every label of our models that the admin shows
(names, plurals, fields' names and help, choices) has its translation.

`makemessages` once left 47 of them out, and Django's default plural of a Chinese
name is the name with an "s": 会话s.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils import translation
from django.utils.functional import Promise

OUR_APPS = {"chat", "agents", "analytics"}


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

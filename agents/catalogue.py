"""The intents, facts and tools the bot works with, as plain data, one copy per process.

Loaded from the admin's tables (agents.models) together with the intent
classifier trained on them, and reloaded when a manager changes any of them:
each process checks at most every CHECK_SECONDS (a cheap count/max query).
Sync (ORM): the pipeline calls it in a worker thread.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from agents.cache import Rechecked
from agents.classifier import IntentClassifier
from agents.facts import FactSpec
from agents.tools import ToolSpec

CHECK_SECONDS = 5.0


@dataclass(frozen=True)
class IntentSpec:
    name: str
    label_en: str
    label_zh: str
    description: str
    action: str  # answer, tool, handoff (agents.models.Intent.Action)
    tool: ToolSpec | None = None
    facts: tuple[FactSpec, ...] = ()

    def label(self, language: str) -> str:
        return self.label_zh if language.startswith("zh") else self.label_en


@dataclass
class Catalogue:
    intents: dict[str, IntentSpec] = field(default_factory=dict)
    facts: dict[str, FactSpec] = field(default_factory=dict)
    tools: dict[str, ToolSpec] = field(default_factory=dict)
    classifier: IntentClassifier = field(default_factory=lambda: IntentClassifier({}))

    def menu(self) -> Catalogue:
        """The intents alone: what an LLM naming the intent is asked with. It crosses from
        a helper process (csbot/helper_pool.py), where the classifier would add 110 KB."""
        return Catalogue(intents=self.intents)


def get_catalogue() -> Catalogue:
    return _cached.get()


def invalidate() -> None:
    """Make the next call check the tables (the admin's save does; tests too)."""
    _cached.invalidate()


def _database_version() -> tuple:
    from django.db.models import Count, Max

    from agents.models import Fact, Intent, Tool

    out: tuple = ()
    for model in (Intent, Fact, Tool):
        out += tuple(model.objects.aggregate(n=Count("id"), last=Max("id"), changed=Max("updated_at")).values())
    return out


def _load() -> Catalogue:
    from agents.models import Fact, Intent, Tool

    facts = {fact.name: FactSpec.from_model(fact) for fact in Fact.objects.all()}
    tools = {tool.name: ToolSpec.from_model(tool) for tool in Tool.objects.filter(enabled=True)}
    intents: dict[str, IntentSpec] = {}
    examples: dict[str, list[str]] = {}
    for intent in Intent.objects.filter(enabled=True).select_related("tool").prefetch_related("required_facts"):
        intents[intent.name] = IntentSpec(
            name=intent.name,
            label_en=intent.label_en,
            label_zh=intent.label_zh,
            description=intent.description,
            action=intent.action,
            tool=tools.get(intent.tool.name) if intent.tool else None,
            facts=tuple(facts[f.name] for f in intent.required_facts.all()),
        )
        examples[intent.name] = intent.example_list()
    return Catalogue(intents, facts, tools, IntentClassifier(examples))


_cached: Rechecked[Catalogue] = Rechecked(_load, _database_version, every=CHECK_SECONDS)

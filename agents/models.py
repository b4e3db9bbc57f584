"""What the bot knows: the knowledge base it answers from."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

# --- Knowledge base -------------------------------------------------------------


class KnowledgeDocument(models.Model):
    """One article or FAQ entry, written by support staff and imported from a file."""

    class Language(models.TextChoices):
        CHINESE = "zh-hans", _("Simplified Chinese")
        ENGLISH = "en", _("English")
        UNKNOWN = "", _("Unknown")

    class IndexStatus(models.TextChoices):
        PENDING = "pending", _("pending")
        INDEXING = "indexing", _("indexing")
        READY = "ready", _("ready")
        FAILED = "failed", _("failed")

    title = models.CharField(_("title"), max_length=500)
    language = models.CharField(_("language"), max_length=10, choices=Language.choices, blank=True, default="")
    # Where the text came from: the file's resolved path, or "<path>#row-<n>" for a
    # spreadsheet row. Importing the same source again updates this row.
    source_key = models.CharField(_("source"), max_length=1000, unique=True)
    body = models.TextField(_("body"))
    # sha256 of title, body and chunking version: chunks are rewritten only when it changes.
    checksum = models.CharField(_("checksum"), max_length=64)
    # Only documents that are ready take part in retrieval.
    index_status = models.CharField(
        _("index status"), max_length=10, choices=IndexStatus.choices, default=IndexStatus.PENDING, db_index=True
    )
    indexed_at = models.DateTimeField(_("indexed at"), null=True, blank=True)
    # Why the last indexing failed (shown in the admin); empty when it did not.
    index_error = models.TextField(_("index error"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("knowledge document")
        verbose_name_plural = _("knowledge documents")
        ordering = ["title", "id"]

    def __str__(self) -> str:
        return self.title

    @property
    def source_id(self) -> str:
        """How a passage from this document is cited (Passage.source_id)."""
        return f"doc-{self.pk}"


class KnowledgeChunk(models.Model):
    """A passage of a document, a few hundred characters long: the unit of retrieval."""

    document = models.ForeignKey(KnowledgeDocument, on_delete=models.CASCADE, related_name="chunks")
    ordinal = models.PositiveIntegerField()
    text = models.TextField()
    # {"version": ..., "title": [...], "text": [...]}: the index terms, made once at
    # import so that building the in-memory index needs no tokenizing (jieba
    # takes some 15 s for 10,000 Chinese chunks). See agents/knowledge/index.py.
    terms = models.JSONField(default=dict, blank=True)
    # float32 vector from the embedding API (settings.EMBEDDING_PROVIDER), for hybrid retrieval.
    embedding = models.BinaryField(null=True, blank=True)

    class Meta:
        verbose_name = _("knowledge chunk")
        verbose_name_plural = _("knowledge chunks")
        ordering = ["document_id", "ordinal"]
        constraints = [
            models.UniqueConstraint(fields=["document", "ordinal"], name="agents_chunk_unique_ordinal"),
        ]

    def __str__(self) -> str:
        return f"{self.document_id}#{self.ordinal}"


# --- Understanding the player: facts, tools, intents ------------------------------


class Fact(models.Model):
    """Something the bot may need to know to help: an order number, a server, a device…

    A fact is taken from anything the player wrote (extract_pattern, or one of
    the choices), checked (pattern / choices) and stored on Conversation.facts.
    The `player_id` fact is special: the verified id from the game token fills
    it, and tools only ever use that verified id (agents/tools.py).
    """

    class FieldType(models.TextChoices):
        TEXT = "text", _("text")
        CHOICE = "choice", _("choice")

    name = models.SlugField(
        _("name"), max_length=64, unique=True, help_text=_("key in Conversation.facts, e.g. order_no")
    )
    label_en = models.CharField(_("label (English)"), max_length=100)
    label_zh = models.CharField(_("label (Chinese)"), max_length=100)
    question_en = models.CharField(_("question (English)"), max_length=300, help_text=_("how the bot asks for it"))
    question_zh = models.CharField(_("question (Chinese)"), max_length=300)
    field_type = models.CharField(_("field type"), max_length=10, choices=FieldType.choices, default=FieldType.TEXT)
    # The whole value must match (re.fullmatch, case-insensitive). Blank: anything non-empty.
    pattern = models.CharField(_("pattern"), max_length=300, blank=True)
    # Finds the value inside a longer message: group 1 (or the whole match) is the value.
    extract_pattern = models.CharField(_("extract pattern"), max_length=500, blank=True)
    # For choice facts: {"canonical value": ["synonym", ...]}, matched case-insensitively.
    choices = models.JSONField(_("choices"), default=dict, blank=True)
    placeholder = models.CharField(
        _("placeholder"), max_length=100, blank=True, help_text=_("example shown in the form field")
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("fact")
        verbose_name_plural = _("facts")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def label(self, language: str) -> str:
        return self.label_zh if language.startswith("zh") else self.label_en

    def question(self, language: str) -> str:
        return self.question_zh if language.startswith("zh") else self.question_en


class Tool(models.Model):
    """An HTTP endpoint of the company's systems the bot may call (agents/tools.py).

    `url` may hold `{GAME_BACKEND_URL}` (settings) and `{param}` placeholders.
    `params` maps each request parameter to the fact it is taken from; the
    `player_id` fact is always the conversation's verified player id.
    """

    class Method(models.TextChoices):
        GET = "GET", "GET"
        POST = "POST", "POST"

    name = models.SlugField(_("name"), max_length=64, unique=True)
    description = models.CharField(_("description"), max_length=500, help_text=_("what it does; the LLM reads this"))
    url = models.CharField(_("URL"), max_length=500)
    method = models.CharField(_("method"), max_length=6, choices=Method.choices, default=Method.GET)
    params = models.JSONField(
        _("parameters"), default=dict, blank=True, help_text=_('{"request parameter": "fact name"}')
    )
    timeout_seconds = models.FloatField(_("timeout (seconds)"), default=5.0)
    auth_header = models.CharField(_("auth header"), max_length=100, blank=True, help_text=_("e.g. Authorization"))
    auth_env = models.CharField(
        _("auth environment variable"),
        max_length=100,
        blank=True,
        help_text=_("environment variable holding the header's value"),
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("tool")
        verbose_name_plural = _("tools")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """The admin's check: its credential is one of TOOL_AUTH_ENV, for this URL's origin."""
        from agents.tool_credentials import credential_refusal

        if self.auth_env and (why := credential_refusal(self.auth_env, self.url)):
            raise ValidationError({"auth_env": why})


class Intent(models.Model):
    """What a player wants, learnt from example phrases; it ends in an action."""

    class Action(models.TextChoices):
        ANSWER = "answer", _("answer from the knowledge base")
        TOOL = "tool", _("call a tool")
        HANDOFF = "handoff", _("hand over to a human")

    name = models.SlugField(_("name"), max_length=64, unique=True)
    description = models.CharField(_("description"), max_length=500, blank=True)
    examples = models.TextField(_("examples"), help_text=_("example phrases, one per line, Chinese and English"))
    label_en = models.CharField(_("label (English)"), max_length=60, help_text=_("quick-reply button label"))
    label_zh = models.CharField(_("label (Chinese)"), max_length=60)
    required_facts = models.ManyToManyField(Fact, verbose_name=_("required facts"), blank=True, related_name="intents")
    action = models.CharField(_("action"), max_length=10, choices=Action.choices, default=Action.ANSWER)
    tool = models.ForeignKey(
        Tool, verbose_name=_("tool"), null=True, blank=True, on_delete=models.SET_NULL, related_name="intents"
    )
    enabled = models.BooleanField(_("enabled"), default=True)
    # Quick replies list intents in this order.
    position = models.PositiveIntegerField(_("position"), default=0)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("intent")
        verbose_name_plural = _("intents")
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def label_field(language: str) -> str:
        """The column holding the label in `language` (for a query naming many intents at once)."""
        return "label_zh" if language.startswith("zh") else "label_en"

    def label(self, language: str) -> str:
        return getattr(self, self.label_field(language))

    def example_list(self) -> list[str]:
        return [line.strip() for line in self.examples.splitlines() if line.strip()]

"""LLM_PROVIDER, its keys, INTENT_LLM and EMBEDDING_PROVIDER: a value csbot can't use stops it
at start-up, saying what to set. Before, `LLM_PROVIDER=erine`, or `ernie` without its keys,
started web processes that said they were ready and failed every player's answer, and
`INTENT_LLM=Off` still asked the LLM for the intent of every unclear question."""

from __future__ import annotations

from tests import servers

REFUSED = "django.core.exceptions.ImproperlyConfigured: "


def test_csbot_refuses_to_start_on_a_provider_it_does_not_have():
    assert servers.refusal_to_start(LLM_PROVIDER="erine") == (
        REFUSED + "LLM_PROVIDER is 'erine', a provider csbot does not have: set it to one of local, ernie, openai."
    )


def test_csbot_refuses_to_start_on_ernie_without_its_secret_key():
    assert servers.refusal_to_start(LLM_PROVIDER="ernie", ERNIE_API_KEY="ak") == (
        REFUSED + "LLM_PROVIDER is 'ernie', but ERNIE_SECRET_KEY is unset or empty: every answer would fail. "
        "Set it (README, Configuration)."
    )


def test_csbot_refuses_to_start_on_an_openai_compatible_api_without_its_key():
    assert servers.refusal_to_start(LLM_PROVIDER="openai", OPENAI_API_KEY="") == (
        REFUSED + "LLM_PROVIDER is 'openai', but OPENAI_API_KEY is unset or empty: every answer would fail. "
        "Set it (README, Configuration)."
    )


def test_a_provider_with_its_keys_starts_whatever_its_case():
    keys = {"ERNIE_API_KEY": "ak", "ERNIE_SECRET_KEY": "sk"}
    assert servers.setting_in_a_fresh_process("LLM_PROVIDER", LLM_PROVIDER="ERNIE", **keys) == "ernie"
    assert servers.setting_in_a_fresh_process("LLM_PROVIDER") == "local"


def test_intent_llm_off_in_capitals_is_off():
    assert servers.setting_in_a_fresh_process("INTENT_LLM", INTENT_LLM="Off") == "off"


def test_csbot_refuses_to_start_on_an_intent_llm_it_does_not_know():
    assert servers.refusal_to_start(INTENT_LLM="sometimes") == (
        REFUSED + "INTENT_LLM is 'sometimes', a value csbot does not know: set it to one of always, unsure, off."
    )


def test_csbot_refuses_to_start_on_an_embeddings_api_it_does_not_know_or_cannot_reach():
    assert servers.refusal_to_start(EMBEDDING_PROVIDER="bert") == (
        REFUSED + "EMBEDDING_PROVIDER is 'bert', an embeddings API csbot does not know: set it to one of ernie, openai."
    )
    assert servers.refusal_to_start(EMBEDDING_PROVIDER="openai") == (
        REFUSED + "EMBEDDING_PROVIDER is 'openai', but EMBEDDING_BASE_URL is unset or empty: "
        "every document would be indexed without embeddings. Set it (README, Configuration)."
    )

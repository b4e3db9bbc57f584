"""Fixtures for the bot's brain: the demo intents, facts and tools, present in every test."""

from __future__ import annotations

import pytest


@pytest.fixture
def demo_brain(db):
    """The demo intents, facts and tools (a flushed transactional test database loses them)."""
    from agents import catalogue
    from agents.demo_brain import seed_if_empty

    seed_if_empty()
    catalogue.invalidate()
    yield
    catalogue.invalidate()

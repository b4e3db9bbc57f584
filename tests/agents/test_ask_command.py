"""`manage.py ask`: an operator checks a provider's configuration from the shell."""

from __future__ import annotations

import pytest
from django.core.management import call_command

pytestmark = pytest.mark.django_db(transaction=True)


def test_ask_streams_the_answer_and_its_sources_and_exits_zero(demo_kb, capsys):
    call_command("ask", "How do I appeal a ban?")
    out = capsys.readouterr().out
    assert "appeal" in out.lower()
    assert "[1]" in out


def test_ask_through_ernie_prints_what_arrived_then_a_one_line_error_and_exits_one(ernie_settings, capsys):
    ernie_settings.configure(reply=["第一句已经到了。", "第二句不会到。"])
    ernie_settings.script("error_after_first_token", error_code=336100)

    with pytest.raises(SystemExit) as exited:
        call_command("ask", "充值没到账")

    captured = capsys.readouterr()
    assert exited.value.code == 1
    assert captured.out.startswith("第一句已经到了。")
    assert "第二句" not in captured.out
    errors = captured.err.strip().splitlines()
    assert len(errors) == 1 and errors[0].startswith("error: ernie provider failed:") and "336100" in errors[0]


def test_ask_with_bad_ernie_keys_says_so(ernie_settings, settings, capsys):
    settings.ERNIE_SECRET_KEY = "wrong"
    with pytest.raises(SystemExit):
        call_command("ask", "hello")
    assert "invalid_client" in capsys.readouterr().err

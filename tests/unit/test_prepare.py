"""`prepare_script`: the one preparation of a recording (variables, secrets, parsing, masking), no browser."""

from __future__ import annotations

import traceback
from typing import Any

import pytest

from runner.formats import InvalidScript, prepare_script
from runner.formats.steps import Fill, Navigate

SECRET = "pa55-Word-xyz"


def native(*steps: dict[str, Any]) -> dict[str, Any]:
    return {"version": 1, "name": "login", "steps": list(steps)}


def test_variables_and_secrets_are_substituted_before_parsing() -> None:
    data = native({"action": "navigate", "url": "${BASE}/login"},
                  {"action": "fill", "selector": "#email", "value": "${EMAIL}"},
                  {"action": "fill", "selector": "#password", "value": "${PASSWORD}"},
                  {"action": "fill", "selector": "#note", "value": "$${EMAIL} stays"})

    script = prepare_script(data, {"BASE": "http://shop.test", "EMAIL": "ada@example.com"}, {"PASSWORD": SECRET})

    assert script.steps[0] == Navigate(type="navigate", url="http://shop.test/login")
    assert isinstance(script.steps[1], Fill) and script.steps[1].value == "ada@example.com"
    assert isinstance(script.steps[2], Fill) and script.steps[2].value == SECRET
    assert isinstance(script.steps[3], Fill) and script.steps[3].value == "${EMAIL} stays"
    assert data["steps"][0]["url"] == "${BASE}/login"  # the recording itself is left as it was


def test_a_secret_wins_over_a_variable_of_the_same_name() -> None:
    data = native({"action": "navigate", "url": "http://shop.test/"},
                  {"action": "fill", "selector": "#password", "value": "${PASSWORD}"})
    script = prepare_script(data, {"PASSWORD": "variable"}, {"PASSWORD": SECRET})
    assert isinstance(script.steps[1], Fill) and script.steps[1].value == SECRET


def test_an_unknown_variable_names_its_field() -> None:
    data = native({"action": "navigate", "url": "http://shop.test/"},
                  {"action": "fill", "selector": "#email", "value": "${EMAIL}"})
    with pytest.raises(InvalidScript) as raised:
        prepare_script(data, {"BASE": "x"}, {})
    assert raised.value.field == "steps[1].value"
    assert "unknown variable ${EMAIL}" in raised.value.message and "BASE" in raised.value.message


def test_an_invalid_recording_is_refused_as_the_parser_says() -> None:
    with pytest.raises(InvalidScript) as raised:
        prepare_script(native({"action": "teleport"}), {}, {})
    assert raised.value.field == "steps[0].action"


@pytest.mark.parametrize("secret", [SECRET, 'with "quotes" and spaces', "a/b?c=d&e"])
def test_a_secret_value_never_appears_in_the_error(secret: str) -> None:
    # The secret lands in a URL the parser refuses, and the parser quotes the URL in its message.
    data = native({"action": "navigate", "url": "${PASSWORD}"})

    with pytest.raises(InvalidScript) as raised:
        prepare_script(data, {}, {"PASSWORD": secret})

    error = raised.value
    assert error.field == "steps[0].url"
    assert "***" in error.message
    shown = [str(error), repr(error), error.message, error.field, *map(str, error.args),
             "".join(traceback.format_exception(error))]
    assert all(secret not in text for text in shown), shown


def test_without_secrets_the_parser_error_is_passed_on_as_is() -> None:
    data = native({"action": "navigate", "url": "${PLACE}"})
    with pytest.raises(InvalidScript) as raised:
        prepare_script(data, {"PLACE": "ftp://files.test/"}, {})
    assert "ftp" in raised.value.message

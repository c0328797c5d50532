"""Unit tests of `${NAME}` substitution, secret resolution and masking (no browser)."""

import pytest

from runner.formats import InvalidScript, parse_script
from runner.formats.variables import MASK, SecretMasker, references, resolve_secrets, substitute


def test_substitutes_in_every_string_and_keeps_escapes() -> None:
    data = {"title": "t ${WHO}", "steps": [{"type": "change", "value": "${WHO}-$${WHO}", "selectors": [["#${ID}"]]}]}
    result = substitute(data, {"WHO": "ada", "ID": "name"})
    assert result == {"title": "t ada", "steps": [{"type": "change", "value": "ada-${WHO}", "selectors": [["#name"]]}]}
    assert data["title"] == "t ${WHO}"  # the input is left as it was
    assert references(data) == [("title", "WHO"), ("steps[0].value", "WHO"), ("steps[0].selectors[0][0]", "ID")]


def test_unknown_variable_names_the_field() -> None:
    with pytest.raises(InvalidScript) as caught:
        substitute({"steps": [{"url": "${HOST}/x"}]}, {"OTHER": "1"})
    assert caught.value.field == "steps[0].url"
    assert "${HOST}" in caught.value.message and "OTHER" in caught.value.message


def test_substituted_script_parses() -> None:
    data = {"version": 1, "name": "n", "steps": [{"action": "navigate", "url": "${BASE}/index.html"}]}
    script = parse_script(substitute(data, {"BASE": "http://127.0.0.1:1"}))
    assert script.steps[0].url == "http://127.0.0.1:1/index.html"  # type: ignore[attr-defined]


def test_secrets_come_only_from_prefixed_environment_variables() -> None:
    environ = {"REPRISE_SECRET_PASSWORD": "hunter2", "DATABASE_URL": "postgresql://x"}
    assert resolve_secrets(["PASSWORD"], environ) == {"PASSWORD": "hunter2"}
    with pytest.raises(LookupError, match="REPRISE_SECRET_DATABASE_URL"):
        resolve_secrets(["DATABASE_URL"], environ)


def test_masker_hides_every_spelling_of_a_secret() -> None:
    masker = SecretMasker(['p@ss "w" rd', "short"])
    text = 'typed p@ss "w" rd; json p@ss \\"w\\" rd; form p%40ss+%22w%22+rd; url p%40ss%20%22w%22%20rd; short'
    masked = masker.mask(text)
    assert "p@ss" not in masked and "%40" not in masked and "short" not in masked
    assert masked.count(MASK) == 5
    assert not SecretMasker([""]) and SecretMasker(["x"])

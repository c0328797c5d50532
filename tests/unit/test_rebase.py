"""Base URL override on parsed scripts (no browser)."""

import pytest

from runner.formats import InvalidScript, parse_script
from runner.formats.rebase import rebase_script


def test_urls_on_the_recorded_origin_move_and_others_stay() -> None:
    script = parse_script({"title": "t", "steps": [
        {"type": "navigate", "url": "https://staging.shop.test/cart?x=1#top"},
        {"type": "click", "selectors": [["#pay"]], "offsetX": 1, "offsetY": 1,
         "assertedEvents": [{"type": "navigation", "url": "https://staging.shop.test/paid", "title": ""}]},
        {"type": "navigate", "url": "https://payments.example/checkout"},
    ]})
    moved = rebase_script(script, "http://127.0.0.1:8123")
    assert moved.steps[0].url == "http://127.0.0.1:8123/cart?x=1#top"  # type: ignore[attr-defined]
    assert moved.steps[1].expect_navigation == "http://127.0.0.1:8123/paid"
    assert moved.steps[2].url == "https://payments.example/checkout"  # type: ignore[attr-defined]
    assert script.steps[0].url == "https://staging.shop.test/cart?x=1#top"  # type: ignore[attr-defined]
    prefixed = rebase_script(script, "https://ci.shop.test/pr-42/")
    assert prefixed.steps[0].url == "https://ci.shop.test/pr-42/cart?x=1#top"  # type: ignore[attr-defined]


def test_base_url_must_be_absolute() -> None:
    script = parse_script({"version": 1, "name": "n", "steps": [{"action": "navigate", "url": "http://a.test/"}]})
    with pytest.raises(InvalidScript, match="absolute"):
        rebase_script(script, "/relative")

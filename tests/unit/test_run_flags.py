"""`reprise run`'s flags become the run contract's options (reprise/run_command.py)."""

from __future__ import annotations

import argparse

import pytest

from reprise.run_command import _options, register


def parse(*flags: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers())
    return parser.parse_args(["run", "recording.json", *flags])


@pytest.mark.parametrize(("flags", "full_page"), [((), None), (("--full-page-screenshots",), True),
                                                  (("--no-full-page-screenshots",), False)])
def test_full_page_screenshots(flags: tuple[str, ...], full_page: bool | None) -> None:
    assert _options(parse(*flags)).screenshots_full_page is full_page


def test_mask_selectors() -> None:
    assert _options(parse("--mask", "#account", "--mask", ".card")).mask_selectors == ["#account", ".card"]
    assert _options(parse()).mask_selectors == []

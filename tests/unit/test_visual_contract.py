"""The native `screenshot` step's comparison fields, and the names and keys of contract/visual.py."""

from __future__ import annotations

import numpy as np
import pytest

from contract.visual import VisualBaselines, actual_name, parse_actual_name, png_size, viewport_key
from runner.formats import InvalidScript
from runner.formats.native import parse_native
from runner.formats.native_writer import to_native
from runner.formats.steps import Screenshot
from runner.replay.visual_diff import encode_png


def script(**shot: object) -> dict[str, object]:
    return {"version": 1, "name": "visual", "steps": [{"action": "navigate", "url": "https://example.test/"},
                                    {"action": "screenshot", "name": "home", **shot}]}


def test_compare_threshold_and_masks_reach_the_step_and_are_written_back() -> None:
    parsed = parse_native(script(compare=True, threshold=0.002, maxDiffPixels=25, maskSelectors=["#clock", ".ad"],
                                 fullPage=True))
    shot = parsed.steps[1]
    assert isinstance(shot, Screenshot)
    assert (shot.compare, shot.threshold, shot.max_diff_pixels, shot.mask_selectors, shot.full_page) == (
        True, 0.002, 25, ("#clock", ".ad"), True)
    written = to_native(parsed).document["steps"][1]
    assert written == {"action": "screenshot", "name": "home", "fullPage": True, "compare": True,
                       "threshold": 0.002, "maxDiffPixels": 25, "maskSelectors": ["#clock", ".ad"]}
    plain = parse_native(script()).steps[1]
    assert isinstance(plain, Screenshot) and not plain.compare and plain.threshold == 0.0
    assert to_native(parse_native(script())).document["steps"][1] == {"action": "screenshot", "name": "home"}


@pytest.mark.parametrize(("shot", "field"), [
    ({"threshold": 1.5}, "steps[1].threshold"),
    ({"maxDiffPixels": -1}, "steps[1].maxDiffPixels"),
    ({"maskSelectors": [""]}, "steps[1].maskSelectors[0]"),
])
def test_bad_comparison_fields_are_refused_naming_the_field(shot: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidScript) as raised:
        parse_native(script(compare=True, **shot))
    assert raised.value.field == field


def test_viewport_keys_and_actual_image_names() -> None:
    assert viewport_key(1280, 720) == "1280x720"
    assert viewport_key(390, 844, 3.0) == "390x844@3"
    assert viewport_key(800, 600, 1.5) == "800x600@1.5"
    assert actual_name(4, "390x844@3") == "visual-actual-004-390x844@3.png"
    assert parse_actual_name("visual-actual-004-390x844@3.png") == (4, "390x844@3")
    assert parse_actual_name("visual-diff-004-390x844.png") is None
    assert parse_actual_name("visual-actual-004-../x.png") is None


def test_png_size_reads_the_header() -> None:
    assert png_size(encode_png(np.zeros((7, 11, 3), dtype=np.uint8))) == (11, 7)
    assert png_size(b"GIF89a" + b"\0" * 30) is None


def test_baselines_by_step_and_viewport() -> None:
    baselines = VisualBaselines(images={(1, "800x400"): b"png"})
    assert baselines.baseline(1, "800x400") == b"png"
    assert baselines.baseline(1, "1280x720") is None
    assert not VisualBaselines(recording=False).recording

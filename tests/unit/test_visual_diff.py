"""The per-pixel difference of a screenshot and its baseline (runner/replay/visual_diff.py), on images made here."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageDraw

from runner.replay.visual_diff import (
    DIFF_RGB,
    Rect,
    SizeMismatch,
    compare_images,
    decode_png,
    encode_png,
)

WIDTH, HEIGHT = 200, 120


def canvas() -> Image.Image:
    image = Image.new("RGB", (WIDTH, HEIGHT), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    draw.rectangle((20, 20, 80, 60), fill=(30, 60, 200))
    draw.line((100, 10, 190, 100), fill=(0, 0, 0), width=3)
    return image


def png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def with_ten_pixels(image: Image.Image) -> Image.Image:
    changed = image.copy()
    for x in range(130, 140):  # 10 pixels in a flat white area
        changed.putpixel((x, 110), (200, 0, 0))
    return changed


def test_identical_images_do_not_differ() -> None:
    result = compare_images(png(canvas()), png(canvas()))
    assert (result.differing, result.anti_aliased) == (0, 0)
    assert (result.width, result.height) == (WIDTH, HEIGHT)
    assert not result.over(0.0)


def test_ten_changed_pixels_are_counted_and_shown_in_red() -> None:
    result = compare_images(png(canvas()), png(with_ten_pixels(canvas())))
    assert result.differing == 10
    assert result.over(0.0)
    assert result.over(0.0, max_diff_pixels=9)
    assert not result.over(0.0, max_diff_pixels=10)
    assert not result.over(10 / (WIDTH * HEIGHT))
    diff = decode_png(result.diff_png)
    assert diff.shape == (HEIGHT, WIDTH, 3)
    red = np.all(diff == DIFF_RGB, axis=2)
    assert int(red.sum()) == 10
    assert red[110, 130:140].all()
    # The rest is the actual image, faded: nothing else is red, and it is light.
    assert diff[5, 5].tolist() == [255, 255, 255]
    assert diff[40, 50].min() > 200


def antialiased_edge(offset: float) -> bytes:
    """A dark vertical edge at x = 50 + offset, its boundary pixel blended as a rasteriser anti-aliases it."""
    pixels = np.full((HEIGHT, WIDTH, 3), 255, dtype=np.uint8)
    edge = 50 + offset
    whole = int(edge)
    pixels[:, :whole] = 20
    coverage = edge - whole
    pixels[:, whole] = np.uint8(round(255 - (255 - 20) * coverage))
    return encode_png(pixels)


def test_an_edge_shifted_by_a_subpixel_is_anti_aliasing_not_a_difference() -> None:
    result = compare_images(antialiased_edge(0.2), antialiased_edge(0.7))
    assert result.differing == 0
    assert result.anti_aliased == HEIGHT  # the edge's column, every row: seen, forgiven
    diff = decode_png(result.diff_png)
    assert not np.all(diff == DIFF_RGB, axis=2).any()


def test_other_text_is_a_difference_not_anti_aliasing() -> None:
    def text(words: str) -> bytes:
        image = Image.new("RGB", (WIDTH, HEIGHT), (255, 255, 255))
        ImageDraw.Draw(image).text((10, 40), words, fill=(0, 0, 0))
        return png(image)

    assert compare_images(text("Reprise"), text("Reprise")).differing == 0
    assert compare_images(text("Reprise"), text("Replay!")).differing > 10


def test_a_change_inside_a_mask_is_not_counted() -> None:
    baseline, actual = png(canvas()), png(with_ten_pixels(canvas()))
    masked = compare_images(baseline, actual, masks=[Rect(x=125, y=105, width=20, height=10)])
    assert masked.differing == 0
    # A mask elsewhere hides nothing of the change.
    elsewhere = compare_images(baseline, actual, masks=[Rect(x=0, y=0, width=20, height=20)])
    assert elsewhere.differing == 10
    # A mask partly outside the image is clipped, not an error.
    clipped = compare_images(baseline, actual, masks=[Rect(x=120, y=100, width=500, height=500)])
    assert clipped.differing == 0


def test_images_of_different_sizes_are_not_compared() -> None:
    small = Image.new("RGB", (WIDTH, HEIGHT - 1), (255, 255, 255))
    with pytest.raises(SizeMismatch) as raised:
        compare_images(png(canvas()), png(small))
    assert str(raised.value) == (f"the screenshot is {WIDTH}x{HEIGHT - 1} pixels but its baseline is "
                                 f"{WIDTH}x{HEIGHT}: not compared")


def test_a_colour_change_in_a_flat_area_is_a_difference() -> None:
    changed = canvas()
    ImageDraw.Draw(changed).rectangle((20, 20, 80, 60), fill=(30, 60, 120))
    result = compare_images(png(canvas()), png(changed))
    assert result.differing == 61 * 41  # the whole filled rectangle, its edges included

"""POST /api/images with real PNG and JPEG files made in the test: every result is compared
with Pillow's own pipeline run here (exif_transpose, alpha over white, convert("L"),
resize with BOX, / 255), and with what the picture plainly shows (a bar is dark)."""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pytest
from api_testlib import ApiClient, Json, bar_image, encode_image, rejected
from PIL import Image, ImageOps

TOL = 1e-12
WHITE_BAR_ROW = [1.0, 1.0, 0.0, 0.0, 1.0, 1.0]  # a 60-px image with a bar over columns 20-39, in 6 cells


def reference(im: Image.Image, height: int = 6, width: int = 6, channels: int = 1) -> np.ndarray:
    """Pillow's pipeline computed in the test: (C, H, W) in [0, 1]."""
    im = ImageOps.exif_transpose(im) or im
    if channels == 1:
        return np.asarray(im.convert("L").resize((width, height), Image.Resampling.BOX), dtype=np.float64)[None] / 255
    rgb = np.asarray(im.convert("RGB").resize((width, height), Image.Resampling.BOX), dtype=np.float64) / 255
    return rgb.transpose(2, 0, 1)


def decoded(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def upload_ok(client: ApiClient, data: bytes, filename: str = "image.png", **form: Any) -> Json:
    ctype = "image/jpeg" if filename.endswith((".jpg", ".jpeg")) else "image/png"
    response = client.upload(data, filename, ctype, **form)
    assert response.status_code == 200, response.text
    return response.json()


def close(actual: Any, expected: Any, atol: float = TOL) -> None:
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    assert a.shape == e.shape, (a.shape, e.shape)
    np.testing.assert_allclose(a, e, rtol=0, atol=atol)


# ----------------------------------------------------------------------------- PNG, JPEG
def test_png_bar(client: ApiClient) -> None:
    im = bar_image(60, 60)
    body = upload_ok(client, encode_image(im, "PNG"), "bar.png")
    assert (body["channels"], body["height"], body["width"]) == (1, 6, 6)
    close(body["input"], reference(im))
    close(body["input"], [[WHITE_BAR_ROW] * 6])  # exactly: each cell averages 10x10 equal pixels
    assert body["source"] == {"format": "PNG", "width": 60, "height": 60, "mode": "L", "frames": 1,
                              "filename": "bar.png"}


def test_jpeg_bar(client: ApiClient) -> None:
    data = encode_image(bar_image(60, 60, "RGB"), "JPEG", quality=90)
    body = upload_ok(client, data, "bar.jpg")
    close(body["input"], reference(decoded(data)))  # same decoder, same numbers
    close(body["input"], [[WHITE_BAR_ROW] * 6], atol=0.05)  # and still a bar, JPEG noise aside
    assert body["source"]["format"] == "JPEG"
    assert body["source"]["mode"] == "RGB"


def test_non_square_resize_to_other_sizes(client: ApiClient) -> None:
    im = bar_image(90, 40)
    body = upload_ok(client, encode_image(im), height=4, width=9)
    assert (body["channels"], body["height"], body["width"]) == (1, 4, 9)
    assert np.shape(body["input"]) == (1, 4, 9)
    close(body["input"], reference(im, 4, 9))
    close(body["input"][0][0], [1, 1, 1, 0, 0, 0, 1, 1, 1])


@pytest.mark.parametrize(("height", "width"), [(1, 1), (64, 64), (64, 1)])
def test_size_limits_are_inclusive(client: ApiClient, height: int, width: int) -> None:
    im = Image.fromarray(np.random.default_rng(3).integers(0, 256, size=(128, 128), dtype=np.uint8), "L")
    body = upload_ok(client, encode_image(im), height=height, width=width)
    close(body["input"], reference(im, height, width))


def test_upsampling_a_small_image(client: ApiClient) -> None:
    im = Image.new("L", (2, 2), 255)
    im.putpixel((0, 0), 0)
    body = upload_ok(client, encode_image(im))
    close(body["input"], reference(im))
    assert body["input"][0][0][0] == 0.0 and body["input"][0][5][5] == 1.0


def test_rgb_with_three_channels(client: ApiClient) -> None:
    im = Image.new("RGB", (60, 30), (0, 0, 255))  # blue with a red bar
    im.paste((255, 0, 0), (20, 0, 40, 30))
    body = upload_ok(client, encode_image(im), channels=3, height=3)
    assert (body["channels"], body["height"], body["width"]) == (3, 3, 6)
    x = np.asarray(body["input"])
    assert x.shape == (3, 3, 6)
    close(x, reference(im, 3, 6, channels=3))
    close(x[0], [[0, 0, 1, 1, 0, 0]] * 3)  # channel 0 is red
    close(x[1], np.zeros((3, 6)))
    close(x[2], [[1, 1, 0, 0, 1, 1]] * 3)


def test_rgb_to_gray_uses_pillows_weights(client: ApiClient) -> None:
    im = Image.new("RGB", (6, 6), (200, 100, 50))
    body = upload_ok(client, encode_image(im))
    close(body["input"], reference(im))
    luma = (200 * 299 + 100 * 587 + 50 * 114) / 1000  # ITU-R 601, as Pillow's "L"
    assert abs(body["input"][0][0][0] * 255 - luma) <= 1


def test_grayscale_with_three_channels_repeats_the_plane(client: ApiClient) -> None:
    im = bar_image(60, 60)
    body = upload_ok(client, encode_image(im), channels=3)
    x = np.asarray(body["input"])
    assert x.shape == (3, 6, 6)
    for c in range(3):
        close(x[c], [WHITE_BAR_ROW] * 6)


# ----------------------------------------------------------------------------- EXIF orientation
@pytest.mark.parametrize("fmt", ["JPEG", "PNG"])
def test_exif_orientation_is_applied(client: ApiClient, fmt: str) -> None:
    im = bar_image(60, 30, "RGB")  # stored landscape with a vertical bar
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    data = encode_image(im, fmt, exif=exif)
    assert decoded(data).getexif().get(0x0112) == 6
    body = upload_ok(client, data, "rotated." + ("jpg" if fmt == "JPEG" else "png"))
    stored = decoded(data)
    shown = ImageOps.exif_transpose(decoded(data))
    assert shown.size == (30, 60)
    expected = np.asarray(shown.convert("L").resize((6, 6), Image.Resampling.BOX), dtype=np.float64)[None] / 255
    close(body["input"], expected)
    unrotated = np.asarray(stored.convert("L").resize((6, 6), Image.Resampling.BOX), dtype=np.float64)[None] / 255
    assert np.abs(np.asarray(body["input"]) - unrotated).max() > 0.5
    # The vertical bar now runs across: rows 2 and 3 are dark, every column alike.
    x = np.asarray(body["input"])[0]
    close(x, np.array([WHITE_BAR_ROW] * 6).T, atol=0.05)


# ----------------------------------------------------------------------------- transparency, palettes
def test_rgba_is_composited_over_white(client: ApiClient) -> None:
    im = Image.new("RGBA", (60, 60), (0, 0, 0, 0))  # transparent black: must read as white paper
    im.paste((0, 0, 0, 255), (20, 0, 40, 60))  # an opaque black bar
    im.paste((0, 0, 0, 128), (0, 0, 10, 60))  # half-transparent black in cell column 0
    body = upload_ok(client, encode_image(im))
    white = Image.new("RGBA", im.size, (255, 255, 255, 255))
    expected = reference(Image.alpha_composite(white, im))
    close(body["input"], expected)
    x = np.asarray(body["input"])[0]
    close(x[:, 1:], [[1, 0, 0, 1, 1]] * 6)
    close(x[:, 0], np.full(6, 127 / 255), atol=1.5 / 255)  # 50% black over white
    # Pillow's plain convert("L") would ignore alpha and show the transparent area black.
    assert np.asarray(im.convert("L")).max() == 0


def test_gray_with_alpha(client: ApiClient) -> None:
    im = Image.new("LA", (12, 12), (0, 0))
    im.paste((0, 255), (0, 0, 6, 12))
    body = upload_ok(client, encode_image(im))
    close(body["input"], [[[0, 0, 0, 1, 1, 1]] * 6])


def palette_bar() -> Image.Image:
    im = Image.new("P", (60, 60), 0)
    im.putpalette([255, 255, 255, 0, 0, 0, 200, 30, 30])
    im.paste(1, (20, 0, 40, 60))
    im.paste(2, (0, 0, 60, 10))  # a red stripe over the top row of cells
    return im


def test_palette_png(client: ApiClient) -> None:
    im = palette_bar()
    data = encode_image(im)
    assert decoded(data).mode == "P"
    body = upload_ok(client, data)
    assert body["source"]["mode"] == "P"
    close(body["input"], reference(im))
    close(body["input"][0][1:], [WHITE_BAR_ROW] * 5)
    red = (200 * 299 + 30 * 587 + 30 * 114) // 1000
    assert abs(body["input"][0][0][0] * 255 - red) <= 1


def test_palette_png_with_transparent_index(client: ApiClient) -> None:
    im = palette_bar()
    data = encode_image(im, transparency=1)  # the bar's index is transparent
    assert decoded(data).info.get("transparency") == 1
    body = upload_ok(client, data)
    x = np.asarray(body["input"])[0]
    close(x[1:], np.ones((5, 6)))  # the (black) bar is see-through: white paper
    white = Image.new("RGBA", im.size, (255, 255, 255, 255))
    close(body["input"], reference(Image.alpha_composite(white, decoded(data).convert("RGBA"))))


def test_one_bit_png(client: ApiClient) -> None:
    im = bar_image(60, 60).convert("1")
    body = upload_ok(client, encode_image(im))
    close(body["input"], [[WHITE_BAR_ROW] * 6])


# ----------------------------------------------------------------------------- 16-bit, CMYK, animation
def test_sixteen_bit_grayscale_is_scaled_not_clipped(client: ApiClient) -> None:
    values = np.zeros((12, 12), dtype=np.uint16)
    values[:, :4] = 60000
    values[:, 4:8] = 1000
    values[:, 8:] = np.arange(12 * 4, dtype=np.uint16).reshape(12, 4) * 1300
    data = encode_image(Image.fromarray(values))
    assert decoded(data).mode.startswith("I")
    body = upload_ok(client, data)
    assert body["source"]["mode"].startswith("I")
    expected = values.astype(np.float64).reshape(6, 2, 6, 2).mean(axis=(1, 3)) / 65535  # BOX = 2x2 means
    close(body["input"], expected[None], atol=1e-6)  # float32 resampling inside
    x = np.asarray(body["input"])
    assert 0.9 < x[0, 0, 0] < 0.92  # 60000 / 65535, not clipped at 255/255
    assert 0.01 < x[0, 0, 3] < 0.02  # 1000 / 65535, not 1000/255 clipped to 1


def test_sixteen_bit_with_three_channels(client: ApiClient) -> None:
    values = np.full((6, 6), 32768, dtype=np.uint16)
    body = upload_ok(client, encode_image(Image.fromarray(values)), channels=3)
    close(body["input"], np.full((3, 6, 6), 32768 / 65535), atol=1e-6)


def test_cmyk_jpeg(client: ApiClient) -> None:
    im = Image.new("CMYK", (60, 60), (0, 0, 0, 0))  # no ink: white
    im.paste((0, 0, 0, 255), (20, 0, 40, 60))  # full black ink: the bar
    data = encode_image(im, "JPEG", quality=95)
    assert decoded(data).mode == "CMYK"
    body = upload_ok(client, data, "cmyk.jpg")
    assert body["source"]["mode"] == "CMYK"
    close(body["input"], reference(decoded(data)))
    close(body["input"], [[WHITE_BAR_ROW] * 6], atol=0.05)


def test_cmyk_jpeg_in_rgb(client: ApiClient) -> None:
    im = Image.new("CMYK", (12, 12), (0, 255, 255, 0))  # magenta + yellow ink: red
    data = encode_image(im, "JPEG", quality=95)
    body = upload_ok(client, data, "cmyk.jpg", channels=3)
    close(body["input"], reference(decoded(data), channels=3))
    x = np.asarray(body["input"])
    assert x[0].min() > 0.9 and x[1].max() < 0.1 and x[2].max() < 0.1


def test_animated_png_uses_the_first_frame(client: ApiClient) -> None:
    frames = [bar_image(30, 30)] + [Image.new("L", (30, 30), v) for v in (0, 128)]
    buf = io.BytesIO()
    frames[0].save(buf, "PNG", save_all=True, append_images=frames[1:], duration=100)
    data = buf.getvalue()
    assert decoded(data).n_frames == 3
    body = upload_ok(client, data, "anim.png")
    assert body["source"]["frames"] == 3
    close(body["input"], [[WHITE_BAR_ROW] * 6])


# ----------------------------------------------------------------------------- flags, metadata
def test_invert(client: ApiClient) -> None:
    im = Image.fromarray(np.random.default_rng(8).integers(0, 256, size=(36, 36), dtype=np.uint8), "L")
    data = encode_image(im)
    plain = upload_ok(client, data)
    inverted = upload_ok(client, data, invert=True)
    close(inverted["input"], 1.0 - np.asarray(plain["input"]))
    close(plain["input"], reference(im))
    close(upload_ok(client, data, invert=False)["input"], plain["input"])


def test_inverted_bar_is_the_seed_example(client: ApiClient, bar_input: list[list[float]]) -> None:
    """A dark stroke on white paper, inverted, is exactly the seed's X: ready for /api/forward."""
    body = upload_ok(client, encode_image(bar_image(60, 60)), invert="true")
    close(body["input"], [bar_input])


def test_upload_result_feeds_forward(client: ApiClient, seed_params: Json) -> None:
    image = upload_ok(client, encode_image(bar_image(48, 48)), invert=True)
    via_upload = client.post_ok("/api/forward", {"params": seed_params, "input": image["input"], "label": 1})
    direct = client.post_ok("/api/forward", {"params": seed_params, "input": image["input"][0], "label": 1})
    assert via_upload["loss"] == direct["loss"]


# (No double quote: httpx, like browsers, sends it as %22 in a multipart filename.)
@pytest.mark.parametrize("name", ["<script>.png", "'><img src=x onerror=alert(1)>.png", "a&b <c>.jpg",
                                  "../../etc/passwd", "ünïcødé ✓.png"])
def test_filename_is_returned_verbatim_as_data(client: ApiClient, name: str) -> None:
    body = upload_ok(client, encode_image(bar_image(12, 12)), name)
    assert body["source"]["filename"] == name


def test_long_filename_is_cut(client: ApiClient) -> None:
    name = "x" * 500 + ".png"
    body = upload_ok(client, encode_image(bar_image(12, 12)), name)
    assert body["source"]["filename"] == name[:200]


def test_content_type_is_not_trusted(client: ApiClient) -> None:
    """The bytes decide: a PNG sent as application/octet-stream is read; a GIF called .png is not."""
    im = bar_image(60, 60)
    response = client.upload(encode_image(im), "scan.bin", "application/octet-stream")
    assert response.status_code == 200
    close(response.json()["input"], reference(im))
    gif = encode_image(im, "GIF")
    rejected(client, client.upload(gif, "fake.png", "image/png"), 415, "PNG or JPEG")


def test_largest_accepted_image(client: ApiClient) -> None:
    """4096 x 4096 (the pixel cap itself) is decoded, and promptly (about 0.2 s on an idle
    2-core machine; the bound leaves room for a busy CI box)."""
    im = Image.new("L", (4096, 4096), 255)
    im.paste(0, (4096 // 3, 0, 2 * 4096 // 3, 4096))
    body = upload_ok(client, encode_image(im), "big.png")
    assert client.last_seconds < 2.0
    close(body["input"], reference(im))
    assert body["source"]["width"] == body["source"]["height"] == 4096


# ----------------------------------------------------------------------------- form fields
@pytest.mark.parametrize(("field", "value", "words"), [
    ("height", 0, ("height", "greater than or equal to 1")),
    ("height", 65, ("height", "less than or equal to 64")),
    ("width", 0, ("width", "greater than or equal to 1")),
    ("width", 65, ("width", "less than or equal to 64")),
    ("height", -3, ("height", "greater than or equal to 1")),
    ("width", "six", ("width", "integer")),
    ("width", "6.5", ("width", "integer")),
    ("channels", 2, ("channels", "1", "3", "got 2")),
    ("channels", 0, ("channels", "greater than or equal to 1")),
    ("channels", 4, ("channels", "less than or equal to 3")),
    ("invert", "maybe", ("invert", "boolean")),
])
def test_bad_upload_fields(client: ApiClient, field: str, value: Any, words: tuple[str, ...]) -> None:
    response = client.upload(encode_image(Image.new("L", (12, 12), "white")), **{field: value})
    rejected(client, response, 422, *words)

"""Files in and out of the page: image upload and a state export/import round trip (refused
imports are test_security_page.py's)."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
from browser_testlib import (
    export_state,
    require_chromium,
    saved_state,
    screenshot,
    wait_idle,
    wait_iteration,
    z,
)
from PIL import Image
from playwright.sync_api import Page

require_chromium()

MARKUP_NAME = "<b>bar</b>.png"  # a '/' cannot be in a real file name: the upload is sent under this name


def bar_png() -> bytes:
    """A black horizontal bar (rows 20-29) on a white 60x60 image: after area-averaging to 6x6
    and inverting, row 2 is 1 and every other row 0."""
    im = Image.new("L", (60, 60), 255)
    im.paste(0, (0, 20, 60, 30))
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()


# ----------------------------------------------------------------------------- 6. upload
def test_uploading_a_png_sets_x(page: Page, api: httpx.Client, tmp_path: Path) -> None:
    data = bar_png()
    on_disk = tmp_path / "bar.png"
    on_disk.write_bytes(data)
    # The invert box is ticked by default, so the page asks for inverted values.
    assert page.is_checked("#invert")

    page.set_input_files("#upload", files=[{"name": MARKUP_NAME, "mimeType": "image/png",
                                            "buffer": on_disk.read_bytes()}])
    page.wait_for_function("() => document.getElementById('input-X-0').data[0].z[2][0] === 1")
    wait_idle(page, "forward")

    r = api.post("/api/images", files={"file": (MARKUP_NAME, data, "image/png")},
                 data={"channels": "1", "height": "6", "width": "6", "invert": "true"})
    assert r.status_code == 200, r.text
    expected = r.json()["input"]
    assert expected == [[[1.0 if row == 2 else 0.0 for _ in range(6)] for row in range(6)]]
    assert saved_state(page)["input"] == expected
    assert z(page, "input-X-0") == expected[0]

    # The preview shows the image and the file name as text, never as markup.
    assert page.locator("#preview").is_visible()
    assert page.get_attribute("#preview-img", "src").startswith("blob:")
    assert page.text_content("#preview-name") == MARKUP_NAME
    assert page.locator("#preview-name b").count() == 0
    assert page.locator("#preview-name *").count() == 0
    assert page.evaluate("() => document.getElementById('preview-img').naturalWidth") == 60

    # The next Forward runs on the uploaded image.
    page.click("#btn-forward")
    wait_idle(page, "backward")
    assert z(page, "act-X-0") == expected[0]
    screenshot(page, "07-upload.png")


# ----------------------------------------------------------------------------- 8. export / import
def test_export_then_import_round_trips(page: Page, tmp_path: Path) -> None:
    page.click("#btn-step")
    wait_iteration(page, 2)
    path, exported = export_state(page, tmp_path)
    assert path.name == "backprop-viz-iteration-2.json"
    for key in ("network", "params", "input", "label", "learning_rate", "history"):
        assert key in exported, key
    assert exported["app"] == "backprop-viz" and exported["iteration"] == 2
    assert exported["learning_rate"] == 0.5 and exported["label"] == 1
    assert [h["iteration"] for h in exported["history"]] == [1, 2]
    assert exported["params"] == saved_state(page)["params"]

    page.click("#btn-step")
    wait_iteration(page, 3)
    assert saved_state(page)["params"] != exported["params"]

    page.set_input_files("#import-file", str(path))
    wait_iteration(page, 2)
    state = saved_state(page)
    assert state["params"] == exported["params"]
    assert state["iteration"] == 2
    assert state["history"] == exported["history"]
    assert state["losses"] == exported["losses"]
    assert z(page, "pval-W1-0") == exported["params"]["W1"][0][0]
    assert page.inner_text("#next-phase") == "Forward"
    assert page.locator("#toast").is_hidden()

    # Training goes on from the imported state.
    page.click("#btn-step")
    wait_iteration(page, 3)

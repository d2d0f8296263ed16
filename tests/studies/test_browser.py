"""The report renders in headless Chromium from file:// (screenshot not blank, JS views drawn).

Skipped where Chromium is not installed, unless SSI_REQUIRE_BROWSER=1 (CI installs it and sets it).
"""

import os
import shutil
import subprocess

import numpy as np
import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None and os.environ.get("SSI_REQUIRE_BROWSER") != "1",
                                reason="Chromium is not installed (Debian: apt-get install chromium)")
# Flags for a closed network (no background connections) and a root user in a container.
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _chromium(tmp_path, *args) -> subprocess.CompletedProcess:
    assert CHROMIUM, "SSI_REQUIRE_BROWSER=1 but no chromium on PATH"
    return subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", *args],
                          capture_output=True, text=True, timeout=120)


def test_index_screenshot_is_not_blank(tiny_report, tmp_path):
    from PIL import Image

    _, _, report = tiny_report
    png = tmp_path / "index.png"
    _chromium(tmp_path, "--window-size=1200,1600", f"--screenshot={png}", (report / "index.html").as_uri())
    pixels = np.asarray(Image.open(png).convert("RGB")).astype(int)
    assert pixels.shape == (1600, 1200, 3)
    non_white = float((pixels.sum(-1) < 720).mean())
    colours = len(np.unique(pixels.reshape(-1, 3), axis=0))
    assert non_white > 0.02 and colours > 50, (non_white, colours)
    r, g, b = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    assert ((r > 200) & (g < 140) & (b < 140)).sum() > 50  # attention shading / class cells drawn


def test_interactive_pages_draw_from_shared_javascript(tiny_report, tmp_path):
    """The scripts load from the folder's shared files and draw (DOM after the scripts ran)."""
    _, _, report = tiny_report
    dump = lambda page: _chromium(tmp_path, "--virtual-time-budget=5000", "--dump-dom",  # noqa: E731
                                  (report / page).as_uri()).stdout
    assert "main-svg" in dump("heads_heatmap.html")  # plotly drew its heat map
    fig19 = dump("fig19_positional_heads.html")
    assert "style=\"margin: 15px 0;\"><div" in fig19  # circuitsvis rendered into its div


def test_heat_map_cells_show_their_legend_colours(tmp_path):
    """Four heads of four known classes: each class's legend colour fills its cell on screen."""
    from PIL import Image
    from plotly.colors import hex_to_rgb

    from simplestories_interp.render import views
    from simplestories_interp.render.thumbnails import CLASS_COLORS

    records = [{"layer": 0, "head": h, "head_class": c, "offset": None} for h, c in enumerate(CLASS_COLORS)]
    page = views.write(tmp_path / "heat.html", views.page("heat", views.heads_heatmap(records, 1, 4)))
    png = tmp_path / "heat.png"
    _chromium(tmp_path, "--window-size=1000,500", "--virtual-time-budget=5000", f"--screenshot={png}", page.as_uri())
    pixels = np.asarray(Image.open(png).convert("RGB")).astype(int)
    for cls, colour in CLASS_COLORS.items():
        exact = (np.abs(pixels - np.array(hex_to_rgb(colour))).sum(-1) <= 6).sum()
        assert exact > 2000, (cls, colour, exact)  # a cell is ~200 x 100 px; the legend square is tiny

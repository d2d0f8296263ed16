"""The heads heat map paints each class in its legend colour (the colour-scale stop order bug)."""

import json
import re

from plotly.colors import hex_to_rgb

from simplestories_interp.render.thumbnails import CLASS_COLORS
from simplestories_interp.render.views import class_colorscale, heads_heatmap

FOUR = [{"layer": 0, "head": h, "head_class": c, "offset": -2 if c == "positional" else None}
        for h, c in enumerate(CLASS_COLORS)]


def _colour_at(scale: list, t: float) -> tuple[float, ...]:
    """plotly.js's colour-scale lookup: linear between the two stops around ``t``, the first such pair."""
    for (p0, c0), (p1, c1) in zip(scale, scale[1:], strict=False):
        if p0 <= t <= p1:
            w = 0.0 if p1 == p0 else (t - p0) / (p1 - p0)
            return tuple(round(a + w * (b - a), 3) for a, b in zip(hex_to_rgb(c0), hex_to_rgb(c1), strict=True))
    raise AssertionError(f"{t} outside the scale")


def _figure(html: str) -> dict:
    """The heat map trace's z, zmin, zmax and colour scale, as written into the page."""
    z = json.loads(re.search(r'"z":(\[\[.*?\]\])', html).group(1))
    scale = json.loads(re.search(r'"colorscale":(\[\[.*?\]\])', html).group(1))
    zmin, zmax = (float(re.search(rf'"{k}":(-?[\d.]+)', html).group(1)) for k in ("zmin", "zmax"))
    return {"z": z, "scale": scale, "zmin": zmin, "zmax": zmax}


def test_every_class_cell_gets_exactly_its_legend_colour():
    fig = _figure(heads_heatmap(FOUR, 1, 4))
    for head, cls in enumerate(CLASS_COLORS):
        t = (fig["z"][0][head] - fig["zmin"]) / (fig["zmax"] - fig["zmin"])
        # the cell's value and values near it (plotly interpolates linearly between stops)
        for dt in (-0.1, 0.0, 0.1):
            got = _colour_at(fig["scale"], t + dt / len(CLASS_COLORS))
            assert got == tuple(float(x) for x in hex_to_rgb(CLASS_COLORS[cls])), (cls, dt, got)


def test_colorscale_stops_ascend_with_constant_bands():
    scale = class_colorscale(["#000000", "#ffffff", "#ff0000"])
    positions = [p for p, _ in scale]
    assert positions == sorted(positions) and positions[0] == 0 and positions[-1] == 1
    assert [c for _, c in scale] == ["#000000", "#000000", "#ffffff", "#ffffff", "#ff0000", "#ff0000"]

"""The datasheet's SVG helper: accessible, escaped, and drawn to scale."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from governance.datasets.charts import Bar, histogram, interval_bars, nice_max

SVG = "{http://www.w3.org/2000/svg}"


def test_interval_bars_are_labelled_escaped_and_to_scale():
    svg = interval_bars(title="Rate <by> group", description="Bars & whiskers",
                        bars=[Bar("<script>", 0.5, 0.4, 0.6), Bar("tiny", 0.25, 0.0, 1.0, flagged=True),
                              Bar("empty", None)], domain=(0.0, 1.0), marker=0.3, marker_label="overall")
    root = ET.fromstring(str(svg))  # well-formed XML: every name was escaped
    assert root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title.text == "Rate <by> group" and desc.text == "Bars & whiskers"
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert "<script>" not in str(svg) and "&lt;script&gt;" in str(svg)
    rects = root.findall(f"{SVG}rect")
    assert len(rects) == 2  # the group without data draws no bar
    # Plot spans x 170..560 for 0..1: a value of 0.5 is 195 wide, 0.25 half that.
    assert float(rects[0].get("width")) == 195.0 and float(rects[1].get("width")) == 97.5
    assert rects[1].get("fill") != rects[0].get("fill")
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert "50.0%" in texts and "tiny (small)" in texts and "no data" in texts


def test_histogram_has_one_bar_per_bin_with_heights_proportional_to_counts():
    svg = histogram(title="Lengths", description="d", edges=[0, 10, 20, 30], counts=[5, 10, 0], unit="chars")
    root = ET.fromstring(str(svg))
    heights = [float(r.get("height")) for r in root.findall(f"{SVG}rect")]
    assert len(heights) == 3 and heights[0] * 2 == heights[1] and heights[2] == 0
    assert re.search(r"10–20 chars: 10", str(svg))
    assert "no data" in str(histogram(title="t", description="d", edges=[], counts=[]))


def test_nice_max_rounds_up_to_a_tenth_within_the_cap():
    assert nice_max([0.234, None, 0.1]) == 0.3
    assert nice_max([0.3]) == 0.3
    assert nice_max([0.97]) == 1.0 and nice_max([]) == 0.1

"""governance.audits.charts: accessible, self-contained SVG with every label escaped."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from governance.audits.charts import Bar, Cell, heatmap, interval_bars

SVG = "{http://www.w3.org/2000/svg}"


def test_interval_bars_are_accessible_escaped_and_draw_whiskers():
    svg = interval_bars(title="Selection rate by <gender>", description="female 0.25 & male 0.40",
                        bars=[Bar("<script>alert(1)</script>", 0.25, 0.2, 0.3), Bar("male", 0.4, 0.35, 0.45),
                              Bar("tiny", None, flagged=True)])
    root = ET.fromstring(svg)  # well-formed XML: labels cannot break out of the markup
    assert root.get("role") == "img"
    title, desc = root.find(f"{SVG}title"), root.find(f"{SVG}desc")
    assert title.text == "Selection rate by <gender>" and desc.text == "female 0.25 & male 0.40"
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert "<script" not in svg and "&lt;script&gt;" in svg
    assert len(root.findall(f"{SVG}rect")) == 2  # the undefined value draws no bar
    assert len(root.findall(f"{SVG}path")) == 2  # one whisker per interval
    assert "0.250" in svg and "0.400" in svg and "undefined" in svg


def test_whisker_spans_the_interval_on_the_axis():
    svg = interval_bars(title="t", description="d", bars=[Bar("a", 0.5, 0.25, 0.75)])
    path = ET.fromstring(svg).find(f"{SVG}path").get("d")
    x_low, _, x_high = (float(v) for v in re.match(r"M([\d.]+),([\d.]+)H([\d.]+)", path).groups())
    x0, x1 = 180, 640 - 70  # LABEL_W .. WIDTH - VALUE_W spans the domain [0, 1]
    assert abs(x_low - (x0 + 0.25 * (x1 - x0))) < 0.1 and abs(x_high - (x0 + 0.75 * (x1 - x0))) < 0.1


def test_heatmap_prints_each_value_and_marks_empty_cells():
    cells = {("female", "18-29"): Cell(0.125, 40), ("male", "18-29"): Cell(0.875, 38),
             ("female", "45+"): Cell(None, 0)}
    svg = heatmap(title="Selection rate by gender × age_band", description="grid", row_name="gender",
                  column_name="age_band", rows=["female", "male"], columns=["18-29", "45+"], cells=cells)
    root = ET.fromstring(svg)
    texts = ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]
    assert "0.125" in texts and "0.875" in texts and texts.count("—") == 2  # one empty, one absent cell
    assert "n=40" in texts and "n=0" in texts
    fills = [r.get("fill") for r in root.iter(f"{SVG}rect")]
    assert len(fills) == 4 and len(set(fills)) == 3  # light, dark, and the empty colour twice


def test_reliability_chart_draws_one_escaped_line_per_group_over_the_diagonal():
    from governance.audits.charts import reliability_chart

    svg = reliability_chart(title="Reliability by <gender>", description="d",
                            curves=[("<b>female</b>", [(0.1, 0.2), (0.5, 0.4), (0.9, None)]), ("male", [(0.3, 0.3)])])
    root = ET.fromstring(svg)
    assert root.get("role") == "img" and "<b>" not in svg
    circles = root.findall(f"{SVG}circle")
    assert len(circles) == 3  # the bin with no observed rate draws no point
    paths = root.findall(f"{SVG}path")
    assert len(paths) == 2  # the diagonal and female's line (male has one point: no line)

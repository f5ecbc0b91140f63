"""The console's inline SVG bar chart (webhooks.chart): well-formed, one bar per value with
heights in proportion, every text escaped, nothing the CSP refuses."""

from __future__ import annotations

import pytest
from defusedxml import ElementTree
from markupsafe import Markup

from webhooks.chart import bar_chart_svg

SVG = "{http://www.w3.org/2000/svg}"


def parsed(svg: str):
    return ElementTree.fromstring(str(svg))


def bars(root) -> list[float]:
    return [float(rect.get("height")) for rect in root.iter(f"{SVG}rect")]


def test_one_bar_per_value_in_proportion():
    svg = bar_chart_svg(["sms", "telegram", "webchat"], [4, 2, 1], "Reports by channel")
    assert isinstance(svg, Markup)
    root = parsed(svg)
    assert root.get("role") == "img" and root.get("viewBox").startswith("0 0 ")
    assert root.get("width") == "100%"
    heights = bars(root)
    assert len(heights) == 3
    assert heights[0] / heights[1] == pytest.approx(2) and heights[0] / heights[2] == pytest.approx(
        4
    )
    # Bars stand on one baseline.
    bottoms = {float(r.get("y")) + float(r.get("height")) for r in root.iter(f"{SVG}rect")}
    assert len(bottoms) == 1
    assert root.find(f"{SVG}title").text == "Reports by channel"
    assert root.find(f"{SVG}desc").text == "sms: 4; telegram: 2; webchat: 1."
    labelled = root.get("aria-labelledby").split()
    assert labelled == [root.find(f"{SVG}title").get("id"), root.find(f"{SVG}desc").get("id")]


def test_a_hostile_label_is_text_not_markup():
    hostile = '</text><script>alert(1)</script><text style="x" onload="y">'
    svg = str(bar_chart_svg([hostile, "ok"], [1, 2], "<b>title</b> & more"))
    assert "<script" not in svg and 'onload="' not in svg and "<b>" not in svg
    root = parsed(svg)
    assert root.find(f"{SVG}title").text == "<b>title</b> & more"
    assert hostile in root.find(f"{SVG}desc").text
    assert not list(root.iter(f"{SVG}script"))
    # The CSP allows no inline style: presentation attributes only.
    assert all(element.get("style") is None for element in root.iter())
    assert "<style" not in svg


def test_all_zeros_and_nothing():
    root = parsed(bar_chart_svg([f"{h:02d}" for h in range(24)], [0] * 24, "By hour"))
    assert bars(root) == [0.0] * 24
    assert root.find(f"{SVG}desc").text.startswith("All zero.")
    empty = parsed(bar_chart_svg([], [], "Nothing yet"))
    assert bars(empty) == [] and empty.find(f"{SVG}desc").text == "No data."


def test_long_labels_are_cut_on_the_chart_but_whole_for_screen_readers():
    name = "Abandoned vehicle on a residential street"
    root = parsed(bar_chart_svg([name] * 12, list(range(12)), "By service"))
    shown = [t.text for t in root.iter(f"{SVG}text") if t.get("class") == "chart-label"]
    assert shown and all(len(text) < len(name) for text in shown)
    assert [t.text for t in root.iter(f"{SVG}title")][1] == f"{name}: 0"


def test_labels_and_values_must_pair():
    with pytest.raises(ValueError):
        bar_chart_svg(["a"], [1, 2], "t")

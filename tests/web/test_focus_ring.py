"""The focus ring stands out at least 3:1 against what it is drawn on (issue 16; WCAG 2.1 1.4.11).

The ring is two colours (static/jiaowei.css): an outline ``--focus`` round an inner ring
``--focus-inner``. Read from the stylesheet itself: on the light page backgrounds the outline contrasts
3:1 or more with the background, on the red header (and the skip link drawn over it) the header's own
pair does, and in each place the two rings contrast with each other, so that whatever the focused
element's colour one ring stands out. Contrast is WCAG's: (L1 + 0.05) / (L2 + 0.05) of relative
luminances.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = Path(__file__).resolve().parents[2] / "src" / "jiaowei" / "web" / "static" / "jiaowei.css"
LEAST = 3.0
LIGHT_BACKGROUNDS = ["--paper", "--wash", "--info-wash", "--ok-wash", "--bad-wash"]


def relative_luminance(colour: str) -> float:
    """WCAG's relative luminance of a ``#rrggbb`` colour."""
    assert re.fullmatch(r"#[0-9a-fA-F]{6}", colour), colour
    channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(one: str, other: str) -> float:
    light, dark = sorted((relative_luminance(one), relative_luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def rules() -> list[tuple[str, dict[str, str]]]:
    """The stylesheet's rules, innermost blocks (those inside ``@media`` too): selector → declarations."""
    text = re.sub(r"/\*.*?\*/", "", CSS.read_text(encoding="utf-8"), flags=re.S)
    found = []
    for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", text):
        declarations = dict(
            (name.strip(), value.strip()) for name, _, value in
            (part.partition(":") for part in body.split(";") if ":" in part))
        found.append((" ".join(selector.split()), declarations))
    return found


def variables(selector: str) -> dict[str, str]:
    """The custom properties in force on elements matched by ``selector``: ``:root``'s, overridden by
    the rule for ``selector``; ``var(--x)`` resolved."""
    found = {name: value for sel, block in rules() if sel == ":root" for name, value in block.items()}
    found |= {name: value for sel, block in rules() if sel == selector for name, value in block.items()
              if name.startswith("--")}
    for name, value in found.items():
        while (m := re.fullmatch(r"var\((--[\w-]+)\)", value)):
            value = found[m.group(1)]
        found[name] = value
    return found


def test_the_contrast_is_wcags() -> None:
    assert contrast("#ffffff", "#000000") == pytest.approx(21)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)
    assert contrast("#f6b400", "#ffffff") == pytest.approx(1.83, abs=0.01)  # the ring before issue 16


@pytest.mark.parametrize("background", LIGHT_BACKGROUNDS)
def test_the_ring_stands_out_on_the_light_backgrounds(background: str) -> None:
    page = variables(":root")
    assert contrast(page["--focus"], page[background]) >= LEAST, (page["--focus"], page[background])


@pytest.mark.parametrize("selector", [".site-header", ".skip-link"])
def test_the_ring_stands_out_on_the_red_header(selector: str) -> None:
    header = variables(selector)
    for background in ("--brand", "--brand-dark"):
        assert contrast(header["--focus"], header[background]) >= LEAST, (selector, background)


@pytest.mark.parametrize("selector", [":root", ".site-header", ".skip-link"])
def test_the_two_rings_stand_out_from_each_other(selector: str) -> None:
    ring = variables(selector)
    assert contrast(ring["--focus"], ring["--focus-inner"]) >= LEAST, selector


def test_every_focus_style_draws_the_ring_with_the_variables() -> None:
    """No focus style falls back to a colour of its own (the grid's cells had the brand red)."""
    focus = {selector: block for selector, block in rules() if ":focus" in selector and "outline" in block}
    assert focus[":focus-visible"]["outline"] == "3px solid var(--focus)"
    assert focus[":focus-visible"]["box-shadow"] == "0 0 0 2px var(--focus-inner)"
    assert focus[".entry-table .cell-input:focus"]["outline"] == "3px solid var(--focus)"
    others = {s: b["outline"] for s, b in focus.items()
              if b["outline"] != "none" and "var(--focus)" not in b["outline"]}
    assert others == {}

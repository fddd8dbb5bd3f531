"""Light and dark: every alpaca_nb widget follows JupyterLab's theme, and its text meets WCAG AA contrast
(4.5:1, 3:1 for large text) against what is behind it; screenshots of each widget in both themes."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import ARTIFACTS, error_outputs, open_notebook, run_all_cells, wait_until_idle

WIDGETS = {".anb-ticket": "ticket", ".anb-account-view": "account_view", ".anb-chart": "quote_chart",
           ".anb-bar-chart": "bar_chart"}  # fmt: skip
THEMES = {"light": "JupyterLab Light", "dark": "JupyterLab Dark"}

# Every element with text of its own inside a widget (plotly's SVG apart: its colours are checked as the
# chart's font colour), with its colour composited over the first opaque background behind it.
CONTRAST = """() => {
  const rgba = (s) => { const m = s.match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(',').map(Number); return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const over = (top, under) => top.slice(0, 3).map((v, i) => v * top[3] + under[i] * (1 - top[3]));
  const lum = (c) => { const [r, g, b] = c.map((v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const background = (el) => { const layers = [];
    for (let e = el; e; e = e.parentElement) { const c = rgba(getComputedStyle(e).backgroundColor); if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; } }
    let bg = [255, 255, 255]; for (const c of layers.reverse()) bg = over(c, bg); return bg; };
  const out = [];
  for (const widget of document.querySelectorAll('.anb-widget')) {
    for (const el of widget.querySelectorAll('*')) {
      if (el.closest('svg') || el.closest('.js-plotly-plot') || el.disabled || !el.offsetParent) continue;
      const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
      if (!own) continue;
      const style = getComputedStyle(el); const bg = background(el);
      const fg = over(rgba(style.color), bg);
      const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x);
      const ratio = (a + 0.05) / (b + 0.05);
      const size = parseFloat(style.fontSize), bold = Number(style.fontWeight) >= 700;
      const need = size >= 24 || (size >= 18.66 && bold) ? 3 : 4.5;
      if (ratio < need) out.push(`${el.className || el.tagName} "${el.textContent.trim().slice(0, 30)}" ${ratio.toFixed(2)} < ${need}`);
    }
  }
  return out;
}"""


def _rgb(css: str) -> tuple[int, ...]:
    return tuple(int(float(v)) for v in css[css.index("(") + 1 : css.index(")")].split(",")[:3])


def _set_theme(page: Any, theme: str) -> None:
    page.evaluate("(t) => window.jupyterapp.commands.execute('apputils:change-theme', {theme: t})", theme)
    light = "true" if theme == THEMES["light"] else "false"
    page.wait_for_function("(v) => document.body.dataset.jpThemeLight === v", arg=light, timeout=30_000)
    page.wait_for_timeout(1500)  # the charts redraw on the theme change


@pytest.mark.parametrize("notebook", ["06_dashboard.ipynb", "09_review.ipynb"])
def test_widgets_in_light_and_dark_are_readable(browser: Any, jupyter_lab: str, notebook: str) -> None:
    page = open_notebook(browser, jupyter_lab, notebook)
    run_all_cells(page)
    wait_until_idle(page)
    page.locator(".anb-widget .js-plotly-plot").first.wait_for(timeout=60_000)
    page.wait_for_timeout(2000)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for name, theme in THEMES.items():
        _set_theme(page, theme)
        failures = page.evaluate(CONTRAST)
        assert failures == [], f"{notebook} in {name}: text below WCAG AA contrast: {failures[:8]}"
        font, axis = page.evaluate(
            "() => { const t = document.querySelector('.anb-widget .js-plotly-plot .xtick text');"
            " return [getComputedStyle(document.querySelector('.anb-widget')).color, t && getComputedStyle(t).fill]; }"
        )
        assert axis is not None and _rgb(axis) == _rgb(font), (
            name,
            axis,
            font,
        )  # charts follow the theme too
        for selector, label in WIDGETS.items():
            found = page.locator(selector)
            if found.count():
                found.first.scroll_into_view_if_needed()
                found.first.screenshot(path=str(ARTIFACTS / f"theme_{name}_{label}.png"))
    _set_theme(page, THEMES["light"])
    assert error_outputs(page) == []

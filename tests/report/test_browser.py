"""The report in a real browser: Debian's Chromium, headless, driven by Playwright.

Skipped where /usr/bin/chromium is absent, unless TRAINWRIGHT_REQUIRE_BROWSER=1 (CI sets it, so there a
missing browser fails instead of hiding the test).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic"]

if not Path(CHROMIUM).exists():
    if os.environ.get("TRAINWRIGHT_REQUIRE_BROWSER") == "1":
        raise RuntimeError("TRAINWRIGHT_REQUIRE_BROWSER=1 but Chromium is not installed (apt-get install chromium)")
    pytest.skip("Chromium is not installed (apt-get install chromium); the browser tests need it",
                allow_module_level=True)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        yield b
        b.close()


def open_page(browser, path: Path, width: int = 1366, height: int = 850):
    """Open a file; returns (page, problems) where problems collects console errors, page errors and
    failed or outside requests."""
    page = browser.new_page(viewport={"width": width, "height": height})
    problems: list[str] = []
    page.on("console", lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.on("request", lambda r: problems.append(f"outside request: {r.url}")
            if not r.url.startswith(("file:", "data:")) else None)
    page.goto(path.as_uri(), wait_until="load")
    return page, problems


RENDER_CHECK = """() => {
  const broken = [];
  for (const img of document.images) if (!img.complete || img.naturalWidth === 0) broken.push(img.src.slice(0, 60));
  for (const im of document.querySelectorAll('svg image')) {
    const href = im.getAttribute('href') || im.getAttribute('xlink:href') || '';
    if (!href.startsWith('data:image/')) broken.push('svg image ' + href.slice(0, 60));
  }
  const svgs = [...document.querySelectorAll('figure svg')];
  const empty = svgs.filter(s => { const r = s.getBoundingClientRect(); return r.width < 50 || r.height < 50; }).length;
  const sections = Object.fromEntries([...document.querySelectorAll('main section')].map(
      s => [s.id, s.getBoundingClientRect().height]));
  return {broken, svgs: svgs.length, empty, sections,
          overflow: document.documentElement.scrollWidth - window.innerWidth};
}"""


@pytest.mark.parametrize("name", ["multiclass_run", "binary_run", "regression_run"])
def test_report_renders_without_errors(browser, name, request, tmp_path):
    run = request.getfixturevalue(name)
    page, problems = open_page(browser, run.path / "report.html")
    state = page.evaluate(RENDER_CHECK)
    shot = tmp_path / "report.png"
    page.screenshot(path=str(shot), full_page=True)
    page.close()
    assert problems == []
    assert state["broken"] == []
    assert state["svgs"] >= 8 and state["empty"] == 0, state
    assert set(state["sections"]) == {"summary", "data", "training", "performance", "errors", "explanations",
                                      "fairness", "cost"}
    assert all(h > 80 for h in state["sections"].values()), state["sections"]
    assert state["overflow"] <= 0, "the page scrolls sideways on a 1366 px laptop screen"
    _assert_not_blank(shot)


def _assert_not_blank(png: Path) -> None:
    from PIL import Image

    img = Image.open(png).convert("L")
    assert img.size[0] == 1366 and img.size[1] > 2000
    lo, hi = img.getextrema()
    assert hi - lo > 100  # dark text on a light page, not a blank or all-dark screenshot
    colours = len(Image.open(png).convert("RGB").getcolors(maxcolors=1 << 20) or [])
    assert colours > 50  # charts in colour, not just text


def test_comparison_renders_without_errors(browser, multiclass_run, tmp_path, penguins_csv):
    import trainwright
    from trainwright.report.compare import write_comparison

    other = trainwright.train(penguins_csv, target="species", out=tmp_path / "linear",
                              overrides=["model.type=linear", "evaluate.bootstrap=100"])
    out = write_comparison([multiclass_run.path, other.path], tmp_path / "compare.html")
    page, problems = open_page(browser, out)
    state = page.evaluate(RENDER_CHECK)
    page.close()
    assert problems == [] and state["broken"] == []
    assert state["svgs"] >= 2 and state["empty"] == 0


def test_report_on_a_narrow_screen(browser, multiclass_run):
    page, problems = open_page(browser, multiclass_run.path / "report.html", width=800, height=900)
    state = page.evaluate(RENDER_CHECK)
    page.close()
    assert problems == [] and state["overflow"] <= 0


SUBSECTION = """(id) => {
  const heading = document.getElementById(id);
  if (!heading) return null;
  const figures = [];
  let node = heading.nextElementSibling;
  while (node && node.tagName !== 'H3' && node.tagName !== 'SECTION') {
    for (const svg of node.querySelectorAll('figure svg')) {
      const r = svg.getBoundingClientRect();
      figures.push({w: r.width, h: r.height, title: (svg.querySelector('title') || {}).textContent || ''});
    }
    node = node.nextElementSibling;
  }
  const rows = heading.parentElement.querySelectorAll('#' + id + ' ~ div table tr, #' + id + ' ~ table tr').length;
  return {figures, rows, text: heading.nextElementSibling.textContent};
}"""


def test_the_ensemble_section_in_the_browser(browser, auto_run, tmp_path):
    page, problems = open_page(browser, auto_run.path / "report.html")
    ensemble = page.evaluate(SUBSECTION, "ensemble")
    charts = page.evaluate("""() => [...document.querySelectorAll('#training figure')].map(f => {
        const r = f.querySelector('svg').getBoundingClientRect(); return [f.textContent, r.width, r.height]; })""")
    page.locator("#ensemble").scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "ensemble.png"))
    page.close()
    assert problems == []
    from trainwright.models.auto import DEFAULT_PORTFOLIO, REGRESSION_ONLY

    assert ensemble is not None and "bagged" in ensemble["text"] and "model.refit auto" in ensemble["text"]
    assert ensemble["rows"] >= len(set(DEFAULT_PORTFOLIO) - REGRESSION_ONLY) + 1  # the header and every entry
    assert any("Ensemble weights" in c[0] for c in charts) and all(w > 150 and h > 100 for _, w, h in charts)
    _assert_not_blank_viewport(tmp_path / "ensemble.png")


def test_the_tuning_section_in_the_browser(browser, tuned_run, tmp_path):
    page, problems = open_page(browser, tuned_run.path / "report.html")
    tuning = page.evaluate(SUBSECTION, "tuning")
    page.locator("#tuning").scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "tuning.png"))
    page.close()
    assert problems == []
    assert tuning is not None and "12 trials" in tuning["text"]
    assert len(tuning["figures"]) == 4 and all(f["w"] > 150 and f["h"] > 100 for f in tuning["figures"])
    assert tuning["rows"] >= 13  # header + 12 trials
    _assert_not_blank_viewport(tmp_path / "tuning.png")


def test_an_image_run_shows_what_the_model_saw_its_confusions_and_grad_cam(browser, image_run, tmp_path):
    page, problems = open_page(browser, image_run.path / "report.html")
    check = page.evaluate(RENDER_CHECK)
    shown = page.evaluate("""() => Object.fromEntries(['augmented', 'confusions', 'worst-images', 'gradcam'].map(id => {
        const h = document.getElementById(id); if (!h) return [id, null];
        let node = h.nextElementSibling, imgs = 0;
        while (node && node.tagName !== 'H3' && node.tagName !== 'SECTION') {
          imgs += [...node.querySelectorAll('img.thumb')].filter(i => i.complete && i.naturalWidth > 0
                                                                  && i.getBoundingClientRect().width >= 60).length;
          node = node.nextElementSibling; }
        return [id, imgs]; }))""")
    page.locator("#gradcam").scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "gradcam.png"))
    page.close()
    assert problems == [] and check["broken"] == []
    assert shown["augmented"] == 6 * 4  # six training images, each with three augmented draws
    assert shown["worst-images"] == 6 and shown["gradcam"] >= 12  # pairs of image and map
    perfect = image_run.metrics["test"]["accuracy"] == 1.0
    assert (shown["confusions"] is None) if perfect else shown["confusions"] >= 1  # thumbnails of each confusion
    _assert_not_blank_viewport(tmp_path / "gradcam.png")


def _assert_not_blank_viewport(png: Path) -> None:
    from PIL import Image

    img = Image.open(png).convert("RGB")
    assert len(img.getcolors(maxcolors=1 << 20) or []) > 50  # charts in colour on screen, not a blank page


def test_a_text_run_highlights_the_words_that_decide(browser, text_run, tmp_path):
    page, problems = open_page(browser, text_run.path / "report.html")
    check = page.evaluate(RENDER_CHECK)
    shown = page.evaluate("""() => {
        const words = [...document.querySelectorAll('.textex .word')];
        const visible = w => { const r = w.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
        const shade = w => getComputedStyle(w).backgroundColor;
        return {examples: document.querySelectorAll('.textex').length,
                up: words.filter(w => w.classList.contains('up') && visible(w)).length,
                down: words.filter(w => w.classList.contains('down') && visible(w)).length,
                coloured: words.filter(w => !['rgba(0, 0, 0, 0)', 'transparent'].includes(shade(w))).length,
                classes: document.querySelectorAll('#class-words + div tr').length - 1};
    }""")
    page.locator("#text-words").scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "text.png"))
    page.close()
    assert problems == [] and check["broken"] == []
    assert shown["examples"] >= 3 and shown["up"] >= 10 and shown["down"] >= 1
    assert shown["coloured"] == shown["up"] + shown["down"]  # every measured word has a shade (color-mix works)
    assert shown["classes"] == 5
    _assert_not_blank_viewport(tmp_path / "text.png")


def test_the_forecast_report_with_its_backtest_plot(browser, series_dir, tmp_path):
    """Monthly El Nino temperatures: the page has its five sections, the forecast plot draws the history, the
    dashed backtest windows and the interval band, and nothing is fetched or broken."""
    import trainwright

    run = trainwright.train(series_dir / "elnino.csv", target="temperature", task="forecast", out=tmp_path / "nino",
                            overrides=["split.time_column=month", "forecast.backtest.windows=4"])
    page, problems = open_page(browser, run.path / "report.html")
    state = page.evaluate(RENDER_CHECK)
    plot = page.evaluate("""() => {
        const svg = document.querySelector('#forecast figure svg');
        const r = svg.getBoundingClientRect();
        return {w: r.width, h: r.height, title: svg.getAttribute('aria-label'),
                dashed: [...svg.querySelectorAll('path')].filter(p => (p.getAttribute('style') || '').includes('dasharray')).length,
                rows: document.querySelectorAll('#forecast-table tr').length - 1,
                backtest: document.querySelectorAll('#backtest-table tr').length - 1};
    }""")
    page.locator("#forecast").scroll_into_view_if_needed()
    page.screenshot(path=str(tmp_path / "forecast.png"))
    page.close()
    assert problems == [] and state["broken"] == [] and state["empty"] == 0
    assert set(state["sections"]) == {"summary", "data", "backtest", "forecast", "decisions"}
    assert state["overflow"] <= 0
    assert plot["w"] > 500 and plot["h"] > 200 and "next 12 months" in plot["title"]
    assert plot["dashed"] >= 4  # one dashed forecast per backtest window (and the cutoffs' dotted lines)
    assert plot["rows"] == 12 and plot["backtest"] == 4  # seasonal naive, ets, gbdt, combined

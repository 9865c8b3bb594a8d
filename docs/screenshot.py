"""Make docs/report-screenshot.png: the top of a real report, as a reader's laptop shows it.

Run:  .venv/bin/python docs/screenshot.py [RUN_DIR]

Without RUN_DIR it trains the bundled penguins demo (model.type=auto) into a temporary
folder first. Needs Debian's Chromium (/usr/bin/chromium) and the playwright package
(dev extra); Playwright only drives the browser, it downloads nothing.
"""

from __future__ import annotations

import sys
import tempfile
from importlib import resources
from pathlib import Path

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic"]


def main() -> None:
    from playwright.sync_api import sync_playwright

    if len(sys.argv) > 1:
        run_dir = Path(sys.argv[1])
    else:
        import trainwright

        data = Path(str(resources.files("trainwright") / "datasets" / "penguins.csv"))
        run_dir = trainwright.train(data, target="species", out=Path(tempfile.mkdtemp()) / "penguins",
                                    overrides=["model.type=auto", "evaluate.sensitive=[sex]"]).path
    out = Path(__file__).parent / "report-screenshot.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
        page = browser.new_page(viewport={"width": 1366, "height": 1100})
        page.goto((run_dir / "report.html").resolve().as_uri())
        page.screenshot(path=str(out))
        browser.close()
    print(f"wrote {out} from {run_dir / 'report.html'}")


if __name__ == "__main__":
    main()

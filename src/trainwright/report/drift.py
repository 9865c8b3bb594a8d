"""The drift page: ``trainwright drift``'s result in the report's style."""

from __future__ import annotations

from datetime import datetime
from typing import Any

__all__ = ["render_drift"]


def render_drift(result: dict[str, Any], *, run: str, data: str, task: str) -> str:
    """One self-contained HTML page of a drift check (``deploy.drift.check_drift``'s result)."""
    from markupsafe import Markup

    from trainwright.evaluate.drift import SMALL
    from trainwright.report.render import _css, _version, environment

    rows = list(result["columns"].items())
    if "prediction" in result:
        rows.append(("(prediction)", result["prediction"]))
    return environment().get_template("drift.html.j2").render(
        d=result, rows=rows, run=run, data=data, task=task, css=Markup(_css()), small=SMALL, version=_version(),
        created=datetime.now().strftime("%Y-%m-%d %H:%M"))

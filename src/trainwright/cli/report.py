"""``trainwright report`` and ``compare``: the evaluation report of a run, and runs side by side."""

from __future__ import annotations

from pathlib import Path

from trainwright.cli.common import refuse_overwrite, say

__all__ = ["add_parsers"]


def add_parsers(sub) -> None:
    """The ``report`` and ``compare`` commands."""
    rp = sub.add_parser("report", help="rebuild a run's report.html from its evaluation.json")
    rp.add_argument("run", help="run directory")
    rp.add_argument("-o", "--output", help="HTML file to write (default: RUN/report.html, replaced)")
    rp.add_argument("--recompute", action="store_true",
                    help="evaluate again from the data file (its hash must match the run's) before rendering")
    rp.add_argument("--force", action="store_true", help="replace --output if it exists")
    rp.set_defaults(handler=_report)

    cp = sub.add_parser("compare", help="compare runs side by side in one HTML report")
    cp.add_argument("runs", nargs="+", metavar="RUN", help="two or more run directories of the same task")
    cp.add_argument("-o", "--output", default="compare.html", help="HTML file to write (default compare.html)")
    cp.add_argument("--force", action="store_true", help="replace the output file if it exists")
    cp.set_defaults(handler=_compare)


def _report(args) -> int:
    from trainwright.report.render import rebuild_report

    out = Path(args.output) if args.output else None
    if out is not None:
        refuse_overwrite([out], args.force)
    evaluation = None
    if args.recompute:
        from trainwright.pipeline.api import recompute_evaluation

        evaluation = recompute_evaluation(args.run)
    path = rebuild_report(args.run, out=out, evaluation=evaluation)
    say(f"wrote {path}")
    return 0


def _compare(args) -> int:
    from trainwright.report.compare import write_comparison

    out = Path(args.output)
    refuse_overwrite([out], args.force)
    write_comparison(args.runs, out)
    say(f"wrote {out}")
    return 0

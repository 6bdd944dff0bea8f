"""Score a model: AUC and accuracy, plus a small report folder."""

from __future__ import annotations

import json
from pathlib import Path

from churn_model.train import load, predict


def auc(scores: list[float], labels: list[int]) -> float:
    pos = [s for s, y in zip(scores, labels, strict=True) if y == 1]
    neg = [s for s, y in zip(scores, labels, strict=True) if y == 0]
    if not pos or not neg:
        return 0.5
    wins = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def score(features: Path, model: Path, report: Path, threshold: float = 0.5) -> dict[str, float]:
    """Evaluate ``model`` on ``features``; write a report folder."""
    xs, ys = load(features)
    weights = json.loads(model.read_text())["weights"]
    scores = [predict(weights, x) for x in xs]
    accuracy = sum((s >= threshold) == bool(y) for s, y in zip(scores, ys, strict=True)) / len(ys)
    metrics = {"auc": auc(scores, ys), "accuracy": accuracy}
    report.mkdir(parents=True, exist_ok=True)
    (report / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics

"""Fit a logistic regression by gradient descent (no numpy needed)."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import six


def load(features: Path) -> tuple[list[list[float]], list[int]]:
    with features.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    xs = [[float(r["tenure"]), float(r["spend"]), float(r["recent"])] for r in rows]
    ys = [int(r["churned"]) for r in rows]
    return xs, ys


def predict(weights: list[float], x: list[float]) -> float:
    z = weights[0] + sum(w * v for w, v in zip(weights[1:], x, strict=True))
    return 1.0 / (1.0 + math.exp(-z))


def fit(features: Path, model: Path, lr: float = 0.1, epochs: int = 5) -> dict[str, float]:
    """Train on ``features``, write the weights to ``model`` (JSON)."""
    xs, ys = load(features)
    weights = [0.0] * 4
    loss = 0.0
    for _ in range(epochs):
        loss = 0.0
        for x, y in zip(xs, ys, strict=True):
            p = predict(weights, x)
            loss -= y * math.log(p + 1e-12) + (1 - y) * math.log(1 - p + 1e-12)
            grad = p - y
            weights[0] -= lr * grad
            for i, v in enumerate(x):
                weights[i + 1] -= lr * grad * v
    model.write_text(json.dumps({"weights": weights, "six": six.__version__}))
    return {"train_loss": loss / len(xs)}

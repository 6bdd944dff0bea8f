"""Turn raw customer rows into numeric features."""

from __future__ import annotations

import csv
import random
from pathlib import Path

import six


def make_features(
    customers: Path, features: Path, window_days: int = 30, seed: int = 0
) -> dict[str, float]:
    """Read ``customers`` (CSV), write ``features`` (CSV with a label column)."""
    rng = random.Random(seed)
    with customers.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    with features.open("w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["tenure", "spend", "recent", "churned"])
        for row in rows:
            tenure = float(row["tenure_months"])
            spend = float(row["monthly_spend"])
            recent = min(float(row["days_since_login"]), window_days) / window_days
            noise = rng.gauss(0.0, 0.01)
            out.writerow([tenure / 60, spend / 100, recent + noise, row["churned"]])
    return {
        "rows": float(len(rows)),
        "six_major_minor": float(six.__version__.rsplit(".", 1)[0].replace(".", "")),
    }

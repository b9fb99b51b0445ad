"""The iris pipeline's tasks: `python -u training.py train` then `python -u training.py validate`.

train    fits a logistic regression on scikit-learn's bundled iris data (petal width -> is it
         virginica?) and writes it to the model store as a candidate:
         $MOUNT_PATH/candidate/<version>/{model.pkl, metadata.json}
         It also writes the training features as the drift check's reference data:
         $MOUNT_PATH/reference.csv (liminal.yml: monitoring.drift.reference).
validate loads the newest candidate, checks its accuracy on held-out data (exit 1 below
         MIN_ACCURACY, default 0.9) and promotes it: $MOUNT_PATH/production/<version>/.

The server (serving.py) loads the newest version under production/. Versions are UTC timestamps,
so they sort in creation order. Every write lands in a temporary folder first and is renamed
into place, so a reader never sees a half-written version.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import pickle
import shutil
import sys
from pathlib import Path
from typing import Any

from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

VIRGINICA = 2
PETAL_WIDTH_COLUMN = 3
SEED = 42


def model_store() -> Path:
    return Path(os.environ.get("MOUNT_PATH", "/mnt/gettingstartedvol"))


def _dataset() -> tuple:
    iris = load_iris()
    features = iris.data[:, [PETAL_WIDTH_COLUMN]]
    labels = (iris.target == VIRGINICA).astype(int)
    return train_test_split(features, labels, test_size=0.3, random_state=SEED, stratify=labels)


def _publish(folder: Path, files: dict[str, bytes]) -> None:
    """Write files into `folder` atomically (a temporary sibling renamed into place)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = folder.parent / f".{folder.name}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    for name, content in files.items():
        (staging / name).write_bytes(content)
    staging.rename(folder)


def _newest(folder: Path) -> Path | None:
    versions = [d for d in folder.glob("*") if (d / "model.pkl").is_file()]
    return max(versions, key=lambda d: d.name, default=None)


def train() -> Path:
    x_train, x_test, y_train, y_test = _dataset()
    model = LogisticRegression(random_state=SEED).fit(x_train, y_train)
    now = dt.datetime.now(dt.UTC)
    version = now.strftime("%Y%m%dT%H%M%S%fZ")
    metadata = {
        "version": version,
        "accuracy": float(model.score(x_test, y_test)),
        "created_at": now.isoformat(),
        "features": ["petal_width"],
        "target": "is_virginica",
    }
    folder = model_store() / "candidate" / version
    _publish(
        folder,
        {"model.pkl": pickle.dumps(model), "metadata.json": json.dumps(metadata).encode()},
    )
    _write_reference(x_train)
    print(f"trained candidate {version} (test accuracy {metadata['accuracy']:.3f}) in {folder}")
    return folder


def _write_reference(features: Any) -> None:
    """The data the model was trained on, as the served requests should look (drift check)."""
    target = model_store() / "reference.csv"
    staging = target.with_name(".reference.csv.tmp")
    lines = ["petal_width"] + [repr(float(row[0])) for row in features]
    staging.write_text("\n".join(lines) + "\n")
    staging.replace(target)


def validate() -> Path:
    candidate = _newest(model_store() / "candidate")
    if candidate is None:
        print(f"no candidate model under {model_store() / 'candidate'}: run train first")
        sys.exit(1)
    with open(candidate / "model.pkl", "rb") as f:
        model = pickle.load(f)  # our own store, written by train()
    _, x_test, _, y_test = _dataset()
    accuracy = float(model.score(x_test, y_test))
    threshold = float(os.environ.get("MIN_ACCURACY", "0.9"))
    if accuracy < threshold:
        print(f"candidate {candidate.name}: accuracy {accuracy:.3f} < {threshold}: not promoted")
        sys.exit(1)
    metadata = json.loads((candidate / "metadata.json").read_text())
    metadata["accuracy"] = accuracy
    metadata["validated_at"] = dt.datetime.now(dt.UTC).isoformat()
    production = model_store() / "production" / candidate.name
    if not production.exists():
        _publish(
            production,
            {
                "model.pkl": (candidate / "model.pkl").read_bytes(),
                "metadata.json": json.dumps(metadata).encode(),
            },
        )
    print(f"promoted {candidate.name} (accuracy {accuracy:.3f}) to {production}")
    return production


if __name__ == "__main__":
    commands = {"train": train, "validate": validate}
    if len(sys.argv) != 2 or sys.argv[1] not in commands:
        print(f"usage: {sys.argv[0]} train|validate")
        sys.exit(2)
    commands[sys.argv[1]]()

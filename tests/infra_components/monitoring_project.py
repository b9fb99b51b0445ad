"""A small project for the monitoring tests: one monitored service (drift checks, every alert,
e-mail and HTTPS subscribers) and one unmonitored, in a file whose pipeline publishes JobResult
to CloudWatch."""

from __future__ import annotations

from pathlib import Path

from liminal_pulumi.dsl.loader import load_project
from liminal_pulumi.dsl.model import Project

TEXT = """
name: shop
metrics:
  namespace: ShopModels
  backends: [cloudwatch]
volumes:
  - volume: store
images:
  - image: shop/app
    type: python_server
    source: .
    endpoints:
      - endpoint: /predict
        module: serving
        function: predict
pipelines:
  - pipeline: train_pipeline
    start_date: 2024-01-01
    timeout_minutes: 30
    tasks:
      - task: train
        type: python
        image: shop/app
        cmd: python train.py
services:
  - service: scoring_server
    image: shop/app
    mounts:
      - volume: store
        path: /mnt/store
    monitoring:
      drift:
        reference: /mnt/store/reference.csv
      alerts:
        error_rate: 0.02
        p99_latency_ms: 250
        drift_share: 0.4
        period_seconds: 120
        evaluation_periods: 3
        notify:
          email: [oncall@example.com, ml@example.com]
          https: https://hooks.example.com/liminal
  - service: batch_server
    image: shop/app
    mounts:
      - volume: store
        path: /mnt/store
"""


def write_project(root: Path, text: str = TEXT) -> Project:
    (root / "liminal.yml").write_text(text)
    (root / "serving.py").write_text("def predict(body):\n    return {'result': 1}\n")
    return load_project(root)

"""The endpoints file: how a python_server image's `endpoints` reach the server process.

The image build context and `liminal serve` both write the image's endpoints here, and the server
process (`server_main`) reads them back, so the container needs no liminal.yml.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from pydantic import TypeAdapter

from liminal_pulumi.dsl.model import Endpoint
from liminal_pulumi.serving.settings import ENDPOINTS_FILE_NAME

__all__ = ["ENDPOINTS_FILE_NAME", "dump_endpoints", "load_endpoints"]

_ENDPOINTS = TypeAdapter(tuple[Endpoint, ...])


def dump_endpoints(endpoints: Sequence[Endpoint]) -> str:
    return _ENDPOINTS.dump_json(tuple(endpoints), indent=2).decode() + "\n"


def load_endpoints(path: Path) -> tuple[Endpoint, ...]:
    return _ENDPOINTS.validate_json(path.read_bytes())

"""Fixtures for prompt-family tests: small family files written into tmp_path."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from cabench.prompts.family import Family
from cabench.prompts.template import Template


@pytest.fixture
def family_file(tmp_path: Path) -> Callable[..., Path]:
    """Write a family YAML file: raw YAML ``body``, or one template from positive/negative."""

    def write(
        body: str | None = None,
        *,
        positive: str = "{{ finding }} is present.",
        negative: str = "{{ finding }} is not present.",
        name: str = "tiny",
        filename: str | None = None,
    ) -> Path:
        if body is None:
            body = f"""
                name: {name}
                version: 1
                description: a test family
                templates:
                  - positive: {json.dumps(positive)}
                    negative: {json.dumps(negative)}
                """
        path = tmp_path / (filename or f"{name}.yaml")
        path.write_text(textwrap.dedent(body).lstrip())
        return path

    return write


@pytest.fixture
def make_family() -> Callable[..., Family]:
    """Build a Family from Template objects (origin filled in as the loader does)."""

    def build(templates: list[Template], name: str = "made") -> Family:
        placed = [
            Template(
                t.clauses,
                t.separator,
                t.overrides,
                {
                    "family": name,
                    "index": i,
                    "parent": None,
                    "augmenter": None,
                    "params": {},
                    "seed": None,
                },
                i == 0,
                t.label,
            )
            for i, t in enumerate(templates)
        ]
        return Family(name, 1, "made in a test", None, "0" * 64, placed)

    return build

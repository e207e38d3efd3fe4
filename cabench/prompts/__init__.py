"""Prompt template families, augmenters and sandboxed rendering.

A family (YAML in ``prompts/`` or any path) is validated when loaded; :func:`expand` adds
augmented templates; :func:`render_all` renders every template for every finding. See
docs/prompts.md.
"""

from cabench.prompts.augment import (
    AUGMENTERS,
    Augmenter,
    Expansion,
    augmenter_names,
    expand,
    expand_family,
    get_augmenter,
)
from cabench.prompts.family import Family, load_family, parse_family
from cabench.prompts.locate import family_names, search_path
from cabench.prompts.render import PromptRow, render, render_all, unique_prompts
from cabench.prompts.spec import AugmentStep, parse_spec
from cabench.prompts.template import Clause, Template
from cabench.prompts.validate import validate_family
from cabench.prompts.variables import VARIABLES

__all__ = [
    "AUGMENTERS",
    "AugmentStep",
    "Augmenter",
    "Clause",
    "Expansion",
    "Family",
    "PromptRow",
    "Template",
    "VARIABLES",
    "augmenter_names",
    "expand",
    "expand_family",
    "family_names",
    "get_augmenter",
    "load_family",
    "parse_family",
    "parse_spec",
    "render",
    "render_all",
    "search_path",
    "unique_prompts",
    "validate_family",
]

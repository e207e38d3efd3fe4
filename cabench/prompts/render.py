"""Render templates into prompt text in Jinja2's sandbox, with undefined variables as errors.

Each distinct source is compiled once (cached), so rendering a family is a loop of cheap
``render`` calls. Rendered text is normalised: runs of whitespace become one space and spaces
before punctuation go, so dropping an optional part never leaves a double space behind.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any, NamedTuple

import jinja2
from jinja2 import StrictUndefined, meta, nodes
from jinja2.exceptions import SecurityError, TemplateSyntaxError, UndefinedError
from jinja2.sandbox import SandboxedEnvironment

from cabench import vocab
from cabench.errors import UserError
from cabench.prompts.template import Template
from cabench.prompts.variables import context
from cabench.vocab import AnatomySet, Finding

MAX_REPEAT = 10_000  # longest string/list a template may build with `*`
SIDES = ("positive", "negative")


class TemplateProblem(ValueError):
    """What is wrong with one template source; callers add where it was found."""


class _PromptSandbox(SandboxedEnvironment):
    """The sandbox, also refusing `*` and `**` that would build huge values."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int | float) and abs(right) > 64:
            raise SecurityError("exponent too large")
        if operator == "*":
            for seq, times in ((left, right), (right, left)):
                repeatable = isinstance(seq, str | list | tuple) and isinstance(times, int)
                if repeatable and len(seq) * times > MAX_REPEAT:
                    raise SecurityError("repetition builds a value that is too long")
        return super().call_binop(context, operator, left, right)


def _environment() -> SandboxedEnvironment:
    env = _PromptSandbox(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False)
    env.globals.clear()  # no range, cycler, lipsum, ...: templates see only their variables
    return env


ENV = _environment()
_SPACES_BEFORE_PUNCT = re.compile(r"\s+([.,;:!?])")


def normalise(text: str) -> str:
    """Collapse whitespace and remove spaces before punctuation."""
    return _SPACES_BEFORE_PUNCT.sub(r"\1", " ".join(text.split()))


def inspect_source(source: str) -> set[str]:
    """Parse one source; refuse imports and private attributes; return the variables it reads."""
    return set(_inspect_cached(source))


@lru_cache(maxsize=8192)
def _inspect_cached(source: str) -> frozenset[str]:
    """:func:`inspect_source` once per distinct source (validation asks about each several times;
    a problem raises every time, as it is not cached)."""
    try:
        tree = ENV.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateProblem(f"Jinja syntax error: {exc.message} (line {exc.lineno})") from None
    for _ in tree.find_all((nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)):
        raise TemplateProblem("tries to leave the sandbox: import/include/extends is not allowed")
    for node in tree.find_all(nodes.Getattr):
        if node.attr.startswith("_"):
            raise TemplateProblem(f"tries to leave the sandbox: attribute {node.attr!r}")
    for node in tree.find_all(nodes.Getitem):
        key = node.arg.value if isinstance(node.arg, nodes.Const) else None
        if isinstance(key, str) and key.startswith("_"):
            raise TemplateProblem(f"tries to leave the sandbox: item {key!r}")
    return frozenset(meta.find_undeclared_variables(tree))


@lru_cache(maxsize=8192)
def compile_source(source: str) -> jinja2.Template:
    """The compiled template for ``source`` (compiled once per process)."""
    _inspect_cached(source)
    return ENV.from_string(source)


def render_source(source: str, variables: dict[str, Any]) -> str:
    """Render one source with ``variables``; problems raise :class:`TemplateProblem`.

    Rendering is a pure function of the source and the variables, so each distinct pair is
    rendered once per process: validation renders a template for every finding, partial's
    variants share their parent's minimal form, and the run renders the validated texts again.
    """
    return render_keyed(source, variables, variables_key(variables))


def render_keyed(source: str, variables: dict[str, Any], key: tuple | None) -> str:
    """:func:`render_source` with ``key = variables_key(variables)`` computed by the caller
    (once per finding rather than once per source)."""
    if key is None:
        return _render_uncached(source, variables)
    return _render_cached(source, key)


def variables_key(variables: dict[str, Any]) -> tuple | None:
    """A hashable copy of template variables (strings, and lists of strings), else None."""
    items = []
    for name, value in variables.items():
        if isinstance(value, list | tuple):
            if not all(isinstance(v, str) for v in value):
                return None
            value = (type(value).__name__, tuple(value))
        elif not isinstance(value, str | int | float | bool | None):
            return None
        items.append((name, value))
    return tuple(items)


@lru_cache(maxsize=1 << 16)
def _render_cached(source: str, key: tuple) -> str:
    """:func:`_render_uncached` of the variables ``key`` stands for (see variables_key)."""
    variables = {
        name: (list(value[1]) if value[0] == "list" else tuple(value[1]))
        if isinstance(value, tuple)
        else value
        for name, value in key
    }
    return _render_uncached(source, variables)


def _render_uncached(source: str, variables: dict[str, Any]) -> str:
    compiled = compile_source(source)
    try:
        text = compiled.render(variables)
    except SecurityError as exc:
        raise TemplateProblem(f"tries to leave the sandbox: {exc}") from None
    except UndefinedError as exc:
        raise TemplateProblem(f"undefined variable: {exc}") from None
    except jinja2.TemplateError as exc:
        raise TemplateProblem(f"cannot render: {exc}") from None
    except Exception as exc:  # a user's expression failing (TypeError, ZeroDivisionError, ...)
        raise TemplateProblem(f"cannot render: {type(exc).__name__}: {exc}") from None
    return normalise(text)


def describe(template: Template) -> str:
    """How error messages name a template: family, label or position, and id."""
    family = template.origin.get("family")
    name = template.label or (
        f"#{template.origin['index'] + 1}" if "index" in template.origin else None
    )
    parts = [f"family {family!r}" if family else None, f"template {name}" if name else "template"]
    return " ".join(p for p in parts if p) + f" ({template.template_id})"


def _as_finding(finding: Finding | str) -> Finding:
    return finding if isinstance(finding, Finding) else vocab.finding(finding)


def _as_set(anatomy_set: AnatomySet | str) -> AnatomySet:
    return anatomy_set if isinstance(anatomy_set, AnatomySet) else vocab.anatomy_set(anatomy_set)


def _render_pair(
    template: Template, finding: Finding, base: dict[str, Any], base_key: tuple | None = None
) -> tuple[str, str]:
    if template.overrides:
        variables = {**base, **template.override_for(finding.name)}
        key = variables_key(variables)
    else:
        variables, key = base, variables_key(base) if base_key is None else base_key
    texts = []
    for side in SIDES:
        try:
            texts.append(render_keyed(getattr(template, side), variables, key))
        except TemplateProblem as exc:
            raise UserError(f"{describe(template)}, {side}, {finding.name!r}: {exc}") from None
    return texts[0], texts[1]


def render(
    template: Template, finding: Finding | str, anatomy_set: AnatomySet | str = "chest7"
) -> tuple[str, str]:
    """The (positive, negative) text of ``template`` for one finding in one anatomy set."""
    finding, anatomy_set = _as_finding(finding), _as_set(anatomy_set)
    return _render_pair(template, finding, context(finding, anatomy_set))


class PromptRow(NamedTuple):
    """One rendered pair: which template, which finding, and the two texts."""

    template_id: str
    finding: str
    positive: str
    negative: str


def render_all(
    templates: Sequence[Template],
    findings: Iterable[Finding | str] | None = None,
    anatomy_set: AnatomySet | str = "chest7",
) -> list[PromptRow]:
    """Render every template for every finding (default: all 18), template by template."""
    anatomy_set = _as_set(anatomy_set)
    chosen = [_as_finding(f) for f in (vocab.findings() if findings is None else findings)]
    contexts = [(finding, context(finding, anatomy_set)) for finding in chosen]
    keys = [variables_key(base) for _, base in contexts]
    rows: list[PromptRow] = []
    for template in templates:
        for (finding, base), key in zip(contexts, keys, strict=True):
            positive, negative = _render_pair(template, finding, base, key)
            rows.append(PromptRow(template.template_id, finding.name, positive, negative))
    return rows


def unique_prompts(rows: Iterable[PromptRow]) -> list[str]:
    """Every distinct prompt text in ``rows``, in first-seen order: what a text encoder needs."""
    seen: dict[str, None] = {}
    for row in rows:
        seen.setdefault(row.positive)
        seen.setdefault(row.negative)
    return list(seen)

"""Parse augment specs such as ``permutation:n=10,partial:n=10:seed=3``.

Grammar: items separated by commas; each item is an augmenter name followed by ``:key=value``
parameters. Every augmenter takes ``n`` (how many new templates, default 10) and ``seed``
(default 0); some take more. Any mistake is one UserError line naming the spec.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cabench.errors import UserError
from cabench.registry import did_you_mean

DEFAULT_N = 10
DEFAULT_SEED = 0
MAX_N = 10_000


@dataclass(frozen=True)
class AugmentStep:
    """One augmenter of a spec with its parameters."""

    name: str
    n: int = DEFAULT_N
    seed: int = DEFAULT_SEED
    params: tuple[tuple[str, Any], ...] = ()

    def spec(self) -> str:
        """The canonical spec text of this step (all parameters spelled out)."""
        extra = "".join(f":{k}={v}" for k, v in self.params)
        return f"{self.name}:n={self.n}:seed={self.seed}{extra}"


def _integer(value: str, key: str, where: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise UserError(f"{where}: {key} must be a whole number, got {value!r}") from None
    return number


def _typed(value: str, default: Any, key: str, where: str) -> Any:
    if isinstance(default, bool):
        if value.lower() not in ("true", "false"):
            raise UserError(f"{where}: {key} must be true or false, got {value!r}")
        return value.lower() == "true"
    if isinstance(default, int):
        return _integer(value, key, where)
    if isinstance(default, float):
        try:
            return float(value)
        except ValueError:
            raise UserError(f"{where}: {key} must be a number, got {value!r}") from None
    return value


def parse_item(item: str, spec: str, params_of: Callable[[str], dict[str, Any]]) -> AugmentStep:
    """One ``name:key=value:...`` item of ``spec``."""
    where = f"augment spec {spec!r}"
    name, *pairs = (part.strip() for part in item.split(":"))
    if not name:
        raise UserError(f"{where}: an item has no augmenter name (write e.g. permutation:n=10)")
    try:
        extra_defaults = params_of(name)
    except UserError as exc:  # unknown augmenter: keep the registry's suggestion
        raise UserError(f"{where}: {exc}") from None
    allowed = ["n", "seed", *extra_defaults]
    values: dict[str, str] = {}
    for pair in pairs:
        key, eq, value = (s.strip() for s in pair.partition("="))
        if not eq or not key or not value:
            raise UserError(f"{where}: expected key=value after {name!r}, got {pair!r}")
        if key not in allowed:
            raise UserError(
                f"{where}: {name} has no parameter {key!r}: {did_you_mean(key, allowed)}"
            )
        if key in values:
            raise UserError(f"{where}: {key} is given twice for {name}")
        values[key] = value
    n = _integer(values.pop("n", str(DEFAULT_N)), "n", where)
    if not 0 <= n <= MAX_N:
        raise UserError(f"{where}: n must be between 0 and {MAX_N}, got {n}")
    seed = _integer(values.pop("seed", str(DEFAULT_SEED)), "seed", where)
    params = tuple(sorted((k, _typed(v, extra_defaults[k], k, where)) for k, v in values.items()))
    return AugmentStep(name, n, seed, params)


def parse_spec(spec: str | None, params_of: Callable[[str], dict[str, Any]]) -> list[AugmentStep]:
    """All steps of ``spec`` (None or blank: none). ``params_of`` gives an augmenter's extras."""
    if spec is None or not spec.strip():
        return []
    steps = []
    for item in spec.split(","):
        if not item.strip():
            raise UserError(f"augment spec {spec!r}: empty item (two commas, or a trailing one)")
        steps.append(parse_item(item.strip(), spec, params_of))
    return steps

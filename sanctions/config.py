"""Configuration: matching thresholds, from a TOML file.

The file is ``$SANCTIONS_CONFIG``, else ``sanctions.toml`` in the working
directory if there is one; absent settings keep their defaults::

    [matching]
    high = 0.88   # auto-link at or above
    low = 0.70    # review band: low <= score < high
    near = 0.60   # pairs kept as near misses for gap reports: near <= score < low
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path


@dataclass(frozen=True)
class MatchingConfig:
    high: float = 0.88
    low: float = 0.70
    near: float = 0.60

    def band(self, score: float) -> str | None:
        if score >= self.high:
            return "link"
        if score >= self.low:
            return "review"
        if score >= self.near:
            return "near"
        return None


def config_path() -> Path | None:
    explicit = os.environ.get("SANCTIONS_CONFIG")
    if explicit:
        return Path(explicit)
    local = Path("sanctions.toml")
    return local if local.exists() else None


def matching_config() -> MatchingConfig:
    path = config_path()
    if path is None:
        return MatchingConfig()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8")).get("matching", {})
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{path}: cannot read the configuration: {exc}") from None
    known = {f.name for f in fields(MatchingConfig)}
    unknown = set(data) - known
    if unknown:
        raise ValueError(f"{path}: unknown [matching] settings {', '.join(sorted(unknown))}")
    config = MatchingConfig(**{k: float(v) for k, v in data.items()})
    if not 0 <= config.near <= config.low <= config.high <= 1:
        raise ValueError(f"{path}: thresholds must satisfy 0 <= near <= low <= high <= 1")
    return config

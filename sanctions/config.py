"""Configuration: matching thresholds, from a TOML file.

The file is ``$SANCTIONS_CONFIG``, else ``sanctions.toml`` in the working
directory if there is one; absent settings keep their defaults::

    [matching]
    high = 0.88   # auto-link at or above
    low = 0.70    # review band: low <= score < high
    near = 0.60   # pairs kept as near misses for gap reports: near <= score < low

Every other tuning constant of the matcher is a field of ``MatchingConfig``
too and can be set under ``[matching]`` the same way; each match run stores
the configuration it used and its hash, so a result can be reproduced.
"""
from __future__ import annotations

import hashlib
import json
import os
import tomllib
from dataclasses import asdict, dataclass, fields
from pathlib import Path


@dataclass(frozen=True)
class MatchingConfig:
    high: float = 0.88
    low: float = 0.70
    near: float = 0.60

    # Candidate generation: absolute caps, so the work per record does not grow with the store.
    token_postings_cap: int = 500      # a name token on more designations than this blocks nothing
    exact_postings_cap: int = 50       # an identifier or whole-name key shared this widely blocks nothing
    candidates_per_record: int = 10    # best candidates kept per designation by name evidence
    prior_total: int = 5000            # corpus size assumed for rarity weights in small stores
    rarity_step: float = 1.15          # document frequencies counted in geometric steps of this ratio
    # Name comparison.
    token_match: float = 0.88          # similarity at which two folded tokens count as the same
    token_edits: float = 0.80          # ... provided their edit-based similarity reaches this too
    min_name_mass: float = 9.0         # rarity (summed idf) a name match needs to count fully
    mismatch_factor: float = 0.9       # both names carrying a word the other lacks
    weak_name_factor: float = 0.85
    name_support: float = 0.01
    primary_bonus: float = 0.01
    skeleton_factor: float = 0.85      # an Arabic-script name against a Latin one, on consonant skeletons
    # Other evidence, added to the name score.
    dob_same_day: float = 0.12
    dob_compatible: float = 0.04
    dob_near: float = -0.08
    dob_conflict: float = -0.40
    nationality_agree: float = 0.03
    nationality_conflict: float = -0.08
    gender_conflict: float = -0.40
    id_conflict: float = -0.30
    # Identifiers: an equal one is decisive only when nothing else disagrees.
    id_decisive: float = 0.99          # score floor of an equal identifier with agreeing names
    id_name_floor: float = 0.30        # name similarity below which names count as unrelated
    id_conflict_score: float = 0.80    # an equal identifier against conflicting names, dates or gender: review
    # Organisations with country branches.
    branch_conflict: float = -0.25     # both name another country in the name, or disjoint address countries
    branch_agree: float = 0.03

    def band(self, score: float) -> str | None:
        if score >= self.high:
            return "link"
        if score >= self.low:
            return "review"
        if score >= self.near:
            return "near"
        return None

    def as_dict(self) -> dict[str, float | int]:
        return asdict(self)

    def digest(self) -> str:
        """SHA-256 of the settings, recorded on every match run."""
        text = json.dumps(self.as_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


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
    types = {f.name: type(f.default) for f in fields(MatchingConfig)}
    try:
        config = MatchingConfig(**{k: types[k](v) for k, v in data.items()})
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: bad [matching] setting: {exc}") from None
    if not 0 <= config.near <= config.low <= config.high <= 1:
        raise ValueError(f"{path}: thresholds must satisfy 0 <= near <= low <= high <= 1")
    return config

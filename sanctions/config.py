"""Configuration: matching thresholds and the whole deployment's settings, from a TOML file.

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
from typing import Any
from pathlib import Path


# Bumped whenever features, blocking keys, candidate ranking or scoring change their results
# (or the stored candidate lists their form): see ``MatchingConfig.digest``.
MATCHER_VERSION = "2026-12-07"


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
    duplicate_name_min: float = 0.80   # two records of one publisher with an equal identifier: names this close
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
        """SHA-256 of the settings and the matcher's version, recorded on every match run.

        An incremental match trusts the stored keys and best candidates only under the
        same digest, so a release that changes what the matcher computes bumps
        ``MATCHER_VERSION`` and the next match is a full one.
        """
        text = json.dumps({**self.as_dict(), "matcher_version": MATCHER_VERSION}, sort_keys=True)
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
    if config.candidates_per_record < 1 or config.min_name_mass <= 0:
        raise ValueError(f"{path}: candidates_per_record must be at least 1 and min_name_mass above 0")
    return config


# --- the whole configuration: sources, archive, database, SMTP, web --------------------------------
#
# One TOML file (``--config FILE``, else ``$SANCTIONS_CONFIG``, else ``./sanctions.toml``)
# holds every setting an unattended deployment needs.  Each effective value
# remembers where it came from, because "why is the nightly job fetching that
# URL?" is the first question an operator asks; ``sanctions config`` prints it.
# Precedence: command-line option > environment > file > built-in default.

OFAC_EXPORTS = "https://sanctionslistservice.ofac.treas.gov/api/PublicationPreview/exports"

# The publishers' official addresses.  OFAC: the advanced XML editions, which
# carry each designation's listing date (the CSV and legacy XML do not).  The
# EU Financial Sanctions Files need a per-subscriber token, so the EU has no
# default and is fetched only once ``[sources.eu] url`` is configured.
DEFAULT_SOURCE_URLS: dict[str, str | None] = {
    "us-sdn": f"{OFAC_EXPORTS}/SDN_ADVANCED.XML",
    "us-cons": f"{OFAC_EXPORTS}/CONS_ADVANCED.XML",
    "eu": None,
    "gb": "https://sanctionslist.fcdo.gov.uk/docs/UK-Sanctions-List.xml",
    "ca": "https://www.international.gc.ca/world-monde/assets/office_docs/international_relations-"
          "relations_internationales/sanctions/sema-lmes.xml",
    "un": "https://scsanctions.un.org/resources/xml/en/consolidated.xml",
}

# (section, key) -> default; None means "not set".  Per-source settings are
# ``sources.<name>`` with the keys of SOURCE_DEFAULTS (a source's timeout,
# retries and size limit fall back to [refresh]).
DEFAULTS: dict[tuple[str, str], Any] = {
    ("database", "url"): "sqlite:///sanctions.db",
    ("archive", "dir"): "archive",
    ("reports", "dir"): "reports",
    ("refresh", "timeout"): 60.0,          # seconds per connection attempt and per read
    ("refresh", "retries"): 3,             # further attempts after a failed one
    ("refresh", "backoff"): 2.0,           # seconds before the first retry, doubled each time
    ("refresh", "max_bytes"): 300_000_000,  # OFAC's SDN advanced XML is ~120 MB
    ("refresh", "lock_timeout"): 10.0,     # how long a refresh waits for a running one
    ("refresh", "user_agent"): "sanctions-registry refresh",
    ("smtp", "host"): None,                # mail is off until a host is configured
    ("smtp", "port"): 25,
    ("smtp", "starttls"): False,
    ("smtp", "username"): None,
    ("smtp", "password"): None,
    ("smtp", "sender"): "sanctions-registry@localhost",
    ("smtp", "to"): [],
    ("web", "host"): "127.0.0.1",
    ("web", "port"): 5000,
    ("web", "secret_key"): None,
    ("performance", "match_workers"): 0,  # processes of a large match (features, scoring); 0 = one per CPU
    ("log", "format"): "logfmt",           # logfmt or json, one line per event on stderr
    ("log", "level"): "info",
}
SOURCE_DEFAULTS: dict[str, Any] = {"url": None, "enabled": True, "timeout": None, "retries": None,
                                   "max_bytes": None}
SECRET = {("smtp", "password"), ("web", "secret_key")}
# Sections whose other owners may add keys this module does not know.
OPEN_SECTIONS = {"web", "matching"}

ENVIRONMENT: dict[tuple[str, str], str] = {
    ("database", "url"): "SANCTIONS_DB",
    ("archive", "dir"): "SANCTIONS_ARCHIVE",
    ("reports", "dir"): "SANCTIONS_REPORTS",
    ("smtp", "host"): "SANCTIONS_SMTP_HOST",
    ("smtp", "port"): "SANCTIONS_SMTP_PORT",
    ("smtp", "username"): "SANCTIONS_SMTP_USERNAME",
    ("smtp", "password"): "SANCTIONS_SMTP_PASSWORD",
    ("smtp", "to"): "SANCTIONS_MAIL_TO",
    ("web", "secret_key"): "SANCTIONS_SECRET_KEY",
    ("log", "format"): "SANCTIONS_LOG_FORMAT",
    ("performance", "match_workers"): "SANCTIONS_MATCH_WORKERS",
}


def source_env(source: str) -> str:
    """``SANCTIONS_URL_US_SDN`` and so on: a source's URL from the environment."""
    return "SANCTIONS_URL_" + source.upper().replace("-", "_")


@dataclass(frozen=True)
class Setting:
    value: Any
    origin: str  # default, file <path>, environment $VAR, option --x


class ConfigError(ValueError):
    """A configuration file that cannot be used: names the file and the setting."""


def _coerce(path: str, name: str, default: Any, value: Any) -> Any:
    """Environment values are strings; give them the type of the default."""
    try:
        if isinstance(default, bool):
            if isinstance(value, str):
                return value.strip().lower() in ("1", "true", "yes", "on")
            return bool(value)
        if isinstance(default, int):
            return int(value)
        if isinstance(default, float):
            return float(value)
        if isinstance(default, list):
            if isinstance(value, str):
                return [v.strip() for v in value.split(",") if v.strip()]
            return list(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{path}: {name} = {value!r} is not a valid {type(default).__name__}") from None
    return value


class Settings:
    """The effective configuration: (section, key) -> Setting."""

    def __init__(self, values: dict[tuple[str, str], Setting], path: Path | None):
        self.values = values
        self.path = path

    def __getitem__(self, item: tuple[str, str]) -> Any:
        setting = self.values.get(item)
        return setting.value if setting else None

    def source(self, name: str, key: str) -> Any:
        """A per-source setting, falling back to [refresh] for the download limits."""
        value = self[(f"sources.{name}", key)]
        if value is None and key in ("timeout", "retries", "max_bytes"):
            return self[("refresh", key)]
        return value

    def sources(self) -> list[str]:
        """The sources a refresh fetches: enabled and with a URL, in the fixed source order."""
        from sanctions.schema import SOURCES
        return [s for s in SOURCES if self[(f"sources.{s}", "enabled")] and self[(f"sources.{s}", "url")]]

    def rows(self) -> list[tuple[str, str, Any, str]]:
        """(section, key, shown value, origin), secrets masked, for ``sanctions config``."""
        out = []
        for (section, key), setting in sorted(self.values.items()):
            value = setting.value
            if (section, key) in SECRET and value:
                value = "********"
            out.append((section, key, value, setting.origin))
        return out


def _read_file(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the configuration: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def load(path: str | Path | None = None, options: dict[tuple[str, str], Any] | None = None,
         environ: dict[str, str] | None = None) -> Settings:
    """The effective configuration: defaults, then the file, the environment and the options.

    ``options`` are the command line's values as (value, flag), e.g.
    ``{("database", "url"): (url, "--db")}``; a value of None was not given.
    """
    from sanctions.schema import SOURCES

    environ = os.environ if environ is None else environ
    if path is None:
        path = config_path()
    path = Path(path).resolve() if path is not None else None
    values: dict[tuple[str, str], Setting] = {k: Setting(v, "default") for k, v in DEFAULTS.items()}
    defaults = dict(DEFAULTS)
    for source in SOURCES:
        for key, value in SOURCE_DEFAULTS.items():
            value = DEFAULT_SOURCE_URLS[source] if key == "url" else value
            values[(f"sources.{source}", key)] = Setting(value, "default")
            defaults[(f"sources.{source}", key)] = value
    for field in fields(MatchingConfig):
        values[("matching", field.name)] = Setting(field.default, "default")
        defaults[("matching", field.name)] = field.default
    from sanctions.expectations import DEFAULT_MINIMUMS  # the partial-list guard's defaults live with it
    for source in SOURCES:
        values[("expected_minimum", source)] = Setting(DEFAULT_MINIMUMS.get(source, 0), "default")
        defaults[("expected_minimum", source)] = DEFAULT_MINIMUMS.get(source, 0)

    if path is not None:
        data = _read_file(path)
        origin = f"file {path}"
        for section, table in data.items():
            if section == "sources":
                if not isinstance(table, dict):
                    raise ConfigError(f"{path}: [sources] must hold one [sources.<name>] table per source")
                for source, entries in table.items():
                    if source not in SOURCES:
                        raise ConfigError(f"{path}: unknown source [sources.{source}]; one of {', '.join(SOURCES)}")
                    for key, value in entries.items():
                        if key not in SOURCE_DEFAULTS:
                            raise ConfigError(f"{path}: unknown setting {key!r} in [sources.{source}]; one of "
                                              f"{', '.join(SOURCE_DEFAULTS)}")
                        default = {"timeout": 0.0, "retries": 0, "max_bytes": 0, "enabled": True}.get(key)
                        name = f"sources.{source}.{key}"
                        values[(f"sources.{source}", key)] = Setting(
                            _coerce(str(path), name, default, value) if default is not None else value, origin)
                continue
            if not isinstance(table, dict):
                raise ConfigError(f"{path}: {section!r} must be a [{section}] table")
            for key, value in table.items():
                if section == "expected_minimum" and (section, key) not in defaults:
                    raise ConfigError(f"{path}: [expected_minimum] names unknown source {key!r}; "
                                      f"one of {', '.join(SOURCES)}")
                if (section, key) not in defaults and section not in OPEN_SECTIONS:
                    known = sorted({k for s, k in defaults if s == section})
                    raise ConfigError(f"{path}: unknown setting {key!r} in [{section}]"
                                      + (f"; one of {', '.join(known)}" if known else " (unknown section)"))
                default = defaults.get((section, key))
                coerced = _coerce(str(path), f"{section}.{key}", default, value) if default is not None else value
                if section == "expected_minimum" and coerced < 0:
                    raise ConfigError(f"{path}: [expected_minimum] {key} must be a whole number >= 0, "
                                      f"not {value!r}")
                values[(section, key)] = Setting(coerced, origin)

    env_names = dict(ENVIRONMENT)
    env_names.update({(f"sources.{s}", "url"): source_env(s) for s in SOURCES})
    for item, var in env_names.items():
        if environ.get(var):
            values[item] = Setting(_coerce(f"${var}", ".".join(item), defaults.get(item), environ[var]),
                                   f"environment ${var}")
    for item, (value, flag) in (options or {}).items():
        if value is not None and value != ():
            values[item] = Setting(value, f"option {flag}")
    return Settings(values, path)


def database_url(explicit: str | None = None) -> str:
    """``--db`` wins, then ``$SANCTIONS_DB``, then the file's [database] url, then a local SQLite file.

    The file is read only when neither the option nor the environment names
    a database, so a command given ``--db`` never depends on the file.
    """
    if explicit or os.environ.get("SANCTIONS_DB"):
        return explicit or os.environ["SANCTIONS_DB"]
    return load()[("database", "url")]

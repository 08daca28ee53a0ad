"""What every configuration file shares: the error type and the TOML reader.

Imports: the standard library only.
"""

from __future__ import annotations

import difflib
import tomllib
from pathlib import Path


class ConfigError(ValueError):
    """A configuration file that cannot be run; the message says what to change."""


def suggest(key: str, options) -> str:
    """`` (did you mean 'x'?)`` for the nearest of ``options``, or an empty string."""
    close = difflib.get_close_matches(key, list(options), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def check_keys(table: dict, allowed, where: str, errors: list | None = None) -> None:
    """Name every key of ``table`` that is not in ``allowed``, with the nearest valid one.

    The messages are appended to ``errors`` when given (to report every problem of a file at
    once); otherwise the first raises `ConfigError`.
    """
    for k in table:
        if k not in allowed:
            msg = f"{where}: unknown key {k!r}{suggest(k, allowed)}; allowed: {sorted(allowed)}"
            if errors is None:
                raise ConfigError(msg)
            errors.append(msg)


def read_toml(path) -> dict:
    """The table of a TOML file, or a `ConfigError` saying why not."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"no configuration file {path}")
    try:
        return tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path} is not valid TOML: {e}") from None

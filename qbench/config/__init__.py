"""One configuration layer: every setting the suite has, declared the same way, parsed once, turned into flags by one
function.

Where settings are declared: the general ones in ``general.py``; a dataset kind's and a model's beside their code
(their ``options``, gathered through their registries); the regression gate's thresholds in ``qbench.gate``
(``GATE_OPTIONS``, also read from ``pytest.ini`` / ``pyproject.toml``). The axes a run selects from (models, modes,
devices) are in ``axes.py``. ``add_flags`` is the one function that turns options into command-line flags, for the
pytest plugin (``--qbench-NAME``) and every ``qbench`` subcommand (``--NAME``).
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

from qbench.config.options import BUILD, RUN, Option, Settings, positive_int
from qbench.errors import QbenchError

__all__ = ["BUILD", "RUN", "Option", "Settings", "add_flags", "declared", "defaults", "for_stage", "parse",
           "positive_int"]


def declared() -> tuple[Option, ...]:
    """Every run option: the general ones, then each dataset kind's and each built-in model's (no duplicates)."""
    from qbench.config.general import GENERAL
    from qbench.data import DATASETS
    from qbench.models import MODELS

    found: dict[str, Option] = {}
    for option in (*GENERAL, *(o for kind in DATASETS.values() for o in kind.options),
                   *(o for model in MODELS.values() for o in model.options)):
        if found.setdefault(option.name, option) is not option:
            raise QbenchError(f"option --{option.name} is declared twice", "give each option its own name")
    return tuple(found.values())


def for_stage(stage: str) -> tuple[Option, ...]:
    return tuple(o for o in declared() if stage in o.stages)


def parse(raw: Callable[[Option], Any]) -> Settings:
    """``raw(option)``: the command line's value of each option; all are parsed before any is used."""
    return Settings.parse(declared(), raw)


def defaults(**given: Any) -> Settings:
    """Every option at its default (environment) value, with ``given`` (dest=value: text or parsed) on top."""
    return Settings.defaults(declared(), **given)


def add_flags(add: Callable[..., Any], options: Iterable[Option], prefix: str = "", dest_prefix: str = "",
              unset: bool = False) -> None:
    """Add one ``--{prefix}NAME`` flag per option through ``add`` (argparse's ``add_argument`` or pytest's
    ``addoption``); ``unset``: absent flags read None, so that values from elsewhere (a config file) stand."""
    for option in options:
        if option.flag:
            kwargs: dict[str, Any] = {"action": "store_true", "default": None if unset else False}
        else:
            kwargs = {"action": "append" if option.repeat else "store", "metavar": option.metavar,
                      "default": None if unset else ([] if option.repeat else None)}
            if option.choices:
                kwargs["choices"] = list(option.choices)
        add(f"--{prefix}{option.name}", dest=f"{dest_prefix}{option.dest}", help=option.help, **kwargs)

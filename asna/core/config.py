"""Text configs: one schema with every key, its type and default.

A config file holds only what differs from the defaults, in ``key = value``
lines under ``[data]``, ``[model]``, ``[loss]`` and ``[training]`` with Python
literal values. Unknown keys and wrong types are refused with one line that
names the file, the section and the key, so a typo never trains silently with
a default.
"""

from __future__ import annotations

import ast
import configparser
import copy
import os
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from asna.core.errors import UserError
from asna.core.paths import atomic_write
from asna.core.precision import PRECISIONS


@dataclass(frozen=True)
class Key:
    """One config key: its type, its default and, for strings, allowed values."""

    kind: str  # "int", "float", "bool", "str", "int_list", "float_list"
    default: Any
    choices: tuple[str, ...] | None = None
    length: int | None = None
    help: str = ""


ORIGINAL_NFS = [8, 16, 32, 64, 64, 64, 32, 16, 8, 32]
NETWORKS = ("simple", "bn", "attention", "tiled")
HEADS = ("flatten", "pooled")  # [model] head: the original Flatten head, or one pooled over positions
CLASSIC_MAPS = ("none", "gms")  # [model] classic_map: a hand-crafted similarity map beside the learned features

SCHEMA: dict[str, dict[str, Key]] = {
    "data": {
        "train": Key("str", "data/data_train.h5", help="HDF5 file of training pairs"),
        "val": Key("str", "data/data_val.h5", help="HDF5 file of validation pairs"),
        "augment": Key("bool", True, help="random 90-degree rotations and flips, same for both images"),
        "intensity_augment": Key("bool", False, help="scale the Lab L channel of both images by U(0.3, 1.5)"),
        "intensity_probability": Key("float", 0.5, help="share of training pairs whose lightness is scaled "
                                                        "when intensity_augment is on (the rest stay plain)"),
    },
    "model": {
        "network": Key("str", "attention", choices=NETWORKS),
        "image_size": Key("int", 288, help="side of the square input images"),
        "alpha": Key("float", 0.5, help="LeakyReLU slope"),
        "nfs": Key("int_list", list(ORIGINAL_NFS), length=10, help="filters per convolution stage"),
        "kss": Key("int_list", [5, 5, 3, 3], length=4, help="encoder kernel sizes"),
        "dense_num": Key("int", 32, help="units of the dense head"),
        "l2_reg": Key("float_list", [1e-6, 1e-4], length=2, help="[l2_dense, l2_conv]"),
        "drop_out": Key("float", 0.0),
        "num_resblocks": Key("int", 3, help="residual blocks after attention (attention network)"),
        "attention_flag": Key("bool", True, help="use the attention block (attention network)"),
        "tile_size": Key("int", 72, help="tile side for the tiled ConvLSTM network"),
        "lstm_units": Key("int", 32, help="ConvLSTM filters (tiled network)"),
        "decoder_source": Key("str", "reference", choices=("reference", "distorted"),
                              help="whose deepest features start the decoder"),
        "head": Key("str", "flatten", choices=HEADS,
                    help="flatten: the original dense head on the flattened 1/8-scale map (fixed input "
                         "size); pooled: the same dense layer per position, then a learned weighted mean "
                         "over positions, so the network takes any size that is a multiple of 16"),
        "classic_map": Key("str", "none", choices=CLASSIC_MAPS,
                           help="none: the original networks; gms: also feed the head each 8 x 8 cell's mean "
                                "and spread of the gradient-magnitude similarity of the pair (GMSD's map)"),
    },
    "loss": {
        "mse_factor": Key("float", 1.0),
        "spearman_factor": Key("float", 2.56, help="weight of mean(((R(y) - R(p)) / L)^2); 2.56 = the original 0.01 at L = 16"),
        "ranker": Key("str", "learned", choices=("learned", "softrank")),
        "ranking_model": Key("str", "ranking_model/ranker.keras", help="frozen learned ranker"),
        "softrank_temperature": Key("float", 0.02, help="soft-rank sigmoid temperature"),
    },
    "training": {
        "batch_size": Key("int", 16),
        "epochs": Key("int", 20),
        "steps_per_epoch": Key("int", 0, help="0 = the whole training set"),
        "learning_rate": Key("float", 1e-4),
        "learning_rate_drop": Key("float", 0.1),
        "drop_learning_rate_after_epochs": Key("int", 10),
        "init_weights": Key("str", "", help="model file to start from; empty = random"),
        "model_path": Key("str", "runs/model/model.keras", help="where the best model is kept"),
        "seed": Key("int", 0),
        "deterministic": Key("bool", False, help="seed everything and use deterministic TensorFlow ops "
                                                 "(identical logs on one machine; slower)"),
        "distribute": Key("str", "none", choices=("none", "mirrored", "multiworker")),
        "precision": Key("str", "auto", choices=PRECISIONS,
                         help="auto: mixed_float16 on a GPU of compute capability >= 7.0, mixed_bfloat16 "
                              "on a CPU with AVX-512 BF16 or AMX, else float32"),
    },
}

RENAMED = {("training", "mixed_precision"): "training.precision = auto | float32 | mixed_float16 | mixed_bfloat16"}
"""Keys that were replaced, and what to write instead."""


class ConfigError(UserError):
    """A config file or override the schema refuses."""


# Values a key's type allows but training cannot use: (section, key) -> (smallest, exclusive).
# Floats must also be finite; a rule's smallest value is allowed unless marked exclusive.
LIMITS: dict[tuple[str, str], tuple[float, bool]] = {
    ("model", "image_size"): (1, False),
    ("training", "batch_size"): (1, False),
    ("training", "epochs"): (1, False),
    ("training", "steps_per_epoch"): (0, False),
    ("training", "learning_rate"): (0.0, True),
    ("training", "learning_rate_drop"): (0.0, True),
    ("training", "drop_learning_rate_after_epochs"): (1, False),
    ("loss", "softrank_temperature"): (0.0, True),
    ("loss", "mse_factor"): (0.0, False),
    ("loss", "spearman_factor"): (0.0, False),
}


def _check_limits(where: str, section: str, key: str, value: Any) -> Any:
    """Refuse a value of the right type that cannot work (zero epochs, a NaN learning rate)."""
    import math

    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{where}: must be a finite number, got {value!r}")
    if (section, key) in LIMITS:
        smallest, exclusive = LIMITS[(section, key)]
        if value < smallest or (exclusive and value == smallest):
            bound = f"more than {smallest:g}" if exclusive else f"at least {smallest:g}"
            raise ConfigError(f"{where}: must be {bound}, got {value!r}")
    return value


class Section:
    """Attribute access to one section's resolved values."""

    def __init__(self, name: str, values: dict[str, Any]):
        self._name = name
        self._values = values

    def __getattr__(self, key: str) -> Any:
        try:
            return self._values[key]
        except KeyError:
            raise AttributeError(f"[{self._name}] has no key {key!r}") from None

    def as_dict(self) -> dict[str, Any]:
        return copy.deepcopy(self._values)


class Config:
    """A resolved config: every key of the schema with its value."""

    def __init__(self, values: dict[str, dict[str, Any]], source: str = "<defaults>"):
        self.values = values
        self.source = source

    def __getattr__(self, section: str) -> Section:
        if section in ("values", "source"):
            raise AttributeError(section)
        if section not in self.values:
            raise AttributeError(f"no config section {section!r}")
        return Section(section, self.values[section])

    def as_dict(self) -> dict[str, dict[str, Any]]:
        return copy.deepcopy(self.values)

    def to_text(self) -> str:
        """The whole resolved config in the same text format, every key written."""
        lines = [f"# resolved from {self.source}"]
        for section, keys in self.values.items():
            lines.append(f"\n[{section}]")
            for key, value in keys.items():
                lines.append(f"{key} = {value!r}")
        return "\n".join(lines) + "\n"

    def save(self, path: str | os.PathLike) -> None:
        """Write the resolved config atomically (temporary name, then rename)."""
        atomic_write(path, lambda temporary: temporary.write_text(self.to_text()))


def defaults() -> Config:
    """A config with every key at its default."""
    return Config({s: {k: copy.deepcopy(spec.default) for k, spec in keys.items()}
                   for s, keys in SCHEMA.items()})


def _coerce(where: str, spec: Key, raw: str) -> Any:
    """Parse ``raw`` as a Python literal and check it against ``spec``."""
    try:
        value = ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        if spec.kind == "str":
            value = raw  # bare words are accepted for strings: network = attention
        else:
            raise ConfigError(f"{where}: cannot read {raw!r} as {_describe(spec)}") from None
    return _check(where, spec, value)


def _describe(spec: Key) -> str:
    names = {"int": "a whole number", "float": "a number", "bool": "True or False",
             "str": "a string", "int_list": "a list of whole numbers", "float_list": "a list of numbers"}
    text = names[spec.kind]
    if spec.length:
        text += f" of length {spec.length}"
    return text


def _check(where: str, spec: Key, value: Any) -> Any:
    def is_int(v: Any) -> bool:
        return isinstance(v, int) and not isinstance(v, bool)

    def is_number(v: Any) -> bool:
        return (isinstance(v, (int, float))) and not isinstance(v, bool)

    ok = {
        "int": is_int(value),
        "float": is_number(value),
        "bool": isinstance(value, bool),
        "str": isinstance(value, str),
        "int_list": isinstance(value, (list, tuple)) and all(is_int(v) for v in value),
        "float_list": isinstance(value, (list, tuple)) and all(is_number(v) for v in value),
    }[spec.kind]
    if not ok:
        raise ConfigError(f"{where}: expected {_describe(spec)}, got {value!r}")
    if spec.kind.endswith("_list"):
        if spec.length is not None and len(value) != spec.length:
            raise ConfigError(f"{where}: expected {_describe(spec)}, got {len(value)} values")
        value = [float(v) for v in value] if spec.kind == "float_list" else list(value)
    if spec.kind == "float":
        value = float(value)
    if spec.choices is not None and value not in spec.choices:
        raise ConfigError(f"{where}: {value!r} is not one of {', '.join(spec.choices)}")
    return value


def _refuse_renamed(where: str, section: str, key: str) -> None:
    if (section, key) in RENAMED:
        raise ConfigError(f"{where}: [{section}] {key} was replaced; use {RENAMED[(section, key)]}")


def _set(config: Config, where_prefix: str, section: str, key: str, raw: str) -> None:
    _refuse_renamed(where_prefix, section, key)
    if section not in SCHEMA:
        raise ConfigError(f"{where_prefix}: unknown section [{section}] "
                          f"(known: {', '.join(SCHEMA)})")
    if key not in SCHEMA[section]:
        raise ConfigError(f"{where_prefix}: [{section}] {key}: unknown key "
                          f"(known: {', '.join(SCHEMA[section])})")
    where = f"{where_prefix}: [{section}] {key}"
    config.values[section][key] = _check_limits(where, section, key, _coerce(where, SCHEMA[section][key], raw))


def resolve_section(section: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """Every key of ``section``: its default, or the given value checked against the schema."""
    keys = SCHEMA[section]
    resolved = {key: copy.deepcopy(spec.default) for key, spec in keys.items()}
    for key, value in values.items():
        _refuse_renamed("config", section, key)
        if key not in keys:
            raise ConfigError(f"[{section}] {key}: unknown key (known: {', '.join(keys)})")
        resolved[key] = _check_limits(f"[{section}] {key}", section, key,
                                      _check(f"[{section}] {key}", keys[key], value))
    return resolved


def load_config(path: str | os.PathLike | None, overrides: Iterable[str] = ()) -> Config:
    """Read a config file (or only defaults when ``path`` is None) and apply overrides.

    ``overrides`` are ``section.key=value`` strings from ``--set``.
    """
    config = defaults()
    if path is not None:
        path = str(path)
        config.source = path
        if not os.path.isfile(path):
            raise ConfigError(f"{path}: config file not found")
        parser = configparser.ConfigParser(interpolation=None, delimiters=("=",),
                                           comment_prefixes=("#", ";"), inline_comment_prefixes=None,
                                           strict=True, empty_lines_in_values=False)
        parser.optionxform = str  # keep key case so typos are reported as written
        try:
            with open(path, encoding="utf-8") as handle:
                parser.read_file(handle, source=path)
        except configparser.MissingSectionHeaderError as error:
            raise ConfigError(f"{path}: line {error.lineno}: a key before any [section]") from None
        except configparser.Error as error:
            raise ConfigError(f"{path}: {error.message.splitlines()[0]}") from None
        except (OSError, UnicodeDecodeError) as error:
            raise ConfigError(f"{path}: cannot read the file ({error})") from None
        for section in parser.sections():
            for key, raw in parser.items(section):
                _set(config, path, section, key, raw.strip())
    for override in overrides:
        name, sep, raw = override.partition("=")
        section, dot, key = name.strip().partition(".")
        if not sep or not dot or not key:
            raise ConfigError(f"--set {override}: expected section.key=value")
        _set(config, f"--set {override}", section, key, raw.strip())
    return config


def add_config_arguments(parser: Any, config_required: bool = True) -> None:
    """Add ``--config`` and ``--set`` to an argparse parser."""
    parser.add_argument("--config", required=config_required, metavar="FILE",
                        help="text config file (see configs/); keys not given keep their defaults")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="SECTION.KEY=VALUE",
                        help="override one config value, e.g. --set training.epochs=2 (repeatable)")


SCRIPT_FOR_NETWORK = {name: f"train_{name}.py" for name in NETWORKS}


def check_network(config: Config, network: str) -> None:
    """Refuse a config meant for another network, naming the right script."""
    wanted = config.model.network
    if wanted != network:
        raise UserError(f"{config.source}: [model] network is {wanted!r}; train it with "
                        f"{SCRIPT_FOR_NETWORK[wanted]} (this is {SCRIPT_FOR_NETWORK[network]})")

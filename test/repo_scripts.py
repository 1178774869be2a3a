"""Import a script of the repository's scripts/ folder by file path (scripts/ is not installed, and pytest
does not put the repo root on sys.path)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

REPO = Path(__file__).resolve().parents[1]


def load_script(relative_path: str) -> ModuleType:
    """The module of scripts/<relative_path> (e.g. "models/canonical_face.py"), executed once per process."""
    path = REPO / "scripts" / relative_path
    name = "repo_scripts." + relative_path.removesuffix(".py").replace("/", ".")
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None, path
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # dataclasses look their module up while the script executes
        spec.loader.exec_module(module)
    return sys.modules[name]

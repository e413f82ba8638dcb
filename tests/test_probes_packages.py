"""The probes' packages: each states its public API in ``__all__``, every name there resolves to
what it names (not to a submodule of the same name), and importing a package stays cheap."""

from __future__ import annotations

import importlib
import pkgutil
import subprocess
import sys
import types

import pytest

import probes

PACKAGES = sorted(
    info.name for info in pkgutil.iter_modules(probes.__path__, "probes.") if info.ispkg
)
HEAVY = ["sqlalchemy", "pydantic", "torch", "transformers", "numpy", "pynvml"]


def test_every_probe_concern_is_a_package() -> None:
    concerns = [
        *("api", "evals", "funnel", "gpu", "labelling"),
        *("prometheus", "run", "slurm", "tokens", "training"),
    ]
    assert [f"probes.{name}" for name in concerns] == PACKAGES


@pytest.mark.parametrize("name", PACKAGES)
def test_importing_a_package_imports_nothing_heavy(name: str) -> None:
    code = f"import sys, {name}; print(','.join(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == ""


@pytest.mark.parametrize("name", [n for n in PACKAGES if n != "probes.training"])
def test_public_names_resolve_after_every_module_is_imported(name: str) -> None:
    package = importlib.import_module(name)
    for info in pkgutil.iter_modules(package.__path__, f"{name}."):
        if info.name.endswith(".testing"):
            continue  # the fakes need the test extras (transformers, for the evals')
        importlib.import_module(info.name)  # sets the package's attribute of that name
    assert package.__all__, f"{name} states no public API"
    for public in package.__all__:
        assert not isinstance(getattr(package, public), types.ModuleType), f"{name}.{public}"

"""The built wheel, installed alone in a fresh venv: the CLI works, `tui` is not a top-level package,
and the data files ship inside the package. Slow (a venv plus installs from pip's cache)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_every_package_folder_is_listed_in_pyproject() -> None:
    """setuptools gets an explicit list (tui/ and models/ are mapped under edgeroute); a package missing
    from it would silently drop out of the wheel."""
    import tomllib

    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    roots = {"edgeroute": "edgeroute", "tui": "edgeroute.tui", "models": "edgeroute.data"}
    found = set()
    for folder, package in roots.items():
        for init in (REPO / folder).rglob("__init__.py"):
            rel = init.parent.relative_to(REPO / folder).parts
            found.add(".".join((package, *rel)))
    assert found == listed


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(REPO),
        ],
        check=True,
        timeout=300,
    )
    (whl,) = out.glob("edgeroute-*.whl")
    return whl


@pytest.mark.slow
def test_wheel_layout(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "edgeroute/tui/__init__.py" in names
    assert "edgeroute/data/catalog.toml" in names
    assert "edgeroute/data/prices.toml" in names
    assert "edgeroute/config.example.toml" in names
    assert not any(n.startswith(("tui/", "models/", "tests/", "scripts/")) for n in names)


@pytest.mark.slow
def test_fresh_venv_with_only_the_wheel(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    py = venv / "bin" / "python"
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", "-c", str(REPO / "scripts" / "constraints.txt"), str(wheel)],
        check=True,
        timeout=900,
    )
    version = subprocess.run([str(venv / "bin" / "edgeroute"), "--version"], capture_output=True, text=True)
    assert version.returncode == 0 and "edgeroute, version" in version.stdout

    bare_tui = subprocess.run([str(py), "-c", "import tui"], capture_output=True, text=True, cwd=tmp_path)
    assert bare_tui.returncode != 0 and "ModuleNotFoundError" in bare_tui.stderr

    code = (
        "from importlib.resources import files\n"
        "import tomllib, edgeroute.tui\n"
        "data = files('edgeroute.data')\n"
        "for name in ('catalog.toml', 'prices.toml'):\n"
        "    parsed = tomllib.loads(data.joinpath(name).read_text())\n"
        "    assert parsed, name\n"
        "print('DATA-OK')\n"
    )
    data = subprocess.run([str(py), "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert "DATA-OK" in data.stdout, data.stderr


def test_editable_install_sees_the_same_layout() -> None:
    code = (
        "from importlib.resources import files; import edgeroute.tui, edgeroute.data\n"
        "print(files('edgeroute.data').joinpath('catalog.toml').is_file())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd="/")
    assert out.stdout.strip() == "True", out.stderr

"""Packaging: one source for the pins, console commands that are the scripts, and a real install.

The install tests build the package from a copy of the checkout (so no
``build/`` or ``*.egg-info`` lands in the repository) into a fresh virtual
environment outside it. Downloading TensorFlow there would take minutes, so
the new environment sees this interpreter's installed packages through a
``.pth`` file, and ``pip install --no-build-isolation --no-index`` installs
only the package itself and its console commands; the dependency check still
runs against the pins.
"""

from __future__ import annotations

import os
import re
import runpy
import shutil
import site
import subprocess
import sys
import sysconfig
from pathlib import Path

import cv2
import numpy as np
import pytest

from asna.api import console
from conftest import REPO_ROOT, run_script
from tiny_models import SMALL, noisy_pairs, write_sidecar

SCRIPTS = {  # console command -> (script, parser of the command)
    "asna-score": ("evaluation_single_image.py", console.single_image_parser),
    "asna-score-folder": ("evaluation_ntire.py", console.folder_parser),
    "asna-evaluate": ("evaluation_dataset.py", console.dataset_parser),
}
OPTION = re.compile(r"(?<![\w-])--[a-z][\w-]*")
SCORE_LINE = re.compile(r"^Image Quality Score: (-?\d+\.\d+) \(TTA \w+: \d+ variants?\)$", re.MULTILINE)
TOP_LEVEL_SKIPS = {".git", ".venv", "runs", "data", "build", "dist", "models", ".pytest_cache"}


def requirement_lines(path: Path) -> list[str]:
    """The requirements of a pip file, comments and blank lines dropped, spaces removed."""
    lines = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
    return [line.replace(" ", "") for line in lines if line and not line.startswith("-")]


def normalised(requirement: str) -> tuple[str, frozenset[str]]:
    """(name, set of version clauses): metadata writes ``keras<3.16,>=3.15`` for ``keras>=3.15,<3.16``."""
    name, clauses = re.match(r"^([A-Za-z0-9_.-]+)(.*)$", requirement).groups()
    return name.lower().replace("_", "-"), frozenset(c for c in clauses.split(",") if c)


def test_the_pins_live_in_requirements_txt_only():
    tomllib = pytest.importorskip("tomllib")
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert "dependencies" not in project["project"] and "dependencies" in project["project"]["dynamic"]
    assert project["tool"]["setuptools"]["dynamic"]["dependencies"] == {"file": ["requirements.txt"]}
    assert project["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "asna.__version__"}
    assert requirement_lines(REPO_ROOT / "requirements-test.txt")  # the test tools stay beside them
    for command, target in project["project"]["scripts"].items():
        module, function = target.split(":")
        assert module == "asna.api.console" and callable(getattr(console, function)), command
    assert set(project["project"]["scripts"]) == set(SCRIPTS)


@pytest.mark.parametrize("command", list(SCRIPTS))
def test_each_console_command_takes_its_scripts_options(command):
    script, parser = SCRIPTS[command]
    result = run_script(script, "--help", timeout=120)
    assert result.returncode == 0, result.stderr
    script_options = set(OPTION.findall(result.stdout))
    command_help = parser().format_help()
    command_options = set(OPTION.findall(command_help))
    assert command_help.startswith(f"usage: {command} ")
    if command == "asna-score":  # the two images are positional: asna-score REF DIS
        assert script_options - command_options == {"--ref", "--distorted"}
        assert "REF DIS" in command_help
        script_options -= {"--ref", "--distorted"}
    assert command_options == script_options


def copy_checkout(target: Path) -> Path:
    """The checkout's files without its environments, data, runs, build output and shipped models."""
    def ignore(folder: str, names: list[str]) -> set[str]:
        skipped = {name for name in names if name == "__pycache__" or name.endswith(".egg-info")}
        return skipped | (TOP_LEVEL_SKIPS & set(names) if Path(folder) == REPO_ROOT else set())

    shutil.copytree(REPO_ROOT, target, ignore=ignore)
    return target


def fresh_environment(folder: Path) -> Path:
    """A virtual environment whose only extra packages are this interpreter's, by a ``.pth`` file."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=120)
    python = folder / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    parent = [*site.getsitepackages(), sysconfig.get_path("purelib")]
    Path(purelib, "parent_environment.pth").write_text("\n".join(dict.fromkeys(parent)) + "\n")
    return python


def clean_environment() -> dict[str, str]:
    environment = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "PYTHONHOME")}
    return {**environment, "TF_CPP_MIN_LOG_LEVEL": "2", "PYTHONUNBUFFERED": "1"}


def pip_install(python: Path, *arguments: str) -> None:
    result = subprocess.run([str(python), "-m", "pip", "install", "--no-build-isolation", "--no-index",
                             "--quiet", "--disable-pip-version-check", *arguments],
                            capture_output=True, text=True, timeout=300, env=clean_environment())
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]


def left_in(checkout: Path) -> list[str]:
    """Build output an install left in the checkout (setup.py builds in a temporary folder)."""
    return sorted(path.name for path in checkout.iterdir() if path.name == "build" or path.name.endswith(".egg-info"))


def ship_a_model(checkout: Path) -> Path:
    """models/tiny.keras and its sidecar in the copy, as the shipped model will be."""
    import keras

    from asna.models import build_model

    path = checkout / "models" / "tiny.keras"
    path.parent.mkdir()
    keras.utils.set_random_seed(8)
    build_model(SMALL).save(path)
    write_sidecar(path)
    (path.parent / "README.md").write_text("model card\n")
    return path


@pytest.mark.slow
def test_a_fresh_environment_installs_the_package_and_scores_like_the_script(tmp_path, monkeypatch, capsys):
    checkout = copy_checkout(tmp_path / "checkout")
    model = ship_a_model(checkout)
    python = fresh_environment(tmp_path / "venv")
    pip_install(python, str(checkout))
    assert left_in(checkout) == []
    site_packages = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                                        capture_output=True, text=True, check=True).stdout.strip())
    shipped = site_packages / "asna" / "shipped_models"
    assert sorted(p.name for p in shipped.iterdir()) == ["README.md", "tiny.json", "tiny.keras"]

    work = tmp_path / "elsewhere"  # no checkout, no models/ folder here
    work.mkdir()
    references, noisy = noisy_pairs(1, size=48, sigma=15)
    for name, image in (("r.png", references[0][:40]), ("d.png", noisy[0][:40])):  # 48 x 40: tiles overlap
        assert cv2.imwrite(str(work / name), np.ascontiguousarray(image[..., ::-1]))
    api_code = ("import asna, importlib.metadata as m; "
                f"print(asna.load_metric(models={str(model)!r}).score('r.png', 'd.png')); "
                "shipped = asna.load_metric(); print(shipped.score('r.png', 'd.png')); "
                "print(shipped.model_paths[0]); print(asna.__file__); print(*m.requires('asna'), sep='\\n')")
    started = {
        "api": [str(python), "-c", api_code],
        "command": [str(python.parent / "asna-score"), "r.png", "d.png", "--models", str(model), "--tta", "none"],
    }
    processes = {key: subprocess.Popen(argv, cwd=work, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                       env=clean_environment()) for key, argv in started.items()}
    # The checkout's script runs meanwhile in this process, where TensorFlow is already loaded.
    monkeypatch.chdir(work)
    monkeypatch.setattr(sys, "argv", ["evaluation_single_image.py", "--ref", "r.png", "--distorted", "d.png",
                                      "--models", str(model), "--tta", "none"])
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(REPO_ROOT / "evaluation_single_image.py"), run_name="__main__")
    assert exit_info.value.code == 0
    script_score = float(SCORE_LINE.search(capsys.readouterr().out).group(1))
    results = {key: process.communicate(timeout=300) for key, process in processes.items()}
    for key, process in processes.items():
        assert process.returncode == 0, f"{key}: {results[key][1][-2000:]}"

    explicit, default, default_model, package, *requires = results["api"][0].splitlines()
    assert float(SCORE_LINE.search(results["command"][0]).group(1)) == script_score
    assert round(float(explicit), 4) == pytest.approx(script_score, abs=1e-9)
    assert float(default) == float(explicit)  # the default is the copy installed with the package
    assert Path(default_model) == shipped / "tiny.keras"
    assert Path(package).parent == site_packages / "asna"
    pins = requirement_lines(REPO_ROOT / "requirements.txt")
    assert {normalised(r) for r in requires} == {normalised(r) for r in pins}  # the metadata is the pins


@pytest.mark.slow
def test_an_editable_install_reads_the_checkout_and_its_models(tmp_path):
    checkout = copy_checkout(tmp_path / "checkout")
    ship_a_model(checkout)
    python = fresh_environment(tmp_path / "venv")
    pip_install(python, "--editable", str(checkout))
    assert left_in(checkout) == []
    work = tmp_path / "elsewhere"
    work.mkdir()
    code = ("import asna, sys; from asna.api.default_models import shipped_models; "
            "print(asna.__file__); print(shipped_models()); print('tensorflow' in sys.modules)")
    result = subprocess.run([str(python), "-c", code], cwd=work, capture_output=True, text=True, timeout=120,
                            env=clean_environment())
    assert result.returncode == 0, result.stderr[-2000:]
    package, models, tensorflow = result.stdout.split()
    assert Path(package) == checkout / "asna" / "__init__.py"
    assert Path(models) == checkout / "models" and tensorflow == "False"
    helped = subprocess.run([str(python.parent / "asna-score-folder"), "--help"], cwd=work, capture_output=True,
                            text=True, timeout=120, env=clean_environment())
    assert helped.returncode == 0 and helped.stdout.startswith("usage: asna-score-folder")

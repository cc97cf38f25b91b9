"""The documentation says only what the repository has.

README.md and docs/*.md are read as a user reads them: every relative link
must lead to a file (and, with ``#anchor``, to a heading of it, by GitHub's
slug rules); every ``*.py``/``*.sh`` path and ``make`` target they name must
exist; every ``--option`` a fenced command line passes to a script must be in
that script's ``--help``; every config key they show (``--set section.key=``,
inline ``section.key``, ``key = value`` under a ``[section]``) must be in
``asna.core.config.SCHEMA``.
"""

from __future__ import annotations

import re
import shlex
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import pytest

from asna.core.config import SCHEMA
from conftest import REPO_ROOT, run_script

DOC_FILES = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^(```|~~~)[^\n]*\n(.*?)^\1[ \t]*$", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"(`+)(.+?)\1", re.DOTALL)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$", re.MULTILINE)
HTML_ANCHOR = re.compile(r"<a\s+(?:name|id)=\"([^\"]+)\"", re.IGNORECASE)
SCRIPT_PATH = re.compile(r"(?<![\w/.~-])((?:[\w.-]+/)*[\w-]+\.(?:py|sh))\b")
MAKE_TARGET = re.compile(r"(?<![\w-])make[ \t]+([a-z][\w-]*)")
SET_OVERRIDE = re.compile(r"--set[ =]+[\"']?([a-z_]+)\.([a-z_]+)=")  # not SECTION.KEY=VALUE
INLINE_KEY = re.compile(r"^(data|model|loss|training)\.([a-z_]+)(?:=\S*)?$")
FILE_SUFFIXES = {"keras", "json", "txt", "csv", "png", "h5"}  # model.keras is a file, not a key
SECTION_HEADER = re.compile(r"^\s*\[(\w+)\]\s*$")
KEY_LINE = re.compile(r"^\s*([A-Za-z_]\w*)\s*=")
SHELL_STOPS = {"|", "||", "&&", ";", ">", ">>", "2>&1", "&"}


def read(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def name(path: Path) -> str:
    return str(path.relative_to(REPO_ROOT)) if path.is_relative_to(REPO_ROOT) else path.name


def fenced_blocks(text: str) -> list[str]:
    return [match.group(2) for match in FENCE.finditer(text)]


def prose(text: str) -> str:
    """The text outside fenced blocks and inline code (where links are links)."""
    return INLINE_CODE.sub(" ", FENCE.sub("\n", text))


def inline_code(text: str) -> list[str]:
    return [match.group(2).strip() for match in INLINE_CODE.finditer(FENCE.sub("\n", text))]


# ----------------------------------------------------------------------------- links


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: its text, lower case, punctuation dropped, spaces as hyphens."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links keep their text
    text = re.sub(r"<[^>]+>", "", text).replace("`", "")
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


@lru_cache(maxsize=None)
def anchors(path: Path) -> frozenset[str]:
    """Every anchor a Markdown file offers, duplicates numbered as GitHub does."""
    text = FENCE.sub("\n", read(path))
    seen: dict[str, int] = {}
    found = set(HTML_ANCHOR.findall(text))
    for match in HEADING.finditer(text):
        slug = github_slug(match.group(2))
        count = seen.get(slug, 0)
        found.add(slug if count == 0 else f"{slug}-{count}")
        seen[slug] = count + 1
    return frozenset(found)


def link_problems(path: Path) -> list[str]:
    problems = []
    for target in LINK.findall(prose(read(path))):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
            continue  # http:, https:, mailto:
        file_part, _, anchor = target.partition("#")
        destination = (path.parent / file_part).resolve() if file_part else path
        if not destination.exists():
            problems.append(f"{name(path)}: link {target}: {file_part} does not exist")
        elif anchor and destination.suffix == ".md" and anchor not in anchors(destination):
            problems.append(f"{name(path)}: link {target}: no heading #{anchor} in {destination.name}")
    return problems


def test_there_is_a_readme_and_docs():
    assert (REPO_ROOT / "README.md").is_file()
    assert len(DOC_FILES) >= 5, [name(p) for p in DOC_FILES]


def test_github_slug_rules():
    assert github_slug("Real datasets (TID2008, TID2013, PieAPP, PIPAL)") == \
        "real-datasets-tid2008-tid2013-pieapp-pipal"
    assert github_slug("`ranking_model/train.py`") == "ranking_modeltrainpy"
    assert github_slug("Several GPUs, several machines") == "several-gpus-several-machines"


@pytest.mark.parametrize("path", DOC_FILES, ids=name)
def test_every_relative_link_resolves(path):
    assert link_problems(path) == []


def test_a_broken_link_is_found(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n[ok](#title) [bad](#nothing) [gone](missing.md) `[code](x.md)`\n")
    problems = link_problems(page)
    assert len(problems) == 2 and "#nothing" in problems[0] and "missing.md" in problems[1]


# ----------------------------------------------------------------------------- scripts and targets


def make_targets() -> set[str]:
    return set(re.findall(r"^([A-Za-z][\w.-]*)\s*:(?!=)", read(REPO_ROOT / "Makefile"), re.MULTILINE))


@lru_cache(maxsize=None)
def repository_file_names() -> frozenset[str]:
    """Names of the repository's files, outside hidden folders and the data and run folders."""
    skipped = {"data", "runs", "__pycache__"}
    return frozenset(path.name for path in REPO_ROOT.rglob("*")
                     if path.is_file() and not any(part.startswith(".") or part in skipped
                                                   for part in path.relative_to(REPO_ROOT).parts[:-1]))


def script_problems(path: Path) -> list[str]:
    """Scripts (a path from the repository root, or a bare file name) and make targets that do not exist."""
    text = read(path)
    names = repository_file_names()
    missing = [f"{name(path)}: {script} does not exist" for script in sorted(set(SCRIPT_PATH.findall(text)))
               if not ((REPO_ROOT / script).is_file() if "/" in script else script in names)]
    return missing + [f"{name(path)}: make {target}: no such target in the Makefile"
                      for target in sorted(set(MAKE_TARGET.findall(text)) - make_targets())]


@pytest.mark.parametrize("path", DOC_FILES, ids=name)
def test_every_named_script_and_make_target_exists(path):
    assert script_problems(path) == []


def test_a_missing_script_or_target_is_found(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("Run `python tools/nothing.py` or `make demo`, `make deploy`; see `train_bn.py`.\n")
    assert script_problems(page) == ["page.md: tools/nothing.py does not exist",
                                     "page.md: make deploy: no such target in the Makefile"]


# ----------------------------------------------------------------------------- command lines


@dataclass(frozen=True)
class Invocation:
    """One script run shown in a fenced block: the script, a sub-command, the options passed."""

    where: str
    script: str
    words: tuple[str, ...]  # the arguments up to the end of the command


def command_lines(block: str) -> list[str]:
    """Lines of a fenced block with backslash continuations joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", block)
    lines = []
    for line in joined.splitlines():
        line = re.sub(r"^\s*\$\s+", "", line)
        line = re.sub(r"(^|\s)#.*$", "", line)
        if line.strip():
            lines.append(line)
    return lines


def invocations(path: Path) -> list[Invocation]:
    """``python script.py ...`` runs in the fenced blocks of a page."""
    found = []
    for block in fenced_blocks(read(path)):
        for line in command_lines(block):
            try:
                words = shlex.split(line)
            except ValueError:
                words = line.split()
            for index, word in enumerate(words[:-1]):
                script = words[index + 1]
                if Path(word).name.startswith("python") and script.endswith(".py"):
                    rest = []
                    for argument in words[index + 2:]:
                        if argument in SHELL_STOPS or argument == "--":
                            break  # the end of the command, or arguments passed on to another script
                        rest.append(argument.strip("[]"))
                    found.append(Invocation(f"{name(path)}: {line.strip()}", script, tuple(rest)))
    return found


@lru_cache(maxsize=None)
def help_text(script: str, subcommand: str | None = None) -> str:
    arguments = ([subcommand] if subcommand else []) + ["--help"]
    result = run_script(script, *arguments, timeout=300)
    assert result.returncode == 0, f"{script} {' '.join(arguments)}: {result.stderr[-500:]}"
    return result.stdout


def subcommands(help_output: str) -> set[str]:
    usage = help_output.split("\n\n", 1)[0]
    choices = re.search(r"\{([\w,-]+)\}", usage)
    return set(choices.group(1).split(",")) if choices else set()


def option_problems(invocation: Invocation) -> list[str]:
    if not (REPO_ROOT / invocation.script).is_file():
        return [f"{invocation.where}: {invocation.script} does not exist"]
    words = list(invocation.words)
    subcommand = words[0] if words and words[0] in subcommands(help_text(invocation.script)) else None
    known = set(re.findall(r"--[\w-]+", help_text(invocation.script, subcommand)))
    used = {word.split("=", 1)[0] for word in words if word.startswith("--")}
    return [f"{invocation.where}: {option} is not in {invocation.script}'s --help"
            for option in sorted(used - known)]


def test_every_option_shown_for_a_script_is_in_its_help():
    runs = [run for path in DOC_FILES for run in invocations(path)]
    assert len(runs) >= 20, "the docs should show the scripts at work"
    needed = {(run.script, None) for run in runs if (REPO_ROOT / run.script).is_file()}
    with ThreadPoolExecutor(max_workers=4) as pool:  # the --help runs overlap
        list(pool.map(lambda key: help_text(*key), sorted(needed)))
    problems = [problem for run in runs for problem in option_problems(run)]
    assert problems == []


def test_a_wrong_option_is_found():
    run = Invocation("example", "evaluation_ntire.py", ("--ref-dir", "R", "--dis-dir", "D", "--no-such-option"))
    assert option_problems(run) == ["example: --no-such-option is not in evaluation_ntire.py's --help"]


def test_command_lines_join_continuations_and_stop_at_shell_operators(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("```bash\n$ python a.py --x 1 \\\n    --y=2 [--z 3]  # comment --w\n"
                    "python b.py sub --k -- --passed-on | tee log\n```\n")
    found = invocations(page)
    assert [run.script for run in found] == ["a.py", "b.py"]
    assert found[0].words == ("--x", "1", "--y=2", "--z", "3")
    assert found[1].words == ("sub", "--k")


# ----------------------------------------------------------------------------- config keys


def config_key_problems(path: Path) -> list[str]:
    text = read(path)
    shown = [(section, key, "--set") for section, key in SET_OVERRIDE.findall(text)]
    for code in inline_code(text):
        match = INLINE_KEY.match(code)
        if match and match.group(2) not in FILE_SUFFIXES:
            shown.append((match.group(1), match.group(2), f"`{code}`"))
    for block in fenced_blocks(text):
        section = None
        for line in block.splitlines():
            header = SECTION_HEADER.match(line)
            if header:
                section = header.group(1)
                if section not in SCHEMA:
                    shown.append((section, "", f"[{section}]"))
                continue
            key = KEY_LINE.match(line)
            if section is not None and key:
                shown.append((section, key.group(1), f"under [{section}]"))
    problems = []
    for section, key, how in shown:
        if section not in SCHEMA or (key and key not in SCHEMA[section]):
            problems.append(f"{name(path)}: {how}: {section}.{key} is not in asna.core.config.SCHEMA")
    return problems


@pytest.mark.parametrize("path", DOC_FILES, ids=name)
def test_every_config_key_shown_is_in_the_schema(path):
    assert config_key_problems(path) == []


def test_a_wrong_config_key_is_found(tmp_path):
    page = tmp_path / "page.md"
    page.write_text("Use `training.epochs` and `model.keras`, not `training.epoch`.\n\n"
                    "```\n--set loss.rankerr=softrank\n[model]\nimage_size = 64\nimage_sise = 64\n```\n")
    problems = config_key_problems(page)
    assert len(problems) == 3
    assert [p.split(": ")[-1] for p in problems] == [f"{k} is not in asna.core.config.SCHEMA" for k in
                                                     ("loss.rankerr", "training.epoch", "model.image_sise")]

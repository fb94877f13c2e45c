"""The README states what the code does: the quick-start commands are the ones CI runs, every AU is documented."""

from __future__ import annotations

import re

from conftest import ROOT

from fea_agent.facs.catalogue import AU_CATALOGUE
from fea_agent.models.registry import MODELS
from fea_agent.perception.blendshape_aus import AU_FROM_BLENDSHAPES

README = (ROOT / "README.md").read_text()


def test_every_estimated_au_is_in_the_readme_table():
    rows = dict(re.findall(r"^\| (AU\d\d) \| ([^|]+) \|", README, flags=re.M))
    assert set(rows) == set(AU_FROM_BLENDSHAPES)
    for code, name in rows.items():
        assert name.strip() == AU_CATALOGUE[code].name


def test_ci_runs_the_readme_quick_start():
    block = re.search(r"## Quick start.*?```bash\n(.*?)```", README, flags=re.S).group(1)
    commands = [line for line in block.splitlines() if line.strip()]
    assert len(commands) == 2
    ci = (ROOT / ".ci" / "run").read_text()
    for command in commands:
        assert command in ci


def test_the_quick_start_photo_ships_and_the_model_size_is_right():
    block = re.search(r"## Quick start.*?```bash\n(.*?)```", README, flags=re.S).group(1)
    photo = re.search(r"fea-agent analyze (\S+)", block).group(1)
    assert (ROOT / photo).is_file() and not photo.startswith("..")
    from fea_agent.cli.models import default_names

    # The files the default backends download (optional backends' weights are fetched only when named).
    megabytes = sum(MODELS[n].size or 0 for n in default_names(found=False)) / 1e6
    assert f"{megabytes:.1f} MB in all" in README


def test_readme_links_resolve():
    for target in re.findall(r"\]\(((?:docs|samples|servers)/[^)#]+)\)", README):
        assert (ROOT / target).exists(), target

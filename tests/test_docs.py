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


def test_the_quality_limits_the_readme_quotes_are_the_codes():
    """One place for each limit: the numbers in the README's quality rules are those in perception/quality.py,
    and no page quotes another minimum face size."""
    from fea_agent.perception import quality as q

    rules = re.search(r"- `quality.usable` is false.*?\n(?=- |\n)", README, flags=re.S).group(0)
    rules = " ".join(rules.split())
    for quoted in (
        f"under {q.MIN_FACE_PX:.0f} px",
        f"logit below {q.UNTRUSTED_LOGIT:.0f}",
        f"beyond ±{q.MAX_YAW:.0f}° yaw or ±{q.MAX_PITCH:.0f}° pitch",
        f"({q.MIN_FACE_PX:.0f}-{q.SMALL_FACE_PX:.0f} px)",
        f"beyond ±{q.MAX_FRONTAL_YAW:.0f}° yaw or ±{q.MAX_FRONTAL_PITCH:.0f}° pitch",
        f"(logit {q.UNTRUSTED_LOGIT:.0f}-{q.UNSURE_LOGIT:.0f})",
    ):
        assert quoted in rules, quoted
    pages = [README, *(p.read_text() for p in (ROOT / "docs").glob("*.md"))]
    minimums = {
        int(n)
        for page in pages
        for n in re.findall(r"(?:read only from|under|below|at least) (\d+) px", page)
    }
    assert minimums == {int(q.MIN_FACE_PX)}, f"minimum face sizes quoted: {sorted(minimums)}"


def test_every_fea_agent_import_the_docs_show_exists():
    """A name the docs import from fea_agent (README, docs/, servers/) is there: e.g. no `annotated_image`
    after it moved."""
    import importlib

    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "servers" / "README.md"]
    missing = []
    for page in pages:
        for module, names in re.findall(
            r"^\s*from (fea_agent[\w.]*) import ([\w, ]+)", page.read_text(), flags=re.M
        ):
            try:
                imported = importlib.import_module(module)
            except ImportError as exc:
                missing.append(f"{page.name}: {module} ({exc})")
                continue
            missing += [
                f"{page.name}: {module}.{n}"
                for n in (n.strip() for n in names.split(","))
                if not hasattr(imported, n)
            ]
    assert missing == []

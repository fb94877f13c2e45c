"""``fea-agent evaluate`` on a labelled folder of real photos (FRL: each person neutral and smiling), a model
file and a small FACS-coded CSV."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from conftest import EDGE, FRL, needs_shared

from fea_agent.cli import main
from fea_agent.evaluation.folders import evaluate_folders
from fea_agent.evaluation.report import EvaluationReport
from fea_agent.expression.model import load_default
from fea_agent.expression.train import NO_FACE
from fea_agent.reasoning.facs import FACSReasoner

pytestmark = needs_shared

PEOPLE = 20  # 20 neutral and 20 smiling photos: the shipped model's 20 per label, enough to cross-validate


@pytest.fixture(scope="module")
def labelled(tmp_path_factory) -> Path:
    """FRL's first PEOPLE people (front view, neutral and smiling, with gender), and a cat labelled neutral."""
    folder = tmp_path_factory.mktemp("labelled")
    (folder / "images").mkdir()
    with (FRL / "labels.csv").open(newline="") as fh:
        frl = [r for r in csv.DictReader(fh) if r["view"] == "front"]
    ids = sorted({r["face_id"] for r in frl})[:PEOPLE]
    rows = []
    for r in frl:
        if r["face_id"] in ids:
            name = "images/" + Path(r["file"]).parent.name + "_" + Path(r["file"]).name
            (folder / name).symlink_to(FRL / r["file"])
            rows.append({"file": name, "label": r["label"], "person": r["face_id"], "gender": r["gender"]})
    (folder / "images" / "cat.png").symlink_to(EDGE / "skimage_chelsea.png")
    rows.append({"file": "images/cat.png", "label": "neutral", "person": "cat", "gender": ""})
    with (folder / "labels.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return folder


@pytest.fixture(scope="module")
def perception():
    from fea_agent import FEAPipeline

    with FEAPipeline(reasoner=None, expression_model=None) as pipeline:
        yield pipeline


@pytest.fixture(scope="module")
def as_given(labelled, perception) -> EvaluationReport:
    return evaluate_folders([labelled], perception, load_default(), FACSReasoner(), folds=0)


def test_every_photo_counts_and_one_without_a_face_is_named_and_wrong(as_given) -> None:
    r = as_given
    assert r.photos == 2 * PEOPLE + 1 and r.overall.n == 2 * PEOPLE + 1
    assert [k.split("/", 1)[1] for k in r.no_face] == ["images/cat.png"]
    assert r.overall.confusion["neutral"].get(NO_FACE) == 1
    # Smiles and neutral portraits are the easy case: the shipped model gets nearly all of them.
    assert r.overall.per_class_recall["happiness"] >= 0.8 and r.neutral.kept >= 0.8
    assert r.protocol.startswith("expression as given") and r.folds is None


def test_the_report_breaks_down_by_group_mirrors_and_calibrates(as_given) -> None:
    r = as_given
    gender = r.by_group[next(iter(r.by_group))]["gender"]
    assert {"female", "male", "unknown"} <= set(gender)
    assert sum(g.n for g in gender.values()) == r.photos
    assert r.mirror is not None and r.mirror.n == 2 * PEOPLE and r.mirror.share_changed <= 0.15
    assert 0 <= r.calibration.expected_calibration_error < 0.3 and r.calibration.n == 2 * PEOPLE
    assert set(r.views) == {"appearance", "action_units"}


def test_au_validity_separates_smiles_from_neutral_faces_on_the_smile_aus(as_given) -> None:
    au12 = as_given.action_units["AU12"]
    assert "happiness" in au12.prototype_of
    assert au12.auc_vs_neutral["happiness"] > 0.85 and au12.firing["happiness"] > au12.firing["neutral"]
    # The brow raiser has nothing to do with a smile: no separation to speak of.
    assert abs(as_given.action_units["AU01"].auc_vs_neutral["happiness"] - 0.5) < 0.25


def test_reasoning_checks_read_the_answers_text(as_given) -> None:
    g = as_given.reasoning
    assert g is not None and g.answers >= 0.8 * PEOPLE
    assert g.core_au_cited >= 0.5  # AU12 is cited in most smiles' text
    assert g.below_grade_a_cited == 0.0


@pytest.mark.slow
def test_a_folder_the_model_learned_from_is_cross_validated_by_person(labelled, perception) -> None:
    from fea_agent.evaluation.folders import fold_models
    from fea_agent.evaluation.observe import observe
    from fea_agent.expression.train import read_labels

    model = load_default()
    samples = read_labels(labelled)
    observations = observe(labelled, samples, perception, model, mirror=False)
    per_photo = fold_models(model, observations, 3, log=lambda _: None)
    by_person: dict[str, set[int]] = {}
    for o, m in zip(observations, per_photo, strict=True):
        by_person.setdefault(o.sample.person, set()).add(id(m))
    assert all(len(models) == 1 for models in by_person.values())  # one person, one fold's model
    assert len({id(m) for m in per_photo}) == 3
    assert per_photo[0].header.trained_labels == ["neutral", "happiness"]
    report = evaluate_folders([labelled], perception, model, FACSReasoner(), folds=3, mirror=False)
    assert report.folds == 3 and "cross-validation" in report.protocol
    assert report.overall.accuracy >= 0.75


def test_command_line_writes_markdown_and_json(labelled, tmp_path, capsys) -> None:
    out = tmp_path / "report.json"
    assert main(["evaluate", str(labelled), "--folds", "0", "--no-mirror", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "## Headline" in text and "| accuracy |" in text and "## Action units" in text
    data = json.loads(out.read_text())
    assert data["photos"] == 2 * PEOPLE + 1 and data["mirror"] is None


def test_command_line_on_a_missing_path_or_a_folder_without_labels_exits_2(tmp_path, capsys) -> None:
    assert main(["evaluate", "/nonexistent/folder"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["evaluate", str(tmp_path)]) == 2
    assert "labels.csv not found" in capsys.readouterr().err


def test_a_model_file_prints_its_training_card(capsys) -> None:
    from fea_agent.models.registry import model_path

    assert main(["evaluate", str(model_path("expression"))]) == 0
    assert "Person-grouped 5-fold cross-validation" in capsys.readouterr().out


def test_facs_coded_csv_gives_per_au_f1_and_intensity_correlation(tmp_path, capsys) -> None:
    codes = tmp_path / "codes.csv"
    rows = [
        ("smiling_front/001_08.jpg", 4, 3, 0),
        ("smiling_front/096_08.jpg", 5, 2, 0),
        ("neutral_front/001_03.jpg", 0, 0, 0),
        ("neutral_front/096_03.jpg", 0, 0, 1),
    ]
    codes.write_text("frame,AU12,AU06,AU28\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n")
    assert main(["evaluate", str(codes), "--images", str(FRL / "images")]) == 0
    text = capsys.readouterr().out
    au12 = next(line for line in text.splitlines() if line.startswith("AU12"))
    assert au12.split()[1:4] == ["4", "2", "1.000"]
    assert "not estimated by fea-agent: AU28" in text


def test_facs_csv_without_au_columns_is_refused_clearly(tmp_path, capsys) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("frame,smile\na.jpg,1\n")
    assert main(["evaluate", str(bad)]) == 2
    assert "no AU columns" in capsys.readouterr().err

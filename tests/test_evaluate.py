"""tools/evaluate.py on a small labelled folder of real photos and a small FACS-coded CSV."""

from __future__ import annotations

import csv
import importlib.util
import math
import sys
from pathlib import Path

import pytest
from conftest import EDGE, FRL, ROOT, needs_shared

pytestmark = needs_shared

_spec = importlib.util.spec_from_file_location("evaluate", ROOT / "tools" / "evaluate.py")
evaluate = importlib.util.module_from_spec(_spec)
sys.modules["evaluate"] = evaluate
_spec.loader.exec_module(evaluate)

IDS = ("001", "096", "099")


@pytest.fixture(scope="module")
def analyse(pipeline):
    """Perception without reasoning, as the tool's own ``FEAPipeline(reasoner=None)``, on the session's models."""

    def run(path: Path):
        saved, pipeline.reasoner = pipeline.reasoner, None
        try:
            return pipeline.analyze(path).faces
        finally:
            pipeline.reasoner = saved

    return run


@pytest.fixture(scope="module")
def labelled(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("labelled")
    (folder / "images").mkdir()
    rows, pairs = [], []
    for face_id in IDS:
        for kind, label, stem in (("neutral", "neutral", "03"), ("smiling", "Happy", "08")):
            name = f"images/{face_id}_{kind}.jpg"
            (folder / name).symlink_to(FRL / "images" / f"{kind}_front" / f"{face_id}_{stem}.jpg")
            rows.append({"file": name, "label": label, "gender": "female" if face_id == "001" else "male"})
        pairs.append({"face_id": face_id, "neutral_file": rows[-2]["file"], "smiling_file": rows[-1]["file"]})
    (folder / "images" / "cat.png").symlink_to(EDGE / "skimage_chelsea.png")
    rows.append({"file": "images/cat.png", "label": "neutral", "gender": ""})
    for name, data in (("labels.csv", rows), ("pairs.csv", pairs)):
        with (folder / name).open("w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(data[0]))
            writer.writeheader()
            writer.writerows(data)
    return folder


def test_labels_accept_synonyms_and_name_unknown_words() -> None:
    assert evaluate.normalize_label(" Happy ") == "happiness" and evaluate.normalize_label("angry") == "anger"
    with pytest.raises(ValueError, match="unknown expression label 'bored'"):
        evaluate.normalize_label("bored")


def test_score_view_counts_accuracy_macro_f1_and_confusion() -> None:
    s = evaluate.score_view(
        ["neutral", "neutral", "happiness", "happiness"], ["neutral", "happiness", "happiness", "happiness"]
    )
    assert s.accuracy == 0.75
    assert math.isclose(s.macro_f1, (2 / 3 + 0.8) / 2)
    assert s.confusion == {"happiness": {"happiness": 2}, "neutral": {"neutral": 1, "happiness": 1}}


def test_folder_report_scores_every_view_side_by_side(labelled, analyse) -> None:
    from fea_agent.reasoning import get_reasoner

    report = evaluate.evaluate_folder(labelled, analyse, {"facs": get_reasoner("facs")})
    assert set(report["views"]) == {"appearance", "action_units", "facs"}
    assert report["images"] == 7
    # The cat has no face: named, and counted as wrong rather than dropped.
    assert "images/cat.png" in report["failures"]
    facs = report["views"]["facs"]
    assert facs["n"] == 7 and facs["confusion"]["neutral"].get(evaluate.NO_FACE) == 1
    assert facs["accuracy"] == pytest.approx(6 / 7)
    assert set(report["by"]["gender"]) == {"female", "male", "unknown"}
    pairs = report["pairs"]
    assert pairs["pairs"] == 3 and pairs["AU12_higher_when_smiling"] == 1.0
    assert "probability" in pairs["compared"]
    text = evaluate.format_folder_report(report)
    assert "confusion matrix, facs" in text and "AU12 higher in the smiling photo: 1.000" in text


def test_facs_coded_csv_gives_per_au_f1_and_intensity_correlation(tmp_path, analyse) -> None:
    codes = tmp_path / "codes.csv"
    rows = [
        ("smiling_front/001_08.jpg", 4, 3, 0),
        ("smiling_front/096_08.jpg", 5, 2, 0),
        ("neutral_front/001_03.jpg", 0, 0, 0),
        ("neutral_front/096_03.jpg", 0, 0, 1),
    ]
    codes.write_text("frame,AU12,AU06,AU28\n" + "\n".join(",".join(map(str, r)) for r in rows) + "\n")
    report = evaluate.evaluate_facs_csv(codes, analyse, images=FRL / "images")
    au12 = report["per_au"]["AU12"]
    assert au12["n"] == 4 and au12["coded_present"] == 2
    assert au12["f1"] == 1.0 and au12["intensity_r"] > 0.8
    assert "AU28" in report["not_estimated"]
    assert "AU12" in evaluate.format_facs_report(report)


def test_facs_csv_without_au_columns_is_refused_clearly(tmp_path, analyse) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("frame,smile\na.jpg,1\n")
    with pytest.raises(ValueError, match="no AU columns"):
        evaluate.evaluate_facs_csv(bad, analyse)


def test_command_line_on_a_missing_path_exits_2(capsys) -> None:
    assert evaluate.main(["/nonexistent/folder"]) == 2
    assert "does not exist" in capsys.readouterr().err

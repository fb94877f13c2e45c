"""The learned expression model: training on real photos, loading errors, the shipped model, the astronaut."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import FRL, NEUTRAL_FACE, TINY_FACE, needs_shared

from fea_agent.errors import ModelFileError
from fea_agent.expression.features import FEATURE_VERSION, feature_names, geometry, head_frame
from fea_agent.expression.fit import FitSettings
from fea_agent.expression.model import UNLEARNED_WEIGHT, ExpressionModel
from fea_agent.models.registry import MODELS, model_path, sha256_of
from fea_agent.results import EXPRESSION_LABELS

SHIPPED = Path(__file__).resolve().parents[1] / "fea_agent" / "expression" / "default_model.json"


@pytest.fixture(scope="module")
def shipped() -> ExpressionModel:
    return ExpressionModel.load(model_path("expression"))


def _answer(pipeline, path: Path):
    """The default pipeline's answer for the largest face of one photo: the model's label, explained by FACS."""
    return pipeline.analyze(path).faces[0]


def test_shipped_model_is_registered_with_its_sha256_and_loads(shipped) -> None:
    assert MODELS["expression"].bundled and sha256_of(SHIPPED) == MODELS["expression"].sha256
    assert shipped.header.feature_version == FEATURE_VERSION
    assert shipped.header.features == feature_names(embedding=128 + 256)  # the FER CNN, then face-api.js
    assert shipped.header.labels == list(EXPRESSION_LABELS)
    assert "fea-agent train" in shipped.header.training["command"]
    assert (SHIPPED.with_suffix(".md")).read_text().count(shipped.header.training["command"]) == 1
    stages = {i.stage: i for i in shipped.header.inputs}
    assert stages["landmarks"].sha256 == MODELS["face_landmarker"].sha256
    assert stages["appearance"].sha256 == MODELS["fer"].sha256


def test_model_says_when_the_pipeline_uses_other_inputs(shipped) -> None:
    default = {
        "detector": "yunet",
        "landmarks": "mediapipe",
        "action_units": "blendshapes",
        "appearance": "fer+faceapi",
    }
    assert shipped.mismatches(default) == []
    assert shipped.mismatches({**default, "landmarks": "mediapipe-tasks"}) == []  # the same networks
    (why,) = shipped.mismatches({**default, "appearance": "hsemotion"})
    assert "appearance backend 'hsemotion', trained on 'fer+faceapi'" in why
    (why,) = shipped.mismatches({**default, "appearance": "fer"})  # one of the two CNNs is another view
    assert "appearance backend 'fer', trained on 'fer+faceapi'" in why


def test_missing_and_corrupt_files_are_clear_errors(tmp_path, shipped) -> None:
    with pytest.raises(ModelFileError, match=r"not found.*fea-agent train"):
        ExpressionModel.load(tmp_path / "nope.json")
    broken = tmp_path / "broken.json"
    broken.write_text(SHIPPED.read_text()[:500])
    with pytest.raises(ModelFileError, match="corrupt"):
        ExpressionModel.load(broken)
    data = json.loads(SHIPPED.read_text())
    data["header"]["feature_version"] = "0"
    old = tmp_path / "old.json"
    old.write_text(json.dumps(data))
    with pytest.raises(ModelFileError, match=r"feature version 0.*retrain"):
        ExpressionModel.load(old)
    data = json.loads(SHIPPED.read_text())
    data["weights"]["layers"][0]["w"] = data["weights"]["layers"][0]["w"][:-1]
    cut = tmp_path / "cut.json"
    cut.write_text(json.dumps(data))
    with pytest.raises(ModelFileError, match="wrong shape"):
        ExpressionModel.load(cut)


def test_geometry_ignores_position_scale_and_rotation() -> None:
    rng = np.random.default_rng(0)
    mesh = rng.normal(0, 50, (478, 3))
    mesh[263] = mesh[33] + [60, 0, 0]  # eyes level
    mesh[10], mesh[2] = mesh[33] + [30, -80, 0], mesh[33] + [30, 40, 0]
    angle = np.deg2rad(20)
    rotation = np.array([[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]])
    moved = 2.5 * mesh @ rotation.T + [300, 120, 7]
    assert np.allclose(head_frame(mesh), head_frame(moved), atol=1e-9)
    assert np.allclose(geometry(mesh), geometry(moved), atol=1e-9)


@needs_shared
def test_astronaut_stays_happiness_citing_au06_and_au12(astronaut, pipeline) -> None:
    face = _answer(pipeline, astronaut)
    assert face.expression.label == "happiness" and face.expression.model == "expression"
    assert face.reasoning.text.startswith("Happiness.")
    assert "(AU06)" in face.reasoning.text and "(AU12)" in face.reasoning.text
    cited = {e.au for e in face.reasoning.evidence if "happiness" in e.supports}
    assert {"AU06", "AU12"} <= cited


@needs_shared
def test_neutral_and_smiling_portraits_and_their_texts(pipeline) -> None:
    """Two people the model was trained on would prove nothing about accuracy; this checks the wiring and the
    wording on real portraits (the accuracy is the model card's person-grouped validation)."""
    for face_id in ("001", "096"):
        neutral = _answer(pipeline, FRL / "images" / "neutral_front" / f"{face_id}_03.jpg")
        smiling = _answer(pipeline, FRL / "images" / "smiling_front" / f"{face_id}_08.jpg")
        assert neutral.expression.probabilities["happiness"] < smiling.expression.probabilities["happiness"]
        for face in (neutral, smiling):
            text = face.reasoning.text
            assert not ("strongly" in text and ("too weak" in text or "too few" in text)), text
            assert abs(sum(face.expression.probabilities.values()) - 1) < 1e-3
            assert face.expression.probabilities["contempt"] == 0.0  # not learned: too few photos


@needs_shared
def test_model_costs_under_a_millisecond_a_face(astronaut, pipeline, shipped) -> None:
    analysis = pipeline.run(astronaut, reasoner=None)
    faces, looks, rgb = analysis.faces, analysis.appearance, analysis.rgb
    (answer,) = shipped.predict_faces(faces, looks, rgb)  # features, the mouth texture included
    assert answer.label == "happiness"
    runs = []
    for _ in range(20):
        started = time.perf_counter()
        shipped.predict_faces(faces, looks, rgb)
        runs.append(time.perf_counter() - started)
    assert sorted(runs)[len(runs) // 2] < 1e-3


def test_fear_too_rare_to_learn_keeps_half_the_appearance_view(astronaut, pipeline, shipped) -> None:
    assert "fear" not in shipped.header.trained_labels  # 8 usable photos in the training folders
    analysis = pipeline.run(astronaut, reasoner=None)
    row = shipped.features(analysis.faces[0], analysis.appearance[0], analysis.rgb)
    fear = EXPRESSION_LABELS.index("fear")
    column = shipped.header.features.index("app:fear")
    before = shipped.predict_proba(row[None, :])[0]
    assert before[fear] == pytest.approx(UNLEARNED_WEIGHT * np.exp(row[column]))
    afraid = row.copy()
    afraid[column] = np.log(0.9)  # the appearance classifiers read fear
    p = shipped.predict_proba(afraid[None, :])[0]
    assert p[fear] == pytest.approx(0.45) and p.sum() == pytest.approx(1.0)
    assert p[EXPRESSION_LABELS.index("contempt")] == 0.0  # no appearance view of contempt: never answered
    unmeasured = row.copy()
    unmeasured[column] = np.nan
    assert shipped.predict_proba(unmeasured[None, :])[0][fear] == 0.0


def _frl_folder(tmp_path: Path) -> Path:
    """A labelled folder (FRL's words: 'happy') of four people, each neutral and smiling."""
    folder = tmp_path / "labelled"
    (folder / "images").mkdir(parents=True)
    rows = []
    for face_id, gender in (("001", "female"), ("003", "female"), ("096", "male"), ("099", "male")):
        for kind, label, stem in (("neutral", "neutral", "03"), ("smiling", "happy", "08")):
            name = f"images/{face_id}_{kind}.jpg"
            (folder / name).symlink_to(FRL / "images" / f"{kind}_front" / f"{face_id}_{stem}.jpg")
            rows.append({"file": name, "label": label, "person": face_id, "gender": gender})
    with (folder / "labels.csv").open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return folder


@needs_shared
def test_train_on_a_small_real_folder_writes_model_and_card_at_the_path(tmp_path, pipeline) -> None:
    from fea_agent.expression.train import train

    folder = _frl_folder(tmp_path)
    out = tmp_path / "models" / "mine.v1"  # exactly this path, whatever its extension
    result = train(
        [folder],
        out,
        settings=FitSettings(epochs=60),
        folds=2,
        min_per_label=2,
        pipeline=pipeline,
        command="test",
    )
    assert out.is_file() and out.with_suffix(".md").is_file()
    model = ExpressionModel.load(out)
    assert model.header.trained_labels == ["neutral", "happiness"]
    metrics = result.metrics["folders"]["labelled"]
    assert metrics["n"] == 8 and set(metrics["per_class_recall"]) == {"neutral", "happiness"}
    assert set(metrics["by"]["gender"]) == {"female", "male"}
    assert "Person-grouped 2-fold" in out.with_suffix(".md").read_text()


def test_an_abstained_face_shows_no_label_confidence_or_aus(pipeline) -> None:
    from fea_agent.render.annotate import face_caption
    from fea_agent.render.text import format_result
    from fea_agent.video.dataframe import frame_rows

    result = pipeline.analyze(TINY_FACE)
    face = result.faces[0]
    assert not face.quality.usable and face.reasoning.label == "abstain"
    assert face.expression.label is None and face.expression.probabilities == {}
    assert face.label is None and face.confidence is None
    assert '"expression":{"label":null' in result.to_json()
    text = format_result(result)
    assert "expression: none" in text and "action units" not in text
    assert face_caption(face) == ["abstain"]
    row = frame_rows(result)[0]
    assert "AU12" not in row and "expression" not in row


def test_train_command_says_what_is_missing(tmp_path, capsys) -> None:
    from fea_agent.cli import main

    assert main(["train", str(tmp_path), "--out", str(tmp_path / "m.json")]) == 2
    assert "labels.csv not found" in capsys.readouterr().err


@needs_shared
def test_train_with_other_backends_records_them_and_the_model_uses_only_what_it_saw(tmp_path) -> None:
    from fea_agent import FEAPipeline
    from fea_agent.cli import main

    folder, out = _frl_folder(tmp_path), tmp_path / "no_appearance.json"
    argv = ["train", str(folder), "--out", str(out), "--min-per-label", "2", "--folds", "2", "--epochs", "60"]
    assert main([*argv, "--landmarks", "mediapipe-tasks", "--appearance", "none"]) == 0
    model = ExpressionModel.load(out)
    inputs = {i.stage: i.backend for i in model.header.inputs}
    assert inputs == {"detector": "yunet", "landmarks": "mediapipe-tasks", "action_units": "blendshapes"}
    assert not model.header.embedding and model.header.features == feature_names(embedding=0)
    assert "| landmarks | mediapipe-tasks |" in out.with_suffix(".md").read_text()
    assert model.mismatches({**inputs, "landmarks": "mediapipe", "appearance": "fer"}) == []

    # Trained without appearance, the model gives the same answer whether the pipeline runs the FER CNN or not.
    photo = FRL / "images" / "smiling_front" / "003_08.jpg"
    answers = []
    for appearance in ("fer", None):
        with FEAPipeline(appearance=appearance, expression_model=str(out), reasoner=None) as p:
            (face,) = p.analyze(photo).faces
        assert face.expression.model == str(out) and face.expression.source == "fused"
        answers.append(face.expression.probabilities)
    assert answers[0] == answers[1]


def test_train_refuses_backends_that_measure_no_features(tmp_path, capsys) -> None:
    from fea_agent.cli import main

    (tmp_path / "labels.csv").write_text("file,label\nastronaut.png,happy\n")
    for flag, why in (
        ("--action-units", "training needs a landmarks and an action-units backend"),
        ("--landmarks", "computed from the landmarks: choose a landmarks backend"),
    ):
        assert main(["train", str(tmp_path), "--out", str(tmp_path / "m.json"), flag, "none"]) == 2
        assert why in capsys.readouterr().err
    assert not (tmp_path / "m.json").exists()


def test_mouth_texture_is_measured_in_face_units(astronaut, pipeline) -> None:
    """The texture follows the face, not the photo: the same face larger, or turned in the image plane, gives
    nearly the same numbers; another expression's mouth gives others."""
    import cv2

    from fea_agent.expression.texture import TEXTURE_SIZE, mouth_texture

    def texture(rgb: np.ndarray) -> np.ndarray:
        (face,) = pipeline.run(rgb, reasoner=None).faces
        return mouth_texture(rgb, np.asarray(face.landmarks))

    rgb = pipeline.run(astronaut, reasoner=None).rgb
    base = texture(rgb)
    assert base.shape == (TEXTURE_SIZE,) and np.isfinite(base).all() and base.max() > 0
    bigger = texture(cv2.resize(rgb, None, fx=1.5, fy=1.5, interpolation=cv2.INTER_CUBIC))
    turn = cv2.getRotationMatrix2D((256, 256), 12, 1.0)
    turned = texture(cv2.warpAffine(rgb, turn, (512, 512), borderMode=cv2.BORDER_REFLECT))
    neutral = texture(pipeline.run(NEUTRAL_FACE, reasoner=None).rgb)
    for same in (bigger, turned):
        assert np.corrcoef(base, same)[0, 1] > 0.9
    assert np.corrcoef(base, neutral)[0, 1] < min(np.corrcoef(base, s)[0, 1] for s in (bigger, turned))


def test_folder_balance_lifts_a_small_folder_and_leaves_one_folder_alone() -> None:
    from fea_agent.expression.fit import folder_weights

    y = np.array([0] * 100 + [1] * 100 + [0] * 4 + [1] * 4)
    folders = ["wild"] * 200 + ["studio"] * 8
    assert np.allclose(folder_weights(["wild"] * 208, y, 0.5), 1.0)  # one folder: class balance alone
    w = folder_weights(folders, y, 0.5)
    assert np.allclose(w[:200], (104 / 100) ** 0.5) and np.allclose(w[200:], (104 / 4) ** 0.5)
    assert np.allclose(folder_weights(folders, y, 0.0), 1.0)
    full = folder_weights(folders, y, 1.0)  # each folder's photos of a label weigh as much in total
    assert np.isclose(full[:100].sum(), full[200:204].sum())


def test_mirror_copies_teach_the_model_that_a_side_is_no_evidence() -> None:
    """A side asymmetry that happens to go with one label in training (every smiler tilts left) is learned
    without mirror copies and flips answers on mirrored faces; with the copies (side negated) it is not."""
    from fea_agent.expression.train import cross_validate

    rng = np.random.default_rng(0)
    n = 400
    labels = ["happiness" if i % 2 else "neutral" for i in range(n)]
    signal = np.array([1.0 if label == "happiness" else -1.0 for label in labels])
    x = np.stack([0.3 * signal + rng.normal(0, 1, n), 1.5 * signal + rng.normal(0, 0.3, n)], axis=1)
    mirrored = x * np.array([1.0, -1.0])  # the same faces flipped: the side column changes sign
    fold = np.arange(n) % 4
    flips = {}
    for mirror in (False, True):
        cv = cross_validate(
            x,
            labels,
            ["wild"] * n,
            fold,
            ["neutral", "happiness"],
            FitSettings(mirror=mirror, epochs=200),
            4,
            mirrored=list(mirrored),
        )
        flips[mirror] = float(np.mean(cv.logits(x).argmax(1) != cv.logits(mirrored).argmax(1)))
    assert flips[False] > 0.5 and flips[True] < 0.05


@pytest.mark.parametrize(
    ("where", "value", "words"),
    [
        (("weights", "log_prior", 0), float("nan"), r"weights\.log_prior holds NaN or infinite values"),
        (
            ("weights", "layers", 0, "w", 3, 1),
            1e308,
            r"weights\.layers\[0\]\.w holds 1e\+308, above the limit",
        ),
        (("weights", "layers", 0, "b", 0), float("inf"), r"weights\.layers\[0\]\.b holds NaN or infinite"),
        (("weights", "mean", 5), -1e300, r"weights\.mean holds 1e\+300"),
        (("weights", "scale", 2), 0.0, r"weights\.scale holds 0, at or below"),
        (("weights", "scale", 2), float("nan"), r"weights\.scale holds NaN"),
        (("header", "temperature"), float("inf"), r"header\.temperature is inf, outside 0\.01-100"),
        (("header", "temperature"), float("nan"), r"header\.temperature \(input should be greater than 0\)"),
        (("header", "temperature"), 1e-9, r"header\.temperature is 1e-09"),
        (("weights", "log_prior", 1), "x", "corrupt"),
    ],
    ids=[
        "nan-prior",
        "huge-weight",
        "inf-bias",
        "huge-mean",
        "zero-scale",
        "nan-scale",
        "inf-t",
        "nan-t",
        "tiny-t",
        "text",
    ],
)
def test_hostile_numbers_are_refused_naming_the_field(tmp_path, where, value, words) -> None:
    data = json.loads(SHIPPED.read_text())
    *path, last = where
    node = data
    for key in path:
        node = node[key]
    node[last] = value
    hostile = tmp_path / "hostile.json"
    hostile.write_text(json.dumps(data))  # NaN and Infinity as Python writes them, which json.loads reads
    with pytest.raises(ModelFileError, match=words):
        ExpressionModel.load(hostile)


def test_a_hostile_model_stops_the_cli_before_any_photo_with_the_field_named(tmp_path, astronaut) -> None:
    import subprocess
    import sys

    from conftest import SERVER_ENV

    data = json.loads(SHIPPED.read_text())
    data["weights"]["log_prior"][0] = float("nan")
    hostile = tmp_path / "hostile.json"
    hostile.write_text(json.dumps(data))
    done = subprocess.run(
        [sys.executable, "-m", "fea_agent", "analyze", str(astronaut), "--expression-model", str(hostile)],
        capture_output=True,
        text=True,
        timeout=120,
        env=SERVER_ENV,
    )
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert "weights.log_prior holds NaN or infinite values" in done.stderr
    assert "internal error" not in done.stderr + done.stdout

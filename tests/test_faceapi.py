"""face-api.js's FaceExpressionNet, this package's port: the same answers as face-api.js itself, on real photos.

``tests/data/faceapi_reference.json`` holds what face-api.js 0.22.2 answered in Node for fixed crops of the
repository's sample photos (``tests/faceapi_reference.py`` records it). The crops include a tall and a wide box,
so the zero padding to a square and TF.js's resize are checked along with every layer and the label order.
"""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
from conftest import ASTRONAUT
from faceapi_reference import REFERENCE, crop
from PIL import Image

from fea_agent.backends.base import Detection
from fea_agent.errors import ModelFileError
from fea_agent.models.registry import model_path
from fea_agent.perception.faceapi import FACEAPI_LABELS, FaceApiExpression

#: face-api.js's label words (FACE_EXPRESSION_LABELS), in its order.
UPSTREAM = ("neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised")


@pytest.fixture(scope="module")
def files() -> tuple[Path, Path]:
    return model_path("faceapi_expression_manifest"), model_path("faceapi_expression")


@pytest.fixture(scope="module")
def net(files: tuple[Path, Path]) -> FaceApiExpression:
    return FaceApiExpression(*files)


@pytest.mark.parametrize("record", json.loads(REFERENCE.read_text())["crops"], ids=lambda r: r["photo"])
def test_answers_match_face_api_js(net: FaceApiExpression, record: dict) -> None:
    x, y, w, h = record["box"]
    pixels = crop(record["photo"], x, y, w, h)
    face = net.preprocess(pixels, (0.0, 0.0, float(w), float(h)))
    probabilities, embedding = net.run(np.stack([face, face]))
    theirs = [record["probabilities"][label] for label in UPSTREAM]
    # Log-probabilities, so that the small ones (1e-9 on a broad smile) are compared too.
    assert np.log(probabilities[0]) == pytest.approx(np.log(theirs), abs=2e-3)
    assert embedding.shape == (2, 256) and np.allclose(embedding[0], embedding[1])


def test_label_order_is_face_api_js_order_in_this_package_words() -> None:
    words = {
        "happy": "happiness",
        "sad": "sadness",
        "angry": "anger",
        "fearful": "fear",
        "disgusted": "disgust",
    }
    assert tuple(words.get(u, u.replace("surprised", "surprise")) for u in UPSTREAM) == FACEAPI_LABELS


def test_smiling_astronaut_reads_happy_and_mirror_gives_the_same(net: FaceApiExpression) -> None:
    rgb = np.asarray(Image.open(ASTRONAUT).convert("RGB"))
    box = (169.0, 63.0, 112.0, 112.0)
    (out,) = net.predict(rgb, [Detection(box, 0.9, np.zeros((5, 2), np.float32))])
    assert max(out.probabilities, key=out.probabilities.__getitem__) == "happiness"
    assert math.isclose(sum(out.probabilities.values()), 1.0, abs_tol=1e-5)
    mirrored_box = (rgb.shape[1] - box[0] - box[2], box[1], box[2], box[3])
    (flipped,) = net.predict(
        np.ascontiguousarray(rgb[:, ::-1]), [Detection(mirrored_box, 0.9, np.zeros((5, 2)))]
    )
    # The answer is the mean over the crop and its mirror image, so mirroring the photo changes nothing.
    for label, p in out.probabilities.items():
        assert flipped.probabilities[label] == pytest.approx(p, abs=1e-5)
    assert out.features is not None and np.allclose(out.features, flipped.features, atol=1e-5)


def test_a_truncated_shard_names_the_file(tmp_path: Path, files: tuple[Path, Path]) -> None:
    manifest, shard = files
    short = tmp_path / shard.name
    short.write_bytes(shard.read_bytes()[:-100])
    with pytest.raises(ModelFileError, match=rf"{short.name} is \d+ bytes.*fetch both files again"):
        FaceApiExpression(manifest, short)


def test_a_manifest_that_is_not_one_names_the_file(tmp_path: Path, files: tuple[Path, Path]) -> None:
    bad = tmp_path / "manifest.json"
    bad.write_text("<html>not found</html>")
    with pytest.raises(ModelFileError, match=r"manifest\.json is not a TF\.js weights manifest"):
        FaceApiExpression(bad, files[1])
    other = tmp_path / "other.json"
    entries = json.loads(files[0].read_text())
    entries[0]["weights"] = [w for w in entries[0]["weights"] if not w["name"].startswith("fc/")]
    other.write_text(json.dumps(entries))
    trimmed = tmp_path / "shard"
    shutil.copyfile(files[1], trimmed)
    with trimmed.open("r+b") as f:  # drop the classifier's bytes too, so the sizes agree
        f.truncate(trimmed.stat().st_size - 256 * 7 - 7 * 4)
    with pytest.raises(ModelFileError, match="has no tensor 'fc/weights'"):
        FaceApiExpression(other, trimmed)

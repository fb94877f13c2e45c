"""Interchange with OpenFace and py-feat: OpenFace columns and units, the iBUG-68 landmarks, gaze from the
iris, the readers and the ``.fex`` accessor, on the sample photos and the shared clip."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import ASTRONAUT, DATA, NEUTRAL_FACE, NO_FACE, VIDEO, needs_shared

from fea_agent.errors import InvalidInputError
from fea_agent.interchange import openface, read_openface, read_pyfeat, to_openface, write_openface
from fea_agent.perception.gaze import gaze_from_landmarks
from fea_agent.video import to_dataframe

REQUIRED = [
    "frame",
    "face_id",
    "timestamp",
    "confidence",
    "success",
    "AU01_r",
    "AU12_c",
    "pose_Rx",
    "pose_Tz",
]
REQUIRED += ["gaze_angle_x", "gaze_angle_y", "x_0", "x_67", "y_0", "y_67"]


@pytest.fixture(scope="module")
def astronaut_result(pipeline):
    return pipeline.analyze(ASTRONAUT)


def test_ibug68_points_fall_where_the_face_parts_are(astronaut_result):
    face = astronaut_result.faces[0]
    points = openface.landmarks_68(face.landmarks)
    assert points.shape == (68, 2)
    b = face.bbox
    assert (points[:, 0] > b.x - 0.2 * b.width).all() and (points[:, 0] < b.x + 1.2 * b.width).all()
    right_eye, left_eye = points[36:42].mean(axis=0), points[42:48].mean(axis=0)
    nose_tip, chin, mouth = points[30], points[8], points[48:68].mean(axis=0)
    assert right_eye[0] < nose_tip[0] < left_eye[0]  # the subject's right eye is on the image's left
    assert max(right_eye[1], left_eye[1]) < nose_tip[1] < mouth[1] < chin[1]
    assert points[48][0] < points[54][0]  # mouth corners in order


def test_gaze_is_near_the_camera_and_follows_the_iris(astronaut_result):
    face = astronaut_result.faces[0]
    yaw, pitch = gaze_from_landmarks(face.landmarks)
    assert abs(yaw) < 12 and abs(pitch) < 12  # she looks into the camera
    lm = np.array(face.landmarks)
    eye_width = np.linalg.norm(lm[133] - lm[33])
    moved = lm.copy()
    moved[468:478, 0] += 0.15 * eye_width  # both irises towards the image's right
    assert gaze_from_landmarks(moved)[0] > yaw + 10
    moved = lm.copy()
    moved[468:478, 1] += 0.1 * eye_width  # both irises down
    assert gaze_from_landmarks(moved)[1] < pitch - 5
    assert gaze_from_landmarks(lm[:468]) is None  # no iris points, no gaze
    turned = gaze_from_landmarks(face.landmarks, head_pose=(20.0, 0.0))
    assert turned[0] == pytest.approx(yaw + 20)


def test_openface_row_units(astronaut_result):
    (row,) = openface.openface_rows(astronaut_result)
    face = astronaut_result.faces[0]
    assert (row["frame"], row["face_id"], row["success"]) == (1, 0, 1)  # OpenFace counts frames from 1
    assert 0 < row["confidence"] <= 1
    assert row["AU12_c"] == 1 and 2 <= row["AU12_r"] <= 5
    assert all(row[f"{c}_c"] in (0, 1) and 0 <= row[f"{c}_r"] <= 5 for c in openface.AU_CODES)
    assert row["pose_Ry"] == pytest.approx(-math.radians(face.head_pose.yaw))
    assert row["pose_Rx"] == pytest.approx(-math.radians(face.head_pose.pitch))
    assert all(abs(row[k]) < 0.5 for k in ("pose_Rx", "pose_Ry", "pose_Rz", "gaze_angle_x", "gaze_angle_y"))
    # a 512 px portrait with OpenFace's default camera: the head is some decimetres away, near the centre
    assert 300 < row["pose_Tz"] < 1500 and abs(row["pose_Tx"]) < 200


def test_faceless_photo_is_one_unsuccessful_row(pipeline):
    (row,) = openface.openface_rows(pipeline.analyze(NO_FACE))
    assert (row["success"], row["confidence"], row["frame"]) == (0, 0.0, 1)
    assert "AU12_r" not in row


def test_csv_round_trips_through_the_reader(pipeline, astronaut_result, tmp_path):
    results = [astronaut_result, pipeline.analyze(NEUTRAL_FACE), pipeline.analyze(NO_FACE)]
    path = tmp_path / "openface.csv"
    assert write_openface(results, path) == 3
    back = read_openface(path)
    table = to_openface(results)
    assert list(back.columns) == list(openface.COLUMNS) == list(table.columns)
    pd.testing.assert_frame_equal(back, table, check_dtype=False)
    # OpenFace's own files put a space after each comma; the reader drops it
    spaced = tmp_path / "spaced.csv"
    spaced.write_text(path.read_text().replace(",", ", "))
    assert list(read_openface(spaced).columns) == list(openface.COLUMNS)
    assert read_openface(spaced)["AU12_r"].iloc[0] == pytest.approx(back["AU12_r"].iloc[0])


def test_fex_accessor_reads_ours_openface_and_pyfeat_alike(pipeline, astronaut_result, tmp_path):
    ours = to_dataframe([astronaut_result, pipeline.analyze(NEUTRAL_FACE)])
    theirs = to_openface([astronaut_result, pipeline.analyze(NEUTRAL_FACE)])
    assert (ours.fex.source, theirs.fex.source) == ("fea-agent", "openface")
    assert list(ours.fex.aus.columns) == list(theirs.fex.aus.columns)
    assert np.allclose(ours.fex.aus.to_numpy(), theirs.fex.aus.to_numpy())
    assert np.allclose(ours.fex.poses[["yaw", "pitch", "roll"]], theirs.fex.poses[["yaw", "pitch", "roll"]])
    assert ours.fex.emotions.loc[0, "happiness"] > 0.5 and theirs.fex.emotions.empty
    assert theirs.fex.landmarks.shape == (2, 136) and ours.fex.landmarks.empty
    assert list(theirs.fex.gazes.columns) == ["gaze_yaw", "gaze_pitch"]
    # A py-feat CSV as Fex.to_csv writes it (py-feat does not run here: the header and units are py-feat's).
    pyfeat = tmp_path / "pyfeat.csv"
    header = [
        "",
        "FaceRectX",
        "FaceRectY",
        "FaceRectWidth",
        "FaceRectHeight",
        "FaceScore",
        "Pitch",
        "Roll",
        "Yaw",
    ]
    header += ["AU01", "AU12", "anger", "happiness", "neutral", "input", "frame"]
    pyfeat.write_text(
        ",".join(header) + "\n0,10,20,100,120,0.99,-3.1,1.2,4.5,0.2,0.9,0.01,0.95,0.04,a.jpg,0\n"
    )
    feat = read_pyfeat(pyfeat)
    assert feat.fex.source == "pyfeat-1" and "Unnamed: 0" not in feat.columns
    assert list(feat.fex.aus.columns) == ["AU01", "AU12"] and feat.fex.poses.loc[0, "yaw"] == -4.5
    assert list(feat.fex.emotions.columns) == ["neutral", "happiness", "anger"]


#: Real files written by py-feat 2.x, py-feat 1.x and OpenFace 2.x (py-feat's repository, MIT: SOURCE.md there).
INTERCHANGE = DATA / "interchange"


@needs_shared
@pytest.mark.parametrize("name", ["docs_data_news_sample_001.csv", "docs_data_news_sample_002.csv"])
def test_pyfeat_2_files_read_with_emotions_pose_and_gaze_in_our_units(name):
    raw = pd.read_csv(INTERCHANGE / name)
    feat = read_pyfeat(INTERCHANGE / name)
    assert feat.fex.source == "pyfeat-2" and feat.fex.au_scale == "probability 0-1"
    emotions = feat.fex.emotions
    assert list(emotions.columns) == [
        "neutral",
        "happiness",
        "sadness",
        "surprise",
        "fear",
        "disgust",
        "anger",
    ]
    assert np.allclose(emotions["happiness"], raw["Happy"]) and np.allclose(emotions["anger"], raw["Anger"])
    assert np.allclose(emotions.sum(axis=1), 1, atol=0.02)
    poses = feat.fex.poses
    # radians into degrees; yaw > 0 towards the subject's right in py-feat, the image's right in fea-agent
    assert np.allclose(poses["yaw"], -np.degrees(raw["Yaw"])) and np.allclose(
        poses["pitch"], np.degrees(raw["Pitch"])
    )
    assert np.allclose(poses["roll"], np.degrees(raw["Roll"]))
    assert poses.abs().to_numpy().max() > 1.0, "still radians"
    assert poses.abs().to_numpy().max() < 60  # a news presenter facing the camera
    gazes = feat.fex.gazes
    assert list(gazes.columns) == ["gaze_yaw", "gaze_pitch"]
    assert np.allclose(gazes["gaze_yaw"], np.degrees(raw["gaze_yaw"]) + poses["yaw"])  # camera frame
    assert np.allclose(gazes["gaze_pitch"], np.degrees(raw["gaze_pitch"]) + poses["pitch"])
    assert feat.fex.aus.shape[1] == 20 and feat.fex.landmarks.shape[1] == 136


@needs_shared
@pytest.mark.parametrize("name", ["feat_tests_data_Feat_Test.csv", "feat_tests_data_001.csv"])
def test_pyfeat_1_files_read_in_degrees_with_our_yaw_sign(name):
    raw = pd.read_csv(INTERCHANGE / name)
    feat = read_pyfeat(INTERCHANGE / name)
    assert feat.fex.source == "pyfeat-1"
    assert feat.fex.emotions["happiness"].gt(0.5).all()  # both files are smiling faces
    assert np.allclose(feat.fex.poses["yaw"], -raw["Yaw"]) and np.allclose(
        feat.fex.poses["pitch"], raw["Pitch"]
    )
    assert feat.fex.gazes.empty and list(feat.fex.aus.columns)[:2] == ["AU01", "AU02"]


@needs_shared
def test_openface_2_file_reads_its_gaze_from_the_eye_vectors():
    theirs = read_openface(INTERCHANGE / "feat_tests_data_OpenFace_Test.csv")
    assert theirs.fex.source == "openface" and theirs.fex.au_scale == "intensity 0-5"
    assert "gaze_angle_x" not in theirs.columns  # this OpenFace build wrote only the per-eye vectors
    v = {a: (theirs[f"gaze_0_{a}"] + theirs[f"gaze_1_{a}"]) / 2 for a in "xyz"}
    gazes = theirs.fex.gazes
    assert np.allclose(gazes["gaze_yaw"], np.degrees(np.arctan2(v["x"], -v["z"])))
    assert np.allclose(gazes["gaze_pitch"], -np.degrees(np.arctan2(v["y"], -v["z"])))
    assert gazes.abs().to_numpy().max() < 20
    assert np.allclose(theirs.fex.poses["pitch"], -np.degrees(theirs["pose_Rx"]))
    assert theirs.fex.aus.shape == (100, 17) and theirs.fex.emotions.empty


@needs_shared
def test_a_file_of_the_wrong_kind_is_refused_saying_what_it_is(tmp_path, pipeline):
    with pytest.raises(
        InvalidInputError,
        match=r"OpenFace_Test.csv: this is an OpenFace 2.x table, not a py-feat table; read it with fea_agent.interchange.read_openface",
    ):
        read_pyfeat(INTERCHANGE / "feat_tests_data_OpenFace_Test.csv")
    with pytest.raises(
        InvalidInputError,
        match=r"this is a py-feat 2.x table, not an OpenFace 2.x table; read it with fea_agent.interchange.read_pyfeat",
    ):
        read_openface(INTERCHANGE / "docs_data_news_sample_001.csv")
    with pytest.raises(InvalidInputError, match=r"this is a py-feat 0.x/1.x table, not an OpenFace"):
        read_openface(INTERCHANGE / "feat_tests_data_Feat_Test.csv")
    with pytest.raises(InvalidInputError, match=r"SOURCE.md: not a CSV table"):
        read_pyfeat(INTERCHANGE / "SOURCE.md")
    ours = tmp_path / "ours.csv"
    to_dataframe([pipeline.analyze(ASTRONAUT)]).to_csv(ours, index=False)
    with pytest.raises(InvalidInputError, match=r"this is fea-agent's own table, not a py-feat table"):
        read_pyfeat(ours)
    other = tmp_path / "other.csv"
    other.write_text("name,score\nann,3\n")
    with pytest.raises(
        InvalidInputError, match=r"other.csv: not an OpenFace 2.x table: none of its columns \(name, score\)"
    ):
        read_openface(other)
    with pytest.raises(InvalidInputError, match="no such file"):
        read_pyfeat(tmp_path / "missing.csv")


def test_to_dataframe_keeps_a_failed_input(pipeline):
    table = to_dataframe(pipeline.analyze_many([ASTRONAUT, b"not an image"]))
    assert len(table) == 2
    assert table["error"].isna().iloc[0] and "not an image" in table["error"].iloc[1]


def _fea(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "fea_agent", *args], capture_output=True, text=True, timeout=timeout
    )


def test_analyze_prints_openface_csv(tmp_path):
    proc = _fea("analyze", str(ASTRONAUT), str(NO_FACE), "--format", "openface")
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "out.csv"
    out.write_text(proc.stdout)
    table = read_openface(out)
    assert list(table["source"]) == [str(ASTRONAUT), str(NO_FACE)]
    assert list(table["success"]) == [1, 0] and set(REQUIRED) <= set(table.columns)


@needs_shared
@pytest.mark.slow
def test_video_writes_openface_columns_and_a_plot(tmp_path):
    csv_path, png = tmp_path / "clip.csv", tmp_path / "clip.png"
    proc = _fea(
        "video", str(VIDEO), "--format", "openface", "--out", str(csv_path), "--plot", str(png),
        "--max-frames", "40", "--no-progress",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    table = read_openface(csv_path)
    assert set(REQUIRED) <= set(table.columns) and "source" not in table.columns
    assert len(table) == 40 and list(table["frame"]) == list(range(1, 41))
    assert table["success"].all() and table["AU12_r"].between(0, 5).all()
    assert table["timestamp"].is_monotonic_increasing
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 20_000

"""The report card's metrics against figures worked out by hand."""

from __future__ import annotations

import math

import pytest

from fea_agent.evaluation.scoring import (
    auc,
    classification,
    coverage_curve,
    expected_calibration_error,
    pearson,
    share,
)


def test_classification_counts_recall_precision_and_the_main_six_mean() -> None:
    truth = ["neutral", "neutral", "happiness", "happiness", "fear"]
    answers = ["neutral", "happiness", "happiness", "no face", "neutral"]
    c = classification(truth, answers)
    assert c.n == 5 and c.accuracy == pytest.approx(2 / 5)
    assert c.per_class_recall == {"fear": 0.0, "happiness": 0.5, "neutral": 0.5}
    # precision: neutral answered twice, right once; happiness twice, right once; 'no face' never right.
    assert c.per_class_precision == {"happiness": 0.5, "neutral": 0.5, "no face": 0.0}
    assert c.mean_recall == pytest.approx(0.5)  # fear is not one of the main six
    assert c.confusion["happiness"] == {"happiness": 1, "no face": 1}
    with pytest.raises(ValueError, match="2 labels but 1 answers"):
        classification(["neutral", "anger"], ["neutral"])


def test_expected_calibration_error_weights_each_bins_gap_by_its_share() -> None:
    # bin 0.9-1.0: confidences 0.95, 1.0 (mean 0.975), one right -> gap 0.475, weight 2/4;
    # bin 0.6-0.7: 0.6, 0.6, both right -> gap 0.4, weight 2/4.
    ece = expected_calibration_error([0.95, 1.0, 0.6, 0.6], [True, False, True, True])
    assert ece == pytest.approx(0.5 * 0.475 + 0.5 * 0.4)
    assert expected_calibration_error([0.8] * 5, [True] * 4 + [False]) == pytest.approx(0.0)
    assert math.isnan(expected_calibration_error([], []))


def test_coverage_keeps_the_most_confident_answers_first() -> None:
    confidence = [0.9, 0.8, 0.7, 0.6, 0.5]
    correct = [True, True, False, True, False]
    curve = coverage_curve(confidence, correct, coverages=(0.2, 0.6, 1.0))
    assert curve == {"0.2": 1.0, "0.6": pytest.approx(2 / 3), "1": pytest.approx(3 / 5)}


def test_auc_is_the_chance_a_positive_outscores_a_negative_ties_half() -> None:
    assert auc([0.9, 0.8], [0.1, 0.2]) == 1.0
    assert auc([0.1], [0.9]) == 0.0
    # pairs: (0.5 vs 0.5) tie -> 0.5, (0.5 vs 0.2) -> 1, (0.7 vs both) -> 2: 3.5 of 4.
    assert auc([0.5, 0.7], [0.5, 0.2]) == pytest.approx(3.5 / 4)
    assert math.isnan(auc([], [0.3]))


def test_pearson_and_share() -> None:
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert pearson([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert math.isnan(pearson([1, 1], [2, 3]))
    assert share([True, False, False, True]) == 0.5 and math.isnan(share([]))

"""The report card's metrics, in plain Python over lists: classification scores, calibration, ranking (AUC) and
correlation. Each is the textbook definition; the tests check them against figures worked out by hand."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from pydantic import BaseModel, Field

#: The six classes whose mean recall is the headline figure: those every in-the-wild set has enough photos of
#: (fear and contempt are rare everywhere, and are reported on their own).
MAIN_SIX = ("anger", "disgust", "happiness", "neutral", "sadness", "surprise")


class Classification(BaseModel):
    """Accuracy, recall and precision per class, and the confusion matrix, of answers against labels."""

    n: int
    accuracy: float
    mean_recall: float = Field(description="Mean recall over the main six classes present in the labels.")
    per_class_recall: dict[str, float] = Field(description="For every label present in the truth.")
    per_class_precision: dict[str, float] = Field(
        description="For every label answered at least once (NaN never: an unanswered label has no precision)."
    )
    confusion: dict[str, dict[str, int]] = Field(description="true label -> answer -> count.")


def classification(truth: Sequence[str], answers: Sequence[str]) -> Classification:
    """Score ``answers`` against ``truth`` (same length; an answer may be a non-label such as 'no face')."""
    if len(truth) != len(answers):
        raise ValueError(f"{len(truth)} labels but {len(answers)} answers")
    confusion: dict[str, Counter[str]] = {t: Counter() for t in sorted(set(truth))}
    for t, a in zip(truth, answers, strict=True):
        confusion[t][a] += 1
    recall = {t: c[t] / sum(c.values()) for t, c in confusion.items()}
    answered = Counter(answers)
    precision = {
        a: (confusion[a][a] if a in confusion else 0) / count for a, count in sorted(answered.items())
    }
    main = [recall[k] for k in MAIN_SIX if k in recall]
    return Classification(
        n=len(truth),
        accuracy=sum(t == a for t, a in zip(truth, answers, strict=True)) / len(truth) if truth else math.nan,
        mean_recall=sum(main) / len(main) if main else math.nan,
        per_class_recall=recall,
        per_class_precision=precision,
        confusion={t: dict(sorted(c.items())) for t, c in confusion.items()},
    )


def expected_calibration_error(confidence: Sequence[float], correct: Sequence[bool], bins: int = 10) -> float:
    """ECE: over ``bins`` equal-width confidence bins, the gap between accuracy and mean confidence, weighted
    by the bin's share of the answers (Guo et al. 2017). A confidence of exactly 1 falls in the last bin."""
    if len(confidence) != len(correct):
        raise ValueError("confidence and correctness differ in length")
    if not confidence:
        return math.nan
    members: dict[int, list[int]] = {}
    for i, c in enumerate(confidence):
        members.setdefault(min(int(c * bins), bins - 1), []).append(i)
    total = 0.0
    for rows in members.values():
        accuracy = sum(correct[i] for i in rows) / len(rows)
        mean_confidence = sum(confidence[i] for i in rows) / len(rows)
        total += len(rows) * abs(accuracy - mean_confidence)
    return total / len(confidence)


def coverage_curve(
    confidence: Sequence[float],
    correct: Sequence[bool],
    coverages: Sequence[float] = (0.2, 0.4, 0.6, 0.8, 1.0),
) -> dict[str, float]:
    """Accuracy of the most confident answers at each coverage (share of answers kept, most confident first):
    what answering only above a confidence buys. Keys are the coverages as text ('0.6')."""
    order = sorted(range(len(confidence)), key=lambda i: -confidence[i])
    out = {}
    for share in coverages:
        kept = order[: max(1, round(share * len(order)))] if order else []
        out[f"{share:g}"] = sum(correct[i] for i in kept) / len(kept) if kept else math.nan
    return out


def auc(positives: Sequence[float], negatives: Sequence[float]) -> float:
    """Area under the ROC curve: the chance that a random positive scores above a random negative, ties
    counting half (the Mann-Whitney U statistic over n_pos * n_neg). NaN when either side is empty."""
    if not positives or not negatives:
        return math.nan
    ranked = sorted([(v, 1) for v in positives] + [(v, 0) for v in negatives])
    rank_sum, i = 0.0, 0
    while i < len(ranked):
        j = i
        while j < len(ranked) and ranked[j][0] == ranked[i][0]:
            j += 1
        mean_rank = (i + j + 1) / 2  # 1-based ranks i+1..j share their mean
        rank_sum += mean_rank * sum(flag for _, flag in ranked[i:j])
        i = j
    n_pos, n_neg = len(positives), len(negatives)
    return (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson correlation; NaN when either side is constant or there are fewer than 2 points."""
    n = len(x)
    if n < 2:
        return math.nan
    mx, my = sum(x) / n, sum(y) / n
    sxy = sum((a - mx) * (b - my) for a, b in zip(x, y, strict=True))
    sxx = sum((a - mx) ** 2 for a in x)
    syy = sum((b - my) ** 2 for b in y)
    return sxy / math.sqrt(sxx * syy) if sxx > 0 and syy > 0 else math.nan


def share(flags: Sequence[bool]) -> float:
    """The share of true flags; NaN for none."""
    return sum(flags) / len(flags) if flags else math.nan

"""The one scale of words for AU intensity (0-5; 1-5 are the FACS grades A-E), used by every text."""

from __future__ import annotations

from typing import Literal

IntensityWord = Literal["trace", "slight", "clear", "strong"]

#: Lower bounds of each word on the 0-5 scale: below 1 a trace (grade A or less), 1-2.5 slight (A-B),
#: 2.5-3.5 clear (C), from 3.5 strong (D-E).
_SCALE: tuple[tuple[float, IntensityWord], ...] = ((3.5, "strong"), (2.5, "clear"), (1.0, "slight"))

_ADVERBS: dict[IntensityWord, str] = {
    "trace": "barely",
    "slight": "slightly",
    "clear": "clearly",
    "strong": "strongly",
}

_FACS_GRADES = "ABCDE"


def intensity_word(intensity: float) -> IntensityWord:
    """'trace', 'slight', 'clear' or 'strong' for an intensity on the 0-5 scale."""
    return next((word for bound, word in _SCALE if intensity >= bound), "trace")


def intensity_adverb(intensity: float) -> str:
    """The same scale as an adverb for running text: 'barely', 'slightly', 'clearly', 'strongly'."""
    return _ADVERBS[intensity_word(intensity)]


def facs_grade(intensity: float) -> str | None:
    """The FACS letter A-E for an intensity of at least 0.5, else None (absent)."""
    if intensity < 0.5:
        return None
    return _FACS_GRADES[min(4, max(0, round(intensity) - 1))]

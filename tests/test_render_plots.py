"""PNG charts from fea_agent.render.plots: an AU bar chart of a face, AU and expression time series."""

from __future__ import annotations

import cv2
import numpy as np
from conftest import ASTRONAUT, NO_FACE


def test_au_bar_chart_and_time_series_are_pngs(pipeline):
    from fea_agent.render.plots import au_bar_chart, video_time_series
    from fea_agent.video import to_dataframe

    face = pipeline.analyze(ASTRONAUT).faces[0]
    png = au_bar_chart(face)
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    table = to_dataframe([pipeline.analyze(ASTRONAUT), pipeline.analyze(NO_FACE)])
    table["timestamp"] = [0.0, 1.0]
    image = cv2.imdecode(np.frombuffer(video_time_series(table), np.uint8), cv2.IMREAD_COLOR)
    assert image.shape[0] > 300 and image.shape[1] > 600

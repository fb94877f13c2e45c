"""Composition: the options, the in-flight analysis, face assembly, and the image and video running modes.

from fea_agent.pipeline import FEAPipeline, PipelineOptions

with FEAPipeline(PipelineOptions(reasoner="facs")) as pipeline:
    result = pipeline.run("photo.jpg").result              # IMAGE mode
    for frame in pipeline.analyze_video("clip.mp4"):        # VIDEO mode (run_video over a VideoReader)
        ...
"""

from fea_agent.pipeline.analysis import Analysis
from fea_agent.pipeline.options import MAX_FACES, PipelineOptions
from fea_agent.pipeline.pipeline import USE_PIPELINE, FEAPipeline

__all__ = ["MAX_FACES", "USE_PIPELINE", "Analysis", "FEAPipeline", "PipelineOptions"]

"""Renderings of results: annotated images and readable text."""

from fea_agent.render.annotate import annotate, face_caption, save_annotated
from fea_agent.render.text import format_result

__all__ = ["annotate", "face_caption", "format_result", "save_annotated"]

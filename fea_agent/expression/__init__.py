"""The learned expression model: per-face features (``features``), the model file and inference (``model``),
fitting (``fit``) and training from labelled folders (``train``, the ``fea-agent train`` command)."""

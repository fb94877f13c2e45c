"""The report card: ``fea-agent evaluate`` on labelled folders, model files and FACS-coded frames."""

"""Datasets, feature extraction, training, evaluation and backbone calibration: the research side."""

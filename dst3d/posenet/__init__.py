"""Pose estimators trained on dst3d data: bins, metrics, model, training, evaluation."""

"""Publishing a dataset folder to the Hugging Face Hub (`dst3d publish`).

The implementation lives in :mod:`dst3d.hub.hub` (imported on use, so that the CLI
starts without loading the Hub and datasets clients).
"""

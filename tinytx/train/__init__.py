"""Training (lesson 10): the Trainer loop, its config, the held-out pass, the CSV/PNG logs."""
from .evaluation import bits_per_byte, evaluate
from .logs import plot_losses, read_rows
from .trainer import Trainer, TrainConfig, TrainingDiverged, accumulate_gradients

__all__ = ["Trainer", "TrainConfig", "TrainingDiverged", "accumulate_gradients",
           "evaluate", "bits_per_byte", "plot_losses", "read_rows"]

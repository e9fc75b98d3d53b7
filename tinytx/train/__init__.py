"""Training (lesson 10): the Trainer loop, its config, and the CSV/PNG logs."""
from .logs import plot_losses, read_rows
from .trainer import Trainer, TrainConfig, TrainingDiverged, accumulate_gradients

__all__ = ["Trainer", "TrainConfig", "TrainingDiverged", "accumulate_gradients",
           "plot_losses", "read_rows"]

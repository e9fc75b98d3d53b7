"""Training (lesson 10): the Trainer loop, its config, the held-out pass, the CSV/PNG logs."""
from .evaluation import bits_per_byte, evaluate
from .logs import plot_losses, read_rows
from .trainer import (ResumeMismatch, Trainer, TrainConfig, TrainingDiverged,
                      accumulate_gradients, check_resume, resume_tokenizer)

__all__ = ["Trainer", "TrainConfig", "TrainingDiverged", "ResumeMismatch", "check_resume",
           "resume_tokenizer", "accumulate_gradients", "evaluate", "bits_per_byte", "plot_losses", "read_rows"]

"""Training (lesson 11): the Trainer loop, its config, exact resume and its checks, the
held-out pass, the CSV/PNG logs. What one lesson or job trains is in `tinytx.tasks`."""
from .accumulate import accumulate_gradients
from .evaluation import bits_per_byte, evaluate
from .logs import plot_losses, read_rows
from .resume import ResumeMismatch, check_resume, resume_tokenizer
from .trainer import Trainer, TrainConfig, TrainingDiverged

__all__ = ["Trainer", "TrainConfig", "TrainingDiverged", "ResumeMismatch", "check_resume",
           "resume_tokenizer", "accumulate_gradients", "evaluate", "bits_per_byte", "plot_losses", "read_rows"]

"""Neural-network building blocks, imported as `nn` (`from tinytx import nn`).

Module and Parameter are introduced in lesson 01; the layers in the lessons that first
need them (Linear 01, Embedding 06, LayerNorm/Dropout/GELU 09).

    >>> from tinytx import nn
    >>> nn.Sequential(nn.Linear(2, 4), nn.GELU(), nn.Linear(4, 1)).num_parameters()
    17
"""
from .layers import GELU, Dropout, Embedding, LayerNorm, Linear
from .module import Module, ModuleDict, ModuleList, Parameter, Sequential
from .recurrent import LSTM, RNN, LSTMCell, RNNCell

__all__ = ["Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "Linear",
           "Embedding", "LayerNorm", "Dropout", "GELU", "RNNCell", "RNN", "LSTMCell", "LSTM"]

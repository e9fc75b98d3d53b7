"""Neural-network building blocks, imported as `nn` (`from tinytx import nn`).

Module, Parameter, Linear, Embedding and Dropout are introduced in lesson 01 (the MLP
language model); the other layers in the lessons that first need them (RNN 02, LSTM 03,
attention and learned positions 04, multi-head 05, LayerNorm/GELU/MLP/Block 08, the
sinusoidal table 09, encoder/decoder layers 10); lessons.TEACHES has the full table.

    >>> from tinytx import nn
    >>> nn.Sequential(nn.Linear(2, 4), nn.GELU(), nn.Linear(4, 1)).num_parameters()
    17
"""
from .attention import CrossAttention, MultiHeadAttention
from .layers import GELU, Dropout, Embedding, LayerNorm, Linear, LinearGELU, LMHead
from .containers import ModuleDict, ModuleList, Sequential
from .module import Module, Parameter, abstract_init, building_abstract, parameter
from .positional import (LearnedPositionalEmbedding, SinusoidalPositionalEncoding,
                         sinusoidal_table)
from .recurrent import LSTM, RNN, LSTMCell, RNNCell
from .transformer import MLP, Block, DecoderLayer, EncoderLayer

__all__ = ["LinearGELU", "LMHead", "Module", "Parameter", "abstract_init", "building_abstract", "parameter", "Sequential", "ModuleList", "ModuleDict", "Linear",
           "Embedding", "LayerNorm", "Dropout", "GELU", "RNNCell", "RNN", "LSTMCell", "LSTM",
           "MultiHeadAttention", "CrossAttention", "MLP", "Block", "EncoderLayer",
           "DecoderLayer", "SinusoidalPositionalEncoding", "LearnedPositionalEmbedding",
           "sinusoidal_table"]

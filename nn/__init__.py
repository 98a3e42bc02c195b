"""Layers and optimizers built from tinygrad_seq's core, with PyTorch's names.

    >>> from tinygrad_seq import nn
    >>> lstm = nn.LSTM(input_size=8, hidden_size=16)

The language-model toolkit is the subpackage `tinygrad_seq.nn.lm` (`from tinygrad_seq.nn import lm`);
no layer here imports it.
"""

from typing import TYPE_CHECKING, Any

from tinygrad_seq import functional, habits

from . import init, optim, utils
from .activation import GELU, ReLU, Sigmoid, Tanh
from .attention import MultiheadAttention, scaled_dot_product_attention
from .containers import ModuleList, Sequential
from .linear import Dropout, Embedding, Identity, LayerNorm, Linear
from .loss import CrossEntropyLoss, MSELoss, NLLLoss
from .module import Module, Parameter, StateDictError, evaluating, functional_call
from .recurrent import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNCell
from .transformer import (
    LearnedPositionalEncoding,
    SinusoidalPositionalEncoding,
    TransformerDecoderLayer,
    TransformerEncoderLayer,
)

__all__ = [
    "functional", "init", "optim", "utils",
    "Module", "Parameter", "StateDictError", "evaluating", "functional_call",
    "Linear", "Embedding", "LayerNorm", "Dropout", "Identity", "Sequential", "ModuleList",
    "CrossEntropyLoss", "NLLLoss", "MSELoss",
    "RNNCell", "LSTMCell", "GRUCell", "RNN", "LSTM", "GRU",
    "MultiheadAttention", "scaled_dot_product_attention",
    "TransformerEncoderLayer", "TransformerDecoderLayer",
    "SinusoidalPositionalEncoding", "LearnedPositionalEncoding",
    "ReLU", "Tanh", "Sigmoid", "GELU",
]


if not TYPE_CHECKING:  # hidden from type checkers, which would otherwise accept any name

    def __getattr__(name: str) -> Any:
        """A torch.nn name that is not here (`nn.Softmax`) raises, naming what to write instead."""
        raise habits.no_attribute(__name__, name, "nn")

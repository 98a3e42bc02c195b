"""Layers, optimizers and language models built from tinygrad_seq's core, with PyTorch's names.

    >>> from tinygrad_seq import nn
    >>> lstm = nn.LSTM(input_size=8, hidden_size=16)
"""

from .module import Module, Parameter

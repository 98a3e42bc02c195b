"""The language-model toolkit: text and vocabularies, models, training, sampling, checkpoints, the command.

Built on the layers of `tinygrad_seq.nn`; no layer imports it. Its modules, each one idea:

    text        vocabularies (<unk>, <eos>), corpora, batching for truncated BPTT
    ngram       count-based n-gram baselines
    models      RecurrentLM and TransformerLM, evaluate, baselines, unfused (fused layers as small ops)
    memory      what a model and a step need, what there is: impossible sizes refused up front
    sampling    generate (temperature, top-k, stop at <eos>), prompted samples, and score a sentence
    training    Trainer: truncated BPTT, clipping, Adam, validation, checkpoints, resume
    checkpoint  one .npz with everything needed to evaluate, sample and score a run
    metadata    the schema of a checkpoint's metadata, checked on load
    progress    the progress line, the Ctrl-C / SIGTERM / SIGHUP handling of a run, output that never ends it
    rundir      a run's output directory: locked, checked writable, stale temporaries removed
    curves      the loss and gradient-norm plot of a run
    checks      gradient checks of a layer or a model, and the node count of an unrolled graph
    export      a model's weights under torch.nn's names, as a safetensors file
    threads     how many threads BLAS may use (one by default)
    allocator   freed memory kept for the next training step (no page faults for every buffer)
    cli         the `tinygrad-seq` command: parses the options and prints what the modules above return
                (its parser and main; cli_options, cli_train, cli_eval, cli_graph: the arguments and the
                commands' bodies; cli_help: help and completion)

    >>> from tinygrad_seq.nn import lm
    >>> model = lm.build_model(lm.LMConfig(model="lstm", vocab_size=65, hidden=128))
"""

from .checkpoint import CheckpointError, load_checkpoint, load_model, save_checkpoint
from .checks import gradcheck_layer, gradcheck_model, unroll_nodes
from .models import (
    MODELS,
    Evaluation,
    LMConfig,
    RecurrentLM,
    TransformerLM,
    baselines,
    build_model,
    chunk_loss,
    detach_state,
    evaluate,
    set_dropout,
    unfused,
)
from .ngram import NGramLM
from .sampling import Score, generate, score
from .text import EOS, UNK, CorpusError, Vocab, load_corpus
from .training import TrainConfig, Trainer, TrainingError, dropout_for, prepare_data

__all__ = [
    "MODELS", "LMConfig", "RecurrentLM", "TransformerLM", "build_model", "chunk_loss", "detach_state",
    "Evaluation", "evaluate", "baselines", "set_dropout", "unfused", "NGramLM",
    "gradcheck_layer", "gradcheck_model", "unroll_nodes",
    "Score", "generate", "score",
    "EOS", "UNK", "CorpusError", "Vocab", "load_corpus",
    "TrainConfig", "Trainer", "TrainingError", "dropout_for", "prepare_data",
    "CheckpointError", "load_checkpoint", "load_model", "save_checkpoint",
]

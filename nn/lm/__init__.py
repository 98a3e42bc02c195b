"""The language-model toolkit: text and vocabularies, models, training, sampling, checkpoints, the command.

Built on the layers of `tinygrad_seq.nn`; no layer imports it. Its modules, each one idea:

    text        vocabularies (<unk>, <eos>), corpora, batching for truncated BPTT
    ngram       count-based n-gram baselines
    models      RecurrentLM and TransformerLM, evaluate, baselines
    memory      what a model and a step need, what there is: impossible sizes refused up front
    sampling    generate (temperature, top-k, stop at <eos>) and score a sentence
    training    Trainer: truncated BPTT, clipping, Adam, validation, checkpoints, resume
    checkpoint  one .npz with everything needed to evaluate, sample and score a run
    metadata    the schema of a checkpoint's metadata, checked on load
    progress    the progress line, the Ctrl-C / SIGTERM / SIGHUP handling of a run, output that never ends it
    rundir      a run's output directory: locked, checked writable, stale temporaries removed
    curves      the loss and gradient-norm plot of a run
    cli         the `tinygrad-seq` command

    >>> from tinygrad_seq.nn import lm
    >>> model = lm.build_model(lm.LMConfig(model="lstm", vocab_size=65, hidden=128))
"""

from .checkpoint import CheckpointError, load_checkpoint, load_model, save_checkpoint
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
)
from .ngram import NGramLM
from .sampling import Score, generate, score
from .text import EOS, UNK, CorpusError, Vocab, load_corpus
from .training import TrainConfig, Trainer, TrainingError, prepare_data

__all__ = [
    "MODELS", "LMConfig", "RecurrentLM", "TransformerLM", "build_model", "chunk_loss", "detach_state",
    "Evaluation", "evaluate", "baselines", "NGramLM",
    "Score", "generate", "score",
    "EOS", "UNK", "CorpusError", "Vocab", "load_corpus",
    "TrainConfig", "Trainer", "TrainingError", "prepare_data",
    "CheckpointError", "load_checkpoint", "load_model", "save_checkpoint",
]

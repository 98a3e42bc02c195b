"""Text for language models: vocabularies, corpora, and batching for truncated BPTT.

    >>> text = load_corpus("pydoc")                  # built in, no download
    >>> vocab = Vocab.chars(text)
    >>> ids = vocab.encode(text)                     # (N,) int64
    >>> train, valid = split(ids, valid_fraction=0.1)
    >>> for inputs, targets in bptt_chunks(batchify(train, batch_size=32), seq_len=64):
    ...     pass                                     # (T, B) each; targets are inputs shifted by one

Word level: ``Vocab.words(text, min_freq=2, lower=True)``. Id 0 is ``<unk>`` (a word seen fewer than
``min_freq`` times, cut by ``max_size``, or never seen) and id 1 is ``<eos>``, which ends every line: each
``"\\n"`` of the text, and the last line even without one. Sentence ends are ordinary ``"."`` tokens.

Besides NumPy and the standard library it uses only `nn.module.atomic_write` (to save a download).
"""

from __future__ import annotations

import hashlib
import os
import re
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..module import atomic_write

UNK = "<unk>"
EOS = "<eos>"

# A word (letters, digits, underscores; an inner apostrophe keeps "don't" whole) or one punctuation mark.
_WORD = re.compile(r"\w+(?:'\w+)*|[^\w\s]")


class UnknownCharacterError(ValueError):
    """A character-level vocabulary without ``<unk>`` met a character it was not built from."""

    def __init__(self, char: str, position: int, vocab_size: int):
        self.char = char
        self.position = position
        self.vocab_size = vocab_size
        super().__init__(
            f"character {char!r} (U+{ord(char):04X}) at position {position} is not in the vocabulary "
            f"({vocab_size} characters seen in the training text); remove it, or build the vocabulary "
            f"with Vocab.chars(text, unk=True) to map unseen characters to {UNK}"
        )

    def __reduce__(self) -> tuple[type, tuple[str, int, int]]:  # picklable: crosses process pools intact
        return type(self), (self.char, self.position, self.vocab_size)


class CorpusError(Exception):
    """A corpus cannot be loaded: a missing, empty or non-text file, or a failed download."""


class Vocab:
    """A bijection between tokens and ids, at the character or the word level.

    Build one with ``Vocab.chars(text)`` or ``Vocab.words(text, ...)``; save it with ``to_dict()`` (plain
    JSON types) and restore it with ``Vocab.from_dict(d)``. ``itos[i]`` is the token with id ``i`` and
    ``stoi[token]`` its id. The same text always gives the same vocabulary.

        >>> v = Vocab.words("the cat sat.\\nthe end")
        >>> v.itos
        ['<unk>', '<eos>', 'the', '.', 'cat', 'end', 'sat']
        >>> v.encode("the dog").tolist()
        [2, 0, 1]
    """

    def __init__(self, itos: Sequence[str], level: str, lower: bool = False):
        if level not in ("char", "word"):
            raise ValueError(f"Vocab: level must be 'char' or 'word', got {level!r}")
        itos = [str(token) for token in itos]
        if len(set(itos)) != len(itos):
            dupes = sorted(token for token, n in Counter(itos).items() if n > 1)
            raise ValueError(f"Vocab: tokens must be unique, repeated: {dupes}")
        if level == "word" and itos[:2] != [UNK, EOS]:
            raise ValueError(f"Vocab: a word vocabulary starts with {UNK!r}, {EOS!r}, got {itos[:2]}")
        if level == "char":
            if any(len(token) != 1 for token in itos if token != UNK) or UNK in itos[1:]:
                raise ValueError(f"Vocab: a char vocabulary holds single characters, and {UNK} only as id 0")
        self.level = level
        self.lower = bool(lower)
        self.itos = itos
        self.stoi = {token: i for i, token in enumerate(itos)}

    @classmethod
    def chars(cls, text: str, unk: bool = False) -> Vocab:
        """Every character of ``text``, in code-point order; with ``unk=True``, ``<unk>`` first (id 0)."""
        return cls(([UNK] if unk else []) + sorted(set(text)), "char")

    @classmethod
    def words(cls, text: str, min_freq: int = 1, max_size: int | None = None, lower: bool = False) -> Vocab:
        """``<unk>``, ``<eos>``, then the words of ``text``, most frequent first (ties alphabetically).

        Words seen fewer than ``min_freq`` times are left out, and so are the rarest ones beyond
        ``max_size`` entries in all (the two special tokens included); all of them encode as ``<unk>``.
        """
        if min_freq < 1:
            raise ValueError(f"Vocab.words: min_freq must be >= 1, got {min_freq}")
        if max_size is not None and max_size < 2:
            raise ValueError(
                f"Vocab.words: max_size counts {UNK} and {EOS}, so it must be >= 2, got {max_size}"
            )
        counts: Counter[str] = Counter()
        for piece in text_pieces(text, whole_lines=True):  # a list of every word would not be bounded
            counts.update(tokenize_words(piece, lower))
        del counts[EOS]
        kept = sorted((w for w, n in counts.items() if n >= min_freq), key=lambda w: (-counts[w], w))
        if max_size is not None:
            kept = kept[: max_size - 2]
        return cls([UNK, EOS, *kept], "word", lower)

    @property
    def unk_id(self) -> int | None:
        """The id of ``<unk>`` (0), or None for a character vocabulary built without it."""
        return self.stoi.get(UNK)

    @property
    def eos_id(self) -> int | None:
        """The id of ``<eos>`` (1) in a word vocabulary; None at the character level (lines end in "\\n")."""
        return self.stoi.get(EOS)

    def __len__(self) -> int:
        return len(self.itos)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocab) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"Vocab(level={self.level!r}, size={len(self)}, lower={self.lower})"

    def tokenize(self, text: str) -> list[str]:
        """The tokens of ``text`` at this vocabulary's level (words end each line with ``<eos>``)."""
        return list(text) if self.level == "char" else tokenize_words(text, self.lower)

    def unknown(self, text: str) -> Counter[str]:
        """The tokens of ``text`` this vocabulary does not hold (they encode as ``<unk>``), with counts."""
        return Counter(token for token in self.tokenize(text) if token not in self.stoi)

    def encode(self, text: str, progress: Callable[[int, int], None] | None = None,
               dtype: Any = np.int64) -> np.ndarray:
        """``text`` -> (N,) int64 ids (or `dtype`: int32 halves a large corpus's memory). Unseen words give
        ``<unk>``; unseen characters too if the vocab has it.

        Raises ``UnknownCharacterError`` (naming the character) for an unseen character otherwise. The
        text is encoded in pieces of about `ENCODE_PIECE` characters (whole lines at the word level), so
        memory beyond the ids stays bounded for any length; ``progress(done, total)`` (in characters)
        is called after each piece.
        """
        chars = np.empty(len(text) if self.level == "char" else 0, dtype=dtype)  # one id per character
        parts, done = [], 0
        for piece in text_pieces(text, whole_lines=self.level == "word"):
            if self.level == "char":
                chars[done:done + len(piece)] = self._encode_chars(piece, done)
            else:  # a word vocabulary always holds <unk>
                parts.append(np.array([self.stoi.get(t, self.unk_id) for t in self.tokenize(piece)],
                                      dtype=dtype))
            done += len(piece)
            if progress is not None:
                progress(done, len(text))
        if self.level == "char":
            return chars
        return np.concatenate(parts) if parts else np.zeros(0, dtype=dtype)

    def _encode_chars(self, piece: str, offset: int) -> np.ndarray:
        """One piece at the character level, vectorised: code points looked up in the sorted table."""
        if not hasattr(self, "_table"):
            chars = sorted((ord(t), i) for i, t in enumerate(self.itos) if len(t) == 1)
            self._table = (np.array([c for c, _ in chars], dtype=np.uint32),
                           np.array([i for _, i in chars], dtype=np.int64))
        keys, values = self._table
        codes = np.frombuffer(piece.encode("utf-32-le", "surrogatepass"), dtype="<u4")  # (n,)
        at = np.minimum(np.searchsorted(keys, codes), max(len(keys) - 1, 0))
        found = keys[at] == codes if len(keys) else np.zeros(len(codes), dtype=bool)
        if found.all():
            return values[at]
        if self.unk_id is None:
            first = int(np.argmax(~found))
            raise UnknownCharacterError(piece[first], offset + first, len(self))
        return np.where(found, values[at] if len(keys) else 0, self.unk_id)

    def decode(self, ids: Sequence[int] | np.ndarray) -> str:
        """(N,) ids -> text. Characters are concatenated; words are joined by spaces, ``<eos>`` as "\\n"."""
        ids = np.asarray(ids, dtype=np.int64).reshape(-1)
        bad = ids[(ids < 0) | (ids >= len(self))]
        if bad.size:
            raise ValueError(
                f"Vocab.decode: id {bad[0]} is out of range for a vocabulary of {len(self)} tokens"
            )
        tokens = [self.itos[i] for i in ids.tolist()]
        if self.level == "char":
            return "".join(tokens)
        pieces: list[str] = []
        for token in tokens:
            if token == EOS:
                pieces.append("\n")
                continue
            if pieces and pieces[-1] != "\n":
                pieces.append(" ")
            pieces.append(token)
        return "".join(pieces)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description: ``{"level", "lower", "itos"}``."""
        return {"level": self.level, "lower": self.lower, "itos": list(self.itos)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Vocab:
        """The vocabulary that ``to_dict()`` described."""
        missing = {"level", "lower", "itos"} - set(d)
        if missing:
            raise ValueError(f"Vocab.from_dict: not a saved vocabulary, missing keys {sorted(missing)}")
        return cls(d["itos"], d["level"], d["lower"])


ENCODE_PIECE = 1 << 20  # characters encoded at a time


def text_pieces(text: str, whole_lines: bool = False, size: int | None = None) -> Iterator[str]:
    """`text` in consecutive pieces of about `size` (default `ENCODE_PIECE`) characters (with
    `whole_lines`, each ending after a line break, or at the end)."""
    size = size or ENCODE_PIECE
    start = 0
    while start < len(text):
        end = min(start + size, len(text))
        if whole_lines and end < len(text):
            line_end = text.find("\n", end - 1)
            end = len(text) if line_end < 0 else line_end + 1
        yield text[start:end]
        start = end


def tokenize_words(text: str, lower: bool = False) -> list[str]:
    """Words and punctuation marks of each line, each line followed by ``<eos>``.

    >>> tokenize_words("Don't panic, Bob.\\nYes")
    ["Don't", 'panic', ',', 'Bob', '.', '<eos>', 'Yes', '<eos>']
    """
    if lower:
        text = text.lower()
    lines = text.split("\n")
    if lines[-1] == "":  # the text ended with a line break, not with an unfinished line
        lines.pop()
    tokens: list[str] = []
    for line in lines:
        tokens.extend(_WORD.findall(line))
        tokens.append(EOS)
    return tokens


# ----------------------------------------------------------------------------------------------- corpora

CORPORA = ("pydoc", "tinyshakespeare")
TINYSHAKESPEARE_URL = (
    "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
)
# 1,115,394 bytes; the checksum published for this address in tensorflow/datasets'
# url_checksums/tiny_shakespeare.txt and pinned by several other projects.
TINYSHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"


def load_corpus(
    name_or_path: str | os.PathLike = "pydoc",
    *,
    url: str = TINYSHAKESPEARE_URL,
    sha256: str = TINYSHAKESPEARE_SHA256,
) -> str:
    """The text of a built-in corpus or of a UTF-8 text file.

    ``"pydoc"``: the reference documentation inside every CPython (``pydoc_data.topics``), topics in
    sorted order, about 465 KB of English; no download. ``"tinyshakespeare"``: downloaded once from
    ``url``, checked against ``sha256`` and cached in ``cache_dir()``. Anything else is a file path (a
    built-in name wins over a file of the same name). Raises ``CorpusError`` with a readable message.
    """
    if name_or_path == "pydoc":
        from pydoc_data.topics import topics

        return "\n".join(topics[key] for key in sorted(topics))
    if name_or_path == "tinyshakespeare":
        return _read_text(_fetch(url, sha256, "tinyshakespeare.txt"))
    return _read_text(Path(name_or_path))


def corpus_name(name_or_path: str | os.PathLike) -> str:
    """How a run records its corpus: a built-in name as it is, a file as its absolute, resolved path.

    So a run trained from one directory can be evaluated or resumed from any other, and two spellings
    of one file (``c.txt``, ``./c.txt``, ``/home/me/c.txt``) are the same corpus.
    """
    name = os.fspath(name_or_path)
    if name in CORPORA:
        return name
    path = Path(name).expanduser()
    resolved = path.resolve()  # /dev/stdin resolves to a pipe's pseudo-name: keep what was typed then
    return str(resolved if resolved.exists() else path.absolute())


def cache_dir() -> Path:
    """``$TINYGRAD_SEQ_CACHE``, else ``$XDG_CACHE_HOME/tinygrad_seq``, else ``~/.cache/tinygrad_seq``."""
    if os.environ.get("TINYGRAD_SEQ_CACHE"):
        return Path(os.environ["TINYGRAD_SEQ_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "tinygrad_seq"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _fetch(url: str, sha256: str, filename: str) -> Path:
    """The cached file, downloaded first if it is missing or its checksum is not ``sha256``."""
    path = cache_dir() / filename
    if path.is_file() and _sha256(path.read_bytes()) == sha256:
        return path
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            data = response.read()
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise CorpusError(
            f"could not download the corpus from {url} ({reason}). Are you offline? Download that file "
            "yourself and pass its path instead: --corpus path/to/input.txt"
        ) from None
    if _sha256(data) != sha256:
        raise CorpusError(
            f"the file downloaded from {url} has SHA-256 {_sha256(data)}, expected {sha256}; "
            "it was not saved. Download it yourself and pass its path instead: --corpus path/to/input.txt"
        )
    with atomic_write(path) as f:  # an interrupted download never leaves a partial file
        f.write(data)
    return path


def _read_text(path: Path) -> str:
    """The file's text with "\\r\\n" line ends made "\\n"; a clear error if it is missing, empty or binary."""
    if not path.is_file():
        if path.is_dir():
            what = "is a directory, not a text file"
        elif path.exists():  # a FIFO, /dev/stdin, a device: read twice (vocabulary, fingerprint), so a file
            what = "is not a regular file (a pipe or a device); save the text to a file and pass that"
        else:
            what = "does not exist"
        raise CorpusError(f"corpus file {str(path)!r} {what} (built-in corpora: {', '.join(CORPORA)})")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise CorpusError(
            f"corpus file {str(path)!r} is not UTF-8 text (byte 0x{data[error.start]:02x} at offset "
            f"{error.start}); give a plain text file, or convert it to UTF-8"
        ) from None
    if "\x00" in text:
        raise CorpusError(f"corpus file {str(path)!r} contains NUL bytes: it looks binary, not text")
    if not text.strip():
        raise CorpusError(f"corpus file {str(path)!r} is empty (no text to learn from)")
    return text.replace("\r\n", "\n")


# ---------------------------------------------------------------------------------------------- batching


def split(ids: np.ndarray, valid_fraction: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """(train, valid): the stream cut in two contiguous parts, the last ``valid_fraction`` for validation."""
    if not 0 <= valid_fraction < 1:
        raise ValueError(f"split: valid_fraction must be in [0, 1), got {valid_fraction}")
    n_valid = int(round(len(ids) * valid_fraction))
    if valid_fraction > 0 and not 0 < n_valid < len(ids):
        raise ValueError(f"split: {len(ids)} tokens are too few to hold out {valid_fraction:.0%}")
    return ids[: len(ids) - n_valid], ids[len(ids) - n_valid :]


def batchify(ids: np.ndarray, batch_size: int) -> np.ndarray:
    """(N,) -> (N // B, B): B contiguous streams side by side; column b is ``ids[b*n:(b+1)*n]``.

    The remainder (fewer than B tokens) is dropped. Reading rows top to bottom advances every stream
    one token, so a model's state for column b always continues the same stretch of text.
    """
    ids = np.asarray(ids)
    n = len(ids) // batch_size
    if batch_size < 1 or n < 2:
        raise ValueError(
            f"batchify: {len(ids)} tokens cannot make {batch_size} streams of at least 2 tokens; "
            "use a smaller batch size or a longer text"
        )
    return ids[: n * batch_size].reshape(batch_size, n).T  # (B, n) -> (n, B), a view: no copy of the ids


def bptt_chunks(data: np.ndarray, seq_len: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (inputs, targets), each (T, B) with T = ``seq_len`` (the last chunk may be shorter).

    ``targets[t] = inputs[t + 1]`` and the next chunk starts where this one stopped, so a recurrent
    model carries its state from one chunk into the next; the training loop detaches that state
    between chunks (truncated BPTT: gradients flow back at most ``seq_len`` steps).
    """
    if seq_len < 1:
        raise ValueError(f"bptt_chunks: seq_len must be >= 1, got {seq_len}")
    for start in range(0, len(data) - 1, seq_len):
        T = min(seq_len, len(data) - 1 - start)
        yield data[start : start + T], data[start + 1 : start + 1 + T]

"""nn.lm.text: vocabularies, corpora (a download served locally), and batching for truncated BPTT."""

from __future__ import annotations

import hashlib
import http.server
import json
import pickle
import socket
import threading
from collections.abc import Iterator

import numpy as np
import pytest

from tinygrad_seq.nn.lm.text import (
    EOS,
    UNK,
    CorpusError,
    UnknownCharacterError,
    Vocab,
    batchify,
    bptt_chunks,
    cache_dir,
    load_corpus,
    split,
    tokenize_words,
)

POEM = "Shall I compare thee to a summer's day?\nThou art more lovely and more temperate:\n"

# ------------------------------------------------------------------------------------------ vocabularies


def test_char_vocab_round_trip_and_order():
    vocab = Vocab.chars(POEM)
    ids = vocab.encode(POEM)
    assert ids.dtype == np.int64 and ids.shape == (len(POEM),)
    assert vocab.decode(ids) == POEM
    assert vocab.itos == sorted(set(POEM)) and len(vocab) == len(set(POEM))
    assert all(vocab.stoi[c] == i for i, c in enumerate(vocab.itos))
    assert Vocab.chars(POEM) == vocab and vocab.unk_id is None and vocab.eos_id is None


def test_unseen_character_error_names_it():
    vocab = Vocab.chars("abc")
    with pytest.raises(UnknownCharacterError, match=r"'é' \(U\+00E9\) at position 2") as info:
        vocab.encode("abé")
    assert info.value.char == "é" and "unk=True" in str(info.value)
    copy = pickle.loads(pickle.dumps(info.value))  # crosses a process pool intact
    assert str(copy) == str(info.value) and (copy.char, copy.position) == ("é", 2)


def test_char_vocab_with_unk_maps_unseen_characters():
    vocab = Vocab.chars("abc", unk=True)
    assert vocab.itos[0] == UNK and vocab.unk_id == 0
    assert vocab.encode("azb").tolist() == [vocab.stoi["a"], 0, vocab.stoi["b"]]
    assert vocab.decode(vocab.encode("cab")) == "cab"


def test_word_vocab_order_and_round_trip():
    text = "the cat sat.\nthe end"
    vocab = Vocab.words(text)
    assert vocab.itos == [UNK, EOS, "the", ".", "cat", "end", "sat"]  # by frequency, then alphabetically
    ids = vocab.encode(text)
    assert vocab.decode(ids) == "the cat sat .\nthe end\n"
    assert vocab.encode(vocab.decode(ids)).tolist() == ids.tolist()


def test_word_tokenizer_splits_punctuation_and_lowercases():
    assert tokenize_words("Don't panic, Bob!") == ["Don't", "panic", ",", "Bob", "!", EOS]
    assert tokenize_words("'Hi' (x)") == ["'", "Hi", "'", "(", "x", ")", EOS]
    vocab = Vocab.words("The cat. the CAT", lower=True)
    assert vocab.itos == [UNK, EOS, "cat", "the", "."]
    assert vocab.encode("THE Cat").tolist() == [3, 2, 1]


def test_eos_ends_every_line():
    vocab = Vocab.words("a b\nc\n\nd")
    tokens = [vocab.itos[i] for i in vocab.encode("a b\nc\n\nd")]
    assert tokens == ["a", "b", EOS, "c", EOS, EOS, "d", EOS]  # an empty line is an <eos> alone
    assert vocab.encode("a b\n").tolist() == vocab.encode("a b").tolist()  # the last line ends too
    assert vocab.eos_id == 1 and vocab.unk_id == 0


def test_rare_words_become_unk():
    text = "a a a b b c\n"
    assert Vocab.words(text, min_freq=2).itos == [UNK, EOS, "a", "b"]
    assert Vocab.words(text, max_size=3).itos == [UNK, EOS, "a"]  # the two specials count
    vocab = Vocab.words(text, min_freq=2)
    assert vocab.encode("a c b zebra").tolist() == [2, 0, 3, 0, 1]
    assert vocab.decode(vocab.encode("c a")) == f"{UNK} a\n"
    with pytest.raises(ValueError, match="max_size"):
        Vocab.words(text, max_size=1)


@pytest.mark.parametrize("make", [lambda: Vocab.chars(POEM, unk=True), lambda: Vocab.words(POEM, lower=True)])
def test_vocab_dict_round_trip_through_json(make):
    vocab = make()
    restored = Vocab.from_dict(json.loads(json.dumps(vocab.to_dict())))
    assert restored == vocab
    assert restored.encode(POEM).tolist() == vocab.encode(POEM).tolist()
    with pytest.raises(ValueError, match="missing keys"):
        Vocab.from_dict({"itos": vocab.itos})


def test_decode_rejects_out_of_range_ids():
    with pytest.raises(ValueError, match="id 3 is out of range for a vocabulary of 3"):
        Vocab.chars("abc").decode([0, 3])


# ----------------------------------------------------------------------------------------------- corpora


def test_pydoc_corpus_is_builtin_and_deterministic():
    text = load_corpus()
    assert len(text) > 100_000 and text == load_corpus("pydoc")
    assert text.startswith('The "assert" statement')  # topics in sorted order: "assert" comes first
    vocab = Vocab.chars(text)
    assert vocab.decode(vocab.encode(text)) == text


def test_cache_dir_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("TINYGRAD_SEQ_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "tinygrad_seq"
    monkeypatch.setenv("TINYGRAD_SEQ_CACHE", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"


def test_text_file_corpus(tmp_path):
    path = tmp_path / "poem.txt"
    path.write_bytes(POEM.replace("\n", "\r\n").encode())
    assert load_corpus(path) == POEM
    assert load_corpus(str(path)) == POEM


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "does not exist"),
        (b"", "is empty"),
        (b"\n  \n", "is empty"),
        (b"\x89PNG\r\n\x1a\n\xff\xfe", "is not UTF-8 text"),
        (b"ab\x00\x00cd", "looks binary"),
    ],
)
def test_text_file_errors(tmp_path, content, message):
    path = tmp_path / "corpus.txt"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CorpusError, match=message) as info:
        load_corpus(path)
    assert "corpus.txt" in str(info.value)


# --------------------------------------------------------------------- download, served from 127.0.0.1

PAYLOAD = ("First line of a small corpus.\nSecond line!\n" * 50).encode()


@pytest.fixture
def server() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server for PAYLOAD; yields its URL and the list of paths requested so far."""
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD)

        def log_message(self, *args):
            """Stay quiet: the default writes every request to stderr."""

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/input.txt", hits
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def cache(tmp_path, monkeypatch):
    directory = tmp_path / "cache"
    monkeypatch.setenv("TINYGRAD_SEQ_CACHE", str(directory))
    monkeypatch.setenv("no_proxy", "*")  # a proxy configured on the machine must not see 127.0.0.1
    return directory


def test_download_is_cached(server, cache):
    url, hits = server
    sha = hashlib.sha256(PAYLOAD).hexdigest()
    text = load_corpus("tinyshakespeare", url=url, sha256=sha)
    assert text == PAYLOAD.decode() and hits == ["/input.txt"]
    assert [p.name for p in cache.iterdir()] == ["tinyshakespeare.txt"]
    assert (cache / "tinyshakespeare.txt").read_bytes() == PAYLOAD
    assert load_corpus("tinyshakespeare", url=url, sha256=sha) == text
    assert hits == ["/input.txt"]  # the second call read the cache


def test_download_with_wrong_hash_leaves_no_file(server, cache):
    url, hits = server
    with pytest.raises(CorpusError, match=f"expected {'0' * 64}.*not saved") as info:
        load_corpus("tinyshakespeare", url=url, sha256="0" * 64)
    assert hashlib.sha256(PAYLOAD).hexdigest() in str(info.value)
    assert hits == ["/input.txt"]
    assert not cache.exists() or list(cache.iterdir()) == []


def test_offline_download_names_address_and_local_file(cache):
    with socket.socket() as s:  # a port that was free a moment ago: nothing listens there
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/input.txt"
    with pytest.raises(CorpusError) as info:
        load_corpus("tinyshakespeare", url=url)
    message = str(info.value)
    assert url in message and "--corpus path/to/input.txt" in message
    assert not cache.exists() or list(cache.iterdir()) == []


# ---------------------------------------------------------------------------------------------- batching


def test_split_is_contiguous_with_valid_at_the_end():
    ids = np.arange(100)
    train, valid = split(ids, valid_fraction=0.1)
    assert train.tolist() == list(range(90)) and valid.tolist() == list(range(90, 100))
    with pytest.raises(ValueError, match="too few"):
        split(np.arange(3), valid_fraction=0.1)


def test_batchify_columns_are_contiguous_streams():
    ids = np.arange(103)
    data = batchify(ids, batch_size=4)
    assert data.shape == (25, 4)  # 3 leftover tokens dropped
    for b in range(4):
        assert data[:, b].tolist() == list(range(25 * b, 25 * (b + 1)))
    with pytest.raises(ValueError, match="smaller batch size"):
        batchify(np.arange(5), batch_size=4)


def test_bptt_chunks_line_up_within_and_across_chunks():
    data = batchify(np.arange(3 * 23), batch_size=3)  # (23, 3)
    chunks = list(bptt_chunks(data, seq_len=5))
    assert [x.shape for x, _ in chunks] == [(5, 3)] * 4 + [(2, 3)]  # 22 input rows: 5+5+5+5+2
    for inputs, targets in chunks:
        assert np.array_equal(targets, inputs + 1)  # each column counts up by one: the next token
        assert np.array_equal(targets[:-1], inputs[1:])
    for (_, prev_targets), (next_inputs, _) in zip(chunks, chunks[1:]):
        assert np.array_equal(next_inputs[0], prev_targets[-1])  # the stream continues
    assert np.array_equal(np.concatenate([x for x, _ in chunks]), data[:-1])
    assert np.array_equal(np.concatenate([y for _, y in chunks]), data[1:])

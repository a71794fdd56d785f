"""Writes the Hugging Face parity fixtures of @duet/model (packages/model/test/fixtures/hf/).

Tiny random-weight Llama / Qwen2 / Qwen3 checkpoints, saved by transformers itself in HF layout,
two byte-level BPE tokenizers trained here with the `tokenizers` library (one Qwen-style ChatML,
one Llama-3-style that adds BOS through its post-processor), and `reference.json` per model with what
transformers computes: per-token log-probs of completions and greedy continuations. Plus
`tokenizers.json`: ids, decodes and chat-template renders for a corpus of awkward strings.

Run (from the repo root): /work/pyenv/bin/python tools/hf-fixtures/make_fixtures.py
Deterministic (fixed seeds); needs torch, transformers (5.x), tokenizers, safetensors. No network.
"""

import copy
import json
import math
import os
import shutil
import sys

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
    Qwen2Config,
    Qwen2ForCausalLM,
    Qwen3Config,
    Qwen3ForCausalLM,
)

ROOT = os.path.join(os.path.dirname(__file__), "..", "..", "packages", "model", "test", "fixtures", "hf")

TRAIN_TEXT = [
    "What is 12 + 7? The answer is \\boxed{19}.",
    "def add(a, b):\n    return a + b\n",
    "Solve for x: 3x - 5 = 10, so x = 5.",
    "The quick brown fox jumps over the lazy dog.",
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May.",
    "Ünïcödé: naïve café, 東京, Привет мир, 🙂",
    "for i in range(10):\n\tprint(i * i)  # squares",
    "  leading spaces and    runs of   whitespace\n\n\nnewlines",
] * 4

QWEN_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
LLAMA_SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"]

# ChatML, as Qwen2.5's template without tools.
CHATML = (
    "{%- if messages[0]['role'] != 'system' %}{{- '<|im_start|>system\\nYou are a helpful assistant.<|im_end|>\\n' }}{%- endif %}"
    "{%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] | trim + '<|im_end|>\\n' }}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
# Llama 3's shape: bos_token from the tokenizer config, header ids, eot.
LLAMA3 = (
    "{{- bos_token }}"
    "{%- for message in messages %}{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}"
)

# GPT-2 / Qwen2 pre-tokenizer split pattern (Qwen2's, with \p{N} single digits).
SPLIT = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""


def train_tokenizer(specials, vocab_size, bos=None):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(pattern=__import__("tokenizers").Regex(SPLIT), behavior="isolated"),
            pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(TRAIN_TEXT, trainer)
    if bos is None:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    else:
        bid = tok.token_to_id(bos)
        tok.post_processor = processors.TemplateProcessing(
            single=f"{bos} $A", pair=f"{bos} $A {bos} $B", special_tokens=[(bos, bid)]
        )
    return tok


def hf_tokenizer(tok, kind):
    if kind == "qwen":
        return PreTrainedTokenizerFast(
            tokenizer_object=tok,
            eos_token="<|im_end|>",
            pad_token="<|endoftext|>",
            chat_template=CHATML,
            model_max_length=128,
        )
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<|begin_of_text|>",
        eos_token="<|eot_id|>",
        pad_token="<|end_of_text|>",
        chat_template=LLAMA3,
        model_max_length=128,
    )


CORPUS = [
    "Hello world",
    "What is 12 + 7? The answer is \\boxed{19}.",
    "  two leading spaces, trailing   ",
    "tabs\tand\nnewlines\r\n\n\nrun",
    "Ünïcödé: naïve café, 東京, Привет мир, 🙂 and 👩‍👩‍👧 (ZWJ)",
    "def f(x):\n    return {'k': [x ** 2 for _ in range(3)]}\n",
    "<|im_start|>user\nhi<|im_end|>\n",
    "special inside<|endoftext|>text and <|eot_id|>",
    "numbers 1234567890 3.14159 -42",
    "",
]

MESSAGES = [
    [{"role": "user", "content": "What is 2 + 3?"}],
    [
        {"role": "system", "content": "Answer in \\boxed{}."},
        {"role": "user", "content": "  Natalia sold 48 clips.  "},
        {"role": "assistant", "content": "\\boxed{72}"},
        {"role": "user", "content": "Ünïcödé 🙂?"},
    ],
]


def randomize(model, seed):
    """Every parameter random (gains near 1), scaled so logits are peaky: greedy picks have margins."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1 + 0.2 * torch.randn(p.shape, generator=g))
            elif name.endswith(".bias"):
                p.copy_(0.3 * torch.randn(p.shape, generator=g))
            elif "embed_tokens" in name or "lm_head" in name:
                p.copy_(torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(p.shape[1]))


FAMILIES = {"llama": (LlamaConfig, LlamaForCausalLM), "qwen2": (Qwen2Config, Qwen2ForCausalLM), "qwen3": (Qwen3Config, Qwen3ForCausalLM)}

# name, family, tokenizer kind, storage dtype, shard size, config overrides
MODELS = [
    ("llama-gqa", "llama", "llama", torch.float32, "40KB",
     dict(hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
          tie_word_embeddings=False, rope_theta=10000.0)),
    ("llama3-mqa-tied", "llama", "llama", torch.bfloat16, None,
     dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
          tie_word_embeddings=True, rope_theta=500000.0,
          rope_scaling=dict(rope_type="llama3", factor=8.0, low_freq_factor=1.0, high_freq_factor=4.0,
                            original_max_position_embeddings=64))),
    ("qwen2-bias", "qwen2", "qwen", torch.float16, None,
     dict(hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
          tie_word_embeddings=True, rope_theta=1000000.0)),
    ("qwen3-headdim", "qwen3", "qwen", torch.bfloat16, None,
     dict(hidden_size=32, intermediate_size=48, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
          head_dim=16, tie_word_embeddings=False, rope_theta=1000000.0)),
]

PROMPTS = ["What is 12 + 7?", "def add(a, b):", "Ünïcödé 🙂", "The quick brown"]
COMPLETIONS = [" The answer is \\boxed{19}.", "\n    return a + b\n", " naïve café", " fox jumps over the lazy dog."]
GREEDY_TOKENS = 10


def reference(model, tok):
    rows = []
    for prompt, completion in zip(PROMPTS, COMPLETIONS):
        p = tok(prompt)["input_ids"]
        c = tok(completion, add_special_tokens=False)["input_ids"]
        ids = torch.tensor([p + c])
        with torch.no_grad():
            logits = model(ids).logits[0].double()
        logp = torch.log_softmax(logits, -1)
        lps = [logp[len(p) - 1 + j, c[j]].item() for j in range(len(c))]
        # greedy by full forward (no cache), recording the smallest top-1/top-2 logit margin
        seq = list(p)
        margin = math.inf
        for _ in range(GREEDY_TOKENS):
            with torch.no_grad():
                last = model(torch.tensor([seq])).logits[0, -1]
            top = torch.topk(last, 2).values
            margin = min(margin, (top[0] - top[1]).item())
            seq.append(int(torch.argmax(last)))
        if margin < 1e-3:
            sys.exit(f"greedy margin {margin} too small for a stable parity test")
        rows.append({"prompt": prompt, "completion": completion, "promptIds": p, "completionIds": c,
                     "logprobs": lps, "greedy": seq[len(p):], "greedyMinMargin": margin})
    return rows


def main():
    torch.manual_seed(0)
    if os.path.exists(ROOT):
        shutil.rmtree(ROOT)
    os.makedirs(ROOT)
    toks = {
        "qwen": hf_tokenizer(train_tokenizer(QWEN_SPECIALS, 320), "qwen"),
        "llama": hf_tokenizer(train_tokenizer(LLAMA_SPECIALS, 320, bos="<|begin_of_text|>"), "llama"),
    }
    tok_ref = {}
    for kind, tok in toks.items():
        enc = [tok(s)["input_ids"] for s in CORPUS]
        tok_ref[kind] = {
            "dir": next(name for name, _, k, *_ in MODELS if k == kind),
            "corpus": [
                {"text": s, "ids": ids, "idsNoSpecial": tok(s, add_special_tokens=False)["input_ids"],
                 "decoded": tok.decode(ids), "decodedSkip": tok.decode(ids, skip_special_tokens=True)}
                for s, ids in zip(CORPUS, enc)
            ],
            "chat": [
                {"messages": m, "addGenerationPrompt": g, "text": tok.apply_chat_template(m, tokenize=False, add_generation_prompt=g)}
                for m in MESSAGES for g in (True, False)
            ],
        }
    with open(os.path.join(ROOT, "tokenizers.json"), "w") as f:
        json.dump(tok_ref, f, ensure_ascii=False, indent=1)

    for i, (name, family, tkind, dtype, shard, overrides) in enumerate(MODELS):
        tok = toks[tkind]
        Config, Model = FAMILIES[family]
        cfg = Config(vocab_size=len(tok), max_position_embeddings=128, rms_norm_eps=1e-6,
                     bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
                     **overrides)
        cfg._attn_implementation = "eager"
        model = Model(cfg).eval()
        randomize(model, 1000 + i)
        # round the parameters (not the buffers: RoPE's inv_freq stays float32, as when transformers
        # loads the checkpoint in float32) through the storage dtype, so the f32 reference uses exactly
        # the stored values
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(p.to(dtype).to(torch.float32))
        d = os.path.join(ROOT, name)
        kw = {"max_shard_size": shard} if shard else {}
        copy.deepcopy(model).to(dtype).save_pretrained(d, **kw)
        model.generation_config.do_sample = False
        model.generation_config.save_pretrained(d)
        tok.save_pretrained(d)
        ref = {"model": name, "family": family, "dtype": str(dtype), "rows": reference(model, tok)}
        with open(os.path.join(d, "reference.json"), "w") as f:
            json.dump(ref, f, ensure_ascii=False, indent=1)
        print(name, sum(p.numel() for p in model.parameters()), "params",
              "min margin", min(r["greedyMinMargin"] for r in ref["rows"]))
    total = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(ROOT) for f in fs)
    print(f"fixtures: {total / 1024:.0f} KB in {ROOT}")


if __name__ == "__main__":
    main()

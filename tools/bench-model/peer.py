#!/usr/bin/env python
"""The PyTorch-eager peer of `bench-model.mjs`: a training step and batched decode of the same GPT.

Model: `GPT2LMHeadModel` of the same dims as duet's GPT (pre-LN, learned positions, tied
embeddings, quick-GELU as duet's, no dropout), built as tools/bench-rl/peer.py builds it. Default:
the reference model V=32, C=128, L=4, H=4, T=64 (805,632 parameters).

- Training step (as Bench.run in @duet/model): forward on a (batch, seq) block of random tokens,
  token log-probs of the next tokens (log_softmax + gather), mean NLL, backward,
  `clip_grad_norm_(1.0)`, `torch.optim.AdamW` (lr 1e-4, weight decay 0.01 as duet's AdamW
  defaults); tokens/s = batch x seq / step time. One warm-up step first.
- Decode: `decode-batch` rows (256) from `prompt-length`-token prompts (8) to the context length
  (56 new tokens per row), temperature 1, no top-k/top-p, no stop tokens; tokens/s = generated /
  time. One warm-up call per decoder first. Two decoders, both with a KV cache:
  - `generate` (the peer, `decode_tok_s`): Hugging Face `generate(do_sample=True, temperature=1,
    top_k=0, top_p=1)` with eos disabled and `min_new_tokens` = `max_new_tokens`, so every row gets
    every token (what TRL calls);
  - `loop`: a hand-written loop over the model's forward with `past_key_values` - log-softmax,
    `torch.multinomial`, and the sampled token's log-prob (duet's Sampler returns one per token),
    in `torch.inference_mode()`; `decode_loop_tok_s`. On the reference model it measured close to
    `generate`, faster in some runs and slower in others (generate's per-step overhead does not
    dominate at batch 256), so it is reported beside the peer, not instead of it.

Times are medians over `--rounds` (after the warm-ups); each round times the training step, then
each decoder. Beside wall time, the process CPU time (all threads; `*_cpu_ms`), which other jobs
on a shared machine inflate far less. Threads: `--threads` (2; OMP_WAIT_POLICY=PASSIVE as the TRL harness).

usage: /work/pyenv/bin/python tools/bench-model/peer.py [--dim 128 --layers 4 --heads 4 --vocab 32
       --batch 32 --seq 64 --decode-batch 256 --prompt-length 8] [--rounds 3] [--threads 2]
       [--decode loop|generate|both] [--no-train] [--no-decode] [--json]
"""
import argparse
import json
import os
import statistics
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the TRL harness: spinning OpenMP threads starve on shared cores
import torch  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--dim", type=int, default=128)
ap.add_argument("--layers", type=int, default=4)
ap.add_argument("--heads", type=int, default=4)
ap.add_argument("--vocab", type=int, default=32)
ap.add_argument("--batch", type=int, default=32)
ap.add_argument("--seq", type=int, default=64, help="context length = training row length")
ap.add_argument("--decode-batch", type=int, default=256)
ap.add_argument("--prompt-length", type=int, default=8)
ap.add_argument("--rounds", type=int, default=3)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--decode", choices=["loop", "generate", "both"], default="both",
                help="decoders to time (the peer figure decode_tok_s is generate's when it runs)")
ap.add_argument("--no-train", action="store_true")
ap.add_argument("--no-decode", action="store_true")
ap.add_argument("--json", action="store_true")
a = ap.parse_args()
if a.prompt_length < 1 or a.prompt_length >= a.seq:
    ap.error(f"--prompt-length must be in [1, seq), got {a.prompt_length}")
torch.set_num_threads(a.threads)
torch.manual_seed(7)

from transformers import GPT2Config, GPT2LMHeadModel  # noqa: E402
from transformers.utils import logging as hf_logging  # noqa: E402

hf_logging.set_verbosity_error()  # the unpadded prompts need no attention-mask warning

dims = dict(n_embd=a.dim, n_layer=a.layers, n_head=a.heads, vocab_size=a.vocab, n_positions=a.seq)
cfg = GPT2Config(**dims, activation_function="quick_gelu", resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                 tie_word_embeddings=True, bos_token_id=0, eos_token_id=None, pad_token_id=0)
model = GPT2LMHeadModel(cfg).train()
opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.01)
params = list(model.parameters())

g = torch.Generator().manual_seed(1234)
block = torch.randint(0, a.vocab, (a.batch, a.seq + 1), generator=g)
inputs, targets = block[:, :-1].contiguous(), block[:, 1:].contiguous()
prompts = torch.randint(0, a.vocab, (a.decode_batch, a.prompt_length), generator=g)
new_tokens = a.seq - a.prompt_length
generated = a.decode_batch * new_tokens


def train_step():
    c0 = time.process_time()
    t0 = time.perf_counter()
    logits = model(inputs).logits  # (B, T, V)
    logp = torch.log_softmax(logits, -1).gather(-1, targets[..., None]).squeeze(-1)  # (B, T)
    loss = -logp.mean()
    t1 = time.perf_counter()
    loss.backward()
    t2 = time.perf_counter()
    torch.nn.utils.clip_grad_norm_(params, 1.0)
    opt.step()
    opt.zero_grad(set_to_none=True)
    loss.item()
    t3 = time.perf_counter()
    return dict(step=t3 - t0, forward=t1 - t0, backward=t2 - t1, optimizer=t3 - t2, cpu=time.process_time() - c0)


def decode_loop(seed):
    """KV-cache decode by hand: prefill the prompts, then one forward per new token."""
    torch.manual_seed(seed)
    c0 = time.process_time()
    t0 = time.perf_counter()
    with torch.inference_mode():
        out = model(prompts, use_cache=True)
        past, logits = out.past_key_values, out.logits[:, -1]
        toks, lps = [], []
        for i in range(new_tokens):
            logp = torch.log_softmax(logits.float(), -1)  # temperature 1
            nxt = torch.multinomial(logp.exp(), 1)  # (B, 1)
            toks.append(nxt)
            lps.append(logp.gather(-1, nxt))
            if i + 1 < new_tokens:
                out = model(nxt, past_key_values=past, use_cache=True)
                past, logits = out.past_key_values, out.logits[:, -1]
        seqs = torch.cat(toks, 1)
        torch.cat(lps, 1)
    assert seqs.shape == (a.decode_batch, new_tokens)
    return time.perf_counter() - t0, time.process_time() - c0


def decode_generate(seed):
    torch.manual_seed(seed)
    c0 = time.process_time()
    t0 = time.perf_counter()
    with torch.no_grad():
        out = model.generate(input_ids=prompts, attention_mask=torch.ones_like(prompts), do_sample=True, temperature=1.0,
                             top_k=0, top_p=1.0, max_new_tokens=new_tokens, min_new_tokens=new_tokens, pad_token_id=0)
    assert out.shape == (a.decode_batch, a.seq), out.shape
    return time.perf_counter() - t0, time.process_time() - c0


decoders = {} if a.no_decode else {k: f for k, f in (("generate", decode_generate), ("loop", decode_loop))
                                   if a.decode in (k, "both")}
if not a.no_train:
    train_step()  # warm-up
for f in decoders.values():
    f(0)  # warm-up
train, dec = [], {k: [] for k in decoders}
for r in range(a.rounds):
    if not a.no_train:
        train.append(train_step())
    for k, f in decoders.items():
        dec[k].append(f(r + 1))

ms = lambda xs: statistics.median(xs) * 1000  # noqa: E731
result = dict(peer="torch", torch=torch.__version__, threads=a.threads, rounds=a.rounds,
              parameters=sum(p.numel() for p in model.parameters()),
              options=dict(dim=a.dim, layers=a.layers, heads=a.heads, vocab=a.vocab, batch=a.batch, seq=a.seq,
                           decode_batch=a.decode_batch, prompt_length=a.prompt_length))
if train:
    t = ms([s["step"] for s in train])
    result.update(train_ms=t, train_tok_s=a.batch * a.seq * 1000 / t,
                  train_phases_ms={k: ms([s[k] for s in train]) for k in ("forward", "backward", "optimizer")},
                  train_steps_ms=[s["step"] * 1000 for s in train], train_cpu_ms=ms([s["cpu"] for s in train]))
for k, xs in dec.items():
    result[f"decode_{k}_ms"] = ms([x[0] for x in xs])
    result[f"decode_{k}_tok_s"] = generated * 1000 / result[f"decode_{k}_ms"]
    result[f"decode_{k}_cpu_ms"] = ms([x[1] for x in xs])
if dec:
    peer = "generate" if "generate" in dec else "loop"
    result.update(decode_peer=peer, decode_ms=result[f"decode_{peer}_ms"], decode_tok_s=result[f"decode_{peer}_tok_s"],
                  decode_cpu_ms=result[f"decode_{peer}_cpu_ms"])

if a.json:
    print(json.dumps(result))
else:
    print(f"torch {torch.__version__} eager ({a.threads} threads), GPT2LMHeadModel {result['parameters']:,} params, "
          f"median of {a.rounds}:")
    if train:
        p = result["train_phases_ms"]
        print(f"  train step ({a.batch} x {a.seq}): {result['train_ms']:.1f} ms, {result['train_tok_s']:,.0f} tok/s "
              f"(forward {p['forward']:.1f}, backward {p['backward']:.1f}, clip+AdamW {p['optimizer']:.1f} ms; "
              f"CPU {result['train_cpu_ms']:.1f} ms)")
    for k in dec:
        print(f"  decode {k} ({a.decode_batch} rows x {new_tokens} new): {result[f'decode_{k}_ms']:.0f} ms, "
              f"{result[f'decode_{k}_tok_s']:,.0f} tok/s, CPU {result[f'decode_{k}_cpu_ms']:.0f} ms"
              + (" (peer)" if k == result["decode_peer"] else ""))

#!/usr/bin/env python
"""The PyTorch peer of `duet bench --rl`: one RL step on the same dims, as TRL's GRPOTrainer runs it.

Same synthetic workload as Bench.rlRun in @duet/model: `prompts` prompts of 4..7 tokens (BOS
first), each sampled `group` times for `max_tokens` tokens at temperature 1 with Hugging Face
`generate` (KV cache; what TRL's GRPOTrainer calls), a reward from the token parity, group-relative
advantages, then one PPO-clip token-mean update (log-prob forward, backward, `torch.optim.AdamW`
after `clip_grad_norm_`) on a `GPT2LMHeadModel` of the same dims (pre-LN, learned positions, tied
embeddings, quick-GELU as duet's). Prints the median step time and its phases over `rounds`, after
one warm-up step, as JSON (`--json`) or a line. Threads: `--threads` (TRL's harness uses 2).

usage: /work/pyenv/bin/python tools/bench-rl/peer.py [--size default|ref] [--skip] [--rounds 5]
       [--threads 2] [--json]
"""
import argparse
import json
import os
import statistics
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as the TRL harness: spinning OpenMP threads starve on shared cores
import torch  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
ap.add_argument("--size", choices=["default", "ref"], default="default")
ap.add_argument("--prompts", type=int, default=256)
ap.add_argument("--group", type=int, default=2)
ap.add_argument("--max-tokens", type=int, default=8)
ap.add_argument("--rounds", type=int, default=5)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--skip", action="store_true", help="drop zero-advantage rows from the update")
ap.add_argument("--json", action="store_true")
a = ap.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(7)

from transformers import GPT2Config, GPT2LMHeadModel  # noqa: E402

dims = {"default": dict(n_embd=96, n_layer=2, n_head=4, vocab_size=20, n_positions=32),
        "ref": dict(n_embd=128, n_layer=4, n_head=4, vocab_size=32, n_positions=64)}[a.size]
cfg = GPT2Config(**dims, activation_function="quick_gelu", resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0,
                 tie_word_embeddings=True, bos_token_id=0, eos_token_id=None, pad_token_id=0)
model = GPT2LMHeadModel(cfg).train()
opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=0.0)
V = dims["vocab_size"]
g = torch.Generator().manual_seed(4321)
lens = torch.randint(4, 8, (a.prompts,), generator=g).tolist()
base = [[0] + torch.randint(1, V, (n - 1,), generator=g).tolist() for n in lens]
prompts = [p for p in base for _ in range(a.group)]
B = len(prompts)
P = max(len(p) for p in prompts)
# Left-padded prompt batch, as TRL feeds generate.
ids = torch.zeros(B, P, dtype=torch.long)
att = torch.zeros(B, P, dtype=torch.long)
for i, p in enumerate(prompts):
    ids[i, P - len(p):] = torch.tensor(p)
    att[i, P - len(p):] = 1


def step(seed):
    t0 = time.perf_counter()
    torch.manual_seed(seed)
    with torch.no_grad():
        out = model.generate(input_ids=ids, attention_mask=att, do_sample=True, temperature=1.0, top_k=0, top_p=1.0,
                             max_new_tokens=a.max_tokens, min_new_tokens=a.max_tokens, pad_token_id=0)
    comp = out[:, P:]
    t1 = time.perf_counter()
    rewards = (comp.sum(1) % 2 == 0).float()
    adv = rewards - rewards.view(-1, a.group).mean(1).repeat_interleave(a.group)
    rows = torch.nonzero(adv != 0).flatten() if a.skip else torch.arange(B)
    if len(rows) == 0:
        rows = torch.arange(1)
    seq = torch.cat([ids, comp], 1)[rows]
    mask = torch.cat([att, torch.ones_like(comp)], 1)[rows]
    A = adv[rows].unsqueeze(1)
    t2 = time.perf_counter()
    t3 = t2
    logp = torch.log_softmax(model(seq, attention_mask=mask).logits[:, P - 1:-1], -1).gather(-1, seq[:, P:, None]).squeeze(-1)
    # TRL 1.13 with one update per batch: old log-probs = the current ones, detached (no extra forward)
    old = logp.detach()
    ratio = torch.exp(logp - old)
    surr = torch.minimum(ratio * A, torch.clamp(ratio, 0.8, 1.2) * A)
    loss = -surr.mean()
    t4 = time.perf_counter()
    loss.backward()
    t5 = time.perf_counter()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    opt.zero_grad(set_to_none=True)
    t6 = time.perf_counter()
    return dict(step=t6 - t0, sample=t1 - t0, host=t2 - t1, forward=t4 - t3, backward=t5 - t4,
                optimizer=t6 - t5, rows=len(rows))


step(999)  # warm-up
runs = [step(r + 1) for r in range(a.rounds)]
med = {k: statistics.median(r[k] for r in runs) * (1 if k == "rows" else 1000) for k in runs[0]}
result = dict(peer="torch", torch=torch.__version__, threads=a.threads, size=a.size, dims=dims, rollouts=B,
              maxTokens=a.max_tokens, skip=a.skip, rounds=a.rounds, parameters=sum(p.numel() for p in model.parameters()),
              medianMs=med, stepsMs=[r["step"] * 1000 for r in runs])
if a.json:
    print(json.dumps(result))
else:
    print(f"torch {torch.__version__} ({a.threads} threads), {a.size} size ({result['parameters']:,} params), {B} rollouts x "
          f"{a.max_tokens} tokens, skip {'on' if a.skip else 'off'}: step {med['step']:.0f} ms (sample {med['sample']:.0f}, "
          f"forward {med['forward']:.0f}, backward {med['backward']:.0f}, "
          f"optimizer {med['optimizer']:.0f}; {med['rows']:.0f} rows), median of {a.rounds}")

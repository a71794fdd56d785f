#!/usr/bin/env python
"""The PyTorch peer of `duet bench --model DIR | --model-config NAME|FILE`: the same workload, eager.

A transformers causal LM (LlamaForCausalLM / Qwen2ForCausalLM / Qwen3ForCausalLM, chosen by
config.json's model_type) in float32: random weights from the config (transformers' own init, std
`initializer_range` 0.02) or, with --model, the directory's weights. Then, as HfBench.run in
@duet/model (same order, same sizes):

- decode: `generate` of `decode-batch` rows of `prompt-length` random tokens, `new` new tokens each,
  sampling at temperature 1 (top-k and top-p off), no eos (min_new_tokens = max_new_tokens), KV cache;
  tokens/s = rows x new / time, prefill included. One warm-up call, then `rounds` timed.
- train: `batch` rows of `seq` + 1 random tokens, forward on the first `seq`, token-mean NLL of the
  next tokens, backward, clip_grad_norm_(1.0), torch.optim.AdamW (lr 1e-5, weight decay 0.01);
  tokens/s = batch x seq / step time. One warm-up step, then `rounds` x `steps` timed.

Peak RSS from resource.getrusage. Prints JSON with HfBench's field names (`--json`) or a summary.
Presets are read from @duet/model's HfBench.presets (one copy, in TypeScript): run from the repo
root after `nx run-many -t build`.

usage: /work/pyenv/bin/python tools/bench-hf/peer.py (--model-config NAME|FILE | --model DIR)
       [--batch 4] [--seq 128] [--decode-batch 8] [--new 32] [--prompt-length 16] [--steps 1]
       [--rounds 3] [--threads 2] [--no-train] [--no-decode] [--json]
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # spinning OpenMP threads starve on shared cores
import torch  # noqa: E402

ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
src = ap.add_mutually_exclusive_group(required=True)
src.add_argument("--model-config", help="a preset of HfBench.presets or a config.json path (random weights)")
src.add_argument("--model", help="an HF directory (its weights)")
ap.add_argument("--batch", type=int, default=4)
ap.add_argument("--seq", type=int, default=128)
ap.add_argument("--decode-batch", type=int, default=8)
ap.add_argument("--new", type=int, default=32)
ap.add_argument("--prompt-length", type=int, default=16)
ap.add_argument("--steps", type=int, default=1)
ap.add_argument("--rounds", type=int, default=3)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--no-train", action="store_true")
ap.add_argument("--no-decode", action="store_true")
ap.add_argument("--json", action="store_true")
a = ap.parse_args()
torch.set_num_threads(a.threads)
torch.manual_seed(a.seed)

from transformers import AutoConfig, AutoModelForCausalLM, GenerationConfig  # noqa: E402
import transformers  # noqa: E402


def log(line):
    if not a.json:
        print(line, file=sys.stderr, flush=True)


def preset_json(name):
    """A preset's config dict from the built @duet/model (the one copy of the presets)."""
    code = ("import('@duet/model').then((m) => { const p = m.HfBench.presets[process.argv[1].toLowerCase()];"
            " if (!p) { console.error('unknown preset ' + process.argv[1] + ' (' + m.HfBench.presetNames.join(', ') + ')'); process.exit(2) }"
            " console.log(JSON.stringify(p)) })")
    r = subprocess.run(["node", "--input-type=module", "-e", code, name], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"peer.py: --model-config: {r.stderr.strip()}")
    return json.loads(r.stdout)


failures = []
t0 = time.perf_counter()
if a.model is not None:
    name, weights = a.model, "loaded"
    model = AutoModelForCausalLM.from_pretrained(a.model, dtype=torch.float32)
else:
    name, weights = a.model_config, "random"
    cfg_dict = json.load(open(a.model_config)) if os.path.exists(a.model_config) else preset_json(a.model_config)
    cfg_dict = {k: v for k, v in cfg_dict.items() if k not in ("architectures", "transformers_version", "dtype", "torch_dtype")}
    cfg = AutoConfig.for_model(**cfg_dict)
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32)
init_ms = (time.perf_counter() - t0) * 1000
cfg = model.config
V = cfg.vocab_size
parameters = sum(p.numel() for p in model.parameters())
log(f"{name}: {cfg.model_type}, {parameters:,} parameters; torch {torch.__version__} eager, {a.threads} threads; init {init_ms / 1000:.1f} s")
g = torch.Generator().manual_seed(a.seed)
out = {}

if not a.no_decode:
    model.eval()
    prompts = torch.randint(0, V, (a.decode_batch, a.prompt_length), generator=g)
    gen = GenerationConfig(do_sample=True, temperature=1.0, top_k=0, top_p=1.0, max_new_tokens=a.new, min_new_tokens=a.new,
                           eos_token_id=None, bos_token_id=None, pad_token_id=0, use_cache=True)

    def decode(seed):
        torch.manual_seed(seed)
        with torch.no_grad():
            ids = model.generate(prompts, attention_mask=torch.ones_like(prompts), generation_config=gen)
        n = (ids.shape[1] - a.prompt_length) * ids.shape[0]
        if n != a.decode_batch * a.new:
            raise RuntimeError(f"decode produced {n} tokens, expected {a.decode_batch * a.new}")

    try:
        decode(a.seed)  # warm-up
        ms = []
        for r in range(a.rounds):
            s = time.perf_counter()
            decode(a.seed + 1 + r)
            ms.append((time.perf_counter() - s) * 1000)
            log(f"decode round {r + 1}: {ms[-1] / 1000:.2f} s, {a.decode_batch * a.new * 1000 / ms[-1]:.1f} tok/s")
        d = statistics.median(ms)
        out.update(decodeMs=d, decodeTokensPerSec=a.decode_batch * a.new * 1000 / d, decodeMsAll=ms)
    except Exception as e:  # noqa: BLE001 - reported, as duet's failures
        failures.append({"phase": "decode", "message": str(e).split("\n")[0]})

if not a.no_train:
    model.train()
    rows = torch.randint(0, V, (a.batch, a.seq + 1), generator=g)
    x, y = rows[:, :-1], rows[:, 1:]
    try:
        opt = torch.optim.AdamW(model.parameters(), lr=1e-5, weight_decay=0.01)
        loss_value = float("nan")

        def step():
            global loss_value
            logits = model(input_ids=x).logits
            loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            loss_value = loss.item()

        step()  # warm-up
        ms = []
        for r in range(a.rounds):
            for i in range(a.steps):
                s = time.perf_counter()
                step()
                ms.append((time.perf_counter() - s) * 1000)
                log(f"train round {r + 1} step {i + 1}: {ms[-1] / 1000:.2f} s, {a.batch * a.seq * 1000 / ms[-1]:.1f} tok/s, loss {loss_value:.3f}")
        t = statistics.median(ms)
        out.update(trainStepMs=t, trainTokensPerSec=a.batch * a.seq * 1000 / t, trainStepMsAll=ms, trainLoss=loss_value)
    except Exception as e:  # noqa: BLE001
        failures.append({"phase": "train", "message": str(e).split("\n")[0]})

result = {
    "model": name,
    "weights": weights,
    "family": cfg.model_type,
    "parameters": parameters,
    "options": {"batch": a.batch, "seq": a.seq, "decodeBatch": a.decode_batch, "newTokens": a.new, "promptLength": a.prompt_length,
                "steps": a.steps, "rounds": a.rounds, "seed": a.seed},
    "engine": f"torch {torch.__version__} eager (transformers {transformers.__version__}, attn {cfg._attn_implementation}), {a.threads} threads",
    "matmul": "torch",
    "threads": a.threads,
    "initMs": init_ms,
    **out,
    "peakRssBytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    "arithmetic": {"weightBytes": 4 * parameters, "gradBytes": 4 * parameters, "adamBytes": 8 * parameters},
    "failures": failures,
}
if a.json:
    print(json.dumps(result))
else:
    print(json.dumps({k: v for k, v in result.items() if not k.endswith("All")}, indent=1))

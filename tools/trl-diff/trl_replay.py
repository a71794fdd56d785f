"""Differential test, peer side: replays the RL steps recorded by duet_steps.mjs with PyTorch and TRL's
GRPO loss (the code of trl.GRPOTrainer._compute_loss for loss_type grpo/dapo at num_iterations=1),
transformers' GPT2LMHeadModel holding the same weights, torch.nn.utils.clip_grad_norm_ and
torch.optim.AdamW (HF Trainer's default optimizer), and compares every quantity with duet's.

usage: python tools/trl-diff/trl_replay.py DIR [--json OUT]
Prints, per step: max |logp duet - torch|, advantages, loss, grad norm, and max |param duet - torch|
after the step (each side on its own trajectory, so differences accumulate over steps).
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
from transformers import GPT2Config, GPT2LMHeadModel
from trl.trainer.utils import selective_log_softmax

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from duet_hf import from_hf, to_hf  # noqa: E402

ap = argparse.ArgumentParser()
ap.add_argument("dir")
ap.add_argument("--json", default=None, help="write the comparison as JSON here")
ap.add_argument("--old", choices=["detach", "sampler"], default="detach",
                help="old log-probs: TRL's per_token_logps.detach() (num_iterations=1) or duet's sampler values")
a = ap.parse_args()
torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)

meta = json.load(open(os.path.join(a.dir, "meta.json")))
c = meta["config"]
shapes = [(p["name"], p["shape"]) for p in meta["params"]]


def read_params(path):
    flat = np.fromfile(path, dtype=np.float32)
    out, o = {}, 0
    for name, shape in shapes:
        n = int(np.prod(shape))
        out[name] = torch.from_numpy(flat[o:o + n].reshape(shape).copy())
        o += n
    assert o == flat.size
    return out


def grads_by_duet_name(model):
    """Copies of the HF model's gradients under duet's names (clip_grad_norm_ scales them in place later)."""
    return {k: v.clone() for k, v in from_hf({k: (p.grad if p.grad is not None else torch.zeros_like(p))
                                               for k, p in model.named_parameters()}, c["nEmbd"]).items()}


hf_cfg = GPT2Config(vocab_size=c["vocabSize"], n_positions=c["blockSize"], n_embd=c["nEmbd"], n_layer=c["nLayer"],
                    n_head=c["nHead"], n_inner=c["mlpRatio"] * c["nEmbd"], activation_function="quick_gelu",
                    layer_norm_epsilon=c["layerNormEps"], resid_pdrop=0, embd_pdrop=0, attn_pdrop=0,
                    tie_word_embeddings=True)
model = GPT2LMHeadModel(hf_cfg)
model.load_state_dict(to_hf(read_params(os.path.join(a.dir, "params-0.bin"))), strict=False)
model.train()  # dropout is 0: train mode changes nothing but matches TRL
opt = torch.optim.AdamW(model.parameters(), lr=meta["lr"], betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
eps_clip = 0.2


def trl_advantages(rewards, k, eps):
    """TRL _generate_and_score_completions with scale_rewards="group"."""
    r = torch.tensor(rewards, dtype=torch.float32)
    mean = r.view(-1, k).mean(dim=1).repeat_interleave(k, dim=0)
    std = r.view(-1, k).std(dim=1).repeat_interleave(k, dim=0)
    return (r - mean) / (std + eps)


report = []
for step in range(meta["steps"]):
    b = json.load(open(os.path.join(a.dir, f"batch-{step}.json")))
    prompts, comps = b["prompts"], b["completions"]
    B = len(prompts)
    Tc = max(1, max(len(x) for x in comps))
    completion_ids = torch.zeros((B, Tc), dtype=torch.long)
    completion_mask = torch.zeros((B, Tc), dtype=torch.float32)
    for i, x in enumerate(comps):
        completion_ids[i, :len(x)] = torch.tensor(x)
        completion_mask[i, :len(x)] = 1
    # TRL _get_per_token_logps_and_entropies: logits of the last Tc+1 positions, drop the last, / temperature.
    # Rows are batched by prompt length (no left padding, so positions are 0.. in both tools).
    per_token_logps = torch.zeros((B, Tc))
    rows_by_len = {}
    for i, p in enumerate(prompts):
        rows_by_len.setdefault(len(p), []).append(i)
    parts = []
    for P, idx in rows_by_len.items():
        input_ids = torch.cat([torch.tensor([prompts[i] for i in idx]), completion_ids[idx]], dim=1)
        logits = model(input_ids=input_ids).logits[:, -Tc - 1:-1, :] / 1.0
        parts.append((idx, selective_log_softmax(logits, completion_ids[idx])))
    order = torch.tensor([i for idx, _ in parts for i in idx])
    stacked = torch.cat([lp for _, lp in parts], dim=0)
    per_token_logps = stacked[torch.argsort(order)]
    adv = trl_advantages(b["rewards"], meta["k"], meta["eps"])
    advantages = adv.unsqueeze(1)
    if a.old == "detach":
        old = per_token_logps.detach()
    else:
        old = torch.zeros((B, Tc))
        for i, x in enumerate(b["samplerLogprobs"]):
            old[i, :len(x)] = torch.tensor(x)
    coef_1 = torch.exp(per_token_logps - old)
    coef_2 = torch.clamp(coef_1, 1 - eps_clip, 1 + eps_clip)
    per_token_loss = -torch.min(coef_1 * advantages, coef_2 * advantages)
    mask = completion_mask
    if meta["aggregation"] == "seq-mean-token-mean":  # TRL loss_type="grpo"
        loss = ((per_token_loss * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).mean()
    else:  # token-mean: TRL loss_type="dapo" (one process, no accumulation)
        loss = (per_token_loss * mask).sum() / mask.sum().clamp(min=1.0)
    opt.zero_grad()
    loss.backward()
    grads = grads_by_duet_name(model)
    gnorm_pre = float(torch.sqrt(sum((g.double() ** 2).sum() for g in grads.values())))
    gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0).item()
    for g in opt.param_groups:
        g["lr"] = b["lr"]
    opt.step()

    # comparisons
    lp_duet = torch.zeros((B, Tc))
    for i, x in enumerate(b["trainLogprobs"]):
        lp_duet[i, :len(x)] = torch.tensor(x)
    samp = torch.zeros((B, Tc))
    for i, x in enumerate(b["samplerLogprobs"]):
        samp[i, :len(x)] = torch.tensor(x)
    lp_t = per_token_logps.detach()
    row = {
        "step": step,
        "reward": float(np.mean(b["rewards"])),
        "logp_max_abs_diff": float(((lp_t - lp_duet).abs() * mask).max()),
        "sampler_vs_torch_logp_max_abs_diff": float(((lp_t - samp).abs() * mask).max()),
        "adv_max_abs_diff": float((adv - torch.tensor(b["advantages"], dtype=torch.float32)).abs().max()),
        "loss_torch": float(loss.item()),
        "loss_duet": b["loss"],
        "gradnorm_torch": gnorm,
        "gradnorm_duet": b["gradNorm"],
    }
    if step == 0 and os.path.exists(os.path.join(a.dir, "grads-0.bin")):
        gd = read_params(os.path.join(a.dir, "grads-0.bin"))
        rel = {}
        for name, _ in shapes:
            t = grads[name]
            d = gd[name]
            # relative to the global norm: tensors whose true gradient is 0 (key biases) hold only rounding noise
            rel[name] = float((t - d).norm() / max(gnorm_pre, 1e-12))
        if os.environ.get("DIFF_VERBOSE"):
            for name in sorted(rel, key=rel.get, reverse=True)[:8]:
                t, d = grads[name], gd[name]
                print(f"  {name}: |torch| {float(t.norm()):.4g} |duet| {float(d.norm()):.4g} |diff| {float((t-d).norm()):.4g}")
                if name.endswith("wpe.weight"):
                    print("   per-position |torch|", [round(float(x), 4) for x in t.norm(dim=1)])
                    print("   per-position |duet| ", [round(float(x), 4) for x in d.norm(dim=1)])
        row["grad_diff_over_norm_max"] = max(rel.values())
        row["grad_diff_over_norm_worst"] = max(rel, key=rel.get)
        row["loss_duet_noskip"] = b.get("lossNoSkip")
    duet_after = read_params(os.path.join(a.dir, f"params-{step + 1}.bin"))
    mine = from_hf({k: v.detach() for k, v in model.state_dict().items()}, c["nEmbd"])
    before = read_params(os.path.join(a.dir, f"params-{step}.bin")) if step == 0 else None
    diffs = {n: float((mine[n] - duet_after[n]).abs().max()) for n, _ in shapes}
    row["param_max_abs_diff"] = max(diffs.values())
    row["param_max_abs_diff_worst"] = max(diffs, key=diffs.get)
    row["param_max_abs_diff_excl_kbias"] = max(v for n, v in diffs.items() if ".c_k.bias" not in n)
    if before is not None:
        row["param_max_abs_update"] = max(float((duet_after[n] - before[n]).abs().max()) for n, _ in shapes)
    report.append(row)
    print(json.dumps(row))

if a.json:
    json.dump(report, open(a.json, "w"), indent=1)

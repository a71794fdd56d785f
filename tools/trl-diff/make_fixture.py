"""TRL reference fixture: PyTorch + transformers + TRL's GRPO loss on the batch fixture_batch.mjs wrote.

For each setting (TRL loss_type "grpo" = duet seq-mean-token-mean, "dapo" = duet token-mean) it runs three
AdamW steps on one fixed batch, as TRL does with num_iterations=3 (old log-probs computed once, before the
first step, so steps 2-3 are off-policy and the PPO clip is live): GPT2LMHeadModel with the duet weights
(q/k/v concatenated into c_attn, quick_gelu, tied lm_head), TRL's advantages (scale_rewards="group",
unbiased std, eps 1e-4), TRL's per-token loss, torch.nn.utils.clip_grad_norm_(1.0), torch.optim.AdamW with HF
Trainer's parameter groups (no decay on biases and LayerNorm). Records log-probs, advantages, loss and grad
norm per step and every parameter after the last step.

usage: python tools/trl-diff/make_fixture.py DIR OUT.json   (DIR from fixture_batch.mjs)
"""
import json
import os
import sys

import numpy as np
import torch
import transformers
import trl
from transformers import GPT2Config, GPT2LMHeadModel
from trl.trainer.utils import selective_log_softmax

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from duet_hf import from_hf, to_hf  # noqa: E402

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)
src, out_path = sys.argv[1], sys.argv[2]
d = json.load(open(os.path.join(src, "duet_batch.json")))
c = d["config"]
shapes = [(p["name"], p["shape"]) for p in d["params"]]
flat = np.fromfile(os.path.join(src, "params-0.bin"), dtype=np.float32)
init, o = {}, 0
for name, shape in shapes:
    n = int(np.prod(shape))
    init[name] = torch.from_numpy(flat[o:o + n].reshape(shape).copy())
    o += n

B = len(d["prompts"])
Tc = max(len(x) for x in d["completions"])
P = len(d["prompts"][0])
completion_ids = torch.zeros((B, Tc), dtype=torch.long)
mask = torch.zeros((B, Tc))
for i, x in enumerate(d["completions"]):
    completion_ids[i, :len(x)] = torch.tensor(x)
    mask[i, :len(x)] = 1
input_ids = torch.cat([torch.tensor(d["prompts"]), completion_ids], dim=1)

# TRL advantages, group by group (TRL's view(-1, G) needs one G; the formula is the same per group)
r = torch.tensor(d["rewards"], dtype=torch.float32)
groups = torch.tensor(d["groups"])
adv = torch.zeros(B)
for g in groups.unique():
    idx = (groups == g).nonzero().flatten()
    rg = r[idx]
    adv[idx] = (rg - rg.mean()) / (rg.std() + 1e-4)


def logps(model):
    logits = model(input_ids=input_ids).logits[:, -Tc - 1:-1, :]
    return selective_log_softmax(logits, completion_ids)


settings = []
for loss_type, aggregation in (("grpo", "seq-mean-token-mean"), ("dapo", "token-mean")):
    cfg = GPT2Config(vocab_size=c["vocabSize"], n_positions=c["blockSize"], n_embd=c["nEmbd"], n_layer=c["nLayer"],
                     n_head=c["nHead"], n_inner=c["mlpRatio"] * c["nEmbd"], activation_function="quick_gelu",
                     layer_norm_epsilon=c["layerNormEps"], resid_pdrop=0, embd_pdrop=0, attn_pdrop=0, tie_word_embeddings=True)
    model = GPT2LMHeadModel(cfg)
    model.load_state_dict(to_hf(init), strict=False)
    decay = [p for n, p in model.named_parameters() if not (n.endswith("bias") or ".ln_" in n)]
    no_decay = [p for n, p in model.named_parameters() if n.endswith("bias") or ".ln_" in n]
    lr, wd = 3e-2, 0.01
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": wd}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=lr, betas=(0.9, 0.999), eps=1e-8)
    with torch.no_grad():
        old = logps(model)
    steps = []
    for step in range(3):
        lp = logps(model)
        coef_1 = torch.exp(lp - old)
        coef_2 = torch.clamp(coef_1, 1 - 0.2, 1 + 0.2)
        a = adv.unsqueeze(1)
        per_token_loss = -torch.min(coef_1 * a, coef_2 * a)
        if loss_type == "grpo":
            loss = ((per_token_loss * mask).sum(-1) / mask.sum(-1).clamp(min=1.0)).mean()
        else:
            loss = (per_token_loss * mask).sum() / mask.sum().clamp(min=1.0)
        clip_low = ((coef_1 < 0.8) & (a < 0)).float()
        clip_high = ((coef_1 > 1.2) & (a > 0)).float()
        opt.zero_grad()
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0).item()
        opt.step()
        steps.append({"loss": loss.item(), "gradNorm": gnorm,
                      "clipFracLow": float((clip_low * mask).sum() / mask.sum()),
                      "clipFracHigh": float((clip_high * mask).sum() / mask.sum())})
    after = from_hf({k: v.detach() for k, v in model.state_dict().items()}, c["nEmbd"])
    settings.append({
        "trlLossType": loss_type, "aggregation": aggregation, "lr": lr, "weightDecay": wd, "maxGradNorm": 1.0,
        "epsLow": 0.2, "epsHigh": 0.2, "steps": steps,
        "paramsAfter": {n: [float(f"{x:.8g}") for x in after[n].flatten().tolist()] for n, _ in shapes},
    })

fixture = {
    "about": "TRL GRPO reference for duet's update; written by tools/trl-diff/make_fixture.py from tools/trl-diff/fixture_batch.mjs",
    "versions": {"torch": torch.__version__, "transformers": transformers.__version__, "trl": trl.__version__},
    "config": c, "seed": d["seed"],
    "prompts": d["prompts"], "completions": d["completions"], "rewards": d["rewards"], "groups": d["groups"],
    "oldLogprobs": [[float(f"{x:.8g}") for x in old[i, :len(cmp)].tolist()] for i, cmp in enumerate(d["completions"])],
    "advantages": [float(f"{x:.8g}") for x in adv.tolist()],
    "settings": settings,
}
json.dump(fixture, open(out_path, "w"))
print(f"wrote {out_path}")
for s in settings:
    print(s["trlLossType"], [(round(x["loss"], 6), round(x["gradNorm"], 5), x["clipFracLow"], x["clipFracHigh"]) for x in s["steps"]])

"""TRL's GRPOTrainer from a duet checkpoint: the same warm start, tokens and prompts as a duet run, so
the two trainers can be compared with nothing else different.

The duet char GPT becomes a GPT2LMHeadModel (q/k/v -> c_attn, quick_gelu, tied lm_head); its char
vocabulary becomes a PreTrainedTokenizerFast with the same ids (<pad> 0, <bos> 1, <eos> 2, then the
alphabet), duet's stop character as eos, and prompts written "<bos>question" (TRL tokenizes prompts
without special tokens). The reward is duet's rule for this task: the text before the stop
character, compared by value (a number equal to the gold answer). After training, the policy is
written back as a duet checkpoint so `duet eval` grades both tools' policies with the same code.

usage: python tools/trl-diff/trl_from_duet.py --init CKPT --train FILE.jsonl --out DIR
         [--k 2] [--rollouts-per-step 512] [--lr 8e-4] [--warmup-steps 5] [--epochs 6] [--seed 0]
"""
import argparse
import hashlib
import json
import os
import re
import shutil
import sys
import time

import torch

ap = argparse.ArgumentParser()
ap.add_argument("--init", required=True, help="duet checkpoint directory (config.json + model.safetensors)")
ap.add_argument("--train", required=True, help="GSM8K-shaped JSONL of RL prompts")
ap.add_argument("--out", required=True)
ap.add_argument("--k", type=int, default=2)
ap.add_argument("--rollouts-per-step", type=int, default=512)
ap.add_argument("--lr", type=float, default=8e-4)
ap.add_argument("--warmup-steps", type=int, default=5)
ap.add_argument("--epochs", type=float, default=6)
ap.add_argument("--max-steps", type=int, default=-1)
ap.add_argument("--seed", type=int, default=0)
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--max-completion", type=int, default=8)
a = ap.parse_args()
torch.set_num_threads(a.threads)

import datasets  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402
from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers  # noqa: E402
from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast  # noqa: E402
from trl import GRPOConfig, GRPOTrainer  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from duet_hf import from_hf, to_hf  # noqa: E402

cfg_json = json.load(open(os.path.join(a.init, "config.json")))
c = cfg_json["config"]
alphabet = cfg_json["tokenizer"]["alphabet"]
stop = cfg_json["meta"].get("stop", "\n")

vocab = {"<pad>": 0, "<bos>": 1, "<eos>": 2}
for i, ch in enumerate(alphabet):
    vocab[ch] = i + 3
tok_model = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<eos>"))
tok_model.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
tok_model.decoder = decoders.Fuse()
tok = PreTrainedTokenizerFast(tokenizer_object=tok_model, pad_token="<pad>", bos_token="<bos>", eos_token=stop)
tok.padding_side = "left"
STOP = vocab[stop]
assert tok.eos_token_id == STOP

hf_cfg = GPT2Config(vocab_size=c["vocabSize"], n_positions=c["blockSize"], n_embd=c["nEmbd"], n_layer=c["nLayer"],
                    n_head=c["nHead"], n_inner=c["mlpRatio"] * c["nEmbd"], activation_function="quick_gelu",
                    layer_norm_epsilon=c["layerNormEps"], resid_pdrop=0, embd_pdrop=0, attn_pdrop=0,
                    bos_token_id=1, eos_token_id=STOP, pad_token_id=0, tie_word_embeddings=True)
model = GPT2LMHeadModel(hf_cfg)
model.load_state_dict(to_hf(load_file(os.path.join(a.init, "model.safetensors"))), strict=False)
model.generation_config.eos_token_id = STOP
model.generation_config.pad_token_id = 0

rows = [json.loads(l) for l in open(a.train)]
answers = [r["answer"].split("####")[-1].strip().replace(",", "") for r in rows]
train_ds = datasets.Dataset.from_list([{"prompt": "<bos>" + r["question"], "answer": ans} for r, ans in zip(rows, answers)])

NUM = re.compile(r"^\s*[+]?(-?\d+(?:\.\d+)?)\s*=?\s*$")


def by_value(prompts, completions, completion_ids, answer, **_):
    out = []
    for ids, gold in zip(completion_ids, answer):
        text = tok.decode([t for t in ids if t != STOP] if STOP not in ids else ids[:ids.index(STOP)])
        m = NUM.match(text)
        out.append(1.0 if m and float(m.group(1)) == float(gold) else 0.0)
    return out


P = a.rollouts_per_step // a.k
cfg = GRPOConfig(
    output_dir=os.path.join(a.out, "trl"), num_generations=a.k, per_device_train_batch_size=a.rollouts_per_step,
    gradient_accumulation_steps=1, num_train_epochs=a.epochs, max_steps=a.max_steps, learning_rate=a.lr,
    lr_scheduler_type="constant_with_warmup", warmup_steps=a.warmup_steps, beta=0.0, loss_type="grpo",
    scale_rewards="group", epsilon=0.2, temperature=1.0, top_p=1.0, top_k=0, max_completion_length=a.max_completion,
    weight_decay=0.0, max_grad_norm=1.0, bf16=False, use_cpu=True, logging_steps=1, save_strategy="no",
    report_to="none", seed=a.seed, data_seed=a.seed, disable_tqdm=True,
)
trainer = GRPOTrainer(model=model, reward_funcs=by_value, args=cfg, train_dataset=train_ds, processing_class=tok)
t0 = time.perf_counter()
trainer.train()
wall = time.perf_counter() - t0
hist = [h for h in trainer.state.log_history if "reward" in h]

# back to a duet checkpoint (no optimizer state), for `duet eval`
os.makedirs(a.out, exist_ok=True)
sd = from_hf({k: v.detach().contiguous() for k, v in trainer.model.state_dict().items()}, c["nEmbd"])
model_path = os.path.join(a.out, "model.safetensors")
save_file({k: v.float().contiguous() for k, v in sd.items()}, model_path)
blob = open(model_path, "rb").read()
cfg_json["files"] = {"model.safetensors": {"bytes": len(blob), "sha256": hashlib.sha256(blob).hexdigest()}}
cfg_json["meta"] = {**cfg_json["meta"], "trainedBy": "trl", "trlSteps": trainer.state.global_step}
json.dump(cfg_json, open(os.path.join(a.out, "config.json"), "w"))
json.dump({"wall_s": wall, "steps": trainer.state.global_step, "rewards": [h["reward"] for h in hist],
           "log": trainer.state.log_history}, open(os.path.join(a.out, "trl_run.json"), "w"))
shutil.rmtree(os.path.join(a.out, "trl"), ignore_errors=True)
print(f"TRL: {trainer.state.global_step} steps in {wall:.0f}s; reward per step:", [round(h["reward"], 3) for h in hist])

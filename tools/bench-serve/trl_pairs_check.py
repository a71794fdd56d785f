"""Checks that a `duet pairs` file is TRL's DPO dataset format: loads it with `datasets` and trains
two DPOTrainer steps on it (a tiny Qwen2 from the model fixtures by default). The first step's loss
must be log 2 (policy = reference) and the reward accuracy/margins must be logged.

usage: /work/pyenv/bin/python tools/bench-serve/trl_pairs_check.py PAIRS.jsonl [HF_MODEL_DIR]
"""
import math
import os
import sys
import tempfile

import datasets
import transformers
import trl

root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
pairs = sys.argv[1]
model_dir = sys.argv[2] if len(sys.argv) > 2 else os.path.join(root, "packages/model/test/fixtures/hf/qwen2-bias")

ds = datasets.load_dataset("json", data_files=pairs, split="train")
assert set(ds.column_names) == {"prompt", "chosen", "rejected"}, ds.column_names
model = transformers.AutoModelForCausalLM.from_pretrained(model_dir, dtype="float32")
tok = transformers.AutoTokenizer.from_pretrained(model_dir)
if tok.pad_token is None:
    tok.pad_token = tok.eos_token
logs = []


class Keep(transformers.TrainerCallback):
    def on_log(self, args, state, control, logs=None, **kw):
        if logs and "loss" in logs:
            globals()["logs"].append(dict(logs))


with tempfile.TemporaryDirectory() as out:
    cfg = trl.DPOConfig(output_dir=out, max_steps=2, per_device_train_batch_size=4, learning_rate=1e-3, beta=0.1,
                        loss_type="sigmoid", logging_steps=1, report_to=[], save_strategy="no", use_cpu=True, seed=0)
    trainer = trl.DPOTrainer(model=model, args=cfg, train_dataset=ds, processing_class=tok, callbacks=[Keep()])
    trainer.train()
first = logs[0]
assert abs(first["loss"] - math.log(2)) < 1e-4, first
assert "rewards/accuracies" in first and "rewards/margins" in first, first
print(f"trl {trl.__version__}: {len(ds)} pairs from {pairs} load as a DPO dataset; DPOTrainer step 1 loss {first['loss']:.4f} (log 2), step 2 {logs[-1]['loss']:.4f}: OK")

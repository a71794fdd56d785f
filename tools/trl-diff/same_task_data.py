"""The same-task comparison's data, made here (no downloads): 3-digit addition "abc+def=" -> "579", the
TRL peer harness's fixed-seed splits (Python's random with seeds 1001-1003; test problems excluded from
training), written as GSM8K-shaped JSONL rows {"question", "answer": "#### 579"}.
- rl_train.jsonl: 2,048 RL prompts; id_test.jsonl / ood_test.jsonl: 500 3-digit / 500 4-digit problems;
- sft_train.jsonl: 40,000 demonstrations from the SFT stream (seed 0, 30% 4-digit operands).
usage: python tools/trl-diff/same_task_data.py OUTDIR"""
import json
import os
import random
import sys

ID_RANGE, OOD_RANGE = (100, 999), (1000, 9999)


def make_problems(n, seed, lo, hi, exclude=()):
    rng, seen, out = random.Random(seed), set(exclude), []
    while len(out) < n:
        a, b = rng.randint(lo, hi), rng.randint(lo, hi)
        if (a, b) in seen:
            continue
        seen.add((a, b))
        out.append((a, b))
    return out


def write(path, pairs):
    with open(path, "w") as f:
        for a, b in pairs:
            f.write(json.dumps({"question": f"{a}+{b}=", "answer": f"#### {a + b}"}) + "\n")


out = sys.argv[1]
os.makedirs(out, exist_ok=True)
id_test = make_problems(500, 1001, *ID_RANGE)
ood_test = make_problems(500, 1002, *OOD_RANGE)
rl_train = make_problems(2048, 1003, *ID_RANGE, exclude=id_test)
write(os.path.join(out, "id_test.jsonl"), id_test)
write(os.path.join(out, "ood_test.jsonl"), ood_test)
write(os.path.join(out, "rl_train.jsonl"), rl_train)
rng, exclude, sft = random.Random(0), set(id_test) | set(ood_test), []
while len(sft) < 40000:
    lo, hi = OOD_RANGE if rng.random() < 0.3 else ID_RANGE
    x, y = rng.randint(lo, hi), rng.randint(lo, hi)
    if (x, y) not in exclude:
        sft.append((x, y))
write(os.path.join(out, "sft_train.jsonl"), sft)

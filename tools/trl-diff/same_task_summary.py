"""Summarises same_task.sh's results.jsonl: mean and sd over seeds per tool and k, and the warm start.
usage: python tools/trl-diff/same_task_summary.py WORK [--json OUT]"""
import json
import os
import statistics
import sys

work = sys.argv[1]
rows = [json.loads(l) for l in open(os.path.join(work, "results.jsonl"))]
start = json.load(open(os.path.join(work, "duet-k2-s1", "summary.json")))["before"] if os.path.exists(os.path.join(work, "duet-k2-s1", "summary.json")) else []
out = {"start": {b["split"]: {"meanAtN": round(100 * b["meanAtN"], 2), "passAtN": round(100 * b["passAtN"], 2)} for b in start}, "runs": rows, "summary": []}
for k in (2, 16):
    for tool in ("duet", "trl"):
        rs = [r for r in rows if r["tool"] == tool and r["k"] == k]
        if not rs:
            continue
        entry = {"tool": tool, "k": k, "seeds": [r["seed"] for r in rs]}
        for split in ("test", "ood"):
            for m in ("meanAtN", "passAtN"):
                xs = [r["eval"][split][m] for r in rs if split in r["eval"]]
                entry[f"{split}.{m}"] = [round(statistics.mean(xs), 2), round(statistics.stdev(xs), 2) if len(xs) > 1 else None]
        out["summary"].append(entry)
print(f"warm start: {out['start']}")
print(f"{'run':<12} {'seeds':<10} {'ID Mean@8':>14} {'ID Pass@8':>14} {'OOD Mean@8':>14}")
for e in out["summary"]:
    f = lambda v: f"{v[0]:.1f} ± {v[1]:.1f}" if v[1] is not None else f"{v[0]:.1f}"
    print(f"{e['tool'] + ' k=' + str(e['k']):<12} {','.join(map(str, e['seeds'])):<10} {f(e['test.meanAtN']):>14} {f(e['test.passAtN']):>14} {f(e['ood.meanAtN']):>14}")
if "--json" in sys.argv:
    json.dump(out, open(sys.argv[sys.argv.index("--json") + 1], "w"), indent=1)

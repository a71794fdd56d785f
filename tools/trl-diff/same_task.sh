#!/usr/bin/env bash
# duet vs TRL GRPOTrainer on the same task, model, warm start and protocol (docs/training.md, "Checked
# against TRL"): one duet warm start (recipes/sft.yaml), then for each seed 2-GRPO and 16-GRPO with duet
# (recipes/rl.yaml) and with TRL (trl_from_duet.py), every policy graded by `duet eval` (500 ID + 500 OOD
# problems x 8 samples at T=1). Results: $WORK/results.jsonl, summarised by same_task_summary.py.
# usage: bash tools/trl-diff/same_task.sh [SEEDS...]     env: WORK (runs/same-task), PY (python3 with torch+trl)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mkdir -p "${WORK:-$ROOT/runs/same-task}" && cd "${WORK:-$ROOT/runs/same-task}" && pwd)
PY=${PY:-python3}
DUET="node $ROOT/apps/cli/dist/main.js"
SEEDS=${*:-1 2 3}
$PY "$ROOT/tools/trl-diff/same_task_data.py" "$WORK/data"
cd "$WORK/data"
INIT=$WORK/sft/checkpoints/step-000000
[ -e "$INIT/config.json" ] || $DUET sft --recipe "$ROOT/tools/trl-diff/recipes/sft.yaml" --out "$WORK/sft" > "$WORK/sft.log" 2>&1
K16="--set rl.groupSize.size=16 --set rl.promptsPerStep=32 --set rl.lr=1e-4 --set rl.warmupSteps=39 --set rl.steps=384"
record() {  # tool k seed dir
  local evalout
  evalout=$($DUET eval "$4" --n 8 2>/dev/null | grep -E "^(test|ood) ")
  echo "{\"tool\":\"$1\",\"k\":$2,\"seed\":$3,\"eval\":$(echo "$evalout" | $PY -c '
import json,re,sys
print(json.dumps({m.group(1): {"meanAtN": float(m.group(2)), "passAtN": float(m.group(3))}
  for m in (re.match(r"(\w+)\s+Mean@8 ([\d.]+)%\s+Pass@8 ([\d.]+)%", l) for l in sys.stdin) if m}))')}" >> "$WORK/results.jsonl"
}
for s in $SEEDS; do
  for k in 2 16; do
    d=$WORK/duet-k$k-s$s
    if [ ! -e "$d/summary.json" ]; then
      rm -rf "$d"
      $DUET train --recipe "$ROOT/tools/trl-diff/recipes/rl.yaml" --init "$INIT" --out "$d" --set seed=$s $([ $k = 16 ] && echo $K16) > "$d.log" 2>&1
      record duet $k $s "$d/checkpoints/$(cat "$d/checkpoints/latest")"
    fi
    t=$WORK/trl-k$k-s$s
    if [ ! -e "$t/config.json" ]; then
      if [ $k = 2 ]; then args="--k 2 --lr 8e-4 --warmup-steps 5"; else args="--k 16 --lr 1e-4 --warmup-steps 39"; fi
      $PY "$ROOT/tools/trl-diff/trl_from_duet.py" --init "$INIT" --train rl_train.jsonl --out "$t" --seed $((s - 1)) $args > "$t.log" 2>&1
      record trl $k $s "$t"
    fi
  done
done
$PY "$ROOT/tools/trl-diff/same_task_summary.py" "$WORK"

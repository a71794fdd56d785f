#!/bin/bash
# usage: bash tools/robustness/kill_resume.sh   (WORK=dir; needs the built CLI). Prints "identical: N / 20".
# 20 kill -9 at random points of a tiny run; each resumed to the end must equal the uninterrupted run.
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
D="node $ROOT/apps/cli/dist/main.js"
SETS="--set sft.steps=40 --set sft.target=false --set sft.examples=200 --set rl.trainProblems=200 --set rl.steps=60 --set rl.promptsPerStep=32 --set checkpointEvery=3 --set eval.problems=20 --set eval.n=2"
WORK=${WORK:-/tmp/duet-kill}; mkdir -p $WORK; cd $WORK; rm -rf ref; $D train --out ref $SETS > ref.log 2>&1 || { echo "ref failed"; tail ref.log; exit 1; }
strip() { python3 -c "
import json,sys
for l in open(sys.argv[1]):
  r=json.loads(l)
  if r.get('kind') in ('rl','eval'):
    print(json.dumps({k:v for k,v in r.items() if not (k.startswith('timing') or k.startswith('time') or k.startswith('perf'))}, sort_keys=True))" $1; }
strip ref/metrics.jsonl > ref.norm
ok=0
for i in $(seq 1 20); do
  rm -rf k$i; delay=$(python3 -c "import random; print(round(random.uniform(1.6, 4.2),2))")
  $D train --out k$i $SETS > k$i.log 2>&1 & pid=$!; sleep $delay; kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
  n=0; until [ -e k$i/summary.json ] || [ $n -ge 5 ]; do
    if [ -e k$i/checkpoints/latest ]; then $D train --out k$i --resume >> k$i.log 2>&1; else rm -rf k$i; $D train --out k$i $SETS >> k$i.log 2>&1; fi; n=$((n+1)); done
  strip k$i/metrics.jsonl > k$i.norm
  if cmp -s ref.norm k$i.norm && cmp -s <(python3 -c "import json;print(json.load(open('ref/summary.json'))['after'])") <(python3 -c "import json;print(json.load(open('k$i/summary.json'))['after'])"); then ok=$((ok+1)); echo "kill $i at ${delay}s: identical"; else echo "kill $i at ${delay}s: DIFFERS"; fi
done
echo "identical: $ok / 20"

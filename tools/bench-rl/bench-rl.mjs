#!/usr/bin/env node
// RL step benchmark: sample 512 rollouts, host reward/advantages, one PPO-clip update (forward,
// backward, AdamW), duet's kernels beside stock tfjs-wasm in one process (alternating rounds,
// medians, paired ratios), plus a per-phase breakdown (kernel calls, time in kernels, dispatch).
// Build first:  npx nx run-many -t build -p @duet/core @duet/engine @duet/model
// Run:          node tools/bench-rl/bench-rl.mjs [--size default|ref] [--skip] [--blas js] [--json]
// Same code as `duet bench --rl` (Bench.rlCli in @duet/model). The PyTorch/TRL peer on the same
// dims: tools/bench-rl/peer.py. Method and results: docs/benchmarks.md.
import { Bench } from "@duet/model"

if (process.argv.includes("--help")) {
  console.log(`usage: node tools/bench-rl/bench-rl.mjs [--size default|ref] [--prompts 256] [--group 2] [--max-tokens 8]
  [--skip] [--variants stock,duet,duet:native,duet:openblas,duet:js,duet:xnnpack] [--blas auto|native|openblas|js]
  [--threads N] [--rounds N] [--no-breakdown] [--json]
(also --dim --layers --heads --vocab --seq --prompt-min --prompt-max; the same as \`duet bench --rl\`)`)
  process.exit(0)
}
try {
  await Bench.rlCli(process.argv.slice(2))
} catch (e) {
  console.error(e instanceof Error ? e.message : String(e))
  process.exit(2)
}

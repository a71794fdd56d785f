#!/usr/bin/env node
// Model benchmark: training-step and decode tokens/s of one GPT, duet's kernels beside stock
// tfjs-wasm in the same process (alternating rounds, medians, ratios), plus peak memory.
// Build first:  npx nx run-many -t build -p @duet/core @duet/engine @duet/model
// Run:          node tools/bench-model/bench-model.mjs [--dim 128 --layers 4 --heads 4 --vocab 32
//               --batch 32 --seq 64 --decode-batch 256 --rounds 3 --blas auto|openblas|js --json]
// Method and results: docs/benchmarks.md. Same code as `duet bench` (Bench.cli in @duet/model).
import { Bench } from "@duet/model"

try {
  await Bench.cli(process.argv.slice(2))
} catch (e) {
  console.error(e instanceof Error ? e.message : String(e))
  process.exit(2)
}

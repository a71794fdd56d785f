#!/usr/bin/env node
// Zero-advantage skipping, measured end to end: the default recipe's first RL steps with
// rl.skipZeroAdvantage on and off, from the same warm start and seed, in one process.
// Prints the median update time of each, their ratio, and the reward curves side by side
// (same gradient up to float summation order, so the curves should stay together).
// usage: node tools/bench-skip/bench-skip.mjs [--steps N] [--json]   (after `npm run build`)
import { Effect } from "effect"
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Recipe, Train } from "@duet/pipeline"

const args = process.argv.slice(2)
const steps = Number(args[args.indexOf("--steps") + 1] ?? 100) || 100
const json = args.includes("--json")
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] }
const run = async (skip) => {
  const recipe = await Effect.runPromise(Recipe.load(undefined, undefined, [`rl.steps=${steps}`, `rl.skipZeroAdvantage=${skip}`, "checkpointEvery=0"]))
  const dir = mkdtempSync(join(tmpdir(), `duet-skip-${skip}-`))
  await Effect.runPromise(Train.train(recipe, { runDir: dir }))
  const rl = readFileSync(join(dir, "metrics.jsonl"), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l)).filter((r) => r.kind === "rl")
  return {
    skip,
    updateMedianS: median(rl.map((r) => r["timing_s/update"])),
    stepMedianS: median(rl.map((r) => r["timing_s/step"])),
    skippedRows: rl.reduce((a, r) => a + r["actor/skipped_rows_frac"], 0) / rl.length,
    rewards: rl.map((r) => r["critic/rewards/mean"]),
  }
}
const on = await run(true)
const off = await run(false)
const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length
const result = {
  steps,
  skippedRowsMean: on.skippedRows,
  updateMedianS: { skip: on.updateMedianS, noSkip: off.updateMedianS, ratio: on.updateMedianS / off.updateMedianS },
  stepMedianS: { skip: on.stepMedianS, noSkip: off.stepMedianS, ratio: on.stepMedianS / off.stepMedianS },
  rewardMeanLast20: { skip: mean(on.rewards.slice(-20)), noSkip: mean(off.rewards.slice(-20)) },
}
if (json) console.log(JSON.stringify(result))
else {
  console.log(`zero-advantage skipping, ${steps} RL steps of the default recipe (rows skipped: ${(100 * on.skippedRows).toFixed(1)}%)`)
  console.log(`update  median ${on.updateMedianS.toFixed(3)} s (skip) vs ${off.updateMedianS.toFixed(3)} s (no skip): ratio ${result.updateMedianS.ratio.toFixed(2)}`)
  console.log(`step    median ${on.stepMedianS.toFixed(3)} s (skip) vs ${off.stepMedianS.toFixed(3)} s (no skip): ratio ${result.stepMedianS.ratio.toFixed(2)}`)
  console.log(`reward, mean of the last 20 steps: ${result.rewardMeanLast20.skip.toFixed(3)} (skip) vs ${result.rewardMeanLast20.noSkip.toFixed(3)} (no skip)`)
}

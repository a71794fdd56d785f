/**
 * The default run learns, on both matmul paths and two seeds: a smaller version of `duet train`
 * (the default task, model and SFT target; 150 RL steps of 128 prompts x 2 instead of 600 x 256)
 * must lift held-out test Mean@8 and must not lower Pass@8. Thresholds come from the measured spread
 * (docs/training.md, "In the test suite").
 */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Engine } from "@duet/engine"
import { Recipe, Train } from "../src/index.js"

const small = ["rl.steps=150", "rl.promptsPerStep=128", "checkpointEvery=0"]

/** Matmul paths to check: pure JS always; OpenBLAS when its addon loads (required in CI). */
const paths = async (): Promise<Array<"openblas" | "js">> => {
  try {
    await Engine.init({ threads: 1, blas: "openblas" })
    return ["openblas", "js"]
  } catch (e) {
    if (process.env.DUET_REQUIRE_BLAS === "1") throw e
    return ["js"]
  }
}

describe("the default recipe, smaller, learns", async () => {
  for (const blas of await paths()) {
    for (const seed of [1, 2]) {
      it(`${blas}, seed ${seed}: test Mean@8 up by >= 8 points, Pass@8 not down by more than 2`, async () => {
        const recipe = Effect.runSync(Recipe.load(undefined, undefined, [...small, `seed=${seed}`]))
        const dir = mkdtempSync(join(tmpdir(), "duet-learns-"))
        const summary = await Effect.runPromise(Train.train(recipe, { runDir: dir, blas }))
        const before = summary!.before.find((r) => r.split === "test")!
        const after = summary!.after.find((r) => r.split === "test")!
        expect(after.meanAtN - before.meanAtN, `Mean@8 ${before.meanAtN} -> ${after.meanAtN}`).toBeGreaterThanOrEqual(0.08)
        expect(after.passAtN - before.passAtN, `Pass@8 ${before.passAtN} -> ${after.passAtN}`).toBeGreaterThanOrEqual(-0.02)
      }, 600_000)
    }
  }
})

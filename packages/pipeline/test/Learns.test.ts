/**
 * The default run learns, on both matmul paths and two seeds: the first half of `duet train`
 * (the default recipe, 300 RL steps instead of 600) must lift held-out test Mean@8 by at least 10
 * points and must not lower Pass@8 by more than 10. The collapse this guards against (issue 8: the
 * old default, seed 2 on OpenBLAS) took Pass@8 from 48.5 to 27.0 and Mean@8 barely up. Midway the
 * sharpening can cost some Pass@8 before it recovers: the wasm path, seed 2, was 9 points down at
 * step 300 and +0.5 at step 600 (docs/training.md); at 150 steps it costs more, so the test does
 * not go shorter.
 */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { Recipe, Train } from "../src/index.js"
import { blasPaths } from "./BlasPaths.js"

const small = ["rl.steps=300", "checkpointEvery=0"]


describe("the default recipe, smaller, learns", async () => {
  for (const blas of await blasPaths()) {
    for (const seed of [1, 2]) {
      it(`${blas}, seed ${seed}: test Mean@8 up by >= 10 points, Pass@8 not down by more than 10`, async () => {
        const recipe = Effect.runSync(Recipe.load(undefined, undefined, [...small, `seed=${seed}`]))
        const dir = mkdtempSync(join(tmpdir(), "duet-learns-"))
        const summary = await Effect.runPromise(Train.train(recipe, { runDir: dir, blas }))
        const before = summary!.before.find((r) => r.split === "test")!
        const after = summary!.after.find((r) => r.split === "test")!
        expect(after.meanAtN - before.meanAtN, `Mean@8 ${before.meanAtN} -> ${after.meanAtN}`).toBeGreaterThanOrEqual(0.1)
        expect(after.passAtN - before.passAtN, `Pass@8 ${before.passAtN} -> ${after.passAtN}`).toBeGreaterThanOrEqual(-0.1)
      }, 600_000)
    }
  }
})

/**
 * `--resume` is for the same run. The run's recipe (`recipe.json`, and the one each checkpoint
 * carries in its meta) is its fingerprint: a resume with another recipe or model is refused with the
 * fields that differ, since the checkpoints would otherwise mix two runs under one `recipe.json`.
 * A new run from a checkpoint of this one is `--init CHECKPOINT --out NEW_DIR`. The one field that
 * may change is `rl.steps`, upwards: training longer is the same run (per-step draws and the
 * learning rate do not depend on the total), so a finished run continues when asked for more steps.
 */
import { Effect, Schema } from "effect"
import { existsSync } from "node:fs"
import { readFile } from "node:fs/promises"
import type { Recipe } from "./Recipe.js"
import * as RunDir from "./RunDir.js"

export class ResumeError extends Schema.TaggedError<ResumeError>()("ResumeError", { message: Schema.String }) {}

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x)

export interface Difference {
  readonly path: string
  readonly before: unknown
  readonly after: unknown
}

/** Leaf-by-leaf differences (arrays compare whole), in path order. */
export const diff = (before: unknown, after: unknown, path = ""): Difference[] => {
  if (isObject(before) && isObject(after)) {
    const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort()
    return keys.flatMap((k) => diff(before[k], after[k], path === "" ? k : `${path}.${k}`))
  }
  return JSON.stringify(before) === JSON.stringify(after) ? [] : [{ path, before, after }]
}

const show = (d: Difference) => `${d.path}: ${JSON.stringify(d.before) ?? "(absent)"} -> ${JSON.stringify(d.after) ?? "(absent)"}`

/** Training longer is the same run. */
/**
 * What a resume may change: more RL steps, and where rollouts come from (`rl.sampler`: servers move,
 * the policy being sampled is the same).
 */
const allowed = (d: Difference) =>
  (d.path === "rl.steps" && typeof d.before === "number" && typeof d.after === "number" && d.after >= d.before) ||
  d.path === "rl.sampler" ||
  d.path.startsWith("rl.sampler.")

/** Fails when `recipe` differs from `stored` (what the run was started with), listing the fields. */
export const sameRecipe = (runDir: string, recipe: Recipe, stored: unknown, where: string): Effect.Effect<void, ResumeError> => {
  const fields = diff(stored, JSON.parse(JSON.stringify(recipe))).filter((d) => !allowed(d)).map(show)
  if (fields.length === 0) return Effect.void
  const shown = fields.slice(0, 12).join("; ") + (fields.length > 12 ? `; and ${fields.length - 12} more` : "")
  return Effect.fail(
    new ResumeError({
      message:
        `--resume: the recipe differs from the run's (${where}): ${shown}. ` +
        `Resume with the run's own recipe (omit --recipe and --set), or start a new run from one of its checkpoints: ` +
        `--init ${RunDir.paths(runDir).checkpoints}/step-NNNNNN --out NEW_DIR`
    })
  )
}

/** The recipe the run in `runDir` was started with (its `recipe.json`), if any. */
export const storedRecipe = (runDir: string) =>
  Effect.tryPromise({
    try: async () => {
      const path = RunDir.paths(runDir).recipe
      if (!existsSync(path)) return undefined
      return JSON.parse(await readFile(path, "utf8")) as unknown
    },
    catch: (e) => new ResumeError({ message: `${RunDir.paths(runDir).recipe}: ${e instanceof Error ? e.message : String(e)}` })
  })

/** The summary of a run that already finished (its `summary.json`), if it did. */
export const finishedSummary = (runDir: string) =>
  Effect.tryPromise({
    try: async () => {
      const path = RunDir.paths(runDir).summary
      if (!existsSync(path)) return undefined
      return JSON.parse(await readFile(path, "utf8")) as unknown
    },
    catch: (e) => new ResumeError({ message: `${RunDir.paths(runDir).summary}: ${e instanceof Error ? e.message : String(e)}` })
  })

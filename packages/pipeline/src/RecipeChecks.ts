/**
 * Recipe checks that need the plugins themselves: every constraint a constructor enforces deep in
 * the engine (a loss's `epsLow < 1`, AdamW's `maxGradNorm > 0`, a schedule's `total > warmup`), the
 * sizes a procedural task can give, the lengths its prompts and answers need in `model.blockSize`,
 * and a run name that stays inside `runs/`. Run at decode time, before any work, so a bad recipe
 * fails in milliseconds with the path of the field, not after SFT and the first evaluation.
 */
import { InvalidArgumentError } from "@duet/core"
import { AdamW } from "@duet/model"
import { Arithmetic, Countdown } from "@duet/tasks"
import type { Task } from "@duet/tasks"
import * as Plugins from "./Plugins.js"
import type { Recipe, TaskSpec } from "./Recipe.js"

/** A failed check: the recipe field's path and what is wrong with it. */
export interface Problem {
  readonly path: string
  readonly message: string
}

/** The procedural task a recipe names (undefined for data files, which load in `Setup`). */
export const proceduralTask = (spec: TaskSpec): Task.Task | undefined => {
  switch (spec.kind) {
    case "arithmetic":
      return Arithmetic.task({
        ...(spec.ops ? { ops: spec.ops } : {}),
        ...(spec.digits ? { digits: spec.digits } : {}),
        ...(spec.oodDigits ? { oodDigits: spec.oodDigits } : {}),
        ...(spec.reversed !== undefined ? { reversed: spec.reversed } : {})
      })
    case "countdown":
      return Countdown.task(spec.numbers ? { count: { min: spec.numbers, max: spec.numbers } } : {})
    case "jsonl":
    case "dataset":
      return undefined
  }
}

/** Runs `f`; a thrown error becomes a problem at `path` (an InvalidArgumentError's field's last part refines it). */
const attempt = (path: string, f: () => unknown, refine = true): Problem | undefined => {
  try {
    f()
    return undefined
  } catch (e) {
    if (e instanceof InvalidArgumentError) {
      const last = e.field.split(/[.: ]+/).pop() ?? ""
      return { path: refine && /^[A-Za-z]+$/.test(last) ? `${path}.${last}` : path, message: e.detail }
    }
    return { path, message: e instanceof Error ? e.message : String(e) }
  }
}

/**
 * A run name becomes the directory `runs/<name>-<time>`: one path segment of safe characters, so a
 * recipe can never write outside `runs/` (`--out` is how a user chooses another place).
 */
export const checkName = (name: string): Problem | undefined => {
  if (name === "") return { path: "name", message: "is empty; a run needs a name (it becomes runs/<name>-<time>)" }
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name) || name.includes("..")) {
    return {
      path: "name",
      message: `${JSON.stringify(name.slice(0, 80))} is not a plain name: it becomes the directory runs/<name>-<time>, so use letters, digits, ".", "_" and "-" (no "/" or ".."); choose another directory with --out`
    }
  }
  if (name.length > 100) return { path: "name", message: `is ${name.length} characters; at most 100` }
  return undefined
}

/** Every plugin the trainer will build, built now. */
const checkPlugins = (r: Recipe): Problem[] =>
  [
    attempt("rl.estimator", () => r.rl.estimator.kind === "custom" || Plugins.estimator(r.rl.estimator)),
    attempt("rl.loss", () => r.rl.loss.kind === "custom" || Plugins.objective(r.rl)),
    attempt("rl.lrSchedule", () => Plugins.learningRate(r.rl)),
    attempt("rl.temperatureSchedule", () => Plugins.temperature(r.rl)),
    attempt("rl.kl", () => Plugins.klController(r.rl)),
    attempt("rl.groupSize", () => Plugins.groupSize(r.rl)),
    attempt("rl", () => AdamW.makeConfig({ lr: r.rl.lr, weightDecay: r.rl.weightDecay, maxGradNorm: r.rl.maxGradNorm })),
    attempt("sft", () => AdamW.makeConfig({ lr: r.sft.lr, weightDecay: r.sft.weightDecay, maxGradNorm: 1 }))
  ].filter((p): p is Problem => p !== undefined)

const fmt = (n: number) => n.toLocaleString("en-US")

/** Sizes against the task's capacity, and prompt + answer lengths against `model.blockSize`. */
const checkTask = (r: Recipe): Problem[] => {
  const out: Problem[] = []
  let task: Task.Task | undefined
  try {
    task = proceduralTask(r.task)
  } catch (e) {
    const p = attempt("task", () => {
      throw e
    })
    return p ? [...out, p] : out
  }
  if (task === undefined) return out
  const train = task.capacity?.("train")
  if (train !== undefined) {
    const need = (path: string, size: number, what = `is ${fmt(size)}`) => {
      if (size > train) out.push({ path, message: `${what}, but the ${task.name} task has at most ${fmt(train)} distinct training problems; ask for fewer or widen task.digits` })
    }
    need("sft.examples", r.sft.examples)
    need("rl.trainProblems", r.rl.trainProblems)
    // The SFT probe takes the held-out training problems after the demonstrated ones.
    if (r.sft.target && r.sft.steps > 0) need("sft.target.probe", r.sft.examples + r.sft.target.probe, `is ${fmt(r.sft.target.probe)} held-out problems after the ${fmt(r.sft.examples)} demonstrated ones`)
    const test = task.capacity?.("test") ?? Infinity
    const ood = task.capacity?.("ood") ?? Infinity
    if (r.eval.problems > Math.min(test, ood)) {
      out.push({
        path: "eval.problems",
        message: `is ${fmt(r.eval.problems)}, but the ${task.name} task has at most ${fmt(test)} test and ${fmt(ood)} OOD problems; ask for fewer`
      })
    }
  }
  if (task.maxLength) {
    // A prompt is BOS + its characters; SFT trains on prompt + demonstration, evaluation must fit an answer.
    for (const split of ["train", "test", "ood"] as const) {
      const m = task.maxLength(split)
      if (1 + m.prompt + m.completion > r.model.blockSize) {
        out.push({
          path: "model.blockSize",
          message: `is ${r.model.blockSize}, but ${split} prompts take up to ${1 + m.prompt} tokens (BOS included) and answers up to ${m.completion}; raise it to at least ${1 + m.prompt + m.completion}`
        })
        break
      }
    }
  }
  return out
}

/** All problems of a decoded recipe, in field order. */
export const problems = (r: Recipe): Problem[] => {
  const name = checkName(r.name)
  return [...(name ? [name] : []), ...checkPlugins(r), ...checkTask(r)]
}

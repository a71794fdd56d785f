/**
 * `Demonstrations`: SFT data from a task's problems, with knobs that make the warm-started policy
 * deliberately imperfect — so that RL has something to improve:
 * - `where`: only some problems (e.g. the easy ones: `(p) => (p.meta as Arithmetic.Meta).difficulty <= 1`);
 * - `fraction`: a seeded random subset of those;
 * - `noise`: the probability that a kept demonstration is replaced by a wrong one (`task.corrupt`,
 *   re-drawn until `task.verify` rejects it).
 * Same problems, options and seed give the same demonstrations.
 */
import { InvalidArgumentError, Rng } from "@duet/core"
import type { Demonstration, Problem } from "./Problem.js"
import type { Task } from "./Task.js"

export interface Options {
  /** Keep only problems that pass this test (default: all). */
  readonly where?: (problem: Problem) => boolean
  /** Share of the (filtered) problems to keep, in [0, 1] (default 1). */
  readonly fraction?: number
  /** Probability that a kept demonstration is wrong, in [0, 1] (default 0). */
  readonly noise?: number
  /** Seed for the subset and the noise (default 0). */
  readonly seed?: number
}

/** A demonstration plus whether it is a correct one. */
export interface Labeled extends Demonstration {
  readonly problemId: string
  readonly correct: boolean
}

const inUnit = (x: number, field: string): number => {
  if (!(x >= 0 && x <= 1)) throw new InvalidArgumentError(field, `is ${x}; it must lie in [0, 1]`)
  return x
}

/** Demonstrations with their labels (correct or corrupted), in problem order. */
export const labeled = (task: Task, problems: ReadonlyArray<Problem>, options: Options = {}): Labeled[] => {
  const fraction = inUnit(options.fraction ?? 1, "fraction")
  const noise = inUnit(options.noise ?? 0, "noise")
  if (noise > 0 && task.corrupt === undefined) {
    throw new InvalidArgumentError("noise", `is ${noise}, but task ${task.name} cannot corrupt demonstrations`)
  }
  const rng = Rng.seeded(options.seed ?? 0)
  const pool = options.where === undefined ? [...problems] : problems.filter(options.where)
  const keep = Math.round(fraction * pool.length)
  const chosen = new Set(rng.fold(1).shuffle(pool.map((_, i) => i)).slice(0, keep))
  const noiseRng = rng.fold(2)
  const out: Labeled[] = []
  pool.forEach((problem, i) => {
    if (!chosen.has(i)) return
    const wrong = noise > 0 && noiseRng.bernoulli(noise)
    let completion = task.demonstration(problem)
    if (wrong) {
      completion = task.corrupt!(problem, noiseRng)
      if (task.verify?.(completion, problem) === true) {
        throw new InvalidArgumentError(`${task.name}.corrupt`, `returned a correct completion for ${problem.id}`)
      }
    }
    out.push({ problemId: problem.id, prompt: problem.prompt, completion, correct: !wrong })
  })
  return out
}

/** Demonstrations as the SFT loop wants them. */
export const make = (task: Task, problems: ReadonlyArray<Problem>, options: Options = {}): Demonstration[] =>
  labeled(task, problems, options).map(({ prompt, completion }) => ({ prompt, completion }))

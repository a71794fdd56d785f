/**
 * `Compare`: the paper's comparison of k-GRPO for several group sizes k under its protocol, as
 * ordinary training runs in one directory:
 * - every run of a seed starts from the same warm-started policy (`warmstart-seed<S>`);
 * - the same rollouts per optimizer step for every k (prompts per step = rollouts / k), the learning
 *   rate scaled linearly with the prompts per step, and the same epochs over the same prompts (so
 *   k-GRPO takes k/2 times the steps of 2-GRPO, and generates k/2 times the rollouts);
 * - held-out evaluation at the same rollout intervals in every run (time-to-accuracy);
 * - a budget run: 2-GRPO that keeps training until it reaches the largest-k run's final test Mean@n
 *   (within 1 point) or uses the same RL wall time, whichever comes first.
 * - beyond the paper (`extras`): 2-GRPO with zero-advantage skipping off (same gradient: the time
 *   it saves at equal results), and the adaptive group size (start at 2 rollouts per prompt, add
 *   more only where the pair agreed, up to the largest k) at 2-GRPO's prompts per step, as a budget
 *   run like the one above (so it says whether it reaches the largest k's Mean@n, and when).
 * Each run is its own run directory, so an interrupted comparison resumes where it stopped: a run
 * with a summary is skipped, a run with a checkpoint is resumed.
 */
import { Effect } from "effect"
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import type { Recipe } from "./Recipe.js"
import * as RunDir from "./RunDir.js"
import * as Train from "./Train.js"
import type { Reporter, TrainSummary } from "./Train.js"
import type { BackendName } from "@duet/engine"

export interface CompareOptions {
  readonly dir: string
  /** Group sizes k (default [2, 16]). */
  readonly groupSizes?: ReadonlyArray<number>
  /** Seeds (default [1, 2, 3]). */
  readonly seeds?: ReadonlyArray<number>
  /** Add the 2-GRPO budget run (default true). */
  readonly budget?: boolean
  /** Runs beyond the paper (default both): "no-skip" and "adaptive". */
  readonly extras?: ReadonlyArray<"no-skip" | "adaptive">
  /** Evaluations per run, at equal rollout intervals (default 6). */
  readonly evaluations?: number
  readonly backend?: BackendName
  readonly reporter?: Reporter
}

export interface PlannedRun {
  readonly name: string
  readonly seed: number
  readonly groupSize: number
  readonly recipe: Recipe
  readonly budget: boolean
}

/**
 * The recipe of k-GRPO derived from the 2-GRPO `base` (its rollouts per step, lr, steps and warm-up
 * define the protocol): prompts/step = R/k, lr x (prompts/step)/(base prompts/step), steps and
 * warm-up x k/2.
 */
export const recipeFor = (base: Recipe, k: number, seed: number, evaluations: number): Recipe => {
  const baseK = base.rl.groupSize.kind === "fixed" ? base.rl.groupSize.size : 2
  const rollouts = base.rl.promptsPerStep * baseK
  if (rollouts % k !== 0) throw new Error(`group size ${k} does not divide the ${rollouts} rollouts per step`)
  const prompts = rollouts / k
  const factor = base.rl.promptsPerStep / prompts
  const steps = Math.round(base.rl.steps * factor)
  return {
    ...base,
    name: `${k}-grpo`,
    seed,
    rl: {
      ...base.rl,
      groupSize: { kind: "fixed", size: k },
      estimator: k === 2 ? { kind: "2-grpo" } : { kind: "grpo" },
      promptsPerStep: prompts,
      lr: base.rl.lr / factor,
      steps,
      warmupSteps: Math.round(base.rl.warmupSteps * factor)
    },
    eval: { ...base.eval, every: Math.max(1, Math.floor(steps / evaluations)) },
    checkpointEvery: Math.max(1, Math.floor(steps / evaluations))
  }
}

const readSummary = (dir: string): TrainSummary | undefined => {
  const path = RunDir.paths(dir).summary
  return existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as TrainSummary) : undefined
}

/** Runs (or resumes) the whole comparison; returns the run directories. */
export const run = (base: Recipe, options: CompareOptions) =>
  Effect.gen(function* () {
    const groupSizes = [...(options.groupSizes ?? [2, 16])].sort((a, b) => a - b)
    const seeds = options.seeds ?? [1, 2, 3]
    const evaluations = options.evaluations ?? 6
    const reporter = options.reporter ?? Train.silent
    const largest = groupSizes[groupSizes.length - 1]!
    const dirs: string[] = []
    const common = { ...(options.backend ? { backend: options.backend } : {}), reporter }
    for (const seed of seeds) {
      // The shared warm start of this seed: SFT only, its step-0 checkpoint is every run's start.
      const warm = join(options.dir, "warmstart", `seed${seed}`)
      if (readSummary(warm) === undefined) {
        reporter.log(`compare: warm start, seed ${seed}`)
        yield* Train.train({ ...base, name: "warmstart", seed, rl: { ...base.rl, steps: 0 } }, { runDir: warm, ...common })
      }
      const initFrom = RunDir.paths(warm).checkpoint(0)
      const runOne = (name: string, recipe: Recipe, extra: Partial<Train.TrainOptions>) =>
        Effect.gen(function* () {
          const dir = join(options.dir, `${name}-seed${seed}`)
          dirs.push(dir)
          const done = readSummary(dir)
          if (done) {
            reporter.log(`compare: ${name} seed ${seed} already done`)
            return done
          }
          const resume = existsSync(RunDir.paths(dir).latest)
          reporter.log(`compare: ${name} seed ${seed}${resume ? " (resuming)" : ""}`)
          const summary = yield* Train.train({ ...recipe, name }, { runDir: dir, initFrom, resume, ...common, ...extra })
          return summary!
        })
      const finals = new Map<number, TrainSummary>()
      for (const k of groupSizes) finals.set(k, yield* runOne(`${k}-grpo`, recipeFor(base, k, seed, evaluations), {}))
      const extras = options.extras ?? ["no-skip", "adaptive"]
      const two = recipeFor(base, 2, seed, evaluations)
      if (extras.includes("no-skip")) {
        yield* runOne("2-grpo-no-skip", { ...two, rl: { ...two.rl, skipZeroAdvantage: false } }, {})
      }
      // Budget runs: train until the test Mean@n comes within 1 point of the largest k's final one,
      // or until they have used its RL wall time, with up to its step count.
      const target = largest > 2 ? finals.get(largest)!.after.find((r) => r.split === "test") : undefined
      const budget = largest > 2
        ? { ...(target ? { stopAtTestMeanAtN: target.meanAtN - 0.01 } : {}), maxRlSeconds: finals.get(largest)!.seconds.rl }
        : undefined
      const budgetSteps = recipeFor(base, largest, seed, evaluations).rl.steps
      if (extras.includes("adaptive") && budget) {
        yield* runOne("adaptive-2-to-" + largest, {
          ...two,
          rl: { ...two.rl, steps: budgetSteps, groupSize: { kind: "adaptive", initial: 2, max: largest }, estimator: { kind: "grpo" } }
        }, budget)
      }
      if ((options.budget ?? true) && budget) {
        yield* runOne("2-grpo-budget", { ...two, rl: { ...two.rl, steps: budgetSteps } }, budget)
      }
    }
    return dirs
  })

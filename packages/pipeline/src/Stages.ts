/**
 * The stages of the trainer, each an exported Effect a user can call, replace or reorder:
 *
 *   start         engine, task, codec, policy (+ SFT warm start), optimizer
 *   prompts       the step's problems (a seeded walk over the training split)
 *   rollouts      completions from the `Sampler` service, scored by the `Reward` service
 *   advantages    any `AdvantageTransform` over the rewards' groups
 *   update        one `Objective` step (PPO-clip / GSPO / DPO, KL and entropy terms)
 *   metrics       verl-named scalars of a step
 *   evaluate      Mean@n / Pass@n on the held-out splits
 *
 * `Train.train` is these stages plus resume, checkpoints, guards and logging; a custom loop over
 * them is a few lines (examples/custom-loop.ts).
 */
import { Effect, Schema } from "effect"
import type { Layer } from "effect"
import { AdvantageTransform, Rng, Scores, StepInfo } from "@duet/core"
import type { AnyAdvantageTransform } from "@duet/core"
import { Engine } from "@duet/engine"
import type { BackendName, BlasChoice } from "@duet/engine"
import { AdamW } from "@duet/model"
import type { Policy as AnyPolicy } from "@duet/model"

// Any architecture (duet's GPT, Llama/Qwen from HF).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Policy = AnyPolicy<any>
import { GroupSize, LearningRate } from "@duet/schedulers"
import type { GroupSizePolicy } from "@duet/schedulers"
import { Demonstrations } from "@duet/tasks"
import type { Problem } from "@duet/tasks"
import { Sampler } from "@duet/samplers"
import * as Evaluate from "./Evaluate.js"
import type { EvalResult } from "./Evaluate.js"
import * as FiniteGuard from "./FiniteGuard.js"
import * as PolicyStore from "./PolicyStore.js"
import type * as Objective from "./Objective.js"
import type { Recipe } from "./Recipe.js"
import * as Rewards from "./Reward.js"
import { Reward } from "./Reward.js"
import * as RunDir from "./RunDir.js"
import * as Setup from "./Setup.js"
import type * as Tokens from "./Tokens.js"
import * as Update from "./Update.js"

export class TrainError extends Schema.TaggedError<TrainError>()("TrainError", { message: Schema.String }) {}

export interface Reporter {
  /** A transient status line (overwritten by the next). */
  readonly progress: (line: string) => void
  /** A line to keep. */
  readonly log: (line: string) => void
}

export const silent: Reporter = { progress: () => {}, log: () => {} }

const message = (e: unknown) => (e instanceof Error ? e.message : typeof e === "object" && e !== null && "message" in e ? String(e.message) : String(e))
export const wrap = <A>(what: string, f: () => A) => Effect.try({ try: f, catch: (e) => new TrainError({ message: `${what}: ${message(e)}` }) })
export const wrapPromise = <A>(what: string, f: () => Promise<A>) =>
  Effect.tryPromise({ try: f, catch: (e) => new TrainError({ message: `${what}: ${message(e)}` }) })
const asTrainError = <A, E extends { message: string }, R>(eff: Effect.Effect<A, E, R>) => Effect.mapError(eff, (e) => new TrainError({ message: e.message }))

const now = () => performance.now() / 1000
const pct = (x: number) => `${(100 * x).toFixed(1)}%`

// ---- start -----------------------------------------------------------------------------------

export interface Started {
  readonly recipe: Recipe
  readonly setup: Setup.Setup
  readonly learner: { readonly policy: Policy; readonly optimizer: Update.Optimizer; readonly reference?: Policy | undefined }
  /** The in-process sampler over the learner's policy (sees each update). */
  readonly sampler: Layer.Layer<Sampler.Sampler>
  /** The task's 0/1 grade as the reward. */
  readonly reward: Layer.Layer<Reward>
}

/**
 * Everything a loop needs from a recipe: the engine, the task and its splits, a fresh policy warm
 * started by the recipe's SFT (`sft.steps: 0` skips it), an AdamW optimizer at `rl.lr`, a frozen
 * reference when `reference` is asked for, and the default sampler and reward layers.
 */
export const start = (
  recipe: Recipe,
  options: { readonly backend?: BackendName; readonly blas?: BlasChoice; readonly threads?: number; readonly reporter?: Reporter; readonly reference?: boolean } = {}
) =>
  Effect.gen(function* () {
    yield* wrapPromise("engine", () => Engine.init({ backend: options.backend ?? "auto", threads: options.threads ?? 1, ...(options.blas ? { blas: options.blas } : {}) }))
    const setup = yield* asTrainError(Setup.make(recipe))
    const policy = yield* asTrainError(PolicyStore.make(recipe, setup).init(recipe.seed))
    yield* warmStart(recipe, setup, policy, options.reporter ?? silent)
    const optimizer = Update.makeOptimizer(policy, { lr: recipe.rl.lr, weightDecay: recipe.rl.weightDecay, maxGradNorm: recipe.rl.maxGradNorm })
    const started: Started = {
      recipe,
      setup,
      learner: { policy, optimizer, reference: options.reference ? Update.freeze(policy) : undefined },
      sampler: Sampler.layerLocal(() => policy),
      reward: Rewards.layerTask(setup.task)
    }
    return started
  })

// ---- prompts ---------------------------------------------------------------------------------

/** Seed of step `step`'s draws, independent of how the run got there (resume draws the same). */
export const stepSeed = (seed: number, step: number) => Rng.seeded(seed).fold(step + 1).nextUint32()

/** Problems of RL step `step`: epochs walk a seeded permutation of the training problems. */
export const prompts = (problems: ReadonlyArray<Problem>, count: number, seed: number, step: number): Problem[] => {
  const out: Problem[] = []
  let index = step * count
  while (out.length < count) {
    const epoch = Math.floor(index / problems.length)
    const order = Rng.seeded(seed).fold(1_000_003 + epoch).shuffle(Array.from(problems.keys()))
    out.push(problems[order[index % problems.length]!]!)
    index++
  }
  return out
}

// ---- rollouts --------------------------------------------------------------------------------

export interface Rollout {
  /** Index of its problem in `Rollouts.problems` (its group). */
  readonly group: number
  readonly prompt: Int32Array
  readonly completion: Sampler.Completion
  /** The decoded completion the reward saw. */
  readonly text: string
  readonly reward: number
}

export interface Rollouts {
  readonly problems: ReadonlyArray<Problem>
  readonly rows: ReadonlyArray<Rollout>
  /** Rewards per problem, in draw order. */
  readonly rewardsByGroup: ReadonlyArray<ReadonlyArray<number>>
  readonly seconds: { readonly generate: number; readonly reward: number }
}

export interface RolloutOptions {
  readonly problems: ReadonlyArray<Problem>
  readonly codec: Tokens.Codec
  /** Rollouts per problem: a number, or a policy that may draw more rounds (adaptive). */
  readonly groupSize: number | GroupSizePolicy
  readonly sampling: { readonly temperature: number; readonly topP: number; readonly topK: number; readonly maxTokens: number }
  readonly seed: number
  /** The step (group-size policies may depend on it). */
  readonly step?: number
}

/**
 * Samples completions of every problem (in rounds while the group-size policy asks for more) from
 * the `Sampler` service and scores each with the `Reward` service.
 */
export const rollouts = (options: RolloutOptions) =>
  Effect.gen(function* () {
    const sampler = yield* Sampler.Sampler
    const reward = yield* Reward
    const { problems, codec, sampling } = options
    const step = options.step ?? 0
    const plan = typeof options.groupSize === "number" ? GroupSize.fixedGroupSize(options.groupSize) : options.groupSize
    const promptIds = problems.map((p) => codec.prompt(p.prompt))
    const rows: Rollout[] = []
    const rewardsByGroup: number[][] = problems.map(() => [])
    let pending = problems.map((_, i) => i).flatMap((i) => Array.from({ length: plan.plan(i, [], step) }, () => i))
    let round = 0
    let generate = 0
    let scoring = 0
    while (pending.length > 0) {
      const t0 = now()
      const completions = yield* asTrainError(
        sampler.sample({
          prompts: pending.map((i) => promptIds[i]!),
          maxTokens: sampling.maxTokens,
          temperature: sampling.temperature,
          topP: sampling.topP,
          topK: sampling.topK,
          stopTokens: codec.stopTokens,
          seed: options.seed + round * 104729
        })
      )
      const t1 = now()
      generate += t1 - t0
      for (let k = 0; k < completions.length; k++) {
        const group = pending[k]!
        const completion = completions[k]!
        const text = codec.decode(completion.tokens)
        const r = yield* Effect.mapError(reward.score(text, problems[group]!), (e) => new TrainError({ message: `reward: ${e.message}` }))
        rows.push({ group, prompt: promptIds[group]!, completion, text, reward: r })
        rewardsByGroup[group]!.push(r)
      }
      scoring += now() - t1
      const next: number[] = []
      for (const i of new Set(pending)) {
        const more = plan.plan(i, rewardsByGroup[i]!, step)
        for (let j = 0; j < more; j++) next.push(i)
      }
      pending = next
      round++
    }
    const out: Rollouts = { problems, rows, rewardsByGroup, seconds: { generate, reward: scoring } }
    return out
  })

// ---- advantages ------------------------------------------------------------------------------

/** The update's batch: the rollouts with their advantages under `estimator`. */
export const advantages = (estimator: AnyAdvantageTransform, batch: Rollouts, step = 0) =>
  Effect.gen(function* () {
    const scores = yield* wrap("rewards", () =>
      Scores.make(
        batch.rows.map((r) => r.reward),
        batch.rows.map((r) => r.group)
      )
    )
    const lengths = batch.rows.map((r) => r.completion.tokens.length)
    const values = yield* wrap(`advantages (${estimator.name})`, () => AdvantageTransform.apply(estimator, scores, StepInfo.at(step, lengths)).values)
    const out: Objective.Batch = {
      prompts: batch.rows.map((r) => r.prompt),
      completions: batch.rows.map((r) => r.completion.tokens),
      oldLogprobs: batch.rows.map((r) => (r.completion.logprobs.length === r.completion.tokens.length ? r.completion.logprobs : undefined)),
      scores,
      advantages: values
    }
    return out
  })

// ---- update ----------------------------------------------------------------------------------

/**
 * One optimizer step of `objective` on the batch; a non-finite loss or gradient fails the step
 * (naming the step and, with `peakLr`, the learning rate to lower).
 */
export const update = (
  objective: Objective.Objective,
  learner: Objective.Learner,
  batch: Objective.Batch,
  context: Objective.StepContext,
  at: { readonly step?: number; readonly peakLr?: number } = {}
) =>
  Effect.gen(function* () {
    const result = yield* wrap(`${objective.name} update`, () => objective.step(learner, batch, context))
    const problem = FiniteGuard.stepProblem("rl", at.step ?? 0, result, context.lr, at.peakLr ?? context.lr)
    if (problem !== undefined) return yield* new TrainError({ message: problem })
    return result
  })

// ---- metrics ---------------------------------------------------------------------------------

const stats = (xs: ReadonlyArray<number>) => {
  const n = Math.max(1, xs.length)
  const mean = xs.reduce((a, b) => a + b, 0) / n
  return {
    mean,
    std: Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / n),
    max: xs.length === 0 ? 0 : Math.max(...xs),
    min: xs.length === 0 ? 0 : Math.min(...xs)
  }
}

/** verl's names for the losses' own metrics; others keep theirs under `actor/`. */
const actorNames: Record<string, string> = {
  approxKl: "ppo_kl",
  dualClipFrac: "pg_clipfrac_lower",
  clipFracLow: "clipfrac_low",
  clipFracHigh: "clipfrac_high",
  policyLoss: "pg_loss_surrogate",
  kl: "kl_loss",
  entropy: "entropy"
}

/**
 * A step's scalars under verl's names (`critic/score/mean`, `actor/pg_loss`, `actor/ppo_kl`,
 * `actor/pg_clipfrac`, `response_length/mean`, ...); docs/metrics.md lists them with TRL's.
 */
export const metrics = (batch: Rollouts, update: Objective.Result, advantages: ArrayLike<number>): Record<string, number> => {
  const rewards = stats(batch.rows.map((r) => r.reward))
  const lengths = batch.rows.map((r) => r.completion.tokens.length)
  const length = stats(lengths)
  const adv = stats(Array.from(advantages))
  const tokens = lengths.reduce((a, b) => a + b, 0)
  // Monte Carlo estimate of the policy's per-token entropy: E[-log p(x)] over sampled tokens.
  let negLogp = 0
  for (const r of batch.rows) for (const lp of r.completion.logprobs) negLogp -= lp
  const groupsZeroStd = batch.rewardsByGroup.filter((rs) => rs.every((r) => r === rs[0])).length / Math.max(1, batch.problems.length)
  return {
    "critic/score/mean": rewards.mean,
    "critic/score/max": rewards.max,
    "critic/score/min": rewards.min,
    "critic/rewards/mean": rewards.mean,
    "critic/rewards/std": rewards.std,
    "critic/advantages/mean": adv.mean,
    "critic/advantages/max": adv.max,
    "critic/advantages/min": adv.min,
    frac_zero_std_groups: groupsZeroStd,
    "response_length/mean": length.mean,
    "response_length/max": length.max,
    "response_length/min": length.min,
    "response_length/clip_ratio": batch.rows.filter((r) => r.completion.finishReason === "length").length / Math.max(1, batch.rows.length),
    "rollout/entropy": negLogp / Math.max(1, tokens),
    "actor/pg_loss": update.loss,
    "actor/grad_norm": update.gradNorm,
    "actor/skipped_rows_frac": update.skippedFraction,
    ...Object.fromEntries(Object.entries(update.metrics).map(([k, v]) => [`actor/${actorNames[k] ?? k}`, v])),
    // verl's pg_clipfrac: the share of tokens where the clipped surrogate is the one taken (either side).
    ...(update.metrics.clipFracLow !== undefined || update.metrics.clipFracHigh !== undefined
      ? { "actor/pg_clipfrac": (update.metrics.clipFracLow ?? 0) + (update.metrics.clipFracHigh ?? 0) }
      : {})
  }
}

// ---- warm start ------------------------------------------------------------------------------

/** The SFT learning rate at each step: linear warm-up, then cosine decay to 10% or constant. */
const sftLearningRate = (sft: Recipe["sft"]): ((step: number) => number) =>
  sft.schedule === "constant" || sft.steps <= sft.warmupSteps
    ? LearningRate.linearWarmup(sft.lr, sft.warmupSteps)
    : LearningRate.cosine({ peak: sft.lr, warmup: sft.warmupSteps, total: sft.steps, final: 0.1 * sft.lr })

/** Held-out problems of the SFT target probe: the training problems after the demonstrated ones. */
const probeProblems = (recipe: Recipe, setup: Setup.Setup) =>
  Effect.gen(function* () {
    const target = recipe.sft.target
    if (target === false) return []
    const probe = setup.splits.train.slice(recipe.sft.examples, recipe.sft.examples + target.probe)
    if (probe.length < target.probe) {
      return yield* new TrainError({
        message:
          `sft.target.probe: ${target.probe} held-out problems wanted after the ${recipe.sft.examples} demonstrated ones, ` +
          `but the training split has ${setup.splits.train.length}; lower sft.examples or sft.target.probe`
      })
    }
    return probe
  })

/** Greedy accuracy (temperature 0, one sample) on the probe problems. */
const probeAccuracy = (setup: Setup.Setup, probe: ReadonlyArray<Problem>, maxTokens: number) =>
  Evaluate.evaluate(setup, "probe", probe, { n: 1, temperature: 0, topP: 1, topK: 0, maxTokens }, 0).pipe(
    Effect.map((r) => r.meanAtN),
    Effect.mapError((e) => new TrainError({ message: `sft probe: ${e.message}` }))
  )

/**
 * SFT warm start on demonstrations of the first `examples` training problems; with `sft.target`,
 * stops as soon as greedy accuracy on held-out probe problems reaches the target. Metrics go to
 * `runDir` when given.
 */
export const warmStart = (recipe: Recipe, setup: Setup.Setup, policy: Policy, reporter: Reporter = silent, runDir?: string) =>
  Effect.gen(function* () {
    const { sft } = recipe
    if (sft.steps === 0) return
    const log = (record: Record<string, unknown>) => (runDir === undefined ? Effect.void : RunDir.appendMetrics(runDir, record))
    const problems = setup.splits.train.slice(0, sft.examples)
    const probe = yield* probeProblems(recipe, setup)
    const demos = yield* wrap("sft demonstrations", () => Demonstrations.make(setup.task, problems, { noise: sft.noise, seed: recipe.seed }))
    const promptIds = demos.map((d) => setup.codec.prompt(d.prompt))
    const completions = demos.map((d) => setup.codec.completion(d.completion))
    const opt = Update.makeOptimizer(policy, { lr: sft.lr, weightDecay: sft.weightDecay, maxGradNorm: 1 })
    const lrAt = sftLearningRate(sft)
    const rng = Rng.seeded(recipe.seed).fold(77)
    const t0 = now()
    let loss = 0
    let accuracy: number | undefined
    const withSampler = <A, E>(eff: Effect.Effect<A, E, Sampler.Sampler>) => Effect.provide(eff, Sampler.layerLocal(() => policy))
    let normBefore = FiniteGuard.norm(policy.params)
    for (let step = 0; step < sft.steps; step++) {
      const idx = Array.from({ length: Math.min(sft.batchSize, demos.length) }, () => rng.int(demos.length))
      const lr = lrAt(step)
      const r = yield* wrap("sft step", () =>
        Update.sftStep(
          policy,
          opt,
          lr,
          idx.map((i) => promptIds[i]!),
          idx.map((i) => completions[i]!)
        )
      )
      const sftProblem = FiniteGuard.stepProblem("sft", step, r, lr, sft.lr)
      if (sftProblem !== undefined) return yield* new TrainError({ message: sftProblem })
      const normAfter = FiniteGuard.norm(policy.params)
      const sftJump = FiniteGuard.jumpProblem("sft", step, normBefore, normAfter, lr, sft.lr)
      if (sftJump !== undefined) return yield* new TrainError({ message: sftJump })
      normBefore = normAfter
      loss = step === 0 ? r.loss : 0.9 * loss + 0.1 * r.loss
      const last = step === sft.steps - 1
      if (sft.target !== false && ((step + 1) % sft.target.every === 0 || last)) {
        accuracy = yield* withSampler(probeAccuracy(setup, probe, recipe.eval.sampling.maxTokens))
        yield* log({ kind: "sft", step, loss: r.loss, lr, time: now() - t0, probeGreedyAccuracy: accuracy })
        if (accuracy >= sft.target.greedyAccuracy) {
          reporter.log(`sft: probe greedy accuracy ${pct(accuracy)} reached the target ${pct(sft.target.greedyAccuracy)} at step ${step + 1}`)
          break
        }
        if (last) reporter.log(`sft: probe greedy accuracy ${pct(accuracy)} below the target ${pct(sft.target.greedyAccuracy)} after the cap of ${sft.steps} steps`)
      }
      if (step % 10 === 0 || last) {
        const elapsed = now() - t0
        const eta = (elapsed / (step + 1)) * (sft.steps - step - 1)
        const probeText = accuracy === undefined ? "" : `  probe ${pct(accuracy)}`
        reporter.progress(`sft ${step + 1}/${sft.steps}  loss ${loss.toFixed(3)}${probeText}  ${elapsed.toFixed(0)}s  eta<=${eta.toFixed(0)}s`)
        yield* log({ kind: "sft", step, loss: r.loss, lr, time: elapsed })
      }
    }
    AdamW.dispose(opt.state)
  })

// ---- evaluation ------------------------------------------------------------------------------

/** Mean@n and Pass@n on the test and OOD splits with the recipe's evaluation sampling (needs a Sampler). */
export const evaluate = (recipe: Recipe, setup: Setup.Setup, reporter: Reporter = silent, label = "eval") =>
  Effect.gen(function* () {
    const sampling = { n: recipe.eval.n, ...recipe.eval.sampling }
    const results: EvalResult[] = []
    for (const [split, problems] of [["test", setup.splits.test], ["ood", setup.splits.ood]] as const) {
      if (problems.length === 0) continue
      reporter.progress(`${label}: ${split} (${problems.length} problems x ${sampling.n} samples)`)
      results.push(yield* asTrainError(Evaluate.evaluate(setup, split, problems, sampling, recipe.seed + 1)))
    }
    return results
  })

/** "test Mean@8 41.2% Pass@8 80.0%   ood ..." */
export const describeEval = (results: ReadonlyArray<EvalResult>) =>
  results.map((r) => `${r.split} Mean@${r.n} ${pct(r.meanAtN)} Pass@${r.n} ${pct(r.passAtN)}`).join("   ")

/**
 * The trainer as an Effect program: warm start (SFT), then RL steps of
 *   sample (Sampler service) -> grade -> estimate advantages -> update -> metrics [-> checkpoint],
 * with held-out evaluation before and after (and every `eval.every` steps). Resumable: every
 * checkpoint holds the policy, the optimizer and the step; per-step randomness is derived from
 * (seed, step), so a resumed run draws exactly what the uninterrupted one would have.
 */
import { Effect, Schema } from "effect"
import { AdvantageTransform, Rng, Scores, StepInfo } from "@duet/core"
import { preferencePairs } from "@duet/estimators"
import { Engine } from "@duet/engine"
import { LearningRate } from "@duet/schedulers"
import type { BackendName, BlasChoice } from "@duet/engine"
import { AdamW, Checkpoint, Gpt } from "@duet/model"
import type { Policy } from "@duet/model"
import { Demonstrations } from "@duet/tasks"
import type { Problem } from "@duet/tasks"
import { Sampler } from "@duet/samplers"
import * as Evaluate from "./Evaluate.js"
import * as Checkpoints from "./Checkpoints.js"
import * as FiniteGuard from "./FiniteGuard.js"
import * as Guards from "./Guards.js"
import type { EvalResult } from "./Evaluate.js"
import * as Plugins from "./Plugins.js"
import type { Recipe } from "./Recipe.js"
import * as ResumeCheck from "./ResumeCheck.js"
import * as RunDir from "./RunDir.js"
import * as Setup from "./Setup.js"
import * as Update from "./Update.js"
import * as UserPlugins from "./UserPlugins.js"

export class TrainError extends Schema.TaggedError<TrainError>()("TrainError", { message: Schema.String }) {}

export interface Reporter {
  /** A transient status line (overwritten by the next). */
  readonly progress: (line: string) => void
  /** A line to keep. */
  readonly log: (line: string) => void
}

export const silent: Reporter = { progress: () => {}, log: () => {} }

export interface TrainOptions {
  readonly runDir: string
  /** Continue from the run directory's latest checkpoint (error if it has none). */
  readonly resume?: boolean
  readonly backend?: BackendName
  /** Matmul path on wasm (default "auto": OpenBLAS when its addon loads; env DUET_BLAS=0 forces JS). */
  readonly blas?: BlasChoice
  readonly reporter?: Reporter
  /** Stop after this many RL steps in this invocation (tests of resume). */
  readonly stopAfter?: number
  /**
   * BLAS threads (default 1). One thread makes runs bit-reproducible (multi-threaded sgemm sums in
   * an order that depends on the thread count, which the engine adapts to the load); the default
   * model's GEMMs are small enough that a second thread buys little.
   */
  readonly threads?: number
  /**
   * Start RL from this checkpoint (e.g. a shared warm start written by `duet sft`) instead of running
   * the recipe's SFT: every method of a comparison then starts from the same policy.
   */
  readonly initFrom?: string
  /** Budget mode: stop RL once a held-out test evaluation reaches this Mean@n (needs `eval.every`). */
  readonly stopAtTestMeanAtN?: number
  /** Budget mode: stop RL once the RL phase has used this many seconds. */
  readonly maxRlSeconds?: number
  /**
   * User plugin values used instead of the ones the recipe names (a TypeScript recipe's estimator
   * and reward, see `UserPlugins`); the run's recipe.json records each by name.
   */
  readonly plugins?: UserPlugins.Plugins
}

export interface TrainSummary {
  readonly recipe: string
  readonly steps: number
  readonly rollouts: number
  readonly tokens: number
  readonly seconds: { readonly sft: number; readonly rl: number; readonly eval: number; readonly total: number }
  readonly before: ReadonlyArray<EvalResult>
  readonly after: ReadonlyArray<EvalResult>
  readonly engine: string
  /** Why RL ended before `recipe.rl.steps` (budget mode), if it did. */
  readonly stoppedEarly?: string
}

const wrap = <A>(what: string, f: () => A) =>
  Effect.try({ try: f, catch: (e) => new TrainError({ message: `${what}: ${e instanceof Error ? e.message : String(e)}` }) })
const wrapPromise = <A>(what: string, f: () => Promise<A>) =>
  Effect.tryPromise({ try: f, catch: (e) => new TrainError({ message: `${what}: ${e instanceof Error ? e.message : String(e)}` }) })

const now = () => performance.now() / 1000

const pct = (x: number) => `${(100 * x).toFixed(1)}%`

/** Seed of step `step`'s draws, independent of how the run got there. */
const stepSeed = (seed: number, step: number) => Rng.seeded(seed).fold(step + 1).nextUint32()

/** Prompts of RL step `step`: epochs walk a seeded permutation of the training problems. */
const promptsForStep = (problems: ReadonlyArray<Problem>, count: number, seed: number, step: number): Problem[] => {
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
 * stops as soon as greedy accuracy on held-out probe problems reaches the target.
 */
const warmStart = (recipe: Recipe, setup: Setup.Setup, policy: Policy, reporter: Reporter, runDir: string) =>
  Effect.gen(function* () {
    const { sft } = recipe
    if (sft.steps === 0) return
    const problems = setup.splits.train.slice(0, sft.examples)
    const probe = yield* probeProblems(recipe, setup)
    const demos = yield* wrap("sft demonstrations", () =>
      Demonstrations.make(setup.task, problems, { noise: sft.noise, seed: recipe.seed })
    )
    const prompts = demos.map((d) => setup.codec.prompt(d.prompt))
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
          idx.map((i) => prompts[i]!),
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
        yield* RunDir.appendMetrics(runDir, { kind: "sft", step, loss: r.loss, lr, time: now() - t0, probeGreedyAccuracy: accuracy })
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
        yield* RunDir.appendMetrics(runDir, { kind: "sft", step, loss: r.loss, lr, time: elapsed })
      }
    }
    AdamW.dispose(opt.state)
  })

const evaluateAll = (recipe: Recipe, setup: Setup.Setup, phase: "before" | "after" | "during", step: number, runDir: string, reporter: Reporter) =>
  Effect.gen(function* () {
    const sampling = { n: recipe.eval.n, ...recipe.eval.sampling }
    const results: EvalResult[] = []
    for (const [split, problems] of [["test", setup.splits.test], ["ood", setup.splits.ood]] as const) {
      if (problems.length === 0) continue
      reporter.progress(`eval ${phase}: ${split} (${problems.length} problems x ${sampling.n} samples)`)
      const r = yield* Evaluate.evaluate(setup, split, problems, sampling, recipe.seed + 1).pipe(
        Effect.mapError((e) => new TrainError({ message: e.message }))
      )
      results.push(r)
      yield* RunDir.appendMetrics(runDir, { kind: "eval", phase, step, ...r })
    }
    reporter.log(
      `eval ${phase} (step ${step}): ` +
        results.map((r) => `${r.split} Mean@${r.n} ${pct(r.meanAtN)} Pass@${r.n} ${pct(r.passAtN)}`).join("   ")
    )
    return results
  })

const saveCheckpoint = (runDir: string, step: number, policy: Policy, opt: Update.Optimizer, setup: Setup.Setup, recipe: Recipe, extra: Record<string, unknown>) =>
  Effect.gen(function* () {
    const bad = FiniteGuard.nonFinite(policy.params)
    if (bad.count > 0) {
      return yield* new TrainError({
        message: `refusing to save step ${step}: ${bad.count.toLocaleString("en-US")} parameters are not finite (first in ${bad.first}); lower sft.lr / rl.lr`
      })
    }
    yield* wrapPromise("save checkpoint", () =>
      Checkpoint.save(RunDir.paths(runDir).checkpoint(step), {
        config: policy.config,
        params: policy.params,
        optimizerState: opt.state,
        tokenizer: setup.codec.tokenizer,
        meta: { step, recipe, stop: setup.task.stop, ...extra }
      })
    )
    yield* RunDir.setLatest(runDir, step)
    if (recipe.checkpointKeepLast !== undefined) yield* Checkpoints.prune(runDir, recipe.checkpointKeepLast, step).pipe(Effect.mapError((e) => new TrainError({ message: e.message })))
  })

interface Counters {
  rollouts: number
  tokens: number
  sft: number
  rl: number
  eval: number
}

/** Runs (or resumes) a training run described by `recipe` (with `options.plugins`, if any) in `options.runDir`. */
export const train = (recipe: Recipe, options: TrainOptions) =>
  UserPlugins.bind(recipe, options.plugins).pipe(
    Effect.mapError((e) => new TrainError({ message: e.message })),
    Effect.flatMap((bound) => trainBound(bound, options))
  )

const trainBound = (recipe: Recipe, options: TrainOptions) =>
  Effect.gen(function* () {
    const reporter = options.reporter ?? silent
    const runDir = options.runDir
    const tStart = now()
    if (options.resume) {
      // Same run only; a finished run resumes as a no-op; stale temp files of killed saves go.
      const asTrainError = Effect.mapError((e: { message: string }) => new TrainError({ message: e.message }))
      const stored = yield* ResumeCheck.storedRecipe(runDir).pipe(asTrainError)
      if (stored !== undefined) yield* ResumeCheck.sameRecipe(runDir, recipe, stored, RunDir.paths(runDir).recipe).pipe(asTrainError)
      const finished = (yield* ResumeCheck.finishedSummary(runDir).pipe(asTrainError)) as TrainSummary | undefined
      if (finished !== undefined && (finished.steps >= recipe.rl.steps || finished.stoppedEarly !== undefined)) {
        reporter.log(`${runDir} already finished (${RunDir.paths(runDir).summary}); nothing to resume`)
        return finished
      }
      for (const path of yield* Checkpoints.cleanStale(runDir).pipe(asTrainError)) reporter.log(`removed ${path} (left by a killed save)`)
      // Asked for more RL steps: recipe.json records the run's new length.
      if (stored !== undefined && ResumeCheck.diff(stored, JSON.parse(JSON.stringify(recipe))).length > 0) yield* RunDir.writeJson(RunDir.paths(runDir).recipe, recipe).pipe(asTrainError)
    }
    const engine = yield* wrapPromise("engine", () => Engine.init({ backend: options.backend ?? "auto", threads: options.threads ?? 1, ...(options.blas ? { blas: options.blas } : {}) }))
    reporter.log(`engine: ${engine.describe()}`)
    const setup = yield* Setup.make(recipe).pipe(Effect.mapError((e) => new TrainError({ message: e.message })))
    yield* RunDir.ensure(runDir)

    let policy: Policy
    let opt: Update.Optimizer
    let startStep = 0
    const counters: Counters = { rollouts: 0, tokens: 0, sft: 0, rl: 0, eval: 0 }
    let before: EvalResult[] = []
    const resumed = options.resume ? yield* Checkpoints.newestIntact(runDir).pipe(Effect.mapError((e) => new TrainError({ message: e.message }))) : undefined
    for (const line of resumed?.skipped ?? []) reporter.log(`warning: not resuming from ${line}`)
    const latest = resumed?.step
    const rlConfig = { lr: recipe.rl.lr, weightDecay: recipe.rl.weightDecay, maxGradNorm: recipe.rl.maxGradNorm }

    if (options.resume && latest === undefined) {
      return yield* new TrainError({ message: `--resume: ${runDir} has no checkpoint (checkpoints/latest is missing)` })
    }
    if (latest !== undefined) {
      const loaded = resumed!.loaded
      const carried = (loaded.meta as { recipe?: unknown }).recipe
      if (carried !== undefined) {
        yield* ResumeCheck.sameRecipe(runDir, recipe, carried, `${RunDir.paths(runDir).checkpoint(latest)}/config.json`).pipe(
          Effect.mapError((e) => new TrainError({ message: e.message })),
          Effect.tapError(() => Effect.sync(() => Checkpoint.dispose(loaded)))
        )
      }
      policy = Gpt.fromParams(loaded.config, loaded.params)
      const config = AdamW.makeConfig(rlConfig)
      const state = loaded.optimizer ? AdamW.restore(policy.params, loaded.optimizer) : AdamW.init(policy.params)
      Checkpoint.dispose(loaded)
      opt = { config, state }
      startStep = latest
      const meta = loaded.meta as { counters?: Counters; before?: EvalResult[] }
      Object.assign(counters, meta.counters ?? {})
      before = meta.before ?? []
      // (A finished run asked for more steps also drops its old "after" evaluation.)
      yield* RunDir.truncateMetrics(runDir, (r) => (r.kind !== "rl" || (r.step as number) < latest) && !(r.kind === "eval" && r.phase === "after"))
      reporter.log(`resumed from ${RunDir.paths(runDir).checkpoint(latest)} (step ${latest})`)
    } else {
      yield* RunDir.writeJson(RunDir.paths(runDir).recipe, recipe)
      yield* RunDir.writeAtomic(RunDir.paths(runDir).metrics, "")
      reporter.log(`model: ${Gpt.parameterCount(setup.modelConfig).toLocaleString("en-US")} parameters; task ${setup.task.name}`)
      if (options.initFrom !== undefined) {
        const from = options.initFrom
        const loaded = yield* wrapPromise("load --init checkpoint", () => Checkpoint.load(from))
        policy = Gpt.fromParams(loaded.config, loaded.params)
        Checkpoint.dispose(loaded)
        reporter.log(`starting from ${from} (no warm start)`)
      } else {
        policy = Gpt.init(setup.modelConfig, recipe.seed)
        const t0 = now()
        yield* warmStart(recipe, setup, policy, reporter, runDir)
        counters.sft = now() - t0
      }
      opt = Update.makeOptimizer(policy, rlConfig)
    }

    const samplerLayer = Sampler.layerLocal(() => policy)
    const withSampler = <A, E>(eff: Effect.Effect<A, E, Sampler.Sampler>) => Effect.provide(eff, samplerLayer)

    if (latest === undefined) {
      const t0 = now()
      before = yield* withSampler(evaluateAll(recipe, setup, "before", 0, runDir, reporter))
      counters.eval += now() - t0
      yield* saveCheckpoint(runDir, 0, policy, opt, setup, recipe, { counters, before })
    }

    const transform = Plugins.estimator(recipe.rl.estimator, options.plugins?.estimator)
    const rewardOf = UserPlugins.rewardOf(setup.task, options.plugins?.reward)
    const objective = Plugins.objective(recipe.rl)
    const lrAt = Plugins.learningRate(recipe.rl)
    const groupPolicy = Plugins.groupSize(recipe.rl)
    const needsReference = objective.kind === "dpo" || (recipe.rl.kl !== undefined && recipe.rl.kl.coef > 0)
    const reference = needsReference ? Update.freeze(policy) : undefined
    if (reference && latest !== undefined) {
      // The reference is the warm-started policy: reload it from the step-0 checkpoint.
      const loaded = yield* wrapPromise("load reference", () => Checkpoint.load(RunDir.paths(runDir).checkpoint(0)))
      for (const [name, v] of reference.params) v.assign(loaded.params.get(name)!)
      Checkpoint.dispose(loaded)
    }
    const { steps, promptsPerStep, sampling } = recipe.rl
    const stop = setup.codec.stopToken
    const endStep = options.stopAfter === undefined ? steps : Math.min(steps, startStep + options.stopAfter)

    let stoppedEarly: string | undefined
    const guardState = Guards.initial()
    let lastStep = startStep
    let normBefore = FiniteGuard.norm(policy.params)
    for (let step = startStep; step < endStep; step++) {
      const t0 = now()
      const seed = stepSeed(recipe.seed, step)
      const problems = promptsForStep(setup.splits.train, promptsPerStep, recipe.seed, step)
      const promptIds = problems.map((p) => setup.codec.prompt(p.prompt))

      // ---- sample, in rounds when the group size is adaptive -----------------------------------
      const rows: Array<{ group: number; completion: Sampler.Completion; reward: number }> = []
      const rewardsOf: number[][] = problems.map(() => [])
      let pending = problems.map((_, i) => i).flatMap((i) => Array.from({ length: groupPolicy.plan(i, [], step) }, () => i))
      let round = 0
      const tSample0 = now()
      let gradeTime = 0
      while (pending.length > 0) {
        const completions = yield* withSampler(
          Effect.flatMap(Sampler.Sampler, (s) =>
            s.sample({
              prompts: pending.map((i) => promptIds[i]!),
              maxTokens: sampling.maxTokens,
              temperature: sampling.temperature,
              topP: sampling.topP,
              topK: sampling.topK,
              stopTokens: [stop],
              seed: seed + round * 104729
            })
          )
        ).pipe(Effect.mapError((e) => new TrainError({ message: e.message })))
        const tg = now()
        yield* wrap("reward", () => completions.forEach((c, k) => {
          const group = pending[k]!
          const reward = rewardOf(setup.codec.decode(c.tokens), problems[group]!)
          rows.push({ group, completion: c, reward })
          rewardsOf[group]!.push(reward)
        }))
        gradeTime += now() - tg
        const next: number[] = []
        for (const i of new Set(pending)) {
          const more = groupPolicy.plan(i, rewardsOf[i]!, step)
          for (let j = 0; j < more; j++) next.push(i)
        }
        pending = next
        round++
      }
      const sampleTime = now() - tSample0 - gradeTime

      // ---- advantages -------------------------------------------------------------------------
      const scores = yield* wrap("rewards", () =>
        Scores.make(
          rows.map((r) => r.reward),
          rows.map((r) => r.group)
        )
      )
      const lengths = rows.map((r) => r.completion.tokens.length)
      const advantages = yield* wrap("advantages", () => AdvantageTransform.apply(transform, scores, StepInfo.at(step, lengths)).values)

      // ---- update ------------------------------------------------------------------------------
      const tUpdate = now()
      const lr = lrAt(step)
      const prompts = rows.map((r) => promptIds[r.group]!)
      const completions = rows.map((r) => r.completion.tokens)
      let update: { loss: number; gradNorm: number; rowsComputed: number; skippedFraction: number; metrics: Record<string, number> }
      if (objective.kind === "dpo") {
        const pairs = preferencePairs(scores)
        if (pairs.length === 0) update = { loss: 0, gradNorm: 0, rowsComputed: 0, skippedFraction: 1, metrics: {} }
        else {
          const r = yield* wrap("dpo update", () =>
            Update.dpoStep(policy, reference!, opt, lr, objective.loss, {
              prompts: pairs.map((p) => prompts[p.chosen]!),
              chosen: pairs.map((p) => completions[p.chosen]!),
              rejected: pairs.map((p) => completions[p.rejected]!)
            })
          )
          update = { ...r, rowsComputed: 2 * pairs.length, skippedFraction: 1 - (2 * pairs.length) / rows.length }
        }
      } else {
        update = yield* wrap("policy update", () =>
          Update.rlStep(
            policy,
            opt,
            lr,
            objective.loss,
            { prompts, completions, oldLogprobs: rows.map((r) => r.completion.logprobs), advantages },
            recipe.rl.skipZeroAdvantage,
            reference
          )
        )
      }
      const updateTime = now() - tUpdate
      const rlProblem = FiniteGuard.stepProblem("rl", step, update, lr, recipe.rl.lr)
      if (rlProblem !== undefined) return yield* new TrainError({ message: rlProblem })
      const normAfter = FiniteGuard.norm(policy.params)
      const rlJump = FiniteGuard.jumpProblem("rl", step, normBefore, normAfter, lr, recipe.rl.lr)
      if (rlJump !== undefined) return yield* new TrainError({ message: rlJump })
      normBefore = normAfter

      // ---- metrics -----------------------------------------------------------------------------
      const tokens = lengths.reduce((a, b) => a + b, 0)
      counters.rollouts += rows.length
      counters.tokens += tokens
      const stepTime = now() - t0
      counters.rl += stepTime
      const rewards = rows.map((r) => r.reward)
      const meanReward = rewards.reduce((a, b) => a + b, 0) / rows.length
      const stdReward = Math.sqrt(rewards.reduce((a, b) => a + (b - meanReward) ** 2, 0) / rows.length)
      const groupsZeroStd = rewardsOf.filter((rs) => rs.every((r) => r === rs[0])).length / problems.length
      // Monte Carlo estimate of the policy's per-token entropy: E[-log p(x)] over sampled tokens
      let negLogp = 0
      for (const r of rows) for (const lp of r.completion.logprobs) negLogp -= lp
      const entropy = negLogp / Math.max(1, tokens)
      const record = {
        kind: "rl",
        step,
        "critic/rewards/mean": meanReward,
        "critic/rewards/std": stdReward,
        "critic/advantages/mean": advantages.reduce((a, b) => a + b, 0) / rows.length,
        frac_zero_std_groups: groupsZeroStd,
        "response_length/mean": tokens / rows.length,
        "rollout/entropy": entropy,
        "response_length/clip_ratio": rows.filter((r) => r.completion.finishReason === "length").length / rows.length,
        "actor/pg_loss": update.loss,
        "actor/grad_norm": update.gradNorm,
        "actor/lr": lr,
        "actor/skipped_rows_frac": update.skippedFraction,
        ...Object.fromEntries(Object.entries(update.metrics).map(([k, v]) => [`actor/${k}`, v])),
        rollouts: rows.length,
        "rollouts/total": counters.rollouts,
        "tokens/total": counters.tokens,
        "timing_s/gen": sampleTime,
        "timing_s/reward": gradeTime,
        "timing_s/update": updateTime,
        "timing_s/step": stepTime,
        "perf/throughput_tokens_per_s": tokens / stepTime,
        "time/total_s": counters.sft + counters.rl + counters.eval
      }
      yield* RunDir.appendMetrics(runDir, record)
      const eta = (counters.rl / Math.max(1, step + 1)) * (endStep - step - 1)
      reporter.progress(
        `rl ${step + 1}/${steps}  reward ${meanReward.toFixed(3)}  zero-std ${pct(groupsZeroStd)}  skip ${pct(update.skippedFraction)}  ` +
          `${stepTime.toFixed(2)}s/step  eta ${eta.toFixed(0)}s`
      )

      lastStep = step + 1
      const alarms = Guards.afterStep(recipe.guards, guardState, step, { entropy, zeroStdGroups: groupsZeroStd })
      if (recipe.eval.every > 0 && (step + 1) % recipe.eval.every === 0 && step + 1 < steps) {
        const te = now()
        const during = yield* withSampler(evaluateAll(recipe, setup, "during", step + 1, runDir, reporter))
        counters.eval += now() - te
        const test = during.find((r) => r.split === "test")
        const startTest = before.find((r) => r.split === "test")
        if (test) alarms.push(...Guards.afterEval(recipe.guards, step + 1, startTest?.passAtN, test.passAtN, test.n))
        if (options.stopAtTestMeanAtN !== undefined && test && test.meanAtN >= options.stopAtTestMeanAtN) {
          stoppedEarly = `test Mean@${test.n} ${pct(test.meanAtN)} reached the target ${pct(options.stopAtTestMeanAtN)} at step ${step + 1}`
        }
      }
      for (const alarm of Guards.fresh(guardState, alarms)) {
        reporter.log(`guard: ${alarm.message}`)
        yield* RunDir.appendMetrics(runDir, { kind: "guard", step: step + 1, guard: alarm.guard, message: alarm.message })
        if (recipe.guards.action === "stop" && stoppedEarly === undefined) stoppedEarly = `guard ${alarm.guard}: ${alarm.message}`
      }
      if (stoppedEarly === undefined && options.maxRlSeconds !== undefined && counters.rl >= options.maxRlSeconds) {
        stoppedEarly = `RL time ${counters.rl.toFixed(0)}s reached the budget of ${options.maxRlSeconds.toFixed(0)}s at step ${step + 1}`
      }
      if ((recipe.checkpointEvery > 0 && (step + 1) % recipe.checkpointEvery === 0) || step + 1 === endStep || stoppedEarly) {
        yield* saveCheckpoint(runDir, step + 1, policy, opt, setup, recipe, { counters, before })
      }
      if (stoppedEarly) {
        reporter.log(`stopped early: ${stoppedEarly}`)
        break
      }
    }

    if (endStep < steps && stoppedEarly === undefined) {
      reporter.log(`stopped after step ${endStep} of ${steps}; continue with --resume`)
      return undefined
    }
    const te = now()
    const after = yield* withSampler(evaluateAll(recipe, setup, "after", lastStep, runDir, reporter))
    counters.eval += now() - te
    const summary: TrainSummary = {
      recipe: recipe.name,
      steps: lastStep,
      rollouts: counters.rollouts,
      tokens: counters.tokens,
      seconds: { sft: counters.sft, rl: counters.rl, eval: counters.eval, total: now() - tStart },
      before,
      after,
      engine: engine.describe(),
      ...(stoppedEarly ? { stoppedEarly } : {})
    }
    yield* RunDir.writeJson(RunDir.paths(runDir).summary, summary)
    return summary
  })


/** Loads a checkpoint written by `train` (its recipe travels in its config.json) and evaluates it. */
export const evaluateCheckpoint = (
  dir: string,
  options: { readonly n?: number; readonly problems?: number; readonly backend?: BackendName; readonly reporter?: Reporter }
) =>
  Effect.gen(function* () {
    const reporter = options.reporter ?? silent
    yield* wrapPromise("engine", () => Engine.init({ backend: options.backend ?? "auto", threads: 1 }))
    const loaded = yield* wrapPromise("load checkpoint", () => Checkpoint.load(dir))
    const stored = (loaded.meta as { recipe?: unknown }).recipe
    if (typeof stored !== "object" || stored === null) {
      Checkpoint.dispose(loaded)
      return yield* new TrainError({ message: `${dir}/config.json: meta.recipe is missing; was this checkpoint written by duet train?` })
    }
    const { decode } = yield* Effect.promise(() => import("./Recipe.js"))
    let recipe = yield* decode(stored, `${dir}/config.json meta.recipe`).pipe(Effect.mapError((e) => new TrainError({ message: e.message })))
    recipe = {
      ...recipe,
      eval: { ...recipe.eval, ...(options.n ? { n: options.n } : {}), ...(options.problems ? { problems: options.problems } : {}) }
    }
    const setup = yield* Setup.make(recipe).pipe(Effect.mapError((e) => new TrainError({ message: e.message })))
    const bad = FiniteGuard.nonFinite(loaded.params)
    if (bad.count > 0) {
      Checkpoint.dispose(loaded)
      return yield* new TrainError({ message: `${dir}: ${bad.count.toLocaleString("en-US")} parameters are not finite (first in ${bad.first}); this checkpoint cannot be evaluated` })
    }
    const policy = Gpt.fromParams(loaded.config, loaded.params)
    Checkpoint.dispose(loaded)
    const sampling = { n: recipe.eval.n, ...recipe.eval.sampling }
    const results: EvalResult[] = []
    for (const [split, problems] of [["test", setup.splits.test], ["ood", setup.splits.ood]] as const) {
      if (problems.length === 0) continue
      reporter.progress(`eval: ${split} (${problems.length} problems x ${sampling.n} samples)`)
      const r = yield* Evaluate.evaluate(setup, split, problems, sampling, recipe.seed + 1).pipe(
        Effect.provide(Sampler.layerLocal(() => policy)),
        Effect.mapError((e) => new TrainError({ message: e.message }))
      )
      results.push(r)
    }
    for (const v of policy.params.values()) v.dispose()
    return results
  })

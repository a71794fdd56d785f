/**
 * The trainer: the stages of `Stages.ts` (warm start, then RL steps of
 *   prompts -> rollouts (Sampler + Reward services) -> advantages -> Objective update -> metrics [-> checkpoint])
 * with held-out evaluation before and after (and every `eval.every` steps), run by a recipe and the
 * user's plugin values. Resumable: every checkpoint holds the policy, the optimizer, the step and the
 * KL controller; per-step randomness is derived from (seed, step), so a resumed run draws exactly
 * what the uninterrupted one would have.
 */
import { Effect, Layer } from "effect"
import { Engine } from "@duet/engine"
import type { BackendName, BlasChoice } from "@duet/engine"
import { AdamW, Checkpoint, Gpt } from "@duet/model"
import type { Policy } from "@duet/model"
import { Sampler } from "@duet/samplers"
import { Verifier } from "@duet/verifiers"
import * as Evaluate from "./Evaluate.js"
import * as Checkpoints from "./Checkpoints.js"
import * as FiniteGuard from "./FiniteGuard.js"
import * as Guards from "./Guards.js"
import type { EvalResult } from "./Evaluate.js"
import type * as Objective from "./Objective.js"
import * as Plugins from "./Plugins.js"
import * as PolicyStore from "./PolicyStore.js"
import type { Recipe } from "./Recipe.js"
import * as ResumeCheck from "./ResumeCheck.js"
import * as Rewards from "./Reward.js"
import * as RolloutSource from "./RolloutSource.js"
import * as RunDir from "./RunDir.js"
import * as Setup from "./Setup.js"
import * as Stages from "./Stages.js"
import { TrainError, silent, wrap, wrapPromise } from "./Stages.js"
import type { Reporter } from "./Stages.js"
import * as Update from "./Update.js"
import * as UserPlugins from "./UserPlugins.js"

export { TrainError, silent } from "./Stages.js"

// Any architecture: duet's GPT or an HF Llama/Qwen (the trainer only uses the Policy interface).
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyPolicy = Policy<any>
export type { Reporter } from "./Stages.js"

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
   * User plugin values used instead of the ones the recipe names (an estimator, a reward, an
   * objective; see `UserPlugins`); the run's recipe.json records each by name.
   */
  readonly plugins?: UserPlugins.Plugins
  /**
   * The rollout sampler for a policy (default: the recipe's `rl.sampler`, in-process unless it names
   * OpenAI-compatible servers). Evaluation always samples in-process.
   */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly sampler?: (policy: () => Policy<any>) => Layer.Layer<Sampler.Sampler>
  /** Called after every RL update (e.g. push the new weights to rollout servers). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly afterUpdate?: (policy: Policy<any>, step: number) => Effect.Effect<void, { readonly message: string }>
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

const now = () => performance.now() / 1000

const pct = (x: number) => `${(100 * x).toFixed(1)}%`

const evaluateAll = (recipe: Recipe, setup: Setup.Setup, phase: "before" | "after" | "during", step: number, runDir: string, reporter: Reporter) =>
  Effect.gen(function* () {
    const results = yield* Stages.evaluate(recipe, setup, reporter, `eval ${phase}`)
    for (const r of results) yield* RunDir.appendMetrics(runDir, { kind: "eval", phase, step, ...r })
    reporter.log(`eval ${phase} (step ${step}): ${Stages.describeEval(results)}`)
    return results
  })

const saveCheckpoint = (
  store: PolicyStore.PolicyStore,
  runDir: string,
  step: number,
  policy: AnyPolicy,
  opt: Update.Optimizer,
  setup: Setup.Setup,
  recipe: Recipe,
  extra: Record<string, unknown>
) =>
  Effect.gen(function* () {
    const bad = FiniteGuard.nonFinite(policy.params)
    if (bad.count > 0) {
      return yield* new TrainError({
        message: `refusing to save step ${step}: ${bad.count.toLocaleString("en-US")} parameters are not finite (first in ${bad.first}); lower sft.lr / rl.lr`
      })
    }
    yield* store
      .save(RunDir.paths(runDir).checkpoint(step), policy, opt.state, { step, recipe, stop: setup.task.stop, ...extra })
      .pipe(Effect.mapError((e) => new TrainError({ message: e.message })))
    yield* RunDir.setLatest(runDir, step)
    // Keeps the newest `keepLast` and the best by held-out evaluation (checkpoints/best).
    yield* Checkpoints.afterSave(runDir, Checkpoints.policy(recipe), step).pipe(Effect.mapError((e) => new TrainError({ message: e.message })))
  })

/** The training reward: the user's function, a verifier the recipe names, or the task's 0/1 grade. */
const rewardOf = (recipe: Recipe, setup: Setup.Setup, plugins: UserPlugins.Plugins) =>
  Effect.gen(function* () {
    if (plugins.reward !== undefined) return Rewards.fromFunction(plugins.reward, UserPlugins.rewardName(plugins.reward))
    const spec = recipe.rl.reward
    if (spec?.kind === "verifier") {
      const verifier = yield* Verifier.shapeByName(spec.name).pipe(Effect.mapError((e) => new TrainError({ message: `rl.reward.name: ${e.message}` })))
      return Rewards.fromVerifier(verifier, setup.task.stop)
    }
    return Rewards.fromTask(setup.task)
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

    const store = PolicyStore.make(recipe, setup)
    const asTrainError = Effect.mapError((e: { readonly message: string }) => new TrainError({ message: e.message }))
    let policy: AnyPolicy
    let opt: Update.Optimizer
    let startStep = 0
    const counters: Counters = { rollouts: 0, tokens: 0, sft: 0, rl: 0, eval: 0 }
    let before: EvalResult[] = []
    const resumed = options.resume ? yield* Checkpoints.newestIntact(runDir, store.load).pipe(asTrainError) : undefined
    for (const line of resumed?.skipped ?? []) reporter.log(`warning: not resuming from ${line}`)
    const latest = resumed?.step
    const rlConfig = { lr: recipe.rl.lr, weightDecay: recipe.rl.weightDecay, maxGradNorm: recipe.rl.maxGradNorm }
    const klController = Plugins.klController(recipe.rl)
    let klState = klController.init()

    if (options.resume && latest === undefined) {
      return yield* new TrainError({ message: `--resume: ${runDir} has no checkpoint (checkpoints/latest is missing)` })
    }
    if (latest !== undefined) {
      const loaded = resumed!.loaded
      const carried = (loaded.meta as { recipe?: unknown }).recipe
      if (carried !== undefined) {
        yield* ResumeCheck.sameRecipe(runDir, recipe, carried, `${RunDir.paths(runDir).checkpoint(latest)}/config.json`).pipe(
          Effect.mapError((e) => new TrainError({ message: e.message })),
          Effect.tapError(() => Effect.sync(() => (loaded.dispose(), loaded.policy.dispose())))
        )
      }
      policy = loaded.policy
      const state = PolicyStore.restoreOptimizer(loaded)
      loaded.dispose()
      opt = { config: AdamW.makeConfig(rlConfig), state }
      startStep = latest
      const meta = loaded.meta as { counters?: Counters; before?: EvalResult[]; klCoef?: number }
      Object.assign(counters, meta.counters ?? {})
      if (meta.klCoef !== undefined) klState = { coef: meta.klCoef }
      before = meta.before ?? []
      // (A finished run asked for more steps also drops its old "after" evaluation.)
      yield* RunDir.truncateMetrics(runDir, (r) => (r.kind !== "rl" || (r.step as number) < latest) && !(r.kind === "eval" && r.phase === "after"))
      reporter.log(`resumed from ${RunDir.paths(runDir).checkpoint(latest)} (step ${latest})`)
    } else {
      yield* RunDir.writeJson(RunDir.paths(runDir).recipe, recipe)
      yield* RunDir.writeAtomic(RunDir.paths(runDir).metrics, "")
      reporter.log(`model: ${store.describe}; task ${setup.task.name}`)
      if (options.initFrom !== undefined) {
        const from = options.initFrom
        const loaded = yield* store.load(from).pipe(Effect.mapError((e) => new TrainError({ message: `load --init checkpoint: ${e.message}` })))
        policy = loaded.policy
        loaded.dispose()
        reporter.log(`starting from ${from} (no warm start)`)
      } else {
        policy = yield* store.init(recipe.seed).pipe(asTrainError)
        const t0 = now()
        yield* Stages.warmStart(recipe, setup, policy, reporter, runDir)
        counters.sft = now() - t0
      }
      opt = Update.makeOptimizer(policy, rlConfig)
    }

    const localSampler = Sampler.layerLocal(() => policy)
    const withSampler = <A, E>(eff: Effect.Effect<A, E, Sampler.Sampler>) => Effect.provide(eff, localSampler)

    if (latest === undefined) {
      const t0 = now()
      before = yield* withSampler(evaluateAll(recipe, setup, "before", 0, runDir, reporter))
      counters.eval += now() - t0
      yield* saveCheckpoint(store, runDir, 0, policy, opt, setup, recipe, { counters, before, klCoef: klState.coef })
    }

    const plugins = options.plugins ?? {}
    const estimator = Plugins.estimator(recipe.rl.estimator, plugins.estimator)
    const objective = Plugins.objective(recipe.rl, plugins.objective)
    const lrAt = Plugins.learningRate(recipe.rl)
    const temperatureAt = Plugins.temperature(recipe.rl)
    const groupPolicy = Plugins.groupSize(recipe.rl)
    const reference = objective.needsReference ? Update.freeze(policy) : undefined
    if (reference && latest !== undefined) {
      // The reference is the warm-started policy: reload it from the step-0 checkpoint.
      const loaded = yield* store.load(RunDir.paths(runDir).checkpoint(0)).pipe(Effect.mapError((e) => new TrainError({ message: `load reference: ${e.message}` })))
      for (const [name, v] of reference.params) v.assign(loaded.policy.params.get(name)!)
      loaded.dispose()
      loaded.policy.dispose()
    }
    const learner: Objective.Learner = { policy, optimizer: opt, reference }
    // Rollout servers (rl.sampler http) start from the policy the RL phase starts from.
    const push = (step: number) =>
      RolloutSource.pushesWeights(recipe)
        ? RolloutSource.afterUpdate(recipe, policy, step, runDir, setup.codec).pipe(Effect.mapError((e) => new TrainError({ message: e.message })))
        : Effect.void
    yield* push(startStep)
    const rolloutLayer = Layer.merge(
      options.sampler ? options.sampler(() => policy) : RolloutSource.layer(recipe, () => policy, setup.codec),
      Rewards.layer(yield* rewardOf(recipe, setup, plugins))
    )
    const { steps, promptsPerStep, sampling } = recipe.rl
    const endStep = options.stopAfter === undefined ? steps : Math.min(steps, startStep + options.stopAfter)

    let stoppedEarly: string | undefined
    const guardState = Guards.initial()
    let lastStep = startStep
    let normBefore = FiniteGuard.norm(policy.params)
    for (let step = startStep; step < endStep; step++) {
      const t0 = now()
      // ---- the stages ------------------------------------------------------------------------
      const problems = Stages.prompts(setup.splits.train, promptsPerStep, recipe.seed, step)
      const rollouts = yield* Stages.rollouts({
        problems,
        codec: setup.codec,
        groupSize: groupPolicy,
        sampling: { ...sampling, temperature: temperatureAt(step) },
        seed: Stages.stepSeed(recipe.seed, step),
        step
      }).pipe(Effect.provide(rolloutLayer))
      const batch = yield* Stages.advantages(estimator, rollouts, step)
      const tUpdate = now()
      const lr = lrAt(step)
      const klCoef = klController.coefficient(klState)
      const update = yield* Stages.update(objective, learner, batch, { lr, klCoef }, { step, peakLr: recipe.rl.lr })
      const updateTime = now() - tUpdate
      const normAfter = FiniteGuard.norm(policy.params)
      const rlJump = FiniteGuard.jumpProblem("rl", step, normBefore, normAfter, lr, recipe.rl.lr)
      if (rlJump !== undefined) return yield* new TrainError({ message: rlJump })
      normBefore = normAfter
      if (update.metrics.kl !== undefined) {
        klState = yield* wrap("rl.kl.adaptive", () => klController.update(klState, { kl: update.metrics.kl!, nSteps: rollouts.rows.length }))
      }
      yield* push(step + 1)
      if (options.afterUpdate) yield* options.afterUpdate(policy, step + 1).pipe(Effect.mapError((e) => new TrainError({ message: `after step ${step + 1}: ${e.message}` })))

      // ---- metrics -----------------------------------------------------------------------------
      const tokens = rollouts.rows.reduce((a, r) => a + r.completion.tokens.length, 0)
      counters.rollouts += rollouts.rows.length
      counters.tokens += tokens
      const stepTime = now() - t0
      counters.rl += stepTime
      const scalars = Stages.metrics(rollouts, update, batch.advantages)
      const record = {
        kind: "rl",
        step,
        ...scalars,
        "actor/lr": lr,
        "actor/kl_coef": klCoef,
        "rollout/temperature": temperatureAt(step),
        rollouts: rollouts.rows.length,
        "rollouts/total": counters.rollouts,
        "tokens/total": counters.tokens,
        "timing_s/gen": rollouts.seconds.generate,
        "timing_s/reward": rollouts.seconds.reward,
        "timing_s/update_actor": updateTime,
        "timing_s/step": stepTime,
        "perf/throughput": tokens / stepTime,
        "time/total_s": counters.sft + counters.rl + counters.eval
      }
      yield* RunDir.appendMetrics(runDir, record)
      const meanReward = scalars["critic/score/mean"]!
      const groupsZeroStd = scalars.frac_zero_std_groups!
      const eta = (counters.rl / Math.max(1, step + 1 - startStep)) * (endStep - step - 1)
      reporter.progress(
        `rl ${step + 1}/${steps}  reward ${meanReward.toFixed(3)}  zero-std ${pct(groupsZeroStd)}  skip ${pct(update.skippedFraction)}  ` +
          `${stepTime.toFixed(2)}s/step  eta ${eta.toFixed(0)}s`
      )

      lastStep = step + 1
      const alarms = Guards.afterStep(recipe.guards, guardState, step, { entropy: scalars["rollout/entropy"]!, zeroStdGroups: groupsZeroStd })
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
      if (Checkpoints.due(Checkpoints.policy(recipe), step + 1, endStep) || stoppedEarly) {
        yield* saveCheckpoint(store, runDir, step + 1, policy, opt, setup, recipe, { counters, before, klCoef: klState.coef })
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

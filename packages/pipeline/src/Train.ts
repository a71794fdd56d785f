/**
 * The trainer: the stages of `Stages.ts` (warm start, then RL steps of
 *   prompts -> rollouts (Sampler + Reward services) -> advantages -> Objective update -> metrics [-> checkpoint])
 * with held-out evaluation before and after (and every `eval.every` steps), run by a recipe and the
 * user's plugin values. Resumable: every checkpoint holds the policy, the optimizer, the step and the
 * KL controller; per-step randomness is derived from (seed, step), so a resumed run draws exactly
 * what the uninterrupted one would have.
 */
import { Effect, Layer } from "effect"
import { readFileSync } from "node:fs"
import { join } from "node:path"
import { Engine } from "@duet/engine"
import type { BackendName, BlasChoice } from "@duet/engine"
import { AdamW, HfCheckpoint } from "@duet/model"
import type { Policy } from "@duet/model"
import { Sampler } from "@duet/samplers"
import { Verifier } from "@duet/verifiers"
import * as Checkpoints from "./Checkpoints.js"
import * as FiniteGuard from "./FiniteGuard.js"
import * as Guards from "./Guards.js"
import type { EvalResult } from "./Evaluate.js"
import type * as Objective from "./Objective.js"
import * as Plugins from "./Plugins.js"
import * as PolicyStore from "./PolicyStore.js"
import type { Recipe } from "./Recipe.js"
import { decode } from "./Recipe.js"
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
  /** Matmul path on wasm (default "auto": duet's native GEMM, else OpenBLAS, else wasm; env DUET_BLAS decides "auto"). */
  readonly blas?: BlasChoice
  readonly reporter?: Reporter
  /** Stop after this many RL steps in this invocation (tests of resume). */
  readonly stopAfter?: number
  /**
   * GEMM threads (default 1). Large GEMMs are split by shape alone, so a run is reproducible with
   * any count: on duet's native GEMM bit-identical for every count, on OpenBLAS for the same count.
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

/** A run in progress: its setup, the policy (updated in place), the optimizer and what the checkpoints carry. */
interface Run {
  readonly recipe: Recipe
  readonly options: TrainOptions
  readonly reporter: Reporter
  readonly runDir: string
  readonly engine: string
  readonly setup: Setup.Setup
  readonly store: PolicyStore.PolicyStore
  readonly policy: AnyPolicy
  readonly opt: Update.Optimizer
  readonly startStep: number
  readonly counters: Counters
  readonly before: ReadonlyArray<EvalResult>
  /** The KL controller's state (checkpointed). */
  kl: { readonly coef: number }
}

const asTrainError = Effect.mapError((e: { readonly message: string }) => new TrainError({ message: e.message }))

/** Runs (or resumes) a training run described by `recipe` (with `options.plugins`, if any) in `options.runDir`. */
export const train = (recipe: Recipe, options: TrainOptions) =>
  UserPlugins.bind(recipe, options.plugins).pipe(
    asTrainError,
    Effect.flatMap((bound) => trainBound(bound, options))
  )

const trainBound = (recipe: Recipe, options: TrainOptions) =>
  Effect.gen(function* () {
    const tStart = now()
    const finished = options.resume ? yield* finishedRun(recipe, options) : undefined
    if (finished !== undefined) return finished
    const run = yield* open(recipe, options)
    const phase = yield* rlPhase(run)
    const steps = recipe.rl.steps
    const endStep = options.stopAfter === undefined ? steps : Math.min(steps, run.startStep + options.stopAfter)
    let stoppedEarly: string | undefined
    let lastStep = run.startStep
    for (let step = run.startStep; step < endStep && stoppedEarly === undefined; step++) {
      const scalars = yield* rlStep(run, phase, step, endStep)
      lastStep = step + 1
      stoppedEarly = yield* afterStep(run, phase, step, endStep, scalars)
    }
    if (endStep < steps && stoppedEarly === undefined) {
      run.reporter.log(`stopped after step ${endStep} of ${steps}; continue with --resume`)
      return undefined
    }
    return yield* finish(run, lastStep, stoppedEarly, tStart)
  })

/**
 * `--resume` checks: the same run only (recipe.json), stale temp files of killed saves removed; the
 * summary of a run that already finished (resuming it is a no-op), else undefined.
 */
const finishedRun = (recipe: Recipe, options: TrainOptions) =>
  Effect.gen(function* () {
    const { runDir } = options
    const reporter = options.reporter ?? silent
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
    return undefined
  })

/**
 * The run at its first RL step: resumed from the newest intact checkpoint, or started (SFT warm
 * start or `--init`, the "before" evaluation, the step-0 checkpoint).
 */
const open = (recipe: Recipe, options: TrainOptions) =>
  Effect.gen(function* () {
    const reporter = options.reporter ?? silent
    const { runDir } = options
    const engine = yield* wrapPromise("engine", () => Engine.init({ backend: options.backend ?? "auto", threads: options.threads ?? 1, ...(options.blas ? { blas: options.blas } : {}) }))
    reporter.log(`engine: ${engine.describe()}`)
    const setup = yield* Setup.make(recipe).pipe(asTrainError)
    yield* RunDir.ensure(runDir)
    const store = PolicyStore.make(recipe, setup)
    const rlConfig = { lr: recipe.rl.lr, weightDecay: recipe.rl.weightDecay, maxGradNorm: recipe.rl.maxGradNorm }
    const counters: Counters = { rollouts: 0, tokens: 0, sft: 0, rl: 0, eval: 0 }
    const base = { recipe, options, reporter, runDir, engine: engine.describe(), setup, store, counters }
    if (options.resume) {
      const resumed = yield* Checkpoints.newestIntact(runDir, store.load).pipe(asTrainError)
      if (resumed === undefined) return yield* new TrainError({ message: `--resume: ${runDir} has no checkpoint (checkpoints/latest is missing)` })
      for (const line of resumed.skipped) reporter.log(`warning: not resuming from ${line}`)
      const { loaded, step } = resumed
      const carried = (loaded.meta as { recipe?: unknown }).recipe
      if (carried !== undefined) {
        yield* ResumeCheck.sameRecipe(runDir, recipe, carried, `${RunDir.paths(runDir).checkpoint(step)}/config.json`).pipe(
          asTrainError,
          Effect.tapError(() => Effect.sync(() => (loaded.dispose(), loaded.policy.dispose())))
        )
      }
      const opt = { config: AdamW.makeConfig(rlConfig), state: PolicyStore.restoreOptimizer(loaded) }
      loaded.dispose()
      const meta = loaded.meta as { counters?: Counters; before?: EvalResult[]; klCoef?: number }
      Object.assign(counters, meta.counters ?? {})
      // (A finished run asked for more steps also drops its old "after" evaluation.)
      yield* RunDir.truncateMetrics(runDir, (r) => (r.kind !== "rl" || (r.step as number) < step) && !(r.kind === "eval" && r.phase === "after"))
      reporter.log(`resumed from ${RunDir.paths(runDir).checkpoint(step)} (step ${step})`)
      const kl = meta.klCoef === undefined ? Plugins.klController(recipe.rl).init() : { coef: meta.klCoef }
      const run: Run = { ...base, policy: loaded.policy, opt, startStep: step, before: meta.before ?? [], kl }
      return run
    }
    yield* RunDir.writeJson(RunDir.paths(runDir).recipe, recipe)
    yield* RunDir.writeAtomic(RunDir.paths(runDir).metrics, "")
    reporter.log(`model: ${store.describe}; task ${setup.task.name}`)
    let policy: AnyPolicy
    if (options.initFrom !== undefined) {
      const loaded = yield* store.load(options.initFrom).pipe(Effect.mapError((e) => new TrainError({ message: `load --init checkpoint: ${e.message}` })))
      policy = loaded.policy
      loaded.dispose()
      reporter.log(`starting from ${options.initFrom} (no warm start)`)
    } else {
      policy = yield* store.init(recipe.seed).pipe(asTrainError)
      const t0 = now()
      yield* Stages.warmStart(recipe, setup, policy, reporter, runDir)
      counters.sft = now() - t0
    }
    const t0 = now()
    const before = yield* evaluateAll(recipe, setup, "before", 0, runDir, reporter).pipe(Effect.provide(Sampler.layerLocal(() => policy)))
    counters.eval += now() - t0
    const run: Run = { ...base, policy, opt: Update.makeOptimizer(policy, rlConfig), startStep: 0, before, kl: Plugins.klController(recipe.rl).init() }
    yield* save(run, 0)
    return run
  })

/** Writes the step's checkpoint (with what a resume needs to continue exactly). */
const save = (run: Run, step: number) =>
  saveCheckpoint(run.store, run.runDir, step, run.policy, run.opt, run.setup, run.recipe, { counters: run.counters, before: run.before, klCoef: run.kl.coef })

/** The RL phase's plugin values and services, built once from the recipe and the user's values. */
const rlPhase = (run: Run) =>
  Effect.gen(function* () {
    const { recipe, policy, setup, runDir, options } = run
    const plugins = options.plugins ?? {}
    const objective = Plugins.objective(recipe.rl, plugins.objective)
    const reference = objective.needsReference ? Update.freeze(policy) : undefined
    if (reference && run.startStep > 0) {
      // The reference is the warm-started policy: reload it from the step-0 checkpoint.
      const loaded = yield* run.store.load(RunDir.paths(runDir).checkpoint(0)).pipe(Effect.mapError((e) => new TrainError({ message: `load reference: ${e.message}` })))
      for (const [name, v] of reference.params) v.assign(loaded.policy.params.get(name)!)
      loaded.dispose()
      loaded.policy.dispose()
    }
    // Rollout servers (rl.sampler http) get the weights before the first step and after each update.
    const push = (step: number) =>
      RolloutSource.pushesWeights(recipe) ? RolloutSource.afterUpdate(recipe, policy, step, runDir, setup.codec).pipe(asTrainError) : Effect.void
    yield* push(run.startStep)
    return {
      estimator: Plugins.estimator(recipe.rl.estimator, plugins.estimator),
      objective,
      learner: { policy, optimizer: run.opt, reference } satisfies Objective.Learner,
      lrAt: Plugins.learningRate(recipe.rl),
      temperatureAt: Plugins.temperature(recipe.rl),
      groupSize: Plugins.groupSize(recipe.rl),
      klController: Plugins.klController(recipe.rl),
      rollouts: Layer.merge(
        options.sampler ? options.sampler(() => policy) : RolloutSource.layer(recipe, () => policy, setup.codec),
        Rewards.layer(yield* rewardOf(recipe, setup, plugins))
      ),
      evaluation: Sampler.layerLocal(() => policy),
      push,
      guards: Guards.initial(),
      norm: { before: FiniteGuard.norm(policy.params) }
    }
  })

type Phase = Effect.Success<ReturnType<typeof rlPhase>>

/** One RL step: prompts -> rollouts -> advantages -> update, then its metrics record and progress line. */
const rlStep = (run: Run, phase: Phase, step: number, endStep: number) =>
  Effect.gen(function* () {
    const { recipe, setup, counters } = run
    const t0 = now()
    const problems = Stages.prompts(setup.splits.train, recipe.rl.promptsPerStep, recipe.seed, step)
    const sampling = { ...recipe.rl.sampling, temperature: phase.temperatureAt(step) }
    const rollouts = yield* Stages.rollouts({ problems, codec: setup.codec, groupSize: phase.groupSize, sampling, seed: Stages.stepSeed(recipe.seed, step), step }).pipe(
      Effect.provide(phase.rollouts)
    )
    const batch = yield* Stages.advantages(phase.estimator, rollouts, step)
    const tUpdate = now()
    const lr = phase.lrAt(step)
    const klCoef = phase.klController.coefficient(run.kl)
    const update = yield* Stages.update(phase.objective, phase.learner, batch, { lr, klCoef }, { step, peakLr: recipe.rl.lr })
    const updateTime = now() - tUpdate
    yield* normGuard(run, phase, step, lr)
    if (update.metrics.kl !== undefined) {
      const observation = { kl: update.metrics.kl, nSteps: rollouts.rows.length }
      run.kl = yield* wrap("rl.kl.adaptive", () => phase.klController.update(run.kl, observation))
    }
    yield* phase.push(step + 1)
    if (run.options.afterUpdate) yield* run.options.afterUpdate(run.policy, step + 1).pipe(Effect.mapError((e) => new TrainError({ message: `after step ${step + 1}: ${e.message}` })))

    const tokens = rollouts.rows.reduce((a, r) => a + r.completion.tokens.length, 0)
    counters.rollouts += rollouts.rows.length
    counters.tokens += tokens
    const stepTime = now() - t0
    counters.rl += stepTime
    const scalars = Stages.metrics(rollouts, update, batch.advantages)
    yield* RunDir.appendMetrics(run.runDir, {
      kind: "rl",
      step,
      ...scalars,
      "actor/lr": lr,
      "actor/kl_coef": klCoef,
      "rollout/temperature": sampling.temperature,
      rollouts: rollouts.rows.length,
      "rollouts/total": counters.rollouts,
      "tokens/total": counters.tokens,
      "timing_s/gen": rollouts.seconds.generate,
      "timing_s/reward": rollouts.seconds.reward,
      "timing_s/update_actor": updateTime,
      "timing_s/step": stepTime,
      "perf/throughput": tokens / stepTime,
      "time/total_s": counters.sft + counters.rl + counters.eval
    })
    const eta = (counters.rl / Math.max(1, step + 1 - run.startStep)) * (endStep - step - 1)
    run.reporter.progress(
      `rl ${step + 1}/${recipe.rl.steps}  reward ${scalars["critic/score/mean"]!.toFixed(3)}  zero-std ${pct(scalars.frac_zero_std_groups!)}  ` +
        `skip ${pct(update.skippedFraction)}  ${stepTime.toFixed(2)}s/step  eta ${eta.toFixed(0)}s`
    )
    return scalars
  })

/** An update that moved the parameters' norm by far more than its learning rate allows stops the run. */
const normGuard = (run: Run, phase: Phase, step: number, lr: number) =>
  Effect.gen(function* () {
    const after = FiniteGuard.norm(run.policy.params)
    const jump = FiniteGuard.jumpProblem("rl", step, phase.norm.before, after, lr, run.recipe.rl.lr)
    if (jump !== undefined) return yield* new TrainError({ message: jump })
    phase.norm.before = after
  })

/** After a step: evaluation (`eval.every`), guards, budgets, the checkpoint. Returns why RL stops early, if it does. */
const afterStep = (run: Run, phase: Phase, step: number, endStep: number, scalars: Record<string, number>) =>
  Effect.gen(function* () {
    const { recipe, options, reporter, runDir, counters } = run
    let stoppedEarly: string | undefined
    const alarms = Guards.afterStep(recipe.guards, phase.guards, step, { entropy: scalars["rollout/entropy"]!, zeroStdGroups: scalars.frac_zero_std_groups! })
    if (recipe.eval.every > 0 && (step + 1) % recipe.eval.every === 0 && step + 1 < recipe.rl.steps) {
      const te = now()
      const during = yield* evaluateAll(recipe, run.setup, "during", step + 1, runDir, reporter).pipe(Effect.provide(phase.evaluation))
      counters.eval += now() - te
      const test = during.find((r) => r.split === "test")
      const startTest = run.before.find((r) => r.split === "test")
      if (test) alarms.push(...Guards.afterEval(recipe.guards, step + 1, startTest?.passAtN, test.passAtN, test.n))
      if (options.stopAtTestMeanAtN !== undefined && test && test.meanAtN >= options.stopAtTestMeanAtN) {
        stoppedEarly = `test Mean@${test.n} ${pct(test.meanAtN)} reached the target ${pct(options.stopAtTestMeanAtN)} at step ${step + 1}`
      }
    }
    for (const alarm of Guards.fresh(phase.guards, alarms)) {
      reporter.log(`guard: ${alarm.message}`)
      yield* RunDir.appendMetrics(runDir, { kind: "guard", step: step + 1, guard: alarm.guard, message: alarm.message })
      if (recipe.guards.action === "stop" && stoppedEarly === undefined) stoppedEarly = `guard ${alarm.guard}: ${alarm.message}`
    }
    if (stoppedEarly === undefined && options.maxRlSeconds !== undefined && counters.rl >= options.maxRlSeconds) {
      stoppedEarly = `RL time ${counters.rl.toFixed(0)}s reached the budget of ${options.maxRlSeconds.toFixed(0)}s at step ${step + 1}`
    }
    if (Checkpoints.due(Checkpoints.policy(recipe), step + 1, endStep) || stoppedEarly) yield* save(run, step + 1)
    if (stoppedEarly) reporter.log(`stopped early: ${stoppedEarly}`)
    return stoppedEarly
  })

/** The "after" evaluation and summary.json. */
const finish = (run: Run, lastStep: number, stoppedEarly: string | undefined, tStart: number) =>
  Effect.gen(function* () {
    const { counters } = run
    const te = now()
    const after = yield* evaluateAll(run.recipe, run.setup, "after", lastStep, run.runDir, run.reporter).pipe(Effect.provide(Sampler.layerLocal(() => run.policy)))
    counters.eval += now() - te
    // The final evaluation can make the last checkpoint the best one.
    yield* Checkpoints.afterSave(run.runDir, Checkpoints.policy(run.recipe), lastStep).pipe(asTrainError)
    const summary: TrainSummary = {
      recipe: run.recipe.name,
      steps: lastStep,
      rollouts: counters.rollouts,
      tokens: counters.tokens,
      seconds: { sft: counters.sft, rl: counters.rl, eval: counters.eval, total: now() - tStart },
      before: run.before,
      after,
      engine: run.engine,
      ...(stoppedEarly ? { stoppedEarly } : {})
    }
    yield* RunDir.writeJson(RunDir.paths(run.runDir).summary, summary)
    return summary
  })

/** The recipe a checkpoint carries: `config.json` `meta.recipe` (GPT), `duet.json` `meta.recipe` (HF layout). */
const checkpointRecipe = (dir: string) =>
  Effect.gen(function* () {
    const file = HfCheckpoint.isCheckpoint(dir) ? join(dir, HfCheckpoint.MANIFEST_FILE) : join(dir, "config.json")
    const json = yield* wrap(`read ${file}`, () => JSON.parse(readFileSync(file, "utf8")) as { meta?: { recipe?: unknown } })
    const stored = json.meta?.recipe
    if (typeof stored !== "object" || stored === null) {
      return yield* new TrainError({ message: `${file}: meta.recipe is missing; was this checkpoint written by duet train?` })
    }
    return yield* decode(stored, `${file} meta.recipe`).pipe(asTrainError)
  })

/** Loads a checkpoint written by `train` (its recipe travels with it; GPT or HF layout) and evaluates it. */
export const evaluateCheckpoint = (
  dir: string,
  options: { readonly n?: number; readonly problems?: number; readonly backend?: BackendName; readonly reporter?: Reporter }
) =>
  Effect.gen(function* () {
    const reporter = options.reporter ?? silent
    yield* wrapPromise("engine", () => Engine.init({ backend: options.backend ?? "auto", threads: 1 }))
    const stored = yield* checkpointRecipe(dir)
    const recipe: Recipe = {
      ...stored,
      eval: { ...stored.eval, ...(options.n ? { n: options.n } : {}), ...(options.problems ? { problems: options.problems } : {}) }
    }
    const setup = yield* Setup.make(recipe).pipe(asTrainError)
    const loaded = yield* PolicyStore.make(recipe, setup).load(dir).pipe(Effect.mapError((e) => new TrainError({ message: `load checkpoint: ${e.message}` })))
    loaded.dispose()
    const policy = loaded.policy
    const bad = FiniteGuard.nonFinite(policy.params)
    if (bad.count > 0) {
      policy.dispose()
      return yield* new TrainError({ message: `${dir}: ${bad.count.toLocaleString("en-US")} parameters are not finite (first in ${bad.first}); this checkpoint cannot be evaluated` })
    }
    const results = yield* Stages.evaluate(recipe, setup, reporter).pipe(
      Effect.provide(Sampler.layerLocal(() => policy)),
      Effect.ensuring(Effect.sync(() => policy.dispose()))
    )
    return results
  })

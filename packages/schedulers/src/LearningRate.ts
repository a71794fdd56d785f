/**
 * Learning-rate schedules, each a `Schedule` (a plain function of the step).
 *
 * Conventions follow HF transformers / verl (`get_constant_schedule_with_warmup`,
 * `get_cosine_schedule_with_warmup`, `get_linear_schedule_with_warmup`) and Optax
 * (`linear_schedule`, `warmup_cosine_decay_schedule`): warm-up is linear from `init` (default 0)
 * at step 0 to the peak at step `warmup`, so step 0 runs at `init` and step `warmup` is the first
 * at the peak. The 2-GRPO paper (Sec. 5) trains with "a constant learning rate and a linear
 * warm-up over the first 10 steps": `linearWarmup(8e-6, 10)` for its 2-GRPO runs.
 */
import { InvalidArgumentError } from "@duet/core"
import { type Schedule, checkAtLeast, checkStep } from "./Schedule.js"

/** Optional start of a warm-up (default 0, as in HF and verl). */
export interface WarmupStart {
  /** Learning rate at step 0; warm-up is linear from here to the peak. Default 0. */
  readonly init?: number | undefined
}

/** The same learning rate at every step. */
export const constant = (lr: number): Schedule => {
  checkAtLeast("lr", lr, 0, "LearningRate.constant")
  return (step) => {
    checkStep(step, "LearningRate.constant")
    return lr
  }
}

const warmupValue = (step: number, init: number, peak: number, warmup: number): number =>
  init + (peak - init) * (step / warmup)

/**
 * Constant `lr` after a linear warm-up over the first `warmupSteps` steps:
 * `lr(t) = init + (lr - init) t / warmupSteps` for `t < warmupSteps`, then `lr`.
 * HF/verl `get_constant_schedule_with_warmup` (init 0). `warmupSteps = 0` is `constant(lr)`.
 */
export const linearWarmup = (lr: number, warmupSteps: number, opts: WarmupStart = {}): Schedule => {
  const name = "LearningRate.linearWarmup"
  checkAtLeast("lr", lr, 0, name)
  checkAtLeast("warmupSteps", warmupSteps, 0, name)
  const init = checkAtLeast("init", opts.init ?? 0, 0, name)
  if (init > lr) throw new InvalidArgumentError(`${name}.init`, `is ${init}; must be <= lr (${lr})`)
  return (step) => {
    checkStep(step, name)
    return step < warmupSteps ? warmupValue(step, init, lr, warmupSteps) : lr
  }
}

/** Shape of a decaying schedule: warm-up to `peak`, decay to `final` at step `total`, then hold. */
export interface DecayOptions extends WarmupStart {
  /** Learning rate at the end of warm-up. */
  readonly peak: number
  /** Warm-up steps (linear from `init` to `peak`). Default 0. */
  readonly warmup?: number | undefined
  /** Step at which the decay reaches `final` (counted from step 0, warm-up included); > warmup. */
  readonly total: number
  /** Learning rate from step `total` on. Default 0. Must be <= peak. */
  readonly final?: number | undefined
}

const checkDecay = (opts: DecayOptions, name: string) => {
  const peak = checkAtLeast("peak", opts.peak, 0, name)
  const warmup = checkAtLeast("warmup", opts.warmup ?? 0, 0, name)
  const total = checkAtLeast("total", opts.total, 0, name)
  const final = checkAtLeast("final", opts.final ?? 0, 0, name)
  const init = checkAtLeast("init", opts.init ?? 0, 0, name)
  if (total <= warmup) throw new InvalidArgumentError(`${name}.total`, `is ${total}; must be > warmup (${warmup})`)
  if (final > peak) throw new InvalidArgumentError(`${name}.final`, `is ${final}; must be <= peak (${peak})`)
  if (init > peak) throw new InvalidArgumentError(`${name}.init`, `is ${init}; must be <= peak (${peak})`)
  return { peak, warmup, total, final, init }
}

/**
 * Linear warm-up, then half-cosine decay from `peak` (step `warmup`) to `final` (step `total`):
 * `final + (peak - final) (1 + cos(pi (t - warmup) / (total - warmup))) / 2`, then `final`.
 * Optax `warmup_cosine_decay_schedule` (its `decay_steps` is our `total`); verl/HF
 * `get_cosine_schedule_with_warmup` with `num_cycles = 0.5` and `min_lr_ratio = final / peak`.
 */
export const cosine = (opts: DecayOptions): Schedule => {
  const name = "LearningRate.cosine"
  const { peak, warmup, total, final, init } = checkDecay(opts, name)
  return (step) => {
    checkStep(step, name)
    if (step < warmup) return warmupValue(step, init, peak, warmup)
    if (step >= total) return final
    const progress = (step - warmup) / (total - warmup)
    return final + (peak - final) * 0.5 * (1 + Math.cos(Math.PI * progress))
  }
}

/**
 * Linear warm-up, then linear decay from `peak` (step `warmup`) to `final` (step `total`), then
 * `final`. HF `get_linear_schedule_with_warmup` (final 0); Optax `linear_schedule` after a warm-up.
 */
export const linearDecay = (opts: DecayOptions): Schedule => {
  const name = "LearningRate.linearDecay"
  const { peak, warmup, total, final, init } = checkDecay(opts, name)
  return (step) => {
    checkStep(step, name)
    if (step < warmup) return warmupValue(step, init, peak, warmup)
    if (step >= total) return final
    return peak + (final - peak) * ((step - warmup) / (total - warmup))
  }
}

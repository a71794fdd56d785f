/**
 * KL-coefficient controllers: the weight `beta` of the KL-to-reference penalty.
 *
 * A controller is two pure functions and a read-out, like an Optax GradientTransformation: `init()`
 * gives the state, `update(state, observation)` returns the next state from the KL measured on the
 * last batch, `coefficient(state)` reads `beta`. State is explicit (a plain object you can
 * checkpoint), never hidden in a closure.
 */
import { InvalidArgumentError, NonFiniteValueError } from "@duet/core"
import { checkAtLeast } from "./Schedule.js"

/** What the trainer measured on the last batch. */
export interface KlObservation {
  /** Mean KL to the reference policy measured on the batch (any estimator, e.g. k1 or k3). */
  readonly kl: number
  /** Samples (rollouts) the batch held; TRL and verl pass the batch size. */
  readonly nSteps: number
}

export interface KlController<S> {
  readonly name: string
  init(): S
  update(state: S, observation: KlObservation): S
  coefficient(state: S): number
}

/** The state of `fixedKl`: the coefficient itself. */
export interface FixedKlState {
  readonly coef: number
}

/**
 * A constant coefficient. verl's `kl_loss_coef` default is 0.001; TRL's `beta` default is 0 (no
 * reference model loaded). `update` returns the state unchanged.
 */
export const fixedKl = (beta: number): KlController<FixedKlState> => {
  checkAtLeast("beta", beta, 0, "KlCoefficient.fixedKl")
  return {
    name: "fixed-kl",
    init: () => ({ coef: beta }),
    update: (state, observation) => {
      checkObservation(observation, "KlCoefficient.fixedKl")
      return state
    },
    coefficient: (state) => state.coef
  }
}

export interface AdaptiveKlOptions {
  /** Initial coefficient (TRL PPO `init_kl_coef` 0.2). */
  readonly init: number
  /** KL the controller steers towards (> 0; TRL PPO `target` 6). */
  readonly target: number
  /** Samples over which a 20% error moves beta by 20% (> 0; TRL PPO `horizon` 10000). */
  readonly horizon: number
  /** Bound on the proportional error. Default 0.2 (Ziegler et al. 2019, TRL, verl). */
  readonly errorClip?: number | undefined
}

/** The state of `adaptiveKl`. */
export interface AdaptiveKlState {
  readonly coef: number
}

/**
 * Proportional controller of Ziegler et al. 2019 ("Fine-Tuning Language Models from Human
 * Preferences", Sec. 2.2), as TRL's and verl's `AdaptiveKLController`:
 * `e = clip(kl / target - 1, -errorClip, errorClip)`, `beta <- beta (1 + e nSteps / horizon)`.
 * KL above target raises beta, KL below lowers it, each update by at most a factor
 * `1 +- errorClip nSteps / horizon`. `nSteps / horizon` must keep that factor >= 0.
 */
export const adaptiveKl = (opts: AdaptiveKlOptions): KlController<AdaptiveKlState> => {
  const name = "KlCoefficient.adaptiveKl"
  const init = checkAtLeast("init", opts.init, 0, name)
  const target = checkAtLeast("target", opts.target, 0, name)
  const horizon = checkAtLeast("horizon", opts.horizon, 0, name)
  const errorClip = checkAtLeast("errorClip", opts.errorClip ?? 0.2, 0, name)
  if (target === 0) throw new InvalidArgumentError(`${name}.target`, "is 0; must be > 0")
  if (horizon === 0) throw new InvalidArgumentError(`${name}.horizon`, "is 0; must be > 0")
  return {
    name: "adaptive-kl",
    init: () => ({ coef: init }),
    update: (state, observation) => {
      const { kl, nSteps } = checkObservation(observation, name)
      const gain = nSteps / horizon
      if (errorClip * gain > 1) {
        throw new InvalidArgumentError(
          `${name}.nSteps`,
          `is ${nSteps}; with horizon ${horizon} and errorClip ${errorClip} the factor 1 - errorClip nSteps / horizon would be negative`
        )
      }
      const error = Math.min(Math.max(kl / target - 1, -errorClip), errorClip)
      return { coef: state.coef * (1 + error * gain) }
    },
    coefficient: (state) => state.coef
  }
}

const checkObservation = (observation: KlObservation, name: string): KlObservation => {
  if (!Number.isFinite(observation.kl)) throw new NonFiniteValueError(`${name}.observation.kl`, 0, observation.kl)
  checkAtLeast("observation.nSteps", observation.nSteps, 0, name)
  return observation
}

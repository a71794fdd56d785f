/**
 * Sampling-temperature schedules, each a `Schedule`. The 2-GRPO paper samples at temperature 0.7
 * for evaluation; RL rollouts usually sample at 1.0 (verl/TRL default). Temperature 0 means greedy.
 */
import { InvalidArgumentError } from "@duet/core"
import { type Schedule, checkAtLeast, checkStep } from "./Schedule.js"

/** The same temperature at every step. */
export const constant = (temperature: number): Schedule => {
  checkAtLeast("temperature", temperature, 0, "Temperature.constant")
  return (step) => {
    checkStep(step, "Temperature.constant")
    return temperature
  }
}

export interface LinearOptions {
  /** Temperature at step 0. */
  readonly start: number
  /** Temperature from step `steps` on. */
  readonly end: number
  /** Steps to go from `start` to `end` (> 0). */
  readonly steps: number
}

/** `start + (end - start) min(t / steps, 1)`: linear interpolation, then hold `end`. */
export const linear = (opts: LinearOptions): Schedule => {
  const name = "Temperature.linear"
  const start = checkAtLeast("start", opts.start, 0, name)
  const end = checkAtLeast("end", opts.end, 0, name)
  const steps = checkAtLeast("steps", opts.steps, 0, name)
  if (steps === 0) throw new InvalidArgumentError(`${name}.steps`, "is 0; must be > 0 (use Temperature.constant)")
  return (step) => {
    checkStep(step, name)
    return step >= steps ? end : start + (end - start) * (step / steps)
  }
}

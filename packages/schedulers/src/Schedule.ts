/**
 * `Schedule`: a hyperparameter as a plain function of the optimizer step, as in Optax
 * (`optax.Schedule = Callable[[step], value]`). Stateless schedules (learning rate, temperature)
 * are values of this type; schedules that learn from the run (the adaptive KL coefficient, the
 * adaptive group size) keep explicit state instead and live in their own modules.
 */
import { InvalidArgumentError, NonFiniteValueError } from "@duet/core"

/**
 * A value per step. `step` is the 0-based optimizer step (a finite number >= 0; fractional steps
 * are allowed, e.g. for progress within an epoch). `context` carries whatever else a schedule may
 * read; the built-in schedules read none.
 */
export type Schedule<C = unknown> = (step: number, context?: C) => number

/** Throws `InvalidArgumentError` unless `step` is a finite number >= 0. */
export const checkStep = (step: number, schedule: string): number => {
  if (typeof step !== "number" || !Number.isFinite(step) || step < 0) {
    throw new InvalidArgumentError("step", `${schedule}: is ${step}; a step is a finite number >= 0`)
  }
  return step
}

/** Throws `NonFiniteValueError` / `InvalidArgumentError` unless `value` is a finite number >= `min`. */
export const checkAtLeast = (field: string, value: number, min: number, schedule: string): number => {
  if (typeof value !== "number" || !Number.isFinite(value)) throw new NonFiniteValueError(`${schedule}.${field}`, 0, value)
  if (value < min) throw new InvalidArgumentError(`${schedule}.${field}`, `is ${value}; must be >= ${min}`)
  return value
}

/** Throws unless `value` is an integer >= `min`. */
export const checkInteger = (field: string, value: number, min: number, schedule: string): number => {
  checkAtLeast(field, value, min, schedule)
  if (!Number.isInteger(value)) throw new InvalidArgumentError(`${schedule}.${field}`, `is ${value}; must be an integer`)
  return value
}

/** The values of a schedule at steps `0 .. steps-1` (for plots, logs and tests). */
export const sample = (schedule: Schedule, steps: number): number[] => {
  checkInteger("steps", steps, 0, "Schedule.sample")
  return Array.from({ length: steps }, (_, i) => schedule(i))
}

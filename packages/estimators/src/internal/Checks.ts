/**
 * Input checks every block runs before touching the numbers. `Scores.make` already validates what
 * comes from users; these guard Scores built directly (`{ values, group }`) so a NaN, a length
 * mismatch or an overflow never leaves a block silently.
 */
import { EmptyGroupError, InvalidArgumentError, Scores } from "@duet/core"

/** Throws when `values` and `group` disagree in length, the batch is empty, or a value is NaN/inf. */
export const checkScores = (scores: Scores.Scores, transform: string): void => {
  const n = scores.values.length
  if (scores.group.length !== n) {
    throw new InvalidArgumentError(
      "scores.group",
      `${transform}: has ${scores.group.length} labels but scores.values has ${n}; they must be the same length`
    )
  }
  if (n === 0) throw new EmptyGroupError(`${transform}: the batch has no rollouts`)
  Scores.assertFinite(scores.values, "scores.values")
}

/** Throws when a block produced a non-finite value (only possible by overflow, |r| near 1e308). */
export const checkOutput = (values: Float64Array, transform: string): Float64Array => {
  Scores.assertFinite(values, `${transform}: output`)
  return values
}

/** `eps` must be a finite number >= 0. */
export const checkEps = (eps: number, transform: string): number => {
  if (typeof eps !== "number" || !Number.isFinite(eps) || eps < 0) {
    throw new InvalidArgumentError("eps", `${transform}: is ${String(eps)}; it must be a finite number >= 0`)
  }
  return eps
}

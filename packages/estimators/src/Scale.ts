/**
 * Multiplication by a constant: `A_i = c x_i` (Optax's `scale`). Useful to flip a sign, to put
 * Dr.GRPO on GRPO's scale, or to turn the 2-GRPO paper's `A = +-1` into `+-1/2`.
 */
import { InvalidArgumentError, stateless, Scores } from "@duet/core"
import type { Transform as AdvantageTransform } from "@duet/core"
import { checkOutput, checkScores } from "./internal/Checks.js"

/** Multiplies every row by `c` (a finite number). */
export const scaleBy = (c: number): AdvantageTransform<void> => {
  if (typeof c !== "number" || !Number.isFinite(c)) {
    throw new InvalidArgumentError("c", `scale-by: is ${String(c)}; it must be a finite number`)
  }
  const name = `scale-by(${c})`
  return stateless(name, 1, (scores) => {
    checkScores(scores, name)
    const out = new Float64Array(scores.values.length)
    for (let i = 0; i < out.length; i++) out[i] = c * scores.values[i]!
    return Scores.withValues(scores, checkOutput(out, name))
  })
}

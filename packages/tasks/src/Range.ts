/**
 * `Range`: an inclusive integer interval, the shape of every difficulty knob
 * (`digits: { min: 1, max: 3 }`).
 */
import { InvalidArgumentError, type Rng } from "@duet/core"

export interface Range {
  readonly min: number
  readonly max: number
}

/** Checks `min <= max`, both integers in [lowest, highest]; fails naming `field`. */
export const check = (range: Range, field: string, lowest: number, highest: number): Range => {
  const { min, max } = range
  if (!Number.isInteger(min) || !Number.isInteger(max) || min > max || min < lowest || max > highest) {
    throw new InvalidArgumentError(field, `is {min: ${min}, max: ${max}}; it needs integers with ${lowest} <= min <= max <= ${highest}`)
  }
  return { min, max }
}

/** Uniform draw from the range. */
export const draw = (rng: Rng, range: Range): number => range.min + rng.int(range.max - range.min + 1)

export const contains = (range: Range, x: number): boolean => x >= range.min && x <= range.max

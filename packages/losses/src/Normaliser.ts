/**
 * `Normaliser`: the counts an aggregation divides by. By default an aggregation reads them from the
 * mask it is given; when the pipeline skips rows whose advantage is 0 (they contribute exactly 0 to
 * a pure policy loss) it computes the Normaliser from the FULL batch and passes it along with the
 * kept rows, so every divisor still counts the skipped rows and the loss and its gradient are
 * those of the full batch (see `ZeroAdvantageSkip`).
 */
import type { Tensor2D } from "@tensorflow/tfjs-core"
import { InvalidArgumentError } from "@duet/core"

export interface Normaliser {
  /** Response tokens in the full batch: `sum(M)` (token-mean divides by it). */
  readonly totalTokens: number
  /** Rows in the full batch: `B` (the seq-mean aggregations divide by it). */
  readonly totalRows: number
  /** Padded response width of the full batch: `T` (seq-mean-token-sum-norm divides by `B * T`). */
  readonly maxLen: number
}

const checkCount = (field: string, value: number, min: number): void => {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    throw new InvalidArgumentError(`Normaliser.${field}`, `is ${value}; must be an integer >= ${min}`)
  }
}

/** Validates counts: integers, `totalRows >= 1`, `maxLen >= 1`, `1 <= totalTokens <= totalRows * maxLen`. */
export const make = (counts: Normaliser): Normaliser => {
  checkCount("totalRows", counts.totalRows, 1)
  checkCount("maxLen", counts.maxLen, 1)
  checkCount("totalTokens", counts.totalTokens, 1)
  if (counts.totalTokens > counts.totalRows * counts.maxLen) {
    throw new InvalidArgumentError(
      "Normaliser.totalTokens",
      `is ${counts.totalTokens}; more than totalRows * maxLen = ${counts.totalRows * counts.maxLen}`
    )
  }
  return { totalTokens: counts.totalTokens, totalRows: counts.totalRows, maxLen: counts.maxLen }
}

/**
 * Counts of a response mask `(B, T)`. Reads the mask back from the backend (one `dataSync`):
 * call it once per batch on the full mask, before selecting rows.
 */
export const fromMask = (mask: Tensor2D): Normaliser => {
  if (mask.rank !== 2) throw new InvalidArgumentError("mask", `has rank ${mask.rank}; expected (B, T)`)
  const [rows, width] = mask.shape
  const values = mask.dataSync()
  let tokens = 0
  for (let i = 0; i < values.length; i++) {
    const m = values[i]!
    if (m !== 0 && m !== 1) throw new InvalidArgumentError(`mask[${Math.floor(i / width)}][${i % width}]`, `is ${m}; a mask holds 0 or 1`)
    tokens += m
  }
  return make({ totalTokens: tokens, totalRows: rows, maxLen: width })
}

/** Counts from per-row response lengths and the padded width (no tensor read). */
export const fromLengths = (lengths: ArrayLike<number>, maxLen: number): Normaliser => {
  let tokens = 0
  for (let i = 0; i < lengths.length; i++) {
    const n = lengths[i]!
    if (!Number.isInteger(n) || n < 0 || n > maxLen) {
      throw new InvalidArgumentError(`lengths[${i}]`, `is ${n}; must be an integer in [0, maxLen = ${maxLen}]`)
    }
    tokens += n
  }
  return make({ totalTokens: tokens, totalRows: lengths.length, maxLen })
}

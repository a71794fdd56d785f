/**
 * Skipping rows whose advantage is 0 (verl PR #5838 measures -55% update time; not merged anywhere).
 *
 * With a pure policy loss (no KL, no entropy term) a row with `A = 0` has per-token loss exactly 0
 * (`-min(w 0, clip(w) 0) = 0`; GSPO likewise) and zero gradient, so it changes neither the loss nor
 * the gradient — except through the divisors of the aggregation. The contract:
 *
 * 1. `plan(loss, advantages, lengths, maxLen)` lists the rows to keep and the FULL batch's
 *    `Normaliser` (or keeps every row when the loss cannot skip).
 * 2. The pipeline runs the model forward and backward on the kept rows only.
 * 3. It calls the loss on the kept rows with `normaliser` set; every aggregation divides by the
 *    full-batch counts, so loss and gradient equal the full batch's (tested for each aggregation).
 *
 * A KL or entropy term is non-zero on every row, so such a loss refuses a subset:
 * `canSkipZeroAdvantageRows` is false and the loss throws `ZeroAdvantageSkipRefusedError` when
 * given fewer rows than its normaliser counts. In 2-GRPO every concordant pair (both right or both
 * wrong) has A = 0: at success rate p that is a fraction `p^2 + (1-p)^2 >= 1/2` of the rows.
 */
import * as tf from "@tensorflow/tfjs-core"
import type { Tensor } from "@tensorflow/tfjs-core"
import { DuetInputError, InvalidArgumentError, NonFiniteValueError } from "@duet/core"
import * as Normaliser from "./Normaliser.js"
import type { Config } from "./PolicyLoss.js"

/** A loss with a KL or entropy term was given a subset of the rows. */
export class ZeroAdvantageSkipRefusedError extends DuetInputError {
  readonly _tag = "ZeroAdvantageSkipRefusedError" as const
  constructor(
    readonly loss: string,
    readonly detail: string
  ) {
    super(`${loss}: cannot skip zero-advantage rows: ${detail}`)
    this.name = "ZeroAdvantageSkipRefusedError"
  }
}

/** True when the loss is a pure policy loss: no KL term (coef > 0) and entropy coefficient 0. */
export const canSkipZeroAdvantageRows = (loss: Config | { readonly config: Config }): boolean => {
  const config = "config" in loss ? loss.config : loss
  return config.kl === undefined && config.entropyCoef === 0
}

/** Indices of the rows with a non-zero advantage, in order. */
export const keptRows = (advantages: ArrayLike<number>): Int32Array => {
  const kept: number[] = []
  for (let i = 0; i < advantages.length; i++) {
    const a = advantages[i]!
    if (!Number.isFinite(a)) throw new NonFiniteValueError("advantages", i, a)
    if (a !== 0) kept.push(i)
  }
  return Int32Array.from(kept)
}

export interface SkipPlan {
  /** Rows to run forward/backward (all rows when `skipping` is false). */
  readonly kept: Int32Array
  /** Counts of the full batch: pass it to the loss with the kept rows. */
  readonly normaliser: Normaliser.Normaliser
  /** False when the loss needs every row (KL or entropy term). */
  readonly skipping: boolean
  /** Fraction of the batch's rows left out (0 when not skipping). */
  readonly skippedFraction: number
}

/**
 * The rows to keep for this loss and batch. `lengths[i]` is row i's response length in tokens and
 * `maxLen` the padded width `T` of the full batch.
 */
export const plan = (
  loss: Config | { readonly config: Config },
  advantages: ArrayLike<number>,
  lengths: ArrayLike<number>,
  maxLen: number
): SkipPlan => {
  if (advantages.length !== lengths.length) {
    throw new InvalidArgumentError("lengths", `has ${lengths.length} entries but advantages has ${advantages.length}`)
  }
  const normaliser = Normaliser.fromLengths(lengths, maxLen)
  const all = Int32Array.from({ length: advantages.length }, (_, i) => i)
  if (!canSkipZeroAdvantageRows(loss)) {
    keptRows(advantages) // still validates the advantages
    return { kept: all, normaliser, skipping: false, skippedFraction: 0 }
  }
  const kept = keptRows(advantages)
  return { kept, normaliser, skipping: true, skippedFraction: 1 - kept.length / advantages.length }
}

/** The kept rows of a per-row tensor (axis 0), e.g. `oldLogp`, `mask`, `advantages`, token ids. */
export const selectRows = <T extends Tensor>(t: T, kept: Int32Array): T => tf.tidy(() => tf.gather(t, tf.tensor1d(kept, "int32")) as T)

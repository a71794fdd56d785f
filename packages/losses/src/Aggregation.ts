/**
 * Aggregations: how a per-token loss matrix `L (B, T)` and response mask `M (B, T)` become one
 * scalar. A value of type `Aggregation`, passed to a loss factory (never a mode string). Formulas
 * from verl `agg_loss` (`loss_agg_mode`) and TRL `loss_type`; see REFERENCE.md, "Aggregation":
 *
 * | function               | verl                    | TRL                  | value                      |
 * |------------------------|-------------------------|----------------------|----------------------------|
 * | `tokenMean`            | token-mean (default)    | dapo (default), bnpo | `sum(L M) / sum(M)`        |
 * | `seqMeanTokenMean`     | seq-mean-token-mean     | grpo                 | `mean_i(sum_t L M / n_i)`  |
 * | `seqMeanTokenSum`      | seq-mean-token-sum      | —                    | `mean_i(sum_t L M)`        |
 * | `seqMeanTokenSumNorm`  | seq-mean-token-sum-norm | dr_grpo              | `sum(L M) / (B T_max)`     |
 *
 * Every aggregation takes an optional `Normaliser`; without one the counts come from its own mask
 * (as tensors, no read-back). With one (`sum(M)`, `B`, `T_max` of the full batch) it may be given a
 * subset of the rows and still return the full batch's value, provided the missing rows' L is 0.
 */
import * as tf from "@tensorflow/tfjs-core"
import type { Scalar, Tensor2D } from "@tensorflow/tfjs-core"
import { InvalidArgumentError } from "@duet/core"
import type { Normaliser } from "./Normaliser.js"

/** `(L (B, T), M (B, T), normaliser?) -> scalar`. */
export type Aggregation = (perToken: Tensor2D, mask: Tensor2D, normaliser?: Normaliser) => Scalar

/** Checks shapes and that the normaliser covers at least the rows given. */
export const checkAggregationInputs = (perToken: Tensor2D, mask: Tensor2D, normaliser: Normaliser | undefined, name: string): void => {
  if (perToken.rank !== 2) throw new InvalidArgumentError(`${name}: loss`, `has rank ${perToken.rank}; expected (B, T)`)
  if (!tf.util.arraysEqual(perToken.shape, mask.shape)) {
    throw new InvalidArgumentError(`${name}: mask`, `has shape [${mask.shape}] but the loss has [${perToken.shape}]`)
  }
  if (normaliser !== undefined && perToken.shape[0] > normaliser.totalRows) {
    throw new InvalidArgumentError(
      `${name}: normaliser.totalRows`,
      `is ${normaliser.totalRows} but ${perToken.shape[0]} rows were given; it must count the full batch`
    )
  }
}

/**
 * `sum(L M) / sum(M)`: every token of the batch weighs the same (verl token-mean, TRL dapo). A batch
 * with no response tokens gives 0 (the divisor is taken as 1), not 0/0.
 */
export const tokenMean: Aggregation = (perToken, mask, normaliser) => {
  checkAggregationInputs(perToken, mask, normaliser, "tokenMean")
  return tf.tidy(() => {
    const total = tf.sum(tf.mul(perToken, mask))
    return tf.div(total, normaliser === undefined ? tf.maximum(tf.sum(mask), 1) : tf.scalar(normaliser.totalTokens))
  })
}

/**
 * `mean_i(sum_t L M / n_i)`: each sequence weighs the same, its tokens averaged (verl
 * seq-mean-token-mean, TRL grpo, the original GRPO objective). A row with no response tokens
 * contributes 0 (its `n_i` is taken as 1 instead of dividing 0 by 0).
 */
export const seqMeanTokenMean: Aggregation = (perToken, mask, normaliser) => {
  checkAggregationInputs(perToken, mask, normaliser, "seqMeanTokenMean")
  return tf.tidy(() => {
    const rowSums = tf.sum(tf.mul(perToken, mask), 1) // (B,)
    const lengths = tf.maximum(tf.sum(mask, 1), 1) // (B,)
    const rows = normaliser === undefined ? perToken.shape[0] : normaliser.totalRows
    return tf.div(tf.sum(tf.div(rowSums, lengths)), tf.scalar(rows))
  })
}

/** `mean_i(sum_t L M)`: each sequence weighs the same, its tokens summed (verl seq-mean-token-sum). */
export const seqMeanTokenSum: Aggregation = (perToken, mask, normaliser) => {
  checkAggregationInputs(perToken, mask, normaliser, "seqMeanTokenSum")
  return tf.tidy(() => {
    const rows = normaliser === undefined ? perToken.shape[0] : normaliser.totalRows
    return tf.div(tf.sum(tf.mul(perToken, mask)), tf.scalar(rows))
  })
}

/**
 * `sum(L M) / (B T_max)`: Dr. GRPO's constant normaliser (Liu et al. 2025, "Understanding R1-Zero-Like
 * Training"), verl seq-mean-token-sum-norm, TRL dr_grpo. `maxLen` is `T_max`: pass the generation
 * budget to keep the divisor constant across steps (verl `loss_scale_factor`); without it, the
 * normaliser's `maxLen`, else the mask's padded width `T` (verl's default, `loss_mask.shape[-1]`).
 */
export const seqMeanTokenSumNorm = (maxLen?: number): Aggregation => {
  if (maxLen !== undefined && (!Number.isInteger(maxLen) || maxLen < 1)) {
    throw new InvalidArgumentError("seqMeanTokenSumNorm.maxLen", `is ${maxLen}; must be an integer >= 1`)
  }
  const aggregation: Aggregation = (perToken, mask, normaliser) => {
    checkAggregationInputs(perToken, mask, normaliser, "seqMeanTokenSumNorm")
    return tf.tidy(() => {
      const rows = normaliser === undefined ? perToken.shape[0] : normaliser.totalRows
      const width = maxLen ?? normaliser?.maxLen ?? perToken.shape[1]
      return tf.div(tf.sum(tf.mul(perToken, mask)), tf.scalar(rows * width))
    })
  }
  return aggregation
}

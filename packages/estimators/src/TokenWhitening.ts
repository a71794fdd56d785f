/**
 * Batch whitening over response tokens, as verl's `masked_whiten` does for REINFORCE++-baseline
 * (Hu 2025, "REINFORCE++", arXiv:2501.03262; verl
 * `compute_reinforce_plus_plus_baseline_outcome_advantage`). Row i stands for its `L_i` response
 * tokens, all carrying the value `s_i`, so with `T = sum_i L_i`:
 *
 *   mu  = sum_i L_i s_i / T
 *   var = sum_i L_i (s_i - mu)^2 / (T - 1)          (unbiased over tokens, verl's Bessel factor)
 *   A_i = (s_i - mu) / sqrt(var + eps)              (eps 1e-8 inside the root, as verl)
 *
 * Rows of length 0 have no tokens: they do not count in mu or var and get advantage 0 (verl
 * multiplies the whitened values by the response mask).
 */
import { InvalidArgumentError, stateless, Scores } from "@duet/core"
import type { Transform as AdvantageTransform } from "@duet/core"
import { checkEps, checkOutput, checkScores } from "./internal/Checks.js"
import { groupRootMeanSquares } from "./internal/GroupMoments.js"

export interface TokenWhiteningOptions {
  /** Added to the token variance inside the square root. Default 1e-8 (verl `masked_whiten`). */
  readonly eps?: number | undefined
}

const name = "whiten-by-tokens"

/**
 * Whitens the values over all response tokens of the batch, each row weighted by its length
 * `info.lengths[i]`. Fails with `InvalidArgumentError` naming "lengths" when they are missing, of
 * the wrong count, negative, or sum to fewer than 2 tokens (the unbiased variance needs 2).
 */
export const whitenByTokens = (opts: TokenWhiteningOptions = {}): AdvantageTransform<void> => {
  const eps = checkEps(opts.eps ?? 1e-8, name)
  return stateless(name, 1, (scores, info) => {
    checkScores(scores, name)
    const lengths = info.lengths
    const n = scores.values.length
    if (lengths === undefined) {
      throw new InvalidArgumentError("lengths", `${name}: needs info.lengths, the response length in tokens of each row`)
    }
    if (lengths.length !== n) {
      throw new InvalidArgumentError("lengths", `${name}: has ${lengths.length} entries but scores has ${n}; they must match`)
    }
    let tokens = 0
    let anchorRow = -1
    for (let i = 0; i < n; i++) {
      const l = lengths[i]!
      if (!Number.isInteger(l) || l < 0) {
        throw new InvalidArgumentError(`lengths[${i}]`, `${name}: is ${l}; a length must be a non-negative integer`)
      }
      if (l > 0 && anchorRow < 0) anchorRow = i
      tokens += l
    }
    if (tokens < 2) {
      throw new InvalidArgumentError(
        "lengths",
        `${name}: the batch has ${tokens} response token${tokens === 1 ? "" : "s"}; the unbiased token variance needs at least 2`
      )
    }
    // Shift by one row's value first (as in GroupCentering): a batch of equal values whitens to
    // exact zeros, and the weighted sum cancels less.
    const anchor = scores.values[anchorRow]!
    const centred = new Float64Array(n)
    let weighted = 0
    for (let i = 0; i < n; i++) {
      centred[i] = scores.values[i]! - anchor
      weighted += lengths[i]! * centred[i]!
    }
    const mu = weighted / tokens
    for (let i = 0; i < n; i++) centred[i]! -= mu
    // sqrt(var + eps) as hypot(rms, sqrt eps), the rms summed scaled: no overflow or underflow
    const wholeBatch: Scores.GroupIndex = { ids: new Int32Array(n), count: 1, sizes: Int32Array.of(n), labels: Int32Array.of(0) }
    const rms = groupRootMeanSquares(centred, wholeBatch, () => tokens - 1, lengths)[0]!
    const scale = Math.hypot(rms, Math.sqrt(eps))
    const out = new Float64Array(n)
    for (let i = 0; i < n; i++) {
      out[i] = lengths[i] === 0 ? 0 : scale === 0 ? centred[i]! : centred[i]! / scale
    }
    return Scores.withValues(scores, checkOutput(out, name))
  })
}

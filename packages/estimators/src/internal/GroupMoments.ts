/**
 * Within-group centring and standard deviations, shared by the mean, leave-one-out, std and pass@k
 * estimators.
 *
 * Centring: each value is first shifted by its group's first value (its anchor), then by the mean of
 * the shifted values. Mathematically this is `x_i - mean_g`; numerically an all-equal group shifts to
 * exact zeros, so its mean and its centred values are exactly 0 (a plain `sum / n` may round, e.g.
 * `(0.1 + 0.1 + 0.1) / 3 != 0.1`), and the sum cancels less when rewards sit far from 0.
 *
 * Std: the squared deviations are summed after dividing by the group's largest |deviation| (as
 * `hypot` does), so a spread of 1e-170 does not underflow to std 0 and one of 1e200 does not
 * overflow to std Infinity (which would silently turn every advantage into 0).
 */
import { Scores } from "@duet/core"

/** `x_i - mean_{g(i)}` for every row, exactly 0 for rows of all-equal groups. */
export const centerWithinGroups = (values: Float64Array, index: Scores.GroupIndex): Float64Array => {
  const n = values.length
  const anchor = new Float64Array(index.count)
  const anchored = new Uint8Array(index.count)
  const centred = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    const g = index.ids[i]!
    if (anchored[g] === 0) {
      anchored[g] = 1
      anchor[g] = values[i]!
    }
    centred[i] = values[i]! - anchor[g]!
  }
  const means = Scores.groupMeans(centred, index)
  for (let i = 0; i < n; i++) centred[i]! -= means[index.ids[i]!]!
  return centred
}

/**
 * Weighted root-mean-square of `centred` per group: `sqrt(sum_i w_i c_i^2 / divisor_g)`, computed as
 * `m sqrt(sum_i w_i (c_i/m)^2 / divisor_g)` with `m = max |c_i|` of the group (0 when m is 0).
 * `weights` defaults to 1 per row.
 */
export const groupRootMeanSquares = (
  centred: Float64Array,
  index: Scores.GroupIndex,
  divisor: (g: number) => number,
  weights?: ArrayLike<number>
): Float64Array => {
  const scale = new Float64Array(index.count)
  for (let i = 0; i < centred.length; i++) {
    const g = index.ids[i]!
    if (weights === undefined || weights[i]! > 0) scale[g] = Math.max(scale[g]!, Math.abs(centred[i]!))
  }
  const sums = new Float64Array(index.count)
  for (let i = 0; i < centred.length; i++) {
    const g = index.ids[i]!
    if (scale[g] === 0) continue
    const r = centred[i]! / scale[g]!
    sums[g]! += (weights === undefined ? 1 : weights[i]!) * r * r
  }
  for (let g = 0; g < index.count; g++) sums[g] = scale[g] === 0 ? 0 : scale[g]! * Math.sqrt(sums[g]! / divisor(g))
  return sums
}

/** Per-group std of `values` ("unbiased": divide by n - 1; "population": by n). */
export const groupStds = (values: Float64Array, index: Scores.GroupIndex, kind: "unbiased" | "population"): Float64Array =>
  groupRootMeanSquares(centerWithinGroups(values, index), index, (g) =>
    kind === "unbiased" ? index.sizes[g]! - 1 : index.sizes[g]!
  )

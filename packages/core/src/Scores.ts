/**
 * `Scores`: one number per rollout plus the group (prompt) each rollout belongs to.
 * Rewards go into an `AdvantageTransform` as Scores and advantages come out as Scores, so
 * transforms compose (Optax style). Group labels are arbitrary int32s; rows of a group need not be
 * contiguous.
 */
import { EmptyGroupError, GroupSizeError, InvalidArgumentError, NonFiniteValueError } from "./Errors.js"

export interface Scores {
  /** One value per rollout: a reward before estimation, an advantage after. */
  readonly values: Float64Array
  /** Group label per rollout (rollouts of one prompt share a label). */
  readonly group: Int32Array
}

/** Dense view of the groups in a `Scores`: `ids[i]` in `[0, count)`, in order of first appearance. */
export interface GroupIndex {
  readonly ids: Int32Array
  readonly count: number
  readonly sizes: Int32Array
  /** Original label of each dense group. */
  readonly labels: Int32Array
}

/**
 * Builds validated Scores from plain arrays.
 * Fails with `InvalidArgumentError` on mismatched lengths or non-integer labels, `NonFiniteValueError`
 * on NaN/inf values, `EmptyGroupError` on an empty batch.
 */
export const make = (values: ArrayLike<number>, group: ArrayLike<number>): Scores => {
  if (values.length !== group.length) {
    throw new InvalidArgumentError(
      "groups",
      `has ${group.length} entries but rewards has ${values.length}; they must be the same length`
    )
  }
  if (values.length === 0) throw new EmptyGroupError("the batch has no rollouts")
  const v = Float64Array.from(values)
  const g = new Int32Array(group.length)
  for (let i = 0; i < group.length; i++) {
    const x = group[i]!
    if (!Number.isInteger(x) || x < -2147483648 || x > 2147483647) {
      throw new InvalidArgumentError(`groups[${i}]`, `is ${x}; group labels must be 32-bit integers`)
    }
    g[i] = x
  }
  assertFinite(v, "rewards")
  return { values: v, group: g }
}

/** Same groups, new values (the usual output of a transform). */
export const withValues = (scores: Scores, values: Float64Array): Scores => ({ values, group: scores.group })

/** Throws `NonFiniteValueError` naming the first NaN/inf entry. */
export const assertFinite = (values: ArrayLike<number>, field: string): void => {
  for (let i = 0; i < values.length; i++) {
    const x = values[i]!
    if (!Number.isFinite(x)) throw new NonFiniteValueError(field, i, x)
  }
}

/** Computes the dense group index of a Scores (O(n), one Map lookup per row). */
export const groupIndex = (scores: Scores): GroupIndex => {
  const n = scores.group.length
  const ids = new Int32Array(n)
  const dense = new Map<number, number>()
  const sizes: number[] = []
  const labels: number[] = []
  for (let i = 0; i < n; i++) {
    const label = scores.group[i]!
    let id = dense.get(label)
    if (id === undefined) {
      id = sizes.length
      dense.set(label, id)
      sizes.push(0)
      labels.push(label)
    }
    ids[i] = id
    sizes[id]!++
  }
  return { ids, count: sizes.length, sizes: Int32Array.from(sizes), labels: Int32Array.from(labels) }
}

/** Per-group sum of `values` (dense group order). */
export const groupSums = (values: ArrayLike<number>, index: GroupIndex): Float64Array => {
  const sums = new Float64Array(index.count)
  for (let i = 0; i < values.length; i++) sums[index.ids[i]!]! += values[i]!
  return sums
}

/** Per-group mean of `values` (dense group order). */
export const groupMeans = (values: ArrayLike<number>, index: GroupIndex): Float64Array => {
  const sums = groupSums(values, index)
  for (let g = 0; g < index.count; g++) sums[g]! /= index.sizes[g]!
  return sums
}

/**
 * Throws `GroupSizeError` for the first group whose size is below `min` (or differs from `exact`).
 * Estimators call it before dividing by a group statistic; verl silently accepts singleton groups,
 * duet refuses them (as TRL and OpenRLHF do).
 */
export const requireGroupSizes = (
  index: GroupIndex,
  estimator: string,
  size: { readonly min: number } | { readonly exact: number }
): void => {
  for (let g = 0; g < index.count; g++) {
    const n = index.sizes[g]!
    if ("exact" in size ? n !== size.exact : n < size.min) {
      const required = "exact" in size ? `exactly ${size.exact}` : `at least ${size.min}`
      throw new GroupSizeError(estimator, index.labels[g]!, n, required)
    }
  }
}

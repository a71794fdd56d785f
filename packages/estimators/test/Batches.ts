/**
 * fast-check generators of reward batches: a few groups with arbitrary (non-contiguous, possibly
 * negative) int32 labels, rows shuffled so groups interleave, often with all-equal groups.
 */
import fc from "fast-check"

export interface Batch {
  readonly rewards: number[]
  readonly groups: number[]
  /** Row indices of each group, in row order. */
  readonly members: number[][]
}

/** 0/1 rewards, quarter steps in [-10, 10] (exact in binary), or any double in [-10, 10]. */
export const reward = (continuous = true): fc.Arbitrary<number> =>
  fc.oneof(
    { arbitrary: fc.constantFrom(0, 1), weight: 2 },
    { arbitrary: fc.integer({ min: -40, max: 40 }).map((k) => k / 4), weight: 2 },
    ...(continuous ? [{ arbitrary: fc.double({ min: -10, max: 10, noNaN: true }), weight: 1 }] : [])
  )

const group = (minSize: number, maxSize: number, continuous: boolean): fc.Arbitrary<number[]> =>
  fc.oneof(
    { arbitrary: fc.array(reward(continuous), { minLength: minSize, maxLength: maxSize }), weight: 3 },
    {
      arbitrary: fc
        .tuple(reward(continuous), fc.integer({ min: minSize, max: maxSize }))
        .map(([r, n]) => Array.from({ length: n }, () => r)),
      weight: 1
    }
  )

export const batch = (opts: { minSize?: number; maxSize?: number; maxGroups?: number; continuous?: boolean } = {}) => {
  const { minSize = 2, maxSize = 8, maxGroups = 5, continuous = true } = opts
  return fc
    .tuple(
      fc.array(group(minSize, maxSize, continuous), { minLength: 1, maxLength: maxGroups }),
      fc.uniqueArray(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { minLength: maxGroups, maxLength: maxGroups })
    )
    .chain(([values, labels]) => {
      const rows = values.flatMap((vs, g) => vs.map((r) => ({ r, g })))
      return fc.shuffledSubarray(rows, { minLength: rows.length, maxLength: rows.length }).map((shuffled): Batch => {
        const members: number[][] = values.map(() => [])
        shuffled.forEach((row, i) => members[row.g]!.push(i))
        return {
          rewards: shuffled.map((row) => row.r),
          groups: shuffled.map((row) => labels[row.g]!),
          members: members.filter((m) => m.length > 0)
        }
      })
    })
}

/** A permutation of 0..n-1. */
export const permutation = (n: number): fc.Arbitrary<number[]> =>
  fc.shuffledSubarray(
    Array.from({ length: n }, (_, i) => i),
    { minLength: n, maxLength: n }
  )

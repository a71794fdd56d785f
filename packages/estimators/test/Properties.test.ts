/**
 * Exact invariants as fast-check properties (STYLE.md "Tests that cannot lie"); tolerances come from
 * ./Tolerance.ts, derived from the floating-point model, never guessed.
 */
import fc from "fast-check"
import { describe, expect, it } from "vitest"
import { AdvantageTransform, Scores, StepInfo, chain } from "@duet/core"
import type { Transform } from "@duet/core"
import {
  drGrpo,
  grpo,
  grpoPassK,
  preferencePairs,
  reinforcePlusPlusBaseline,
  rloo,
  scaleBy,
  scaleByGroupStd,
  subtractGroupMean,
  subtractLeaveOneOutMean,
  twoGrpo,
  whitenByTokens
} from "../src/index.js"
import { batch, permutation } from "./Batches.js"
import type { Batch } from "./Batches.js"
import { SAFETY, centringError, grpoError, groupStats, scaledError, u } from "./Tolerance.js"

fc.configureGlobal({ seed: 42, numRuns: 200 })

const run = (t: Transform<unknown>, rewards: ArrayLike<number>, groups: ArrayLike<number>, lengths?: ArrayLike<number>) =>
  AdvantageTransform.apply(t, Scores.make(rewards, groups), StepInfo.at(0, lengths)).values

const pick = <T>(xs: ArrayLike<T>, rows: number[]): T[] => rows.map((i) => xs[i]!)

const within = (actual: number, expected: number, tol: number, what: string) => {
  if (!(Math.abs(actual - expected) <= tol)) throw new Error(`${what}: ${actual} vs ${expected}, |diff| ${Math.abs(actual - expected)} > tol ${tol}`)
}

const grpoVariants: Array<[string, (b: Batch) => boolean, Transform<unknown>, { eps: number; std: "unbiased" | "population" }]> = [
  ["grpo", () => true, grpo(), { eps: 1e-6, std: "unbiased" }],
  ["grpo eps=0", () => true, grpo({ eps: 0 }), { eps: 0, std: "unbiased" }],
  ["grpo population, TRL eps", () => true, grpo({ eps: 1e-4, std: "population" }), { eps: 1e-4, std: "population" }]
]

describe("mean baselines: advantages sum to 0 in every group", () => {
  // sum of the n computed values: each errs by <= E (Tolerance), the test's own sum by (n-1) u sum|A|.
  const cases: Array<[string, Transform<unknown>, (n: number, range: number, std: number) => number]> = [
    ["subtractGroupMean", subtractGroupMean(), (n, range) => centringError(n, range)],
    ["dr-grpo", drGrpo(), (n, range) => centringError(n, range)],
    ["rloo (n/(n-1) times the centred value, 2 more roundings)", rloo(), (n, range) => 2 * centringError(n, range) + 2 * u * range],
    ["grpo", grpo(), (n, range, std) => (range === 0 ? 0 : scaledError(n, centringError(n, range), std, 1e-6))]
  ]
  it.each(cases)("%s", (_, t, perRow) => {
    fc.assert(
      fc.property(batch(), (b) => {
        const a = run(t, b.rewards, b.groups)
        for (const rows of b.members) {
          const g = groupStats(pick(b.rewards, rows))
          const values = pick(a, rows)
          const tol = SAFETY * (g.n * perRow(g.n, g.range, g.std) + (g.n - 1) * u * values.reduce((s, x) => s + Math.abs(x), 0))
          within(values.reduce((s, x) => s + x, 0), 0, tol, "group sum")
        }
      })
    )
  })
})

describe("invariance to r -> a r + b (a > 0)", () => {
  const affine = fc.record({ a: fc.double({ min: 0.1, max: 10, noNaN: true }), b: fc.double({ min: -10, max: 10, noNaN: true }) })

  it.each(grpoVariants)("%s: A(a r + b) = A(r) up to the eps effect", (_, __, t, { eps, std }) => {
    fc.assert(
      fc.property(batch(), affine, (bt, { a, b }) => {
        const mapped = bt.rewards.map((r) => a * r + b)
        const before = run(t, bt.rewards, bt.groups)
        const after = run(t, mapped, bt.groups)
        for (const rows of bt.members) {
          const g = groupStats(pick(bt.rewards, rows), std)
          const gm = groupStats(pick(mapped, rows), std)
          if (gm.range === 0 && g.range === 0) {
            for (const i of rows) expect(after[i]).toBe(before[i]) // all-equal stays all-equal: both exactly 0
            continue
          }
          // (1) eps: a c / (a s + eps) = c / (s + eps/a), which differs from c / (s + eps) by at most
          //     maxZ eps |1 - 1/a| / s. (2) fl(a r + b) errs by delta <= 2 u (a |r| + |b|): a perturbation
          //     of the mapped input, which moves the output like a centring error of 2 delta.
          // (3) rounding inside both evaluations (grpoError).
          const delta = 2 * u * (a * g.maxAbs + Math.abs(b))
          const epsEffect = g.std === 0 ? 0 : (Math.sqrt(g.n - 1) * eps * Math.abs(1 - 1 / a)) / g.std
          const tol =
            SAFETY * (epsEffect + scaledError(g.n, 2 * delta, a * g.std, eps) + grpoError(g, eps) + grpoError(gm, eps))
          for (const i of rows) within(after[i]!, before[i]!, tol, `row ${i}`)
        }
      })
    )
  })

  it("2-grpo on pairs: A(a r + b) = A(r) up to the eps effect", () => {
    fc.assert(
      fc.property(batch({ minSize: 2, maxSize: 2 }), affine, (bt, { a, b }) => {
        const mapped = bt.rewards.map((r) => a * r + b)
        const before = run(twoGrpo(), bt.rewards, bt.groups)
        const after = run(twoGrpo(), mapped, bt.groups)
        for (const rows of bt.members) {
          const g = groupStats(pick(bt.rewards, rows))
          const gm = groupStats(pick(mapped, rows))
          const delta = 2 * u * (a * g.maxAbs + Math.abs(b))
          const epsEffect = g.std === 0 ? 0 : (1 * 1e-6 * Math.abs(1 - 1 / a)) / g.std
          const tol = SAFETY * (epsEffect + scaledError(2, 2 * delta, a * g.std, 1e-6) + grpoError(g, 1e-6) + grpoError(gm, 1e-6))
          for (const i of rows) within(after[i]!, before[i]!, tol, `row ${i}`)
        }
      })
    )
  })

  it.each([
    ["dr-grpo", drGrpo(), 1],
    ["rloo", rloo(), 2]
  ] as const)("%s is equivariant: A(a r + b) = a A(r)", (_, t, k) => {
    fc.assert(
      fc.property(batch(), affine, (bt, { a, b }) => {
        const mapped = bt.rewards.map((r) => a * r + b)
        const before = run(t, bt.rewards, bt.groups)
        const after = run(t, mapped, bt.groups)
        for (const rows of bt.members) {
          const g = groupStats(pick(bt.rewards, rows))
          const gm = groupStats(pick(mapped, rows))
          // k <= n/(n-1) <= 2 amplifies every centring error (rloo); input rounding 2 delta per row;
          // a A(r) adds one rounding.
          const delta = 2 * u * (a * g.maxAbs + Math.abs(b))
          const tol =
            SAFETY * k * (2 * delta + centringError(g.n, gm.range) + a * centringError(g.n, g.range) + 3 * u * a * g.range)
          for (const i of rows) within(after[i]!, a * before[i]!, tol, `row ${i}`)
        }
      })
    )
  })
})

describe("permutation equivariance: shuffle the rows, the advantages follow", () => {
  const cases: Array<[string, Transform<unknown>, (g: ReturnType<typeof groupStats>) => number, { minSize?: number; maxSize?: number }]> = [
    ["grpo", grpo(), (g) => grpoError(g, 1e-6), {}],
    ["2-grpo", twoGrpo(), (g) => grpoError(g, 1e-6), { minSize: 2, maxSize: 2 }],
    ["dr-grpo", drGrpo(), (g) => centringError(g.n, g.range), {}],
    ["rloo", rloo(), (g) => 2 * centringError(g.n, g.range) + 2 * u * g.range, {}],
    // pass@k: the margin is exact, only the std differs: relative error of the std (Tolerance) times |A|
    ["grpo-passk", grpoPassK(), (g) => grpoError(g, 1e-6) * (g.range / (g.std + 1e-6) + 1), {}]
  ]
  it.each(cases)("%s", (_, t, perRow, sizes) => {
    fc.assert(
      fc.property(
        batch(sizes).chain((b) => permutation(b.rewards.length).map((p) => [b, p] as const)),
        ([b, p]) => {
          const a = run(t, b.rewards, b.groups)
          const shuffled = run(t, pick(b.rewards, p), pick(b.groups, p))
          for (const rows of b.members) {
            const tol = 2 * SAFETY * perRow(groupStats(pick(b.rewards, rows)))
            for (const i of rows) within(shuffled[p.indexOf(i)]!, a[i]!, tol, `row ${i}`)
          }
        }
      )
    )
  })
  it("reinforce-pp-baseline (lengths shuffled with the rows)", () => {
    fc.assert(
      fc.property(
        batch({ continuous: false }).chain((b) =>
          fc.tuple(permutation(b.rewards.length), fc.array(fc.integer({ min: 1, max: 20 }), { minLength: b.rewards.length, maxLength: b.rewards.length })).map(
            ([p, lengths]) => [b, p, lengths] as const
          )
        ),
        ([b, p, lengths]) => {
          const a = run(reinforcePlusPlusBaseline(), b.rewards, b.groups, lengths)
          const shuffled = run(reinforcePlusPlusBaseline(), pick(b.rewards, p), pick(b.groups, p), pick(lengths, p))
          const tol = 2 * SAFETY * whiteningError(b, lengths, a)
          a.forEach((x, i) => within(shuffled[p.indexOf(i)]!, x, tol, `row ${i}`))
        }
      )
    )
  })
})

/**
 * Per-row error bound of REINFORCE++-baseline: the group-centred values s (|s| <= R, the batch's
 * reward range) err by <= max centringError; the anchor shift and the token-weighted mean over n rows
 * add (n + 3) u 2R; scaling by the token std is `scaledError` with n -> T tokens (the Cauchy-Schwarz
 * step holds with token weights) and max|A| read from the output (first order).
 */
const whiteningError = (b: Batch, lengths: ReadonlyArray<number>, out: ArrayLike<number>): number => {
  const n = b.rewards.length
  const R = Math.max(...b.rewards) - Math.min(...b.rewards)
  const ec = Math.max(...b.members.map((rows) => centringError(rows.length, groupStats(pick(b.rewards, rows)).range)))
  const et = ec + (n + 3) * u * 2 * R
  const T = lengths.reduce((s, l) => s + l, 0)
  const centred = tokenCentred(b, lengths)
  const sd = Math.sqrt(centred.reduce((acc, c, i) => acc + lengths[i]! * c * c, 0) / (T - 1))
  if (sd === 0) return 0
  const zMax = Math.max(...Array.from(out, Math.abs))
  return (1 + Math.SQRT2 * zMax) * (et / sd) + zMax * ((n + 11) / 2) * u
}

/** s_i - mu in float64 (two-pass), the reference the whitening bound scales by. */
const tokenCentred = (b: Batch, lengths: ReadonlyArray<number>): number[] => {
  const s = b.rewards.slice()
  for (const rows of b.members) {
    const m = rows.reduce((acc, i) => acc + b.rewards[i]!, 0) / rows.length
    for (const i of rows) s[i] = b.rewards[i]! - m
  }
  const T = lengths.reduce((acc, l) => acc + l, 0)
  const mu = s.reduce((acc, x, i) => acc + lengths[i]! * x, 0) / T
  return s.map((x) => x - mu)
}

describe("REINFORCE++-baseline whitening: token-weighted mean 0 and unit unbiased token variance", () => {
  const withLengths = batch({ continuous: false }).chain((b) =>
    fc.array(fc.integer({ min: 1, max: 20 }), { minLength: b.rewards.length, maxLength: b.rewards.length }).map((l) => [b, l] as const)
  )
  it.each([0, 1e-8])("eps = %s: sum L A / T = 0 and sum L A^2 / (T - 1) = var / (var + eps)", (eps) => {
    fc.assert(
      fc.property(withLengths, ([b, lengths]) => {
        const a = run(reinforcePlusPlusBaseline({ eps }), b.rewards, b.groups, lengths)
        const T = lengths.reduce((s, l) => s + l, 0)
        const centred = tokenCentred(b, lengths)
        const v = centred.reduce((acc, c, i) => acc + lengths[i]! * c * c, 0) / (T - 1)
        const e = whiteningError(b, lengths, a) // per-row error of A
        const zMax = Math.max(...Array.from(a, Math.abs))
        if (v === 0) {
          expect(Array.from(a)).toEqual(Array.from(a, () => 0)) // every group all-equal
          return
        }
        const mean = a.reduce((s, x, i) => s + lengths[i]! * x, 0) / T
        within(mean, 0, SAFETY * (e + (a.length + 1) * u * zMax), "token mean")
        const variance = a.reduce((s, x, i) => s + lengths[i]! * x * x, 0) / (T - 1)
        // relative error of v (the test's own two-pass reference): <= (n + 4) u + 2 e / sd, first order
        const expected = v / (v + eps)
        within(variance, expected, SAFETY * (2 * zMax * e + (a.length + 3) * u * zMax * zMax * (T / (T - 1)) + expected * ((a.length + 4) * u + (2 * e) / Math.sqrt(v))), "token variance")
      })
    )
  })
})

describe("all-equal groups give exactly 0 and nothing gives NaN", () => {
  const group = [
    ["grpo", grpo()],
    ["grpo eps=0", grpo({ eps: 0 })],
    ["grpo population", grpo({ std: "population" })],
    ["dr-grpo", drGrpo()],
    ["rloo", rloo()],
    ["grpo-passk", grpoPassK()]
  ] as const
  it.each(group)("%s", (_, t) => {
    fc.assert(
      fc.property(batch(), (b) => {
        const a = run(t, b.rewards, b.groups)
        for (let i = 0; i < a.length; i++) expect(Number.isFinite(a[i])).toBe(true)
        for (const rows of b.members) {
          if (groupStats(pick(b.rewards, rows)).range === 0) for (const i of rows) expect(a[i] === 0).toBe(true)
        }
      })
    )
  })
  it("2-grpo: an equal pair gives exactly 0, a discordant pair +-(|d|/2)/(|d|/sqrt2 + eps), higher reward +", () => {
    fc.assert(
      fc.property(batch({ minSize: 2, maxSize: 2 }), (b) => {
        const a = run(twoGrpo(), b.rewards, b.groups)
        for (const [i, j] of b.members as Array<[number, number]>) {
          const d = b.rewards[i]! - b.rewards[j]!
          if (d === 0) {
            expect(a[i] === 0 && a[j] === 0).toBe(true)
            continue
          }
          const g = groupStats([b.rewards[i]!, b.rewards[j]!])
          const tol = SAFETY * grpoError(g, 1e-6)
          within(a[i]!, Math.sign(d) * (Math.abs(d) / 2) / (Math.abs(d) / Math.SQRT2 + 1e-6), tol, "2-grpo +")
          within(a[j]!, -a[i]!, 0, "antisymmetric")
        }
      })
    )
  })
})

describe("non-contiguous group labels", () => {
  const estimators = [grpo(), drGrpo(), rloo(), grpoPassK(), grpo({ std: "population", eps: 0 })]
  it("a batch gives each group exactly what that group gives alone (labels and interleaving do not matter)", () => {
    fc.assert(
      fc.property(batch(), (b) => {
        for (const t of estimators) {
          const together = run(t, b.rewards, b.groups)
          for (const rows of b.members) {
            const alone = run(t, pick(b.rewards, rows), rows.map(() => 0))
            expect(pick(together, rows)).toEqual(Array.from(alone))
          }
        }
      })
    )
  })
})

describe("chain composition equals manual application", () => {
  const blocks = fc.constantFrom(
    () => subtractGroupMean(),
    () => scaleByGroupStd(),
    () => scaleByGroupStd({ std: "population", eps: 0.5 }),
    () => subtractLeaveOneOutMean(),
    () => scaleBy(-0.5),
    () => scaleBy(3),
    () => whitenByTokens()
  )
  it("chain(b1, ..., bk) = bk(...b1(r)), bitwise, and its state is the tuple of the parts'", () => {
    fc.assert(
      fc.property(batch({ continuous: false }), fc.array(blocks, { minLength: 1, maxLength: 4 }), (b, makers) => {
        const parts = makers.map((m) => m())
        const info = StepInfo.at(3, b.rewards.map((_, i) => 1 + (i % 4)))
        const scores = Scores.make(b.rewards, b.groups)
        let manual = scores
        for (const p of parts) manual = AdvantageTransform.apply(p, manual, info)
        const chained = chain(...parts)
        const [out, state] = chained.update(scores, chained.init(), info)
        expect(Array.from(out.values)).toEqual(Array.from(manual.values))
        expect(state).toEqual(parts.map(() => undefined))
        expect(chained.minGroupSize).toBe(Math.max(...parts.map((p) => p.minGroupSize)))
      })
    )
  })
  it("the recipes are their documented chains", () => {
    fc.assert(
      fc.property(batch({ minSize: 2, maxSize: 2 }), (b) => {
        const scores = Scores.make(b.rewards, b.groups)
        const info = StepInfo.at(0, b.rewards.map(() => 3))
        const manual = (...ts: Array<Transform<unknown>>) =>
          Array.from(ts.reduce((s, t) => AdvantageTransform.apply(t, s, info), scores).values)
        const recipe = (t: Transform<unknown>) => Array.from(AdvantageTransform.apply(t, scores, info).values)
        expect(recipe(grpo())).toEqual(manual(subtractGroupMean(), scaleByGroupStd({ eps: 1e-6, std: "unbiased" })))
        expect(recipe(twoGrpo({ std: "population" }))).toEqual(manual(subtractGroupMean(), scaleByGroupStd({ std: "population" })))
        expect(recipe(drGrpo())).toEqual(manual(subtractGroupMean()))
        expect(recipe(rloo())).toEqual(manual(subtractLeaveOneOutMean()))
        expect(recipe(reinforcePlusPlusBaseline())).toEqual(manual(subtractGroupMean(), whitenByTokens({ eps: 1e-8 })))
      })
    )
  })
})

describe("RLOO is the leave-one-out baseline", () => {
  it("A_i = r_i - mean of the other rows of its group (direct formula)", () => {
    fc.assert(
      fc.property(batch(), (b) => {
        const a = run(rloo(), b.rewards, b.groups)
        for (const rows of b.members) {
          const g = groupStats(pick(b.rewards, rows))
          // direct formula errs by <= (n + 1) u (n maxAbs) / (n - 1) + u range; ours by 2 centringError + 2 u range
          const tol = SAFETY * (2 * centringError(g.n, g.range) + 2 * u * g.range + ((g.n + 2) * u * g.n * g.maxAbs) / (g.n - 1))
          const total = rows.reduce((s, i) => s + b.rewards[i]!, 0)
          for (const i of rows) within(a[i]!, b.rewards[i]! - (total - b.rewards[i]!) / (g.n - 1), tol, `row ${i}`)
        }
      })
    )
  })
})

describe("pass@k advantage", () => {
  it("at most one non-zero row per group, at a maximum, worth (r_max - r_second) / (std + eps)", () => {
    fc.assert(
      fc.property(batch(), (b) => {
        const a = run(grpoPassK(), b.rewards, b.groups)
        for (const rows of b.members) {
          const rs = pick(b.rewards, rows)
          const sorted = [...rs].sort((x, y) => y - x)
          const g = groupStats(rs)
          const nonZero = rows.filter((i) => a[i] !== 0)
          expect(nonZero.length).toBeLessThanOrEqual(1)
          const margin = sorted[0]! - sorted[1]!
          if (margin === 0) expect(nonZero).toEqual([])
          else {
            expect(nonZero.length).toBe(1)
            expect(b.rewards[nonZero[0]!]).toBe(sorted[0])
            const expected = margin / (g.std + 1e-6)
            within(a[nonZero[0]!]!, expected, SAFETY * grpoError(g, 1e-6) * (expected + 1), "margin")
          }
        }
      })
    )
  })
})

describe("preferencePairs (2-GRPO's DPO view)", () => {
  it("yields exactly the discordant pairs of each group, the higher reward as chosen", () => {
    fc.assert(
      fc.property(batch({ minSize: 1 }), (b) => {
        const pairs = preferencePairs(Scores.make(b.rewards, b.groups))
        const expected: string[] = []
        for (let i = 0; i < b.rewards.length; i++) {
          for (let j = i + 1; j < b.rewards.length; j++) {
            if (b.groups[i] !== b.groups[j] || b.rewards[i] === b.rewards[j]) continue
            const [c, r] = b.rewards[i]! > b.rewards[j]! ? [i, j] : [j, i]
            expected.push(`${b.groups[i]}:${c}>${r}`)
          }
        }
        expect(pairs.map((p) => `${p.group}:${p.chosen}>${p.rejected}`).sort()).toEqual(expected.sort())
        for (const p of pairs) expect(b.rewards[p.chosen]!).toBeGreaterThan(b.rewards[p.rejected]!)
      })
    )
  })
  it("with pairs, chosen/rejected are exactly the rows 2-GRPO gives + and - (concordant pairs: none)", () => {
    fc.assert(
      fc.property(batch({ minSize: 2, maxSize: 2 }), (b) => {
        const scores = Scores.make(b.rewards, b.groups)
        const a = AdvantageTransform.apply(twoGrpo(), scores).values
        const pairs = preferencePairs(scores)
        expect(pairs.length).toBe(b.members.filter(([i, j]) => b.rewards[i!] !== b.rewards[j!]).length)
        for (const p of pairs) {
          expect(a[p.chosen]!).toBeGreaterThan(0)
          expect(a[p.rejected]!).toBeLessThan(0)
        }
      })
    )
  })
  it("worked example: rewards [1, 0 | 1, 1 | 0.5, 1, 0] in groups 3, 8, -2 (interleaved)", () => {
    const pairs = preferencePairs(Scores.make([1, 1, 0.5, 0, 1, 1, 0], [3, 8, -2, 3, 8, -2, -2]))
    expect(pairs).toEqual([
      { group: 3, chosen: 0, rejected: 3 },
      { group: -2, chosen: 5, rejected: 2 },
      { group: -2, chosen: 2, rejected: 6 },
      { group: -2, chosen: 5, rejected: 6 }
    ])
  })
})

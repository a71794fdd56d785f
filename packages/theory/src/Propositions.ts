/**
 * The claims of "It Takes Two: Your GRPO is Secretly DPO" (Sec. 3-4, App. A) as functions that check
 * them, exactly where possible, for the built-in estimators or for any `AdvantageTransform` a user
 * passes. Each returns `{ name, statement, holds, detail }`, with the numbers behind the verdict in
 * `detail`, plus the raw numbers in typed fields.
 *
 * Notation: a group holds G rollouts with i.i.d. Bernoulli(p) rewards X_i; A_i is the advantage the
 * transform gives rollout i; `E[A | X = x]` is the expected advantage of a rollout whose reward is x.
 */
import { InvalidArgumentError, Rng } from "@duet/core"
import type { AnyAdvantageTransform } from "@duet/core"
import { grpo, twoGrpo } from "@duet/estimators"
import * as Bandit from "./Bandit.js"
import * as Expectation from "./Expectation.js"
import { advantagesOf } from "./internal/Batch.js"

export interface PropositionResult {
  /** Which claim, e.g. "Proposition 4.1, case 2". */
  readonly name: string
  /** The claim in words and symbols, as checked. */
  readonly statement: string
  readonly holds: boolean
  /** The numbers behind `holds` (several lines when the check has several parts). */
  readonly detail: string
}

/** Float rounding allowance for identities evaluated in double precision on O(1) numbers. */
export const identityTolerance = 1e-12

/** Formats a number with `digits` significant digits (default 6; exponent form when tiny or huge). */
export const fmt = (x: number, digits = 6): string => {
  if (Number.isNaN(x)) return "n/a"
  if (x === 0) return "0"
  const a = Math.abs(x)
  return a < 1e-4 || a >= 1e6 ? x.toExponential(2) : Number(x.toPrecision(digits)).toString()
}

const logChoose = (n: number, k: number): number => {
  let s = 0
  for (let i = 1; i <= k; i++) s += Math.log(n - k + i) - Math.log(i)
  return s
}

const checkProbability = (p: number, field: string, open = false): number => {
  if (!Number.isFinite(p) || p < 0 || p > 1 || (open && (p === 0 || p === 1))) {
    throw new InvalidArgumentError(field, `is ${p}; it must lie in ${open ? "(0, 1)" : "[0, 1]"}`)
  }
  return p
}

/**
 * The advantage of rollout 1 in a 0/1 group of `groupSize` as a function of its own reward x and the
 * number s of ones among the other G - 1: `table[x][s] = A_1([x, 1 x s, 0 x (G-1-s)])`. Valid for
 * transforms that treat rollouts 2..G alike; checked by also evaluating the reversed order
 * `[x, 0 ..., 1 ...]` (`InvalidArgumentError` when they differ).
 */
export const advantageTable = (
  transform: AnyAdvantageTransform,
  groupSize: number
): readonly [Float64Array, Float64Array] => {
  const G = groupSize
  if (!Number.isInteger(G) || G < 1) throw new InvalidArgumentError("groupSize", `is ${G}; it must be an integer >= 1`)
  const group = new Int32Array(G)
  const table = [new Float64Array(G), new Float64Array(G)] as const
  for (const x of [0, 1] as const) {
    for (let s = 0; s <= G - 1; s++) {
      const ones = new Float64Array(G)
      const zeros = new Float64Array(G)
      ones[0] = x
      zeros[0] = x
      for (let i = 1; i <= s; i++) ones[i] = 1
      for (let i = G - s; i < G; i++) zeros[i] = 1
      const a = advantagesOf(transform, ones, group)[0]!
      const b = advantagesOf(transform, zeros, group)[0]!
      if (Math.abs(a - b) > 1e-9 * (1 + Math.abs(a))) {
        throw new InvalidArgumentError(
          "transform",
          `${transform.name} gives rollout 1 advantage ${a} for rewards [${ones.join(", ")}] but ${b} for [${zeros.join(", ")}]; ` +
            `this check needs a transform that treats the other rollouts of a group alike`
        )
      }
      table[x][s] = a
    }
  }
  return table
}

/** `sum_s C(n, s) p^s (1-p)^(n-s) f[s]` for n = f.length - 1, with log-space weights (no underflow). */
const binomialExpectation = (f: Float64Array, p: number): number => {
  const n = f.length - 1
  let total = 0
  for (let s = 0; s <= n; s++) {
    const logWeight = logChoose(n, s) + (s > 0 ? s * Math.log(p) : 0) + (n - s > 0 ? (n - s) * Math.log(1 - p) : 0)
    total += Math.exp(logWeight) * f[s]!
  }
  return total
}

/**
 * Exact `E[A_1 | X_1 = x]` for a group of `groupSize` i.i.d. Bernoulli(p) rewards: the binomial sum
 * `sum_s C(G-1, s) p^s (1-p)^(G-1-s) A_1([x, 1 x s, 0 x (G-1-s)])` over the number s of ones among
 * the other rollouts (see `advantageTable` for the assumption and its check).
 */
export const conditionalAdvantage = (
  transform: AnyAdvantageTransform,
  opts: { readonly groupSize: number; readonly p: number; readonly x: 0 | 1 }
): number => binomialExpectation(advantageTable(transform, opts.groupSize)[opts.x], checkProbability(opts.p, "p"))

const defaultPs: ReadonlyArray<number> = [0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95]

export interface TwoRolloutCase {
  readonly label: string
  /** kappa such that E[A | X = x] = kappa (x - p) at each p (NaN where the form fails). */
  readonly kappa: number
  readonly expected: number | undefined
  /** max over p, x of |E[A | X = x] - kappa (x - p)|. */
  readonly deviation: number
  /** max - min of kappa over p. */
  readonly spread: number
}

export interface TwoRolloutResult extends PropositionResult {
  readonly cases: ReadonlyArray<TwoRolloutCase>
}

const twoRolloutCase = (
  label: string,
  transform: AnyAdvantageTransform,
  expected: number | undefined,
  ps: ReadonlyArray<number>
): TwoRolloutCase => {
  let deviation = 0
  let min = Infinity
  let max = -Infinity
  const table = advantageTable(transform, 2)
  for (const p of ps) {
    const e1 = binomialExpectation(table[1], p)
    const e0 = binomialExpectation(table[0], p)
    const kappa = e1 - e0
    min = Math.min(min, kappa)
    max = Math.max(max, kappa)
    deviation = Math.max(deviation, Math.abs(e1 - kappa * (1 - p)), Math.abs(e0 - kappa * (0 - p)))
  }
  return { label, kappa: (min + max) / 2, expected, deviation, spread: max - min }
}

/**
 * Proposition 4.1, case 2 (2-GRPO): with two rollouts, `E[A | X = x] = kappa (x - p)` for one kappa
 * at every pass rate p, i.e. the advantage is the centred reward up to a p-free constant. With the
 * population std (the paper's proof, App. A.3) kappa = 1/(1 + 2 eps); with verl's unbiased std
 * kappa = 1/(sqrt 2 + 2 eps), which is 1/sqrt 2 TIMES the paper's constant (not sqrt 2 times).
 * On a 0/1 bandit the expected policy gradient is then exactly `kappa grad J` (see `scaleOnBandits`).
 *
 * Without a transform, checks both std conventions of `twoGrpo({ eps })`; with one, checks the form
 * and, when `expectedScale` is given, kappa against it.
 */
export const prop41TwoRollouts = (
  transform?: AnyAdvantageTransform,
  opts: { readonly eps?: number; readonly expectedScale?: number; readonly ps?: ReadonlyArray<number> } = {}
): TwoRolloutResult => {
  const ps = (opts.ps ?? defaultPs).map((p, i) => checkProbability(p, `ps[${i}]`, true))
  const eps = opts.eps ?? 1e-6
  const cases =
    transform === undefined
      ? [
          twoRolloutCase("population std (paper)", twoGrpo({ eps, std: "population" }), 1 / (1 + 2 * eps), ps),
          twoRolloutCase("unbiased std (verl)", twoGrpo({ eps, std: "unbiased" }), 1 / (Math.SQRT2 + 2 * eps), ps)
        ]
      : [twoRolloutCase(transform.name, transform, opts.expectedScale, ps)]
  const ok = (c: TwoRolloutCase) =>
    c.deviation <= identityTolerance &&
    c.spread <= identityTolerance &&
    (c.expected === undefined || Math.abs(c.kappa - c.expected) <= identityTolerance)
  const detail = cases
    .map(
      (c) =>
        `${c.label}: E[A|X=x] = ${fmt(c.kappa, 8)} (x - p)` +
        (c.expected === undefined ? "" : ` (expected ${fmt(c.expected, 8)})`) +
        `, max deviation ${fmt(c.deviation)}, kappa spread ${fmt(c.spread)} over p in {${ps.join(", ")}}`
    )
    .join("\n")
  const ratio =
    transform === undefined ? `\nunbiased/population = ${fmt(cases[1]!.kappa / cases[0]!.kappa)} (1/sqrt 2 = 0.707107)` : ""
  return {
    name: "Proposition 4.1, case 2 (2 rollouts)",
    statement:
      transform === undefined
        ? `2-GRPO: E[A | X = x] = (x - p)/(1 + 2 eps) with the population std, (x - p)/(sqrt 2 + 2 eps) with the unbiased std (eps = ${eps})`
        : `${transform.name}, G = 2: E[A | X = x] = kappa (x - p) with one kappa for every p`,
    holds: cases.every(ok),
    detail: detail + ratio,
    cases
  }
}

export interface LargeGroupRow {
  readonly groupSize: number
  /** max over p, x of |E[A | X = x] - limit(x, p)|. */
  readonly bias: number
  /** bias * G: roughly constant when the bias is O(1/G). */
  readonly scaledBias: number
}

export interface LargeGroupResult extends PropositionResult {
  readonly rows: ReadonlyArray<LargeGroupRow>
}

/**
 * Proposition 4.1, case 1 (large groups): with the population std and eps -> 0, `E[A | X = x]`
 * tends to `(x - p)/sqrt(p(1 - p))` as the group grows. Computed exactly (binomial sums) for each
 * group size; holds when the bias (max over the p grid and x) shrinks at every step and ends below
 * 1% of its value at the first size. Default transform: `grpo({ std: "population", eps: 0 })`
 * (the paper's limit eps -> 0); `limit` lets a user state another estimator's limit (x - p for
 * Dr.GRPO and RLOO).
 */
export const prop41LargeGroup = (
  transform?: AnyAdvantageTransform,
  opts: {
    readonly groupSizes?: ReadonlyArray<number>
    readonly ps?: ReadonlyArray<number>
    readonly limit?: (x: 0 | 1, p: number) => number
  } = {}
): LargeGroupResult => {
  const t = transform ?? grpo({ std: "population", eps: 0 })
  const sizes = opts.groupSizes ?? [2, 4, 8, 16, 32, 64, 128, 256]
  const ps = (opts.ps ?? [0.1, 0.25, 0.5, 0.75, 0.9]).map((p, i) => checkProbability(p, `ps[${i}]`, true))
  const limit = opts.limit ?? ((x: 0 | 1, p: number) => (x - p) / Math.sqrt(p * (1 - p)))
  if (sizes.length < 2) throw new InvalidArgumentError("groupSizes", "needs at least two group sizes to show a trend")
  const rows: LargeGroupRow[] = sizes.map((G) => {
    const table = advantageTable(t, G)
    let bias = 0
    for (const p of ps) {
      for (const x of [0, 1] as const) bias = Math.max(bias, Math.abs(binomialExpectation(table[x], p) - limit(x, p)))
    }
    return { groupSize: G, bias, scaledBias: bias * G }
  })
  const shrinking = rows.every((r, i) => i === 0 || r.bias < rows[i - 1]!.bias)
  const small = rows[rows.length - 1]!.bias <= 0.01 * rows[0]!.bias
  return {
    name: "Proposition 4.1, case 1 (large group)",
    statement: `${transform === undefined ? "grpo (population std, eps = 0)" : t.name}: E[A | X = x] -> ${opts.limit === undefined ? "(x - p)/sqrt(p(1-p))" : "limit(x, p)"} as G = 2N grows, the bias shrinking with N`,
    holds: shrinking && small,
    detail:
      `max bias over p in {${ps.join(", ")}}: ` +
      rows.map((r) => `G=${r.groupSize}: ${fmt(r.bias)}`).join(", ") +
      `; bias*G at the largest G = ${fmt(rows[rows.length - 1]!.scaledBias)}` +
      (shrinking ? "" : " (NOT shrinking at every step)"),
    rows
  }
}

export interface ContrastiveResult extends PropositionResult {
  /** `(1/G) sum_i A_i t_i`, the on-policy unclipped objective of the group. */
  readonly objective: number
  /** Weights of the positive and negative means: objective = w+ mean+(t) - w- mean-(t). */
  readonly positiveWeight: number
  readonly negativeWeight: number
  /** sqrt(p^(1 - p^)) for the group's pass rate p^. */
  readonly sqrtVariance: number
}

/**
 * Eq. (8) (App. A.1): for any group of 0/1 rewards and any per-rollout terms t_i (the paper's
 * `pi^GRPO(o_i | q)`), the on-policy unclipped GRPO objective is contrastive:
 *
 *   (1/G) sum_i A_i t_i = sqrt(p^(1 - p^)) (mean_{r_i = 1} t_i - mean_{r_i = 0} t_i).
 *
 * Default transform: `grpo({ std: "population", eps: 0 })`, for which the identity is exact.
 * For another transform, holds when its advantages are constant within the correct and within the
 * wrong rollouts and the two weights agree (a symmetric contrastive form), and, if given,
 * `expectedWeight(p^, G)` matches (default transform: sqrt(p^(1 - p^))). Dr.GRPO's weight is
 * p^(1 - p^), RLOO's G p^(1 - p^)/(G - 1). Terms default to seeded uniforms in [0, 1).
 */
export const eq8ContrastiveForm = (
  rewards: ReadonlyArray<number>,
  opts: {
    readonly transform?: AnyAdvantageTransform
    readonly terms?: ReadonlyArray<number>
    readonly seed?: number
    readonly expectedWeight?: (pHat: number, groupSize: number) => number
  } = {}
): ContrastiveResult => {
  const G = rewards.length
  rewards.forEach((r, i) => {
    if (r !== 0 && r !== 1) throw new InvalidArgumentError(`rewards[${i}]`, `is ${r}; Eq. (8) is about 0/1 rewards`)
  })
  if (G < 1) throw new InvalidArgumentError("rewards", "is empty")
  const rng = Rng.seeded(opts.seed ?? 0)
  const terms = opts.terms === undefined ? Array.from({ length: G }, () => rng.float()) : opts.terms
  if (terms.length !== G) throw new InvalidArgumentError("terms", `has ${terms.length} entries for ${G} rewards`)
  terms.forEach((x, i) => {
    if (!Number.isFinite(x)) throw new InvalidArgumentError(`terms[${i}]`, `is ${x}; it must be finite`)
  })
  const t = opts.transform ?? grpo({ std: "population", eps: 0 })
  const expectedWeight =
    opts.expectedWeight ?? (opts.transform === undefined ? (p: number) => Math.sqrt(p * (1 - p)) : undefined)
  const A = advantagesOf(t, Float64Array.from(rewards), new Int32Array(G))
  const positives = rewards.map((r, i) => [r, i] as const).filter(([r]) => r === 1).map(([, i]) => i)
  const negatives = rewards.map((r, i) => [r, i] as const).filter(([r]) => r === 0).map(([, i]) => i)
  const pHat = positives.length / G
  const spreadOf = (idx: number[]) => (idx.length === 0 ? 0 : Math.max(...idx.map((i) => A[i]!)) - Math.min(...idx.map((i) => A[i]!)))
  const constant = spreadOf(positives) <= identityTolerance && spreadOf(negatives) <= identityTolerance
  const meanOf = (idx: number[], xs: ArrayLike<number>) => (idx.length === 0 ? 0 : idx.reduce((s, i) => s + xs[i]!, 0) / idx.length)
  const positiveWeight = (meanOf(positives, A) * positives.length) / G
  const negativeWeight = ((0 - meanOf(negatives, A)) * negatives.length) / G // 0 - x: no -0
  let objective = 0
  for (let i = 0; i < G; i++) objective += (A[i]! * terms[i]!) / G
  const contrast = meanOf(positives, terms) - meanOf(negatives, terms)
  const contrastive = positiveWeight * meanOf(positives, terms) - negativeWeight * meanOf(negatives, terms)
  const scaleOf = 1 + Math.abs(objective)
  const symmetric = Math.abs(positiveWeight - negativeWeight) <= identityTolerance * scaleOf
  const weight = expectedWeight?.(pHat, G)
  const weightOk = weight === undefined || Math.abs(positiveWeight - weight) <= identityTolerance * scaleOf
  const formOk = Math.abs(objective - contrastive) <= identityTolerance * (1 + terms.reduce((s, x) => s + Math.abs(x), 0))
  const sqrtVariance = Math.sqrt(pHat * (1 - pHat))
  return {
    name: "Eq. (8), GRPO is contrastive",
    statement:
      opts.transform === undefined
        ? "(1/G) sum A_i t_i = sqrt(p^(1-p^)) (mean of t over correct - mean of t over wrong)"
        : `${t.name}: (1/G) sum A_i t_i = w (mean of t over correct - mean of t over wrong), one weight w for both`,
    holds: constant && symmetric && weightOk && formOk,
    detail:
      `rewards [${rewards.join(",")}], p^ = ${fmt(pHat)}: objective ${fmt(objective)}, ` +
      `w+ = ${fmt(positiveWeight)}, w- = ${fmt(negativeWeight)}, sqrt(p^(1-p^)) = ${fmt(sqrtVariance)}, ` +
      `sqrt(p^(1-p^)) x contrast = ${fmt(sqrtVariance * contrast)}` +
      (weight === undefined ? "" : `, expected w = ${fmt(weight)}`) +
      (constant ? "" : "; advantages NOT constant within correct/wrong rollouts"),
    objective,
    positiveWeight,
    negativeWeight,
    sqrtVariance
  }
}

export interface VarianceOverBRow {
  readonly groupsPerBatch: number
  readonly variance: number
  /** B Var_B / Var_1: 1 when Lemma 4.3 holds. */
  readonly ratio: number
  /** Allowed |ratio - 1| (float rounding when exact, the concentration bound under Monte Carlo). */
  readonly tolerance: number
}

export interface VarianceOverBResult extends PropositionResult {
  readonly rows: ReadonlyArray<VarianceOverBRow>
}

/**
 * Lemma 4.3 (Eq. 16): the variance of the mean gradient over B independent groups is `Var_1 / B`.
 * For ANY transform: evaluated on a bandit with batches of B = 1, 2, ... groups given to the
 * transform TOGETHER, so a transform that couples groups (REINFORCE++-baseline whitens over the
 * batch) shows where the lemma's independence assumption fails. Exact by enumeration by default;
 * `method: "monteCarlo"` uses the bounds of `Expectation.monteCarlo`.
 */
export const lemma43VarianceOverB = (
  transform: AnyAdvantageTransform,
  opts: {
    readonly groupSize: number
    readonly groupsPerBatch?: ReadonlyArray<number>
    readonly bandit?: Bandit.Bandit
    readonly arms?: number
    readonly prompts?: number
    readonly seed?: number
    readonly method?: "exact" | "monteCarlo"
    readonly samples?: number
  }
): VarianceOverBResult => {
  const bandit =
    opts.bandit ?? Bandit.random(Rng.seeded(opts.seed ?? 0), { arms: opts.arms ?? 3, prompts: opts.prompts ?? 2 })
  const Bs = opts.groupsPerBatch ?? [1, 2, 3]
  if (Bs[0] !== 1) throw new InvalidArgumentError("groupsPerBatch", "must start with 1 (the single-group variance Var_1)")
  const method = opts.method ?? "exact"
  const measured = Bs.map((B) => {
    if (method === "exact") {
      const r = Expectation.exact(transform, bandit, { groupSize: opts.groupSize, groupsPerBatch: B })
      return { B, variance: r.variance, tolerance: 1e-9 * r.variance }
    }
    const r = Expectation.monteCarlo(transform, bandit, {
      groupSize: opts.groupSize,
      groupsPerBatch: B,
      samples: opts.samples ?? 20000,
      seed: (opts.seed ?? 0) + B
    })
    return { B, variance: r.variance, tolerance: r.tolerance.variance }
  })
  const v1 = measured[0]!
  const rows: VarianceOverBRow[] = measured.map((m) => ({
    groupsPerBatch: m.B,
    variance: m.variance,
    ratio: (m.B * m.variance) / v1.variance,
    // |B V_B - V_1| <= B t_B + t_1, relative to V_1.
    tolerance: (m.B * m.tolerance + v1.tolerance) / v1.variance
  }))
  return {
    name: "Lemma 4.3, variance over B groups",
    statement: `${transform.name}, G = ${opts.groupSize}: Var(mean gradient over B groups) = Var_1 / B`,
    holds: rows.every((r) => Math.abs(r.ratio - 1) <= r.tolerance),
    detail:
      `${method}, Var_1 = ${fmt(v1.variance)}; B Var_B / Var_1: ` +
      rows.map((r) => `B=${r.groupsPerBatch}: ${fmt(r.ratio)}`).join(", ") +
      ` (tolerance ${fmt(Math.max(...rows.map((r) => r.tolerance)))})`,
    rows
  }
}

export interface PassAtRoundsResult extends PropositionResult {
  /** 1 - (1 - p0)^(2m): 2m rollouts from the initial policy. */
  readonly pass2m: number
  /** 1 - prod_i (1 - p_i)^2: m rounds of 2 rollouts, the policy improving between rounds. */
  readonly passMx2: number
  /** Every later pass rate is >= p0 (the proposition's premise). */
  readonly premise: boolean
}

/**
 * Proposition 4.4 (Eqs. 18-19): with pass rates p_0 <= p_i for the policies of rounds i = 1..m-1,
 * m rounds of 2 rollouts find a correct answer at least as often as 2m rollouts at once:
 * `P_{m x 2} = 1 - prod_{i<m} (1 - p_i)^2 >= 1 - (1 - p_0)^(2m) = P_{2m}`.
 * `ps` are p_1..p_{m-1} (so `ps.length = m - 1`). `holds` reports the inequality itself; `premise`
 * whether the pass rates did not fall (when they do, the inequality can fail).
 */
export const prop44PassAtRounds = (p0: number, ps: ReadonlyArray<number>, m: number): PassAtRoundsResult => {
  checkProbability(p0, "p0")
  if (!Number.isInteger(m) || m < 1) throw new InvalidArgumentError("m", `is ${m}; it must be an integer >= 1`)
  if (ps.length !== m - 1) throw new InvalidArgumentError("ps", `has ${ps.length} entries; give the m - 1 = ${m - 1} pass rates p_1..p_{m-1}`)
  ps.forEach((p, i) => checkProbability(p, `ps[${i}]`))
  const pass2m = 1 - (1 - p0) ** (2 * m)
  const passMx2 = 1 - [p0, ...ps].reduce((prod, p) => prod * (1 - p) ** 2, 1)
  const premise = ps.every((p) => p >= p0)
  // Both sides are products of m factors in [0, 1]: compare with a rounding allowance.
  const holds = passMx2 >= pass2m - 1e-15
  return {
    name: "Proposition 4.4, pass@ over rounds",
    statement: "P_{m x 2} = 1 - prod (1 - p_i)^2 >= P_{2m} = 1 - (1 - p_0)^(2m) when p_i >= p_0",
    holds,
    detail: `p0 = ${fmt(p0)}, m = ${m}, rates ${premise ? "do not fall" : "FALL below p0"}: P_{m x 2} = ${fmt(passMx2)}, P_{2m} = ${fmt(pass2m)}`,
    pass2m,
    passMx2,
    premise
  }
}

export interface ScaleResult extends PropositionResult {
  readonly minScale: number
  readonly maxScale: number
  readonly maxResidual: number
  readonly minCosine: number
}

/**
 * Unbiasedness up to a constant: on `bandits` random 0/1 bandits (each with `prompts` prompts of
 * `arms` arms), E[g] = c grad J exactly with ONE c for every bandit and prompt (and c =
 * `expectedScale` when given). Known constants: RLOO 1; Dr.GRPO 1 - 1/G; 2-GRPO 1/(1 + 2 eps)
 * (population std) or 1/(sqrt 2 + 2 eps) (unbiased std). Std-normalised GRPO with G >= 3 fails:
 * its per-prompt scale moves with the pass rate, and the detail prints the worst bandit found.
 */
export const scaleOnBandits = (
  transform: AnyAdvantageTransform,
  opts: {
    readonly groupSize: number
    readonly expectedScale?: number
    readonly arms?: number
    readonly prompts?: number
    readonly bandits?: number
    readonly seed?: number
    readonly rewards?: "binary" | "real"
    /** Name shown in the result (default the transform's name). */
    readonly label?: string
  }
): ScaleResult => {
  const rng = Rng.seeded(opts.seed ?? 0)
  const count = opts.bandits ?? 8
  let minScale = Infinity
  let maxScale = -Infinity
  let maxResidual = 0
  let minCosine = 1
  let worst: { bandit: Bandit.Bandit; result: Expectation.ExactResult } | undefined
  for (let b = 0; b < count; b++) {
    const bandit = Bandit.random(rng, { arms: opts.arms ?? 3, prompts: opts.prompts ?? 3, rewards: opts.rewards ?? "binary" })
    const result = Expectation.exact(transform, bandit, { groupSize: opts.groupSize })
    for (const c of [result.scale, ...result.promptScales]) {
      minScale = Math.min(minScale, c)
      maxScale = Math.max(maxScale, c)
    }
    minCosine = Math.min(minCosine, result.cosine)
    if (worst === undefined || result.residual > worst.result.residual) worst = { bandit, result }
    maxResidual = Math.max(maxResidual, result.residual)
  }
  const tol = Expectation.exactTolerance
  const oneScale = maxScale - minScale <= tol * Math.max(1, Math.abs(maxScale))
  const matches = opts.expectedScale === undefined || Math.abs(maxScale - opts.expectedScale) <= tol
  const holds = oneScale && matches && maxResidual <= tol
  const w = worst!
  const describe = w.bandit.prompts
    .map(
      (p, q) =>
        `  prompt ${q}: p = ${fmt(Bandit.expectedReward(w.bandit, q))}, c = ${fmt(w.result.promptScales[q]!)}, ` +
        `logits [${Array.from(p.logits, (x) => fmt(x, 4)).join(", ")}], rewards [${Array.from(p.rewards, (x) => fmt(x, 4)).join(", ")}]`
    )
    .join("\n")
  return {
    name: `Expected gradient of ${opts.label ?? transform.name}, G = ${opts.groupSize}${(opts.rewards ?? "binary") === "real" ? ", real rewards" : ""}`,
    statement:
      opts.expectedScale === undefined
        ? `E[g] = c grad J with one constant c on every bandit`
        : `E[g] = ${fmt(opts.expectedScale, 8)} grad J on every bandit`,
    holds,
    detail: holds
      ? `c = ${fmt(maxScale, 8)} on ${count} bandits x ${opts.prompts ?? 3} prompts (spread ${fmt(maxScale - minScale)}), max residual ${fmt(maxResidual)}`
      : `c ranges ${fmt(minScale, 8)}..${fmt(maxScale, 8)} over ${count} bandits x ${opts.prompts ?? 3} prompts; max residual ${fmt(maxResidual)} ` +
        `(|E[g] - c grad J|/|grad J|), min cosine ${fmt(minCosine)}\n` +
        `worst bandit (residual ${fmt(w.result.residual)}, cosine ${fmt(w.result.cosine)}):\n${describe}`,
    minScale,
    maxScale,
    maxResidual,
    minCosine
  }
}

/** Exact known scale constants of the built-in estimators on 0/1 rewards, for `scaleOnBandits`. */
export const knownScales = {
  rloo: (_groupSize: number) => 1,
  drGrpo: (groupSize: number) => 1 - 1 / groupSize,
  twoGrpoPopulation: (eps: number) => 1 / (1 + 2 * eps),
  twoGrpoUnbiased: (eps: number) => 1 / (Math.SQRT2 + 2 * eps)
} as const


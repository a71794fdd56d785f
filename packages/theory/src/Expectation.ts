/**
 * The expected policy-gradient estimate of ANY `AdvantageTransform` on a softmax bandit, and how it
 * relates to the true gradient `grad J` (see `Bandit`).
 *
 * `exact` enumerates every batch the bandit can produce, weighted by its probability, so the
 * expectation and the variance are exact up to float rounding. `monteCarlo` samples batches (fixed
 * seed) for bandits too big to enumerate and returns tolerances from concentration bounds.
 *
 * Read the result as: `E[g] = scale * grad J + (orthogonal part)`, with
 *   scale     c = <E[g], grad J> / |grad J|^2          (best-fit multiple)
 *   residual  |E[g] - c grad J| / |grad J|             (orthogonal bias, in units of |grad J|)
 *   bias      |E[g] - grad J| / |grad J|               (plain bias against the true gradient)
 *   cosine    <E[g], grad J> / (|E[g]| |grad J|)
 *   variance  E|g - E[g]|^2                            (trace of the covariance of g)
 * and `promptScales[q]`, the same c computed on prompt q's block alone. An estimator with
 * `residual = 0` on one prompt but a `promptScales` that moves with the prompt's pass rate follows
 * a p-dependent reweighting of the prompts (GRPO's 1/sqrt(p(1-p)), paper Sec. 3 and Prop. 4.1): on
 * a bandit with several prompts that shows up as a non-zero residual.
 */
import { InvalidArgumentError, Rng } from "@duet/core"
import type { AnyAdvantageTransform } from "@duet/core"
import type { Bandit } from "./Bandit.js"
import { rewardValues, trueGradient } from "./Bandit.js"
import { hoeffding, empiricalBernstein } from "./Concentration.js"
import { Evaluator, groupItems, itemCount } from "./internal/Batch.js"
import type { GroupItems, Method } from "./internal/Batch.js"

/** `residual` below this (relative to |grad J|) counts as "E[g] = c grad J exactly". */
export const exactTolerance = 1e-9

export interface ExactOptions {
  /** Rollouts per group, G. */
  readonly groupSize: number
  /** Groups per batch, B (default 1). The transform sees all B groups at once. */
  readonly groupsPerBatch?: number
  /**
   * "outcomes": all ordered draws (assumption-free). "multisets": unordered draws with multinomial
   * weights, exact for transforms that treat the rollouts of a group alike (permutation-equivariant);
   * checked on every batch with a random within-group permutation, failing with
   * `InvalidArgumentError` otherwise. "auto" (default): multisets, falling back to outcomes when the
   * check fails.
   */
  readonly method?: "auto" | Method
  /** Most batches to enumerate (default 2e6); above it, `InvalidArgumentError`. */
  readonly maxOutcomes?: number
}

/** What a gradient estimate is, measured against `grad J`. */
export interface GradientRelation {
  readonly expectedGradient: Float64Array
  readonly trueGradient: Float64Array
  readonly scale: number
  readonly residual: number
  readonly bias: number
  readonly cosine: number
  /** Best-fit scale on each prompt's block (NaN where that prompt's gradient is 0). */
  readonly promptScales: Float64Array
}

export interface ExactResult extends GradientRelation {
  readonly estimator: string
  readonly groupSize: number
  readonly groupsPerBatch: number
  readonly method: Method
  /** Batches enumerated. */
  readonly outcomes: number
  /** `E|g - E g|^2`, exact. */
  readonly variance: number
  /** `residual <= exactTolerance`: E[g] is exactly a multiple of grad J on this bandit. */
  readonly unbiasedUpToScale: boolean
}

const dot = (a: ArrayLike<number>, b: ArrayLike<number>, from = 0, to = a.length): number => {
  let s = 0
  for (let i = from; i < to; i++) s += a[i]! * b[i]!
  return s
}

/** Scale, residual, bias, cosine and per-prompt scales of `expected` against `grad J`. */
export const relate = (bandit: Bandit, expected: Float64Array): GradientRelation => {
  const truth = trueGradient(bandit)
  const tt = dot(truth, truth)
  const et = dot(expected, truth)
  const ee = dot(expected, expected)
  const scale = tt > 0 ? et / tt : Number.NaN
  let r2 = 0
  let b2 = 0
  for (let j = 0; j < truth.length; j++) {
    const d = expected[j]! - (tt > 0 ? scale : 0) * truth[j]!
    r2 += d * d
    b2 += (expected[j]! - truth[j]!) ** 2
  }
  const norm = Math.sqrt(tt)
  const promptScales = new Float64Array(bandit.prompts.length)
  bandit.prompts.forEach((p, q) => {
    const o = bandit.offsets[q]!
    const t = dot(truth, truth, o, o + p.policy.length)
    promptScales[q] = t > 0 ? dot(expected, truth, o, o + p.policy.length) / t : Number.NaN
  })
  return {
    expectedGradient: expected,
    trueGradient: truth,
    scale,
    residual: tt > 0 ? Math.sqrt(r2) / norm : Math.sqrt(r2),
    bias: tt > 0 ? Math.sqrt(b2) / norm : Math.sqrt(b2),
    cosine: tt > 0 && ee > 0 ? et / Math.sqrt(ee * tt) : Number.NaN,
    promptScales
  }
}

/** Default cap on enumerated batches. */
export const defaultMaxOutcomes = 2e6

/**
 * How many batches `exact` would enumerate: `(sum_q K_q^G)^B` ordered outcomes, or
 * `(sum_q C(K_q + G - 1, G))^B` multisets.
 */
export const enumerationSize = (
  bandit: Bandit,
  opts: { readonly groupSize: number; readonly groupsPerBatch?: number; readonly method: Method }
): number => itemCount(bandit, opts.groupSize, opts.method) ** (opts.groupsPerBatch ?? 1)

const positiveInteger = (x: number, field: string): number => {
  if (!Number.isInteger(x) || x < 1) throw new InvalidArgumentError(field, `is ${x}; it must be an integer >= 1`)
  return x
}

class NotEquivariant extends InvalidArgumentError {}

const enumerate = (
  evaluator: Evaluator,
  items: GroupItems,
  method: Method,
  dimension: number
): { mean: Float64Array; variance: number; outcomes: number } => {
  const { groupSize, groups, rows } = evaluator
  const total = items.count ** groups
  const index = new Int32Array(groups)
  const prompts = new Int32Array(rows)
  const arms = new Int32Array(rows)
  const permutedPrompts = new Int32Array(rows)
  const permutedArms = new Int32Array(rows)
  const perm = new Int32Array(rows)
  const rng = Rng.seeded(0x2_6e0)
  const g = new Float64Array(dimension)
  const mean = new Float64Array(dimension)
  const m2 = new Float64Array(dimension)
  let weightSum = 0
  for (let t = 0; t < total; t++) {
    let w = 1
    for (let b = 0; b < groups; b++) {
      const item = index[b]!
      w *= items.weight[item]!
      prompts.fill(items.prompt[item]!, b * groupSize, (b + 1) * groupSize)
      arms.set(items.arms.subarray(item * groupSize, (item + 1) * groupSize), b * groupSize)
    }
    if (w > 0) {
      const adv = evaluator.advantages(prompts, arms)
      if (method === "multisets") {
        // Permute rows within each group; an equivariant transform permutes its output alike.
        for (let b = 0; b < groups; b++) {
          const slice = Array.from({ length: groupSize }, (_, i) => b * groupSize + i)
          rng.shuffle(slice)
          for (let i = 0; i < groupSize; i++) perm[b * groupSize + i] = slice[i]!
        }
        for (let i = 0; i < rows; i++) {
          permutedPrompts[i] = prompts[perm[i]!]!
          permutedArms[i] = arms[perm[i]!]!
        }
        const permuted = evaluator.advantages(permutedPrompts, permutedArms)
        for (let i = 0; i < rows; i++) {
          const expected = adv[perm[i]!]!
          if (Math.abs(permuted[i]! - expected) > 1e-9 * (1 + Math.abs(expected))) {
            throw new NotEquivariant(
              "method",
              `"multisets" needs a permutation-equivariant transform, and ${evaluator.transform.name} is not: ` +
                `permuting the rollouts of a group changed advantage ${perm[i]} from ${expected} to ${permuted[i]}; use method "outcomes"`
            )
          }
        }
      }
      evaluator.gradient(prompts, arms, adv, g)
      // West (1979) weighted incremental mean and second moment: stable for tiny variances.
      weightSum += w
      const f = w / weightSum
      for (let j = 0; j < dimension; j++) {
        const delta = g[j]! - mean[j]!
        mean[j]! += f * delta
        m2[j]! += w * delta * (g[j]! - mean[j]!)
      }
    }
    for (let b = groups - 1; b >= 0; b--) {
      if (++index[b]! < items.count) break
      index[b] = 0
    }
  }
  let variance = 0
  for (let j = 0; j < dimension; j++) variance += m2[j]! / weightSum
  return { mean, variance, outcomes: total }
}

/**
 * Exact expectation and variance of a transform's policy-gradient estimate on `bandit`, by
 * enumeration. Fails with `InvalidArgumentError` when the batch count exceeds `maxOutcomes`, and
 * passes through the transform's own errors (e.g. `GroupSizeError` for 2-GRPO with G != 2).
 */
export const exact = (transform: AnyAdvantageTransform, bandit: Bandit, opts: ExactOptions): ExactResult => {
  const groupSize = positiveInteger(opts.groupSize, "groupSize")
  const groups = positiveInteger(opts.groupsPerBatch ?? 1, "groupsPerBatch")
  const maxOutcomes = opts.maxOutcomes ?? defaultMaxOutcomes
  const requested = opts.method ?? "auto"
  if (requested !== "auto" && requested !== "outcomes" && requested !== "multisets") {
    throw new InvalidArgumentError("method", `is ${String(requested)}; expected "auto", "outcomes" or "multisets"`)
  }
  const run = (method: Method): ExactResult => {
    const count = itemCount(bandit, groupSize, method) ** groups
    if (count > maxOutcomes) {
      throw new InvalidArgumentError(
        "groupSize",
        `${count.toExponential(2)} ${method} to enumerate (${bandit.prompts.length} prompt(s), G = ${groupSize}, B = ${groups}) exceed maxOutcomes = ${maxOutcomes}; ` +
          `use fewer arms or rollouts, method "multisets", or Expectation.monteCarlo`
      )
    }
    const evaluator = new Evaluator(transform, bandit, groupSize, groups)
    const { mean, variance, outcomes } = enumerate(evaluator, groupItems(bandit, groupSize, method), method, bandit.dimension)
    const relation = relate(bandit, mean)
    return {
      estimator: transform.name,
      groupSize,
      groupsPerBatch: groups,
      method,
      outcomes,
      variance,
      unbiasedUpToScale: relation.residual <= exactTolerance,
      ...relation
    }
  }
  if (requested !== "auto") return run(requested)
  try {
    return run("multisets")
  } catch (e) {
    if (e instanceof NotEquivariant) return run("outcomes")
    throw e
  }
}

export interface MonteCarloOptions {
  readonly groupSize: number
  /** Groups per batch, B (default 1). */
  readonly groupsPerBatch?: number
  /** Batches to draw (default 20000). */
  readonly samples?: number
  /** Seed of the `Rng` that draws prompts and arms (default 0). */
  readonly seed?: number
  /** Total failure probability of all stated tolerances together (default 1e-6). */
  readonly delta?: number
  /**
   * A bound on |A_i| for this bandit's rewards. Default: the exact maximum over every reward
   * tuple the batch can hold (enumerated when there are at most 2^16 such tuples; otherwise this
   * option is required).
   */
  readonly advantageBound?: number
}

export interface MonteCarloResult extends GradientRelation {
  readonly estimator: string
  readonly groupSize: number
  readonly groupsPerBatch: number
  readonly samples: number
  readonly delta: number
  readonly advantageBound: number
  /** Estimated `E|g - E g|^2` (plug-in). */
  readonly variance: number
  /** With probability >= 1 - delta, all of these hold at once: */
  readonly tolerance: {
    /** |scale - true scale| (min of Hoeffding and empirical Bernstein). */
    readonly scale: number
    /** |E[g]_j estimate - E[g]_j| per coordinate j (min of Hoeffding and empirical Bernstein). */
    readonly component: Float64Array
    /** |residual - true residual|. */
    readonly residual: number
    /** |variance - true variance|. */
    readonly variance: number
  }
}

const maxAdvantage = (evaluator: Evaluator, bandit: Bandit): number => {
  const values = rewardValues(bandit)
  const n = evaluator.rows
  const r = values.length
  if (r ** n > 2 ** 16) {
    throw new InvalidArgumentError(
      "advantageBound",
      `${r} distinct rewards in batches of ${n} rollouts give ${r}^${n} reward tuples, too many to find max |A|; pass advantageBound`
    )
  }
  const idx = new Int32Array(n)
  const rewards = new Float64Array(n)
  let bound = 0
  for (let t = 0; t < r ** n; t++) {
    for (let i = 0; i < n; i++) rewards[i] = values[idx[i]!]!
    const adv = evaluator.advantagesOfRewards(Float64Array.from(rewards))
    for (let i = 0; i < n; i++) bound = Math.max(bound, Math.abs(adv[i]!))
    for (let i = n - 1; i >= 0; i--) {
      if (++idx[i]! < r) break
      idx[i] = 0
    }
  }
  return bound
}

/**
 * Monte Carlo estimate of the same quantities as `exact`, with tolerances from concentration
 * bounds. Each coordinate of g lies in [-b, b] (b = max |A|, since |(e_a - pi)_j| <= 1); the
 * projection <g, grad J>/|grad J|^2 lies in [-b m, b m] with m = max_{q,a} |<e_a - pi_q, u_q>|;
 * |g|^2 <= b^2 max_{q,a} |e_a - pi_q|^2. Each coordinate, the scale and |g|^2 take the smaller of
 * the Hoeffding and empirical-Bernstein tolerances; a union bound splits delta over all 2D + 4 events.
 */
export const monteCarlo = (transform: AnyAdvantageTransform, bandit: Bandit, opts: MonteCarloOptions): MonteCarloResult => {
  const groupSize = positiveInteger(opts.groupSize, "groupSize")
  const groups = positiveInteger(opts.groupsPerBatch ?? 1, "groupsPerBatch")
  const samples = opts.samples ?? 20000
  if (!Number.isInteger(samples) || samples < 2) throw new InvalidArgumentError("samples", `is ${samples}; it must be an integer >= 2`)
  const delta = opts.delta ?? 1e-6
  if (!(delta > 0 && delta < 1)) throw new InvalidArgumentError("delta", `is ${delta}; it must lie in (0, 1)`)
  const evaluator = new Evaluator(transform, bandit, groupSize, groups)
  const bound = opts.advantageBound ?? maxAdvantage(evaluator, bandit)
  if (!(bound >= 0) || !Number.isFinite(bound)) throw new InvalidArgumentError("advantageBound", `is ${bound}; it must be finite and >= 0`)

  const truth = trueGradient(bandit)
  const tt = dot(truth, truth)
  const D = bandit.dimension
  // Ranges of the projection and of |g|^2 (see the doc comment).
  let projectionRange = 0
  let squareRange = 0
  bandit.prompts.forEach((p, q) => {
    const o = bandit.offsets[q]!
    const dotPiU = tt > 0 ? dot(p.policy, truth.subarray(o, o + p.policy.length)) / tt : 0
    let piSq = 0
    for (let k = 0; k < p.policy.length; k++) piSq += p.policy[k]! ** 2
    for (let a = 0; a < p.policy.length; a++) {
      if (tt > 0) projectionRange = Math.max(projectionRange, Math.abs(truth[o + a]! / tt - dotPiU))
      squareRange = Math.max(squareRange, piSq - 2 * p.policy[a]! + 1)
    }
  })
  projectionRange *= bound
  squareRange *= bound * bound

  const rng = Rng.seeded(opts.seed ?? 0)
  const prompts = new Int32Array(evaluator.rows)
  const arms = new Int32Array(evaluator.rows)
  const g = new Float64Array(D)
  const mean = new Float64Array(D)
  const m2 = new Float64Array(D)
  let meanSquare = 0
  let squareM2 = 0
  let projMean = 0
  let projM2 = 0
  for (let s = 0; s < samples; s++) {
    for (let b = 0; b < groups; b++) {
      const q = rng.categorical(bandit.weights)
      const policy = bandit.prompts[q]!.policy
      for (let i = b * groupSize; i < (b + 1) * groupSize; i++) {
        prompts[i] = q
        arms[i] = rng.categorical(policy)
      }
    }
    evaluator.gradient(prompts, arms, evaluator.advantages(prompts, arms), g)
    const f = 1 / (s + 1)
    let sq = 0
    for (let j = 0; j < D; j++) {
      const d = g[j]! - mean[j]!
      mean[j]! += f * d
      m2[j]! += d * (g[j]! - mean[j]!)
      sq += g[j]! * g[j]!
    }
    const dq = sq - meanSquare
    meanSquare += f * dq
    squareM2 += dq * (sq - meanSquare)
    const proj = tt > 0 ? dot(g, truth) / tt : 0
    const d = proj - projMean
    projMean += f * d
    projM2 += d * (proj - projMean)
  }
  const relation = relate(bandit, mean)
  // Events: D coordinates, the scale and |g|^2, each bounded twice (Hoeffding, empirical Bernstein).
  const each = delta / (2 * D + 4)
  const tolerance = (range: number, sampleVariance: number): number =>
    Math.min(hoeffding({ range, samples, delta: each }), empiricalBernstein({ range, samples, delta: each, sampleVariance }))
  const scaleTol = tolerance(2 * projectionRange, projM2 / (samples - 1))
  const component = Float64Array.from(m2, (v) => tolerance(2 * bound, v / (samples - 1)))
  const vectorTol = Math.sqrt(dot(component, component))
  const squareTol = tolerance(squareRange, squareM2 / (samples - 1))
  const meanNorm = Math.sqrt(dot(mean, mean))
  const variance = Math.max(0, meanSquare - meanNorm * meanNorm)
  return {
    estimator: transform.name,
    groupSize,
    groupsPerBatch: groups,
    samples,
    delta,
    advantageBound: bound,
    variance,
    tolerance: {
      scale: scaleTol,
      component,
      residual: tt > 0 ? vectorTol / Math.sqrt(tt) : vectorTol,
      // |mean|g|^2 - E|g|^2| + ||ghat|^2 - |Eg|^2| <= squareTol + (2|ghat| + e) e, e = |ghat - Eg|.
      variance: squareTol + (2 * meanNorm + vectorTol) * vectorTol
    },
    ...relation
  }
}

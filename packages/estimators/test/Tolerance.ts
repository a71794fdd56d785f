/**
 * Rounding-error bounds for the property tests, derived (first order) from the standard model
 * fl(x op y) = (x op y)(1 + d), |d| <= u, and recursive summation |fl(sum x) - sum x| <= (k-1) u sum|x|
 * (Higham, "Accuracy and Stability of Numerical Algorithms", 2nd ed., Sec. 2.2 and 4.2). Each bound
 * below is multiplied by SAFETY = 2 at the point of use, to cover the second-order terms dropped
 * (they are below (n u)^2 relative, i.e. < 1e-28 for n <= 64).
 */

/** Unit roundoff of float64: 2^-53. */
export const u = Number.EPSILON / 2

/** Covers the dropped second-order terms (see the module comment). */
export const SAFETY = 2

export interface GroupStats {
  readonly n: number
  /** max - min of the group's values. */
  readonly range: number
  readonly maxAbs: number
  /** Exact-enough std (two-pass, float64) with the given divisor convention. */
  readonly std: number
}

export const groupStats = (values: ReadonlyArray<number>, std: "unbiased" | "population" = "unbiased"): GroupStats => {
  const n = values.length
  const mean = values.reduce((a, b) => a + b, 0) / n
  const ss = values.reduce((a, b) => a + (b - mean) ** 2, 0)
  return {
    n,
    range: Math.max(...values) - Math.min(...values),
    maxAbs: Math.max(...values.map(Math.abs)),
    std: Math.sqrt(ss / (std === "unbiased" ? n - 1 : n))
  }
}

/**
 * |computed - exact| of a centred value x_i - mean_g (GroupCentering): the anchor shift d_i = x_i - a
 * errs by u|d_i| <= u range; the sum of n shifted values by (n-1) u n range, so their mean by
 * (n-1) u range, plus u range for the division; the propagated shift errors average to <= u range;
 * the final subtraction errs by u range. Total (n + 3) u range.
 */
export const centringError = (n: number, range: number): number => (n + 3) * u * range

/** Largest |x_i - mean| / std for a group of n (Samuelson's inequality, population std): sqrt(n - 1). */
export const maxZ = (n: number): number => Math.sqrt(n - 1)

/**
 * |computed - exact| of A_i = c_i / (std + eps) when the centred values c carry errors <= ec:
 * the std's relative error is <= sum|c| ec / sum c^2 + ((n + 7)/2) u <= sqrt2 ec / std + ((n + 7)/2) u
 * (the (n + 7)/2 counts n squares and n - 1 additions halved by the root, the divisor, the root, and
 * the division by and multiplication with max|c| that keep the sum from under/overflowing)
 * (Cauchy-Schwarz: sum|c| / sum c^2 <= sqrt(n) / ||c|| <= sqrt2 / std for either std convention);
 * with |A| <= maxZ(n), adding eps and dividing:
 *   |dA| <= (1 + sqrt2 maxZ) ec / (std + eps) + maxZ ((n + 11)/2) u.
 */
export const scaledError = (n: number, ec: number, std: number, eps: number): number =>
  (1 + Math.SQRT2 * maxZ(n)) * (ec / (std + eps)) + maxZ(n) * ((n + 11) / 2) * u

/** Error of GRPO's output for one group (centring then scaling), per row. */
export const grpoError = (g: GroupStats, eps: number): number =>
  g.range === 0 ? 0 : scaledError(g.n, centringError(g.n, g.range), g.std, eps)

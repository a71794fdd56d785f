/**
 * Concentration bounds that turn a Monte Carlo estimate into a stated tolerance: with probability
 * at least 1 - delta, the sample mean of n i.i.d. draws lies within the returned t of the true mean.
 * Tests built on them fail with probability at most delta per check, and with a fixed seed not at all
 * unless the code is wrong.
 */
import { InvalidArgumentError } from "@duet/core"

const check = (samples: number, delta: number, width: number): void => {
  if (!Number.isInteger(samples) || samples < 2) throw new InvalidArgumentError("samples", `is ${samples}; it must be an integer >= 2`)
  if (!(delta > 0 && delta < 1)) throw new InvalidArgumentError("delta", `is ${delta}; it must lie in (0, 1)`)
  if (!(width >= 0) || !Number.isFinite(width)) throw new InvalidArgumentError("range", `is ${width}; it must be finite and >= 0`)
}

/**
 * Hoeffding (1963): for n i.i.d. draws in an interval of width `range`,
 * `P(|mean - mu| >= t) <= 2 exp(-2 n t^2 / range^2)`, so `t = range * sqrt(ln(2/delta) / (2n))`.
 */
export const hoeffding = (opts: { readonly range: number; readonly samples: number; readonly delta: number }): number => {
  check(opts.samples, opts.delta, opts.range)
  return opts.range * Math.sqrt(Math.log(2 / opts.delta) / (2 * opts.samples))
}

/**
 * Empirical Bernstein (Maurer & Pontil 2009, Thm. 4, made two-sided by a union bound): for n i.i.d.
 * draws in an interval of width `range` with unbiased sample variance `sampleVariance`,
 * `t = sqrt(2 V ln(4/delta) / n) + 7 range ln(4/delta) / (3 (n - 1))`. Tighter than Hoeffding when
 * the variance is small against the range.
 */
export const empiricalBernstein = (opts: {
  readonly range: number
  readonly samples: number
  readonly delta: number
  readonly sampleVariance: number
}): number => {
  check(opts.samples, opts.delta, opts.range)
  if (!(opts.sampleVariance >= 0)) throw new InvalidArgumentError("sampleVariance", `is ${opts.sampleVariance}; it must be >= 0`)
  const l = Math.log(4 / opts.delta)
  const n = opts.samples
  return Math.sqrt((2 * opts.sampleVariance * l) / n) + (7 * opts.range * l) / (3 * (n - 1))
}

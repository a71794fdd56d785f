/**
 * What `duet theory` prints: per estimator, the exact scale and bias of its expected policy gradient
 * against `grad J` on small random 0/1 bandits (`theoryRows`), and the paper's propositions checked
 * (`propositionRows`), as plain rows and aligned text.
 */
import { DuetInputError, Rng } from "@duet/core"
import type { AnyAdvantageTransform } from "@duet/core"
import { byName, estimatorNames, reinforcePlusPlusBaseline, rloo, grpo, twoGrpo, drGrpo } from "@duet/estimators"
import * as Bandit from "./Bandit.js"
import * as Expectation from "./Expectation.js"
import * as Propositions from "./Propositions.js"
import { fmt } from "./Propositions.js"

export interface NamedTransform {
  readonly name: string
  readonly transform: AnyAdvantageTransform
}

/** The built-in estimators (`@duet/estimators` `Registry`, in its order) by their CLI names, with verl's defaults. */
export const defaultEstimators = (): NamedTransform[] => estimatorNames.map((name) => ({ name, transform: byName(name) }))

export interface TheoryRow {
  readonly estimator: string
  /** "exact" (enumeration) or "monteCarlo" (the bandit is too big to enumerate; see the verdict for tolerances). */
  readonly method: "exact" | "monteCarlo"
  readonly arms: number
  readonly groupSize: number
  /** Best-fit c in E[g] = c grad J over the whole bandit (NaN when the estimator refused G). */
  readonly scale: number
  /** Smallest and largest per-prompt c. */
  readonly scaleMin: number
  readonly scaleMax: number
  /** |E[g] - c grad J| / |grad J|. */
  readonly residual: number
  /** |E[g] - grad J| / |grad J|. */
  readonly bias: number
  readonly cosine: number
  /** E|g - E g|^2 for one group per batch. */
  readonly variance: number
  readonly verdict: string
}

export interface TheoryRowOptions {
  /** Arms per prompt: one K or several (default [3, 4]). */
  readonly arms?: number | ReadonlyArray<number>
  /** Rollouts per group: one G or several (default [2, 4, 8]). */
  readonly groupSize?: number | ReadonlyArray<number>
  /** Prompts per bandit (default 4): several pass rates, so a p-dependent scale shows as bias. */
  readonly prompts?: number
  /** Seed of the random bandit (default 0); one bandit per K, shared by every estimator and G. */
  readonly seed?: number
  /** "binary" (default, RLVR) or "real" rewards. */
  readonly rewards?: "binary" | "real"
  /** Batches drawn when a (K, G) is too big to enumerate (default 20000). */
  readonly samples?: number
}

const list = (x: number | ReadonlyArray<number>): ReadonlyArray<number> => (typeof x === "number" ? [x] : x)

const tol = Expectation.exactTolerance

const verdictOf = (r: Expectation.ExactResult, scaleMin: number, scaleMax: number): string => {
  const G = r.groupSize
  const oneScale = scaleMax - scaleMin <= tol * Math.max(1, Math.abs(scaleMax))
  if (r.unbiasedUpToScale && oneScale) {
    if (Math.abs(r.scale - 1) <= tol) return "unbiased: E[g] = grad J"
    const names: Array<[number, string]> = [
      [1 - 1 / G, "1 - 1/G"],
      [G / (G - 1), "G/(G-1)"]
    ]
    const named = names.find(([c]) => Math.abs(r.scale - c) <= tol)
    return `unbiased up to scale: E[g] = ${fmt(r.scale, 8)} grad J` + (named ? ` (= ${named[1]})` : "")
  }
  return (
    `biased: per-prompt c ${fmt(scaleMin, 4)}..${fmt(scaleMax, 4)} moves with the pass rate` +
    (r.unbiasedUpToScale ? "" : `; residual ${fmt(r.residual, 3)}, cosine ${fmt(r.cosine, 6)}`)
  )
}

const monteCarloVerdict = (r: Expectation.MonteCarloResult): string =>
  `Monte Carlo (${r.samples} batches, delta ${r.delta}): c = ${fmt(r.scale, 4)} +- ${fmt(r.tolerance.scale, 2)}, ` +
  `residual ${fmt(r.residual, 3)} +- ${fmt(r.tolerance.residual, 2)}`

/**
 * One row per (K, G, estimator): the exact expectation of the estimator's gradient on a seeded
 * random bandit with `prompts` prompts of K arms, one group of G rollouts per batch; when the
 * multisets exceed `Expectation.defaultMaxOutcomes`, a Monte Carlo estimate with its tolerances
 * instead. An estimator that refuses G (2-GRPO needs G = 2) gets a row of NaN with the reason as
 * verdict.
 */
export const theoryRows = (transforms: ReadonlyArray<NamedTransform>, opts: TheoryRowOptions = {}): TheoryRow[] => {
  const rows: TheoryRow[] = []
  for (const arms of list(opts.arms ?? [3, 4])) {
    const bandit = Bandit.random(Rng.seeded(opts.seed ?? 0).fold(arms), {
      arms,
      prompts: opts.prompts ?? 4,
      rewards: opts.rewards ?? "binary"
    })
    for (const groupSize of list(opts.groupSize ?? [2, 4, 8])) {
      for (const { name, transform } of transforms) {
        try {
          const enumerable =
            Expectation.enumerationSize(bandit, { groupSize, method: "multisets" }) <= Expectation.defaultMaxOutcomes
          const r = enumerable
            ? Expectation.exact(transform, bandit, { groupSize })
            : Expectation.monteCarlo(transform, bandit, { groupSize, samples: opts.samples ?? 20000, seed: opts.seed ?? 0 })
          const scales = Array.from(r.promptScales).filter((c) => !Number.isNaN(c))
          const scaleMin = Math.min(...scales)
          const scaleMax = Math.max(...scales)
          rows.push({
            estimator: name,
            method: enumerable ? "exact" : "monteCarlo",
            arms,
            groupSize,
            scale: r.scale,
            scaleMin,
            scaleMax,
            residual: r.residual,
            bias: r.bias,
            cosine: r.cosine,
            variance: r.variance,
            verdict: "unbiasedUpToScale" in r ? verdictOf(r, scaleMin, scaleMax) : monteCarloVerdict(r)
          })
        } catch (e) {
          if (!(e instanceof DuetInputError)) throw e
          const nan = Number.NaN
          rows.push({
            estimator: name,
            method: "exact",
            arms,
            groupSize,
            scale: nan,
            scaleMin: nan,
            scaleMax: nan,
            residual: nan,
            bias: nan,
            cosine: nan,
            variance: nan,
            verdict: `n/a: ${e.message}`
          })
        }
      }
    }
  }
  return rows
}

export interface PropositionRow {
  readonly claim: string
  readonly holds: boolean
  readonly statement: string
  readonly detail: string
  /** Why a "no" is the expected answer, where it is. */
  readonly note?: string
}

const row = (r: Propositions.PropositionResult, note?: string): PropositionRow =>
  note === undefined
    ? { claim: r.name, holds: r.holds, statement: r.statement, detail: r.detail }
    : { claim: r.name, holds: r.holds, statement: r.statement, detail: r.detail, note }

/** Several results of one claim as one row (holds when all hold). */
const merged = (name: string, statement: string, rs: ReadonlyArray<Propositions.PropositionResult>): PropositionRow => ({
  claim: name,
  holds: rs.every((r) => r.holds),
  statement,
  detail: rs.map((r) => r.detail).join("\n")
})

/**
 * The paper's claims, checked: Prop. 4.1 (both cases), Eq. (8), the exact gradient scale of each
 * built-in estimator (and GRPO's bias), Lemma 4.3, Prop. 4.4. `eps` is the std offset of GRPO and
 * 2-GRPO (default 1e-6, verl); `seed` picks the random bandits.
 */
export const propositionRows = (opts: { readonly eps?: number; readonly seed?: number } = {}): PropositionRow[] => {
  const eps = opts.eps ?? 1e-6
  const seed = opts.seed ?? 0
  const P = Propositions
  const grpo4 = P.scaleOnBandits(grpo({ eps }), { groupSize: 4, seed })
  const twoReal = P.scaleOnBandits(twoGrpo({ eps }), { groupSize: 2, seed, rewards: "real" })
  const rppLemma = P.lemma43VarianceOverB(reinforcePlusPlusBaseline(), { groupSize: 2, seed })
  return [
    row(P.prop41TwoRollouts(undefined, { eps })),
    row(P.prop41LargeGroup()),
    merged(
      "Eq. (8), GRPO is contrastive",
      "(1/G) sum A_i t_i = sqrt(p^(1-p^)) (mean of t over correct - mean of t over wrong), any 0/1 group",
      [[1, 0], [1, 1, 0, 0], [1, 0, 0, 0, 0, 0, 0, 0], [0, 1, 1, 0, 1], [1, 1, 1, 1]].map((r, i) =>
        P.eq8ContrastiveForm(r, { seed: seed + i })
      )
    ),
    row(P.scaleOnBandits(rloo(), { groupSize: 4, expectedScale: 1, seed })),
    row(P.scaleOnBandits(rloo(), { groupSize: 3, expectedScale: 1, seed, rewards: "real" })),
    row(P.scaleOnBandits(drGrpo(), { groupSize: 4, expectedScale: P.knownScales.drGrpo(4), seed }), "c = 1 - 1/G"),
    row(
      P.scaleOnBandits(twoGrpo({ eps, std: "population" }), {
        label: "2-grpo (population std)",
        groupSize: 2,
        expectedScale: P.knownScales.twoGrpoPopulation(eps),
        seed
      }),
      "population std: c = 1/(1 + 2 eps)"
    ),
    row(
      P.scaleOnBandits(twoGrpo({ eps }), {
        label: "2-grpo (unbiased std)",
        groupSize: 2,
        expectedScale: P.knownScales.twoGrpoUnbiased(eps),
        seed
      }),
      "unbiased std (verl): c = 1/(sqrt 2 + 2 eps)"
    ),
    row(
      P.scaleOnBandits(grpo({ eps }), { groupSize: 3, seed }),
      "G = 3 is special: kappa(p) = (2/sqrt 3)((1-p)^2 + 2p(1-p) + p^2) = 2/sqrt 3 for every p (eps -> 0), so GRPO-3 is exact up to scale on 0/1 rewards"
    ),
    row(
      grpo4,
      grpo4.holds
        ? undefined
        : "expected no: std-normalised GRPO reweights prompts by their pass rate; for G = 4, c(p) = 3/2 - (3 - 3 sqrt 3/2) p(1-p) (eps -> 0)"
    ),
    row(twoReal, twoReal.holds ? undefined : "expected no: with real-valued rewards 2-GRPO keeps only the sign of r1 - r2"),
    row(P.lemma43VarianceOverB(twoGrpo({ eps }), { groupSize: 2, seed })),
    row(P.lemma43VarianceOverB(grpo({ eps }), { groupSize: 4, seed, groupsPerBatch: [1, 2] })),
    row(
      rppLemma,
      rppLemma.holds ? undefined : "expected no: REINFORCE++-baseline whitens over the whole batch, so groups are not independent"
    ),
    row(P.prop44PassAtRounds(0.05, [0.05, 0.08, 0.12, 0.2, 0.3, 0.4, 0.5], 8)),
    row(P.prop44PassAtRounds(0.3, [0.2, 0.1], 3), "expected no: the premise fails (pass rates fall)")
  ]
}

const cell = (x: unknown): string =>
  typeof x === "number" ? fmt(x) : typeof x === "boolean" ? (x ? "yes" : "no") : x === undefined ? "" : String(x)

/**
 * Aligned text table. `columns` picks and names the fields (default: every key of the first row);
 * numbers get 6 significant digits and are right-aligned, booleans print yes/no.
 */
export const formatTable = <R extends object>(
  rows: ReadonlyArray<R>,
  columns?: ReadonlyArray<readonly [keyof R & string, string]>
): string => {
  if (rows.length === 0) return ""
  const cols = columns ?? (Object.keys(rows[0]!) as Array<keyof R & string>).map((k) => [k, k] as const)
  const cells = rows.map((r) => cols.map(([k]) => cell(r[k])))
  const numeric = cols.map(([k]) => rows.every((r) => typeof r[k] === "number"))
  const widths = cols.map(([, h], j) => Math.max(h.length, ...cells.map((c) => c[j]!.length)))
  const line = (cs: ReadonlyArray<string>) =>
    cs
      .map((c, j) => (numeric[j] ? c.padStart(widths[j]!) : c.padEnd(widths[j]!)))
      .join("  ")
      .trimEnd()
  return [line(cols.map(([, h]) => h)), line(widths.map((w) => "-".repeat(w))), ...cells.map(line)].join("\n")
}

/** The columns `duet theory` shows for `TheoryRow`s. */
export const theoryColumns: ReadonlyArray<readonly [keyof TheoryRow & string, string]> = [
  ["estimator", "estimator"],
  ["arms", "K"],
  ["groupSize", "G"],
  ["scale", "scale c"],
  ["scaleMin", "c min"],
  ["scaleMax", "c max"],
  ["residual", "residual"],
  ["bias", "bias"],
  ["cosine", "cosine"],
  ["variance", "Var[g]"],
  ["verdict", "verdict"]
]

/** Propositions as indented blocks: `[yes] claim`, then the statement, the numbers (one line per part) and any note. */
export const formatPropositions = (rows: ReadonlyArray<PropositionRow>): string =>
  rows
    .map(
      (r) =>
        `[${r.holds ? "yes" : "no "}] ${r.claim}\n      claim: ${r.statement}\n      ${r.detail.replaceAll("\n", "\n      ")}` +
        (r.note === undefined ? "" : `\n      note: ${r.note}`)
    )
    .join("\n")

/** The whole default report as text: the estimator table, then the propositions. */
export const text = (
  opts: TheoryRowOptions & { readonly estimators?: ReadonlyArray<NamedTransform>; readonly eps?: number } = {}
): string => {
  const rows = theoryRows(opts.estimators ?? defaultEstimators(), opts)
  const header =
    `Expected policy gradient E[g] vs grad J, exact, on a seeded random ${opts.rewards ?? "binary"}-reward bandit ` +
    `(${opts.prompts ?? 4} prompts, one group of G per batch).\n` +
    "scale c = <E g, grad J>/|grad J|^2 (c min/max: per prompt); residual = |E g - c grad J|/|grad J|; " +
    "bias = |E g - grad J|/|grad J|; Var[g] = E|g - E g|^2."
  const propositionOpts = opts.eps === undefined ? { seed: opts.seed ?? 0 } : { eps: opts.eps, seed: opts.seed ?? 0 }
  return [header, formatTable(rows, theoryColumns), "", "Propositions:", formatPropositions(propositionRows(propositionOpts))].join("\n")
}

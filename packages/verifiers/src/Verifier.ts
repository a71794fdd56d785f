/**
 * The `Verifier` service: a named reward function `(completion, gold) -> Verdict`. One layer per
 * implementation (math, GSM8K, exact match, format), a weighted composite, and a deterministic
 * `layerTest`; `byName` maps the CLI's `--verifier NAME` to a layer. The checks themselves are the
 * pure modules (`MathAnswer`, `Gsm8k`, `ExactMatch`, `FormatReward`); this module only lifts them.
 */
import { InvalidArgumentError } from "@duet/core"
import { Context, Effect, Layer, Schema } from "effect"
import * as ExactMatch from "./ExactMatch.js"
import * as FormatReward from "./FormatReward.js"
import * as Gsm8k from "./Gsm8k.js"
import * as MathAnswer from "./MathAnswer.js"

/** One verdict: the reward, whether the answer is right, and the answer that was read. */
export interface Verdict {
  readonly reward: number
  readonly correct: boolean
  readonly extracted: string | null
  /** How the verdict was reached, for auditing a reward (`duet verify --explain`). */
  readonly explanation?: Explanation
}

/** The answer read from each side and the rule that decided. */
export interface Explanation {
  readonly extracted: string | null
  /** The answer read from the gold (its box or `#### N` when the gold is a solution). */
  readonly gold: string | null
  /** The test that decided: "exact rational value", "set, any order", "timeout", ... */
  readonly rule: string
  readonly reason: string
}

/** What a verifier is: a name and a total (never failing) verify function. */
export interface Shape {
  readonly name: string
  readonly verify: (completion: string, gold: string) => Effect.Effect<Verdict>
}

/** Builds a verifier from a pure check, traced as `Verifier.<name>`. */
export const make = (name: string, check: (completion: string, gold: string) => Verdict): Shape => ({
  name,
  verify: Effect.fn(`Verifier.${name}`)(function*(completion: string, gold: string) {
    return check(completion, gold)
  })
})

const fromCheck = (r: MathAnswer.CheckResult): Verdict => ({
  reward: r.correct ? 1 : 0,
  correct: r.correct,
  extracted: r.extracted,
  explanation: {
    extracted: r.extracted,
    gold: r.gold ?? null,
    rule: r.rule ?? (r.correct ? "matched" : "mismatch"),
    reason: r.reason ?? (r.correct ? "matched" : "mismatch")
  }
})

/** Math answers by value (`MathAnswer.check`): reward 1 or 0. */
export const math = (options: MathAnswer.Options = {}): Shape =>
  make("math", (completion, gold) => fromCheck(MathAnswer.check(completion, gold, options)))

/**
 * GSM8K: the gold may be the dataset's whole `answer` field (`... #### 42`) or the bare number.
 * A gold with nothing after `####` is a wrong answer (reward 0), never a failure.
 */
export const gsm8k = (options: Gsm8k.Options = {}): Shape =>
  make("gsm8k", (completion, gold) => {
    try {
      return fromCheck(Gsm8k.check(completion, gold, options))
    } catch (e) {
      if (e instanceof InvalidArgumentError) {
        const explanation = { extracted: null, gold: null, rule: "bad gold", reason: e.message }
        return { reward: 0, correct: false, extracted: null, explanation }
      }
      throw e
    }
  })

/** Exact string match (`ExactMatch.check`). */
export const exactMatch = (options: ExactMatch.Options = {}): Shape =>
  make("exact", (completion, gold) => fromCheck(ExactMatch.check(completion, gold, options)))

/** Format only (`FormatReward.check`); the gold is ignored; `correct` means well formatted. */
export const format = (options: FormatReward.Options = {}): Shape =>
  make("format", (completion) => {
    const r = FormatReward.check(completion, options)
    const rule = r.reward === 1 ? "format matched" : "format not matched"
    return { reward: r.reward, correct: r.reward === 1, extracted: r.matched, explanation: { extracted: r.matched, gold: null, rule, reason: rule } }
  })

/** A deterministic fake: correct iff the trimmed completion equals the trimmed gold. */
export const test: Shape = make("test", (completion, gold) => {
  const correct = completion.trim() === gold.trim()
  return { reward: correct ? 1 : 0, correct, extracted: completion.trim() }
})

export interface WeightedPart {
  readonly verifier: Shape
  readonly weight: number
}

/**
 * Weighted sum of rewards, e.g. `[{ verifier: math(), weight: 1 }, { verifier: format(), weight:
 * 0.1 }]`. `correct` and `extracted` come from the first part (the task verifier). Throws
 * `InvalidArgumentError` for no parts or a non-finite weight.
 */
export const composite = (parts: ReadonlyArray<WeightedPart>): Shape => {
  if (parts.length === 0) throw new InvalidArgumentError("parts", "a composite verifier needs at least one part")
  parts.forEach((p, i) => {
    if (!Number.isFinite(p.weight)) throw new InvalidArgumentError(`parts[${i}].weight`, `must be finite, got ${p.weight}`)
  })
  const name = `composite(${parts.map((p) => `${p.verifier.name}*${p.weight}`).join("+")})`
  return {
    name,
    verify: Effect.fn(`Verifier.composite`)(function*(completion: string, gold: string) {
      let reward = 0
      let first: Verdict | null = null
      for (const part of parts) {
        const v = yield* part.verifier.verify(completion, gold)
        reward += part.weight * v.reward
        first ??= v
      }
      return { reward, correct: first!.correct, extracted: first!.extracted, ...(first!.explanation ? { explanation: first!.explanation } : {}) }
    })
  }
}

/** Names `byName` knows (the CLI's `duet verify --verifier NAME`). */
export const names = ["math", "gsm8k", "exact", "format"] as const
export type Name = (typeof names)[number]

/** Asked for a verifier name that does not exist. */
export class UnknownVerifierError extends Schema.TaggedError<UnknownVerifierError>()("UnknownVerifierError", {
  name: Schema.String
}) {
  override get message(): string {
    return `unknown verifier ${JSON.stringify(this.name)}; known: ${names.join(", ")}`
  }
}

const byNameShape = (name: string): Shape | null => {
  switch (name) {
    case "math":
      return math()
    case "gsm8k":
      return gsm8k()
    case "exact":
      return exactMatch()
    case "format":
      return format()
    default:
      return null
  }
}

/** The verifier implementation called `name`, failing with `UnknownVerifierError`. */
export const shapeByName = (name: string): Effect.Effect<Shape, UnknownVerifierError> => {
  const shape = byNameShape(name)
  return shape === null ? Effect.fail(new UnknownVerifierError({ name })) : Effect.succeed(shape)
}

/**
 * The `Verifier` service. Its statics are the whole API: layers (`layerMath`, `layerGsm8k`,
 * `layerExactMatch`, `layerFormat`, `layerTest`, `layerComposite`, `layer(shape)`, `byName`) and
 * the implementations they provide (`math()`, `gsm8k()`, `exactMatch()`, `format()`, `test`,
 * `composite(parts)`, `make(name, check)`).
 */
export class Verifier extends Context.Service<Verifier, Shape>()("@duet/verifiers/Verifier") {
  static readonly layer = (shape: Shape): Layer.Layer<Verifier> => Layer.succeed(Verifier, shape)
  static readonly layerMath: Layer.Layer<Verifier> = Layer.succeed(Verifier, math())
  static readonly layerGsm8k: Layer.Layer<Verifier> = Layer.succeed(Verifier, gsm8k())
  static readonly layerExactMatch: Layer.Layer<Verifier> = Layer.succeed(Verifier, exactMatch())
  static readonly layerFormat: Layer.Layer<Verifier> = Layer.succeed(Verifier, format())
  static readonly layerTest: Layer.Layer<Verifier> = Layer.succeed(Verifier, test)
  static readonly layerComposite = (parts: ReadonlyArray<WeightedPart>): Layer.Layer<Verifier> =>
    Layer.succeed(Verifier, composite(parts))
  /** `byName("math")` etc.: the layer behind the CLI's `--verifier NAME`. */
  static readonly byName = (name: string): Layer.Layer<Verifier, UnknownVerifierError> =>
    Layer.effect(Verifier, shapeByName(name))
  static readonly names = names
  static readonly shapeByName = shapeByName
  static readonly make = make
  static readonly math = math
  static readonly gsm8k = gsm8k
  static readonly exactMatch = exactMatch
  static readonly format = format
  static readonly test = test
  static readonly composite = composite
}

/** The layer for `name` (`math`, `gsm8k`, `exact`, `format`); builds with `UnknownVerifierError` otherwise. */
export const byName = Verifier.byName

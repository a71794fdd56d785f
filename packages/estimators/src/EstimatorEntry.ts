/**
 * What the registry knows about a built-in estimator, declared once beside its constructor: its name,
 * its options (a small schema: type, bounds, description), its group-size rule, whether it needs
 * response lengths, and the constructor. Recipes (the pipeline derives their Effect Schema union from
 * the option specs), `duet advantages`, `duet theory` and the docs read these entries; nothing
 * branches on an estimator's name.
 */
import { InvalidArgumentError } from "@duet/core"
import type { AnyAdvantageTransform } from "@duet/core"
import type { GroupSizeRule } from "./internal/Recipe.js"

export type { GroupSizeRule }

/** One option of an estimator: a finite number with a lower bound, a boolean, or one of some strings. */
export type OptionSpec =
  | { readonly type: "number"; readonly min: number; readonly description: string }
  | { readonly type: "boolean"; readonly description: string }
  | { readonly type: "literal"; readonly values: ReadonlyArray<string>; readonly description: string }

export type OptionSpecs = { readonly [name: string]: OptionSpec }

type ValueOf<O extends OptionSpec> = O extends { readonly type: "number" }
  ? number
  : O extends { readonly type: "boolean" }
    ? boolean
    : O extends { readonly values: ReadonlyArray<infer L> }
      ? L
      : never

/** The options object an entry's constructor takes: every option optional (absent = its default). */
export type OptionsOf<S extends OptionSpecs> = { readonly [K in keyof S]?: ValueOf<S[K]> | undefined }

export interface EstimatorEntry<N extends string = string, S extends OptionSpecs = OptionSpecs> {
  /** The name recipes (`rl.estimator.kind`) and the CLI (`--estimator`) use. */
  readonly name: N
  /** One line for `--help` and the docs: what it computes and where it comes from. */
  readonly summary: string
  readonly options: S
  /** Group sizes it accepts (checked when a recipe is decoded, and again by the transform itself). */
  readonly groupSize: GroupSizeRule
  /** Reads `StepInfo.lengths` (tokens per completion). */
  readonly needsLengths: boolean
  make(options: OptionsOf<S>): AnyAdvantageTransform
}

/** Declares an entry, keeping its literal name and option types (for the recipe union's type). */
export const define = <const N extends string, const S extends OptionSpecs>(entry: EstimatorEntry<N, S>): EstimatorEntry<N, S> => entry

/** A finite number `>= min`. */
export const number = (min: number, description: string) => ({ type: "number", min, description }) as const
export const boolean = (description: string) => ({ type: "boolean", description }) as const
export const literal = <const V extends ReadonlyArray<string>>(values: V, description: string) => ({ type: "literal", values, description }) as const

const showValues = (spec: OptionSpec) =>
  spec.type === "number" ? `a finite number >= ${spec.min}` : spec.type === "boolean" ? "true or false" : spec.values.map((v) => JSON.stringify(v)).join(" or ")

/**
 * Checks untyped options (a CLI flag, a JSON object) against an entry's specs: an unknown option or a
 * bad value is an `InvalidArgumentError` naming the option and what it accepts.
 */
export const parseOptions = <S extends OptionSpecs>(entry: EstimatorEntry<string, S>, raw: Readonly<Record<string, unknown>>): OptionsOf<S> => {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(raw)) {
    if (value === undefined) continue
    const spec = Object.hasOwn(entry.options, key) ? entry.options[key] : undefined
    if (spec === undefined) {
      const known = Object.keys(entry.options)
      throw new InvalidArgumentError(key, `${entry.name} has no option "${key}"; ${known.length === 0 ? "it takes none" : `its options: ${known.join(", ")}`}`)
    }
    const ok =
      spec.type === "number"
        ? typeof value === "number" && Number.isFinite(value) && value >= spec.min
        : spec.type === "boolean"
          ? typeof value === "boolean"
          : typeof value === "string" && spec.values.includes(value)
    if (!ok) throw new InvalidArgumentError(key, `${entry.name}: is ${JSON.stringify(value)}; expected ${showValues(spec)}`)
    out[key] = value
  }
  return out as OptionsOf<S>
}

/** "groups of at least 2" / "groups of exactly 2". */
export const describeGroupSize = (rule: GroupSizeRule): string => ("exact" in rule ? `groups of exactly ${rule.exact}` : `groups of at least ${rule.min}`)

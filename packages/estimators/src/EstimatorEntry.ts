/**
 * What the registry knows about a built-in estimator, declared once beside its constructor: its name,
 * its options (a small schema: type, bounds, description), its group-size rule, whether it needs
 * response lengths, and the constructor. Recipes (the pipeline derives their Effect Schema union from
 * the option specs), `duet advantages`, `duet theory` and the docs read these entries; nothing
 * branches on an estimator's name.
 */
import { PluginOptions } from "@duet/core"
import type { AnyAdvantageTransform, OptionSpecs, OptionsOf } from "@duet/core"
import type { GroupSizeRule } from "./internal/Recipe.js"

export type { GroupSizeRule }

/** An estimator's options: the plugin option specs of `@duet/core` `PluginOptions`. */
export type { OptionSpec, OptionSpecs, OptionsOf } from "@duet/core"

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
export const number = (min: number, description: string) => PluginOptions.number(min, description)
export const boolean = PluginOptions.boolean
export const literal = <const V extends ReadonlyArray<string>>(values: V, description: string) => PluginOptions.literal(values, description)

/**
 * Checks untyped options (a CLI flag, a JSON object) against an entry's specs: an unknown option or a
 * bad value is an `InvalidArgumentError` naming the option and what it accepts.
 */
export const parseOptions = <S extends OptionSpecs>(entry: EstimatorEntry<string, S>, raw: Readonly<Record<string, unknown>>): OptionsOf<S> =>
  PluginOptions.parseOptions(entry, raw)

/** "groups of at least 2" / "groups of exactly 2". */
export const describeGroupSize = (rule: GroupSizeRule): string => ("exact" in rule ? `groups of exactly ${rule.exact}` : `groups of at least ${rule.min}`)

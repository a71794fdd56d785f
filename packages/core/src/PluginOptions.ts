/**
 * The options of a built-in plugin (an estimator, a loss), declared once beside its constructor as
 * a small schema: a finite number with bounds (optionally `false` to turn it off), a boolean, or one
 * of some strings; optional unless marked `required`. Recipes derive their Effect Schema union from
 * these specs, the CLI parses flags with `parseOptions`, `--help` and the docs print `description`.
 */
import { InvalidArgumentError } from "./Errors.js"

export type OptionSpec =
  | {
      readonly type: "number"
      readonly min: number
      readonly max?: number
      /** `false` is accepted too (the feature off). */
      readonly orFalse?: boolean
      readonly required?: boolean
      readonly description: string
    }
  | { readonly type: "boolean"; readonly required?: boolean; readonly description: string }
  | { readonly type: "literal"; readonly values: ReadonlyArray<string>; readonly required?: boolean; readonly description: string }

export type OptionSpecs = { readonly [name: string]: OptionSpec }

type ValueOf<O extends OptionSpec> = O extends { readonly type: "number"; readonly orFalse: true }
  ? number | false
  : O extends { readonly type: "number" }
    ? number
    : O extends { readonly type: "boolean" }
      ? boolean
      : O extends { readonly values: ReadonlyArray<infer L> }
        ? L
        : never

/** The options object a constructor takes: every option optional (absent = its default). */
export type OptionsOf<S extends OptionSpecs> = { readonly [K in keyof S]?: ValueOf<S[K]> | undefined }

/** A finite number in `[min, max]` (max optional). */
export const number = <const E extends { readonly max?: number; readonly orFalse?: boolean; readonly required?: boolean } = {}>(min: number, description: string, extra?: E) =>
  ({ type: "number", min, description, ...(extra ?? {}) }) as { readonly type: "number"; readonly min: number; readonly description: string } & E
export const boolean = (description: string) => ({ type: "boolean", description }) as const
export const literal = <const V extends ReadonlyArray<string>, const E extends { readonly required?: boolean } = {}>(values: V, description: string, extra?: E) =>
  ({ type: "literal", values, description, ...(extra ?? {}) }) as { readonly type: "literal"; readonly values: V; readonly description: string } & E

/** What a spec accepts, in words (`a finite number >= 0`, `true or false`, `"a" or "b"`). */
export const describe = (spec: OptionSpec): string =>
  spec.type === "number"
    ? `a finite number >= ${spec.min}${spec.max === undefined ? "" : ` and <= ${spec.max}`}${spec.orFalse ? ", or false" : ""}`
    : spec.type === "boolean"
      ? "true or false"
      : spec.values.map((v) => JSON.stringify(v)).join(" or ")

/** Does `value` satisfy `spec`? */
export const accepts = (spec: OptionSpec, value: unknown): boolean =>
  spec.type === "number"
    ? (spec.orFalse === true && value === false) ||
      (typeof value === "number" && Number.isFinite(value) && value >= spec.min && (spec.max === undefined || value <= spec.max))
    : spec.type === "boolean"
      ? typeof value === "boolean"
      : typeof value === "string" && spec.values.includes(value)

/**
 * Checks untyped options (a CLI flag, a JSON object) against a plugin's specs: an unknown option, a
 * bad value or a missing required one is an `InvalidArgumentError` naming the option and what it accepts.
 */
export const parseOptions = <S extends OptionSpecs>(plugin: { readonly name: string; readonly options: S }, raw: Readonly<Record<string, unknown>>): OptionsOf<S> => {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(raw)) {
    if (value === undefined) continue
    const spec = Object.hasOwn(plugin.options, key) ? plugin.options[key] : undefined
    if (spec === undefined) {
      const known = Object.keys(plugin.options)
      throw new InvalidArgumentError(key, `${plugin.name} has no option "${key}"; ${known.length === 0 ? "it takes none" : `its options: ${known.join(", ")}`}`)
    }
    if (!accepts(spec, value)) throw new InvalidArgumentError(key, `${plugin.name}: is ${JSON.stringify(value)}; expected ${describe(spec)}`)
    out[key] = value
  }
  for (const [key, spec] of Object.entries(plugin.options)) {
    if (spec.required === true && out[key] === undefined) throw new InvalidArgumentError(key, `${plugin.name}: is required (${spec.description})`)
  }
  return out as OptionsOf<S>
}

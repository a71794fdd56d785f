/**
 * A recipe as a TypeScript (or JavaScript) module, the convention users know from vite/vitest
 * configs. Its default export, `defineTrainer({ extends?, recipe?, estimator?, reward? })`, builds on
 * a shipped recipe (a YAML/JSON file, or the defaults) and swaps in the user's own plugin values:
 *
 *   export default defineTrainer({
 *     recipe: { rl: { groupSize: { kind: "fixed", size: 4 } } },
 *     estimator: chain(subtractGroupMean(), scaleBy(0.5))
 *   })
 *
 * The module is loaded with jiti (the loader vite/vitest-style configs use: TypeScript without a
 * build step). Recipe fields decode exactly as a YAML recipe's, with the same path-named errors.
 */
import { Effect } from "effect"
import { readFile } from "node:fs/promises"
import { basename, dirname, extname, resolve } from "node:path"
import type { AnyAdvantageTransform } from "@duet/core"
import * as Recipe from "./Recipe.js"
import { RecipeError } from "./Recipe.js"
import * as UserPlugins from "./UserPlugins.js"
import type { Plugins, Reward } from "./UserPlugins.js"
import type { Objective } from "./Objective.js"

type DeepPartial<T> = T extends ReadonlyArray<unknown> ? T : T extends object ? { readonly [K in keyof T]?: DeepPartial<T[K]> } : T

/** Recipe fields as a YAML recipe writes them; absent ones keep the base recipe's. */
export type RecipeFields = DeepPartial<Recipe.Recipe>

export interface TrainerDefinition {
  /** A YAML/JSON recipe to start from, relative to this module (e.g. "../recipes/16-grpo.yaml"); default: the built-in defaults. */
  readonly extends?: string
  /** Recipe fields over the base (as in a YAML recipe). `name` defaults to the module's file name. */
  readonly recipe?: RecipeFields
  /** The advantage estimator, instead of `rl.estimator`: any AdvantageTransform. */
  readonly estimator?: AnyAdvantageTransform
  /** The training reward, instead of the task's 0/1 grade: `(completion, problem) => number`. */
  readonly reward?: Reward
  /** The update, instead of `rl.loss`: any `Objective` (e.g. `Objective.policyGradient({ loss: ... })`). */
  readonly objective?: Objective
}

/** The default export of a TypeScript recipe (typed, so editors complete the fields). */
export const defineTrainer = (definition: TrainerDefinition): TrainerDefinition => definition

/** A recipe file loaded as a module rather than parsed as YAML/JSON. */
export const isModule = (file: string): boolean => /\.(ts|mts|cts|js|mjs|cjs)$/.test(file)

const keys = ["extends", "recipe", "estimator", "reward", "objective"]

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === "object" && x !== null && !Array.isArray(x)

const definitionOf = (exported: unknown, file: string): Effect.Effect<TrainerDefinition, RecipeError> => {
  const fail = (message: string) => Effect.fail(new RecipeError({ message: `${file}: ${message}` }))
  if (!isObject(exported)) return fail("the default export must be defineTrainer({ recipe?, estimator?, reward?, objective?, extends? })")
  const extra = Object.keys(exported).filter((k) => !keys.includes(k))
  if (extra.length > 0) return fail(`${extra.join(", ")}: not a trainer field (expected ${keys.join(", ")})`)
  if (exported.extends !== undefined && typeof exported.extends !== "string") return fail("extends: must be a path to a YAML/JSON recipe")
  if (exported.recipe !== undefined && !isObject(exported.recipe)) return fail("recipe: must be an object of recipe fields")
  return Effect.succeed(exported as TrainerDefinition)
}

/** The module's default export (TypeScript compiled on the fly by jiti). */
const importModule = (file: string): Effect.Effect<unknown, RecipeError> =>
  Effect.tryPromise({
    try: async () => {
      const { createJiti } = await import("jiti")
      const jiti = createJiti(import.meta.url, { fsCache: false, moduleCache: false })
      return jiti.import(resolve(file), { default: true })
    },
    catch: (e) => new RecipeError({ message: `${file}: cannot load the module: ${e instanceof Error ? e.message.split("\n")[0] : String(e)}` })
  })

/**
 * Loads a TypeScript/JavaScript recipe plus `--set` overrides: the recipe (user plugins recorded by
 * name) and the plugin values to pass to `Train.train`. An override naming a built-in estimator
 * (`--set rl.estimator.kind=grpo`) replaces the user's, for comparisons.
 */
export const load = (file: string, overrides: ReadonlyArray<string> = []): Effect.Effect<{ readonly recipe: Recipe.Recipe; readonly plugins: Plugins }, RecipeError> =>
  Effect.gen(function* () {
    const definition = yield* definitionOf(yield* importModule(file), file)
    const stem = basename(file, extname(file))
    let doc: unknown = /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(stem) ? { name: stem } : {}
    if (definition.extends !== undefined) {
      const base = resolve(dirname(file), definition.extends)
      const text = yield* Effect.tryPromise({
        try: () => readFile(base, "utf8"),
        catch: (e) => new RecipeError({ message: `${file}: extends: cannot read ${base} (${(e as Error).message})` })
      })
      const parsed = yield* Recipe.parseText(text, base)
      if (parsed !== null && parsed !== undefined && !isObject(parsed)) return yield* new RecipeError({ message: `${base}: a recipe file must be a mapping of fields` })
      doc = Recipe.merge(doc, parsed ?? {})
    }
    const fields = definition.recipe ?? {}
    if (definition.estimator !== undefined && fields.rl?.estimator !== undefined) {
      return yield* new RecipeError({ message: `${file}: give the estimator either as recipe.rl.estimator (a built-in) or as estimator (a value), not both` })
    }
    doc = Recipe.merge(doc, fields)
    // Recorded by name before decoding, so the base's estimator rules (2-grpo's group of 2) do not apply to the user's.
    if (definition.estimator !== undefined) doc = Recipe.merge(doc, { rl: { estimator: { kind: "custom", name: UserPlugins.estimatorName(definition.estimator) } } })
    if (definition.reward !== undefined && typeof definition.reward === "function") {
      doc = Recipe.merge(doc, { rl: { reward: { kind: "custom", name: UserPlugins.rewardName(definition.reward) } } })
    }
    if (definition.objective !== undefined && typeof definition.objective === "object" && definition.objective !== null) {
      if (fields.rl?.loss !== undefined) return yield* new RecipeError({ message: `${file}: give the loss either as recipe.rl.loss (a built-in) or as objective (a value), not both` })
      doc = Recipe.merge(doc, { rl: { loss: { kind: "custom", name: UserPlugins.objectiveName(definition.objective) } } })
    }
    for (const o of overrides) doc = Recipe.merge(doc, yield* Recipe.parseOverride(o))
    const decoded = yield* Recipe.decode(doc, file)
    const plugins: Plugins = {
      ...(decoded.rl.estimator.kind === "custom" ? { estimator: definition.estimator } : {}),
      ...(decoded.rl.reward?.kind === "custom" ? { reward: definition.reward } : {}),
      ...(decoded.rl.loss.kind === "custom" ? { objective: definition.objective } : {})
    }
    const recipe = yield* UserPlugins.bind(decoded, plugins).pipe(Effect.mapError((e) => new RecipeError({ message: `${file}: ${e.message}` })))
    return { recipe, plugins }
  })

/**
 * @duet/pipeline — the trainer as an Effect program: recipes (Effect Schema), warm start, the RL
 * loop (sample -> grade -> estimate -> update), held-out evaluation, metrics and checkpoints.
 */
export * as Recipe from "./Recipe.js"
export * as Plugins from "./Plugins.js"
export * as PluginSchemas from "./PluginSchemas.js"
export * as Setup from "./Setup.js"
export * as PolicyStore from "./PolicyStore.js"
export * as Tokens from "./Tokens.js"
export * as Update from "./Update.js"
export * as Evaluate from "./Evaluate.js"
export * as Guards from "./Guards.js"
export * as RunDir from "./RunDir.js"
export * as Train from "./Train.js"
export * as UserPlugins from "./UserPlugins.js"
export * as UserRecipe from "./UserRecipe.js"
export { defineTrainer } from "./UserRecipe.js"
export type { TrainerDefinition } from "./UserRecipe.js"
export type { Plugins as UserPluginValues, Reward } from "./UserPlugins.js"
export type { Recipe as RecipeType } from "./Recipe.js"
export type { TrainSummary, Reporter } from "./Train.js"
export * as Compare from "./Compare.js"
export * as RolloutSource from "./RolloutSource.js"

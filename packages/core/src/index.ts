/**
 * @duet/core — pure data and interfaces every duet plugin shares. No effect, no tfjs.
 */
export * as AdvantageTransform from "./AdvantageTransform.js"
export * as Rollout from "./Rollout.js"
export * as Scores from "./Scores.js"
export * as StepInfo from "./StepInfo.js"
export { Rng } from "./Rng.js"
export * from "./Errors.js"
export { chain, stateless, named } from "./AdvantageTransform.js"
export type { AdvantageTransform as Transform, AnyAdvantageTransform } from "./AdvantageTransform.js"
export * as PluginOptions from "./PluginOptions.js"
export type { OptionSpec, OptionSpecs, OptionsOf } from "./PluginOptions.js"

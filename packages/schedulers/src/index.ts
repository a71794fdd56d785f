/**
 * @duet/schedulers — pure schedules: learning rate, temperature (values of `Schedule`, a function
 * of the step), KL coefficient (controllers with explicit state) and group size (per-prompt
 * policies asked between sampling rounds). No effect, no tfjs.
 */
export * as Schedule from "./Schedule.js"
export * as LearningRate from "./LearningRate.js"
export * as Temperature from "./Temperature.js"
export * as KlCoefficient from "./KlCoefficient.js"
export * as GroupSize from "./GroupSize.js"
export type { Schedule as ScheduleFn } from "./Schedule.js"
export type { KlController, KlObservation } from "./KlCoefficient.js"
export type { GroupSizePolicy } from "./GroupSize.js"

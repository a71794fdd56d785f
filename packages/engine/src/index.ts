/**
 * @duet/engine — tfjs backend choice and fast kernels (OpenBLAS / pure-JS matmul, reductions,
 * fused ops) for tfjs 4.22. Import `tf` from here so every package shares one tfjs instance.
 */
export * as AdamW from "./AdamW.js"
export * as Bench from "./Bench.js"
export * as DecodeCache from "./DecodeCache.js"
export * as Engine from "./Engine.js"
export * as Ops from "./Ops.js"
export { tf } from "./Engine.js"
export type { BackendName, BlasChoice, EngineInfo, InitOptions } from "./Engine.js"
export { BackendUnavailableError, installHints } from "./Errors.js"

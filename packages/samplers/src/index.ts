export * as Sampler from "./Sampler.js"
export { SamplerError } from "./Sampler.js"

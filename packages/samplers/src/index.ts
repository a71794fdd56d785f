/** @duet/samplers — the Sampler service: local policy, OpenAI-compatible HTTP, and an OpenAI-compatible server. */
export * as Sampler from "./Sampler.js"
export * as HttpSampler from "./HttpSampler.js"
export * as OpenAiServer from "./OpenAiServer.js"
export { SamplerError } from "./Sampler.js"

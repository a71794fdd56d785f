/**
 * @duet/model — the GPT policy (forward, token log-probs, batched KV-cache sampling), its tokenizers,
 * AdamW, safetensors checkpoints, and the model benchmark.
 */
export * as Gpt from "./Gpt.js"
export * as KvCache from "./KvCache.js"
export * as Sampler from "./Sampler.js"
export * as Tokenizer from "./Tokenizer.js"
export * as AdamW from "./AdamW.js"
export * as Safetensors from "./Safetensors.js"
export * as Checkpoint from "./Checkpoint.js"
export * as Bench from "./Bench.js"
export type { GptConfig, Policy } from "./Gpt.js"
export type { Completion, SampleOptions } from "./Sampler.js"
export type { Tokenizer as TokenizerLike, TokenizerSpec } from "./Tokenizer.js"
export type { AdamWConfig, AdamWState } from "./AdamW.js"

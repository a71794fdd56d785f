/**
 * @duet/model — policies behind one interface (duet's GPT; Llama / Qwen2 / Qwen3 from Hugging Face
 * directories): forward, token log-probs, batched KV-cache sampling; tokenizers (char, byte, HF
 * tokenizer.json with chat templates), AdamW, safetensors checkpoints, and the model benchmark.
 */
export * as Gpt from "./Gpt.js"
export * as Llama from "./Llama.js"
export * as Hf from "./Hf.js"
export * as HfCheckpoint from "./HfCheckpoint.js"
export * as Policies from "./Policy.js"
export * as KvCache from "./KvCache.js"
export * as Sampler from "./Sampler.js"
export * as Tokenizer from "./Tokenizer.js"
export * as AdamW from "./AdamW.js"
export * as Safetensors from "./Safetensors.js"
export * as Checkpoint from "./Checkpoint.js"
export * as Bench from "./Bench.js"
export * as HfBench from "./HfBench.js"
export type { GptConfig } from "./Gpt.js"
export type { Policy, ModelConfig } from "./Policy.js"
export type { LlamaConfig } from "./Llama.js"
export { HfTokenizer } from "./HfTokenizer.js"
export type { ChatMessage } from "./HfTokenizer.js"
export type { Completion, SampleOptions } from "./Sampler.js"
export type { Tokenizer as TokenizerLike, TokenizerSpec } from "./Tokenizer.js"
export type { AdamWConfig, AdamWState } from "./AdamW.js"

/**
 * `duet sample --model DIR`: completions from a Hugging Face model. JSONL rows `{"prompt"}` on stdin
 * -> one line per row on stdout, in order: `{"text", "tokens", "logprobs", "finish_reason"}`.
 *
 * - The prompt is tokenized as HF's `tokenizer(prompt)` (BOS where the post-processor adds it), or
 *   with `--chat` rendered by the tokenizer's chat template as one user message with the generation
 *   prompt (the template holds the special tokens).
 * - Generation stops at any eos id of generation_config.json (`finish_reason: "stop"`, the eos in
 *   `tokens` and `logprobs`, not in `text`) or after `--max-tokens` / at max_position_embeddings
 *   (`"length"`). `--temperature 0` is greedy.
 * - `logprobs` are the model's own at temperature 1, before top-p/top-k (what PPO's old log-prob is).
 * - Row r (the r-th row of stdin, from 0) draws from `Rng.seeded(seed).fold(r)`, so the output does
 *   not depend on `--batch-size`.
 */
import { Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { InputError } from "../InputError.js"
import { backendFlag, batchFlag, forEachChunk, loadModel, modelFlag, stringField, writeLines } from "./Score.js"

export const command = Command.make(
  "sample",
  {
    model: modelFlag,
    temperature: Flag.Finite("temperature").pipe(Flag.withDescription("softmax temperature; 0 = greedy"), Flag.withDefault(1)),
    topP: Flag.Finite("top-p").pipe(Flag.withDescription("nucleus mass in (0, 1]; 1 = off"), Flag.withDefault(1)),
    topK: Flag.Int("top-k").pipe(Flag.withDescription("keep the k most likely tokens; 0 = off"), Flag.withDefault(0)),
    maxTokens: Flag.Int("max-tokens").pipe(Flag.withDescription("most tokens per completion"), Flag.withDefault(256)),
    chat: Flag.Boolean("chat").pipe(Flag.withDescription("render each prompt with the tokenizer's chat template (one user message, generation prompt added)"), Flag.withDefault(false)),
    system: Flag.String("system").pipe(Flag.withDescription("with --chat: a system message before each prompt"), Flag.optional),
    seed: Flag.Int("seed").pipe(Flag.withDescription("seed of the draws (row r draws from seed folded with r)"), Flag.withDefault(0)),
    batchSize: batchFlag,
    backend: backendFlag
  },
  (flags) =>
    Effect.gen(function* () {
      if (!(flags.temperature >= 0)) return yield* new InputError({ message: `--temperature must be >= 0, got ${flags.temperature}` })
      if (!(flags.topP > 0 && flags.topP <= 1)) return yield* new InputError({ message: `--top-p must be in (0, 1], got ${flags.topP}` })
      if (flags.topK < 0) return yield* new InputError({ message: `--top-k must be >= 0, got ${flags.topK}` })
      if (flags.maxTokens < 0) return yield* new InputError({ message: `--max-tokens must be >= 0, got ${flags.maxTokens}` })
      const system = Option.getOrUndefined(flags.system)
      if (system !== undefined && !flags.chat) return yield* new InputError({ message: "--system needs --chat" })
      const { Sampler } = yield* Effect.promise(() => import("@duet/model"))
      const { policy, tokenizer } = yield* loadModel(flags.model, flags.backend)
      if (flags.chat && !tokenizer.hasChatTemplate) return yield* new InputError({ message: `${flags.model}: --chat, but the tokenizer has no chat template (tokenizer_config.json chat_template or chat_template.jinja)` })
      const blockSize = policy.config.blockSize
      let first = 0
      yield* forEachChunk(flags.batchSize, (rows) =>
        Effect.gen(function* () {
          const prompts: Int32Array[] = []
          for (const row of rows) {
            const text = yield* stringField(row, "prompt")
            const ids = flags.chat
              ? tokenizer.encode(tokenizer.applyChatTemplate([...(system === undefined ? [] : [{ role: "system", content: system }]), { role: "user", content: text }], { addGenerationPrompt: true }))
              : tokenizer.encode(text, { addSpecialTokens: true })
            if (ids.length === 0) return yield* new InputError({ message: `stdin:${row.line}: "prompt" has no tokens (this tokenizer adds no BOS); give some text` })
            if (ids.length >= blockSize) return yield* new InputError({ message: `stdin:${row.line}: the prompt is ${ids.length} tokens, no room left in max_position_embeddings ${blockSize}` })
            prompts.push(ids)
          }
          const out = yield* Effect.try({
            try: () =>
              Sampler.sample(policy, prompts, {
                maxTokens: flags.maxTokens,
                temperature: flags.temperature,
                topP: flags.topP,
                topK: flags.topK,
                stopTokens: tokenizer.stopTokens,
                seed: flags.seed,
                firstRow: first
              }),
            catch: (e) => new InputError({ message: `stdin:${rows[0]!.line}-${rows[rows.length - 1]!.line}: ${(e as Error).message}` })
          })
          first += rows.length
          yield* writeLines(
            out.map((c) =>
              JSON.stringify({ text: tokenizer.decode(c.tokens), tokens: Array.from(c.tokens), logprobs: Array.from(c.logprobs), finish_reason: c.finishReason })
            )
          )
        })
      )
    })
).pipe(
  Command.withDescription(
    'Sample completions from a Hugging Face model: JSONL {"prompt"} on stdin -> {"text", "tokens", "logprobs", "finish_reason"} per row on stdout. KV-cached, batched, seeded; stops at the eos ids of generation_config.json.'
  ),
  Command.withExamples([
    { command: `echo '{"prompt":"What is 2+3?"}' | duet sample --model path/to/Qwen2.5-0.5B-Instruct --chat --temperature 0 --max-tokens 64`, description: "greedy, through the chat template" }
  ])
)

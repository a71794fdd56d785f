#!/usr/bin/env node
// The time overhead of sampling over HTTP: one 2-GRPO rollout batch (P prompts x 2) from the same
// policy through `Sampler.layerLocal` and through `HttpSampler.layer` -> `OpenAiServer` (duet
// serve, in this process, loopback), at two client concurrency limits. Prints medians and ratios
// measured in one run, and leaves the checkpoint for tools/bench-serve/openai_python_check.py.
// usage: node tools/bench-serve/bench-serve.mjs [--prompts 256] [--tokens 12] [--repeats 3]   (after `npm run build`)
import { Effect, Exit, Scope } from "effect"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Engine } from "@duet/engine"
import { Checkpoint, Gpt, Tokenizer } from "@duet/model"
import { HttpSampler, OpenAiServer, Sampler } from "@duet/samplers"

const args = process.argv.slice(2)
const arg = (name, d) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : d)
const P = arg("--prompts", 256)
const tokens = arg("--tokens", 12)
const repeats = arg("--repeats", 3)
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]

const info = await Engine.init()
const tokenizer = Tokenizer.CharTokenizer.fromAlphabet("0123456789+-= \n")
const policy = Gpt.init(Gpt.makeConfig({ vocabSize: tokenizer.vocabSize }), 1) // the reference 0.8M GPT, blockSize 64
const dir = join(mkdtempSync(join(tmpdir(), "duet-bench-serve-")), "gpt")
await Checkpoint.save(dir, { config: policy.config, params: policy.params, tokenizer })

const prompts = []
for (let i = 0; i < P; i++) {
  const ids = Int32Array.from([1, ...tokenizer.encode(`${(i * 37) % 100}+${(i * 11) % 100}=`)])
  prompts.push(ids, ids) // a group of 2
}
const request = (seed) => ({ prompts, maxTokens: tokens, temperature: 1, topP: 1, topK: 0, stopTokens: [], seed })
const time = async (layer) => {
  const run = (seed) => Effect.runPromise(Effect.provide(Effect.flatMap(Sampler.Sampler, (s) => s.sample(request(seed))), layer))
  await run(0) // warm-up
  const seconds = []
  for (let r = 1; r <= repeats; r++) {
    const t0 = performance.now()
    const rows = await run(r)
    seconds.push((performance.now() - t0) / 1000)
    if (rows.length !== 2 * P) throw new Error(`got ${rows.length} rows`)
  }
  return median(seconds)
}

const local = await time(Sampler.layerLocal(() => policy))
const scope = await Effect.runPromise(Scope.make())
const server = await Effect.runPromise(Scope.provide(scope)(OpenAiServer.serve({ checkpoint: dir, modelName: "gpt", maxBatchRows: 1024 })))
const results = { backend: info.backend, matmul: info.matmul, rows: 2 * P, maxTokens: tokens, localS: local }
for (const concurrency of [8, P]) {
  const before = server.stats()
  results[`httpC${concurrency}S`] = await time(HttpSampler.layer({ baseUrls: [server.baseUrl], model: "gpt", concurrency }))
  const after = server.stats()
  results[`httpC${concurrency}RowsPerBatch`] = Math.round((after.rows - before.rows) / (after.batches - before.batches))
}
await Effect.runPromise(Scope.close(scope, Exit.void))
for (const concurrency of [8, P]) results[`httpC${concurrency}OverLocal`] = +(results[`httpC${concurrency}S`] / local).toFixed(2)
console.log(JSON.stringify(results, null, 2))
console.log(`checkpoint kept for openai_python_check.py: ${dir}`)

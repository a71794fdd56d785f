#!/usr/bin/env node
// The time overhead of rollouts over HTTP: one 2-GRPO rollout batch (P prompts x 2) from the same
// policy, (A) in-process through `Sampler.layerLocal`, (B) through `HttpSampler.layer` -> a real
// `duet serve` process on loopback serving the same weights. A and B alternate (A B A B ...) so load
// drifts on a shared machine hit both alike; prints the medians, rollouts/s and B/A, and the median
// of the per-round ratios. The policy is the default recipe's model (2 layers, 4 heads, 96 wide,
// context 32), randomly initialised; no stop token, so every row is `--tokens` long (same work in A and B).
// usage: node tools/bench-serve/bench-serve.mjs [--prompts 256] [--tokens 8] [--rounds 5] [--concurrency 8] [--rows-per-request 128]   (after `npm run build`)
import { Effect } from "effect"
import { spawn } from "node:child_process"
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { Engine } from "@duet/engine"
import { Checkpoint, Gpt, Tokenizer } from "@duet/model"
import { HttpSampler, Sampler } from "@duet/samplers"

const args = process.argv.slice(2)
const arg = (name, d) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : d)
const P = arg("--prompts", 256)
const tokens = arg("--tokens", 8)
const rounds = arg("--rounds", 5)
const rowsPerRequest = arg("--rows-per-request", 128)
const concurrency = arg("--concurrency", 8)
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2
}

const info = await Engine.init({ threads: 1 })
const tokenizer = Tokenizer.CharTokenizer.fromAlphabet("0123456789+-= \n")
const policy = Gpt.init(Gpt.makeConfig({ vocabSize: tokenizer.vocabSize, nLayer: 2, nHead: 4, nEmbd: 96, blockSize: 32 }), 1)
const dir = join(mkdtempSync(join(tmpdir(), "duet-bench-serve-")), "gpt")
await Checkpoint.save(dir, { config: policy.config, params: policy.params, tokenizer })

// B's server: the real `duet serve` binary, its own process
const bin = fileURLToPath(new URL("../../apps/cli/bin/duet.js", import.meta.url))
const server = spawn(process.execPath, [bin, "serve", dir, "--port", "0", "--served-model-name", "gpt"], { stdio: ["ignore", "pipe", "inherit"] })
const baseUrl = await new Promise((ok, fail) => {
  server.stdout.once("data", (d) => ok(String(d).trim()))
  server.once("exit", (code) => fail(new Error(`duet serve exited with ${code}`)))
})

const prompts = []
for (let i = 0; i < P; i++) {
  const ids = Int32Array.from([1, ...tokenizer.encode(`${(i * 37) % 100}+${(i * 11) % 100}=`)])
  prompts.push(ids, ids) // a group of 2
}
const request = (seed) => ({ prompts, maxTokens: tokens, temperature: 1, topP: 1, topK: 0, stopTokens: [], seed })
const arms = {
  local: Sampler.layerLocal(() => policy),
  http: HttpSampler.layer({ baseUrls: [baseUrl], model: "gpt", concurrency, rowsPerRequest })
}
const once = async (layer, seed) => {
  const t0 = performance.now()
  const rows = await Effect.runPromise(Effect.provide(Effect.flatMap(Sampler.Sampler, (s) => s.sample(request(seed))), layer))
  const s = (performance.now() - t0) / 1000
  if (rows.length !== 2 * P || rows.some((r) => r.tokens.length !== tokens)) throw new Error(`got ${rows.length} rows`)
  return s
}

try {
  await once(arms.local, 0) // warm-up both
  await once(arms.http, 0)
  const seconds = { local: [], http: [] }
  for (let r = 1; r <= rounds; r++) {
    seconds.local.push(await once(arms.local, r))
    seconds.http.push(await once(arms.http, r))
  }
  const local = median(seconds.local)
  const http = median(seconds.http)
  console.log(
    JSON.stringify(
      {
        backend: info.backend,
        matmul: info.matmul,
        rollouts: 2 * P,
        tokensPerRollout: tokens,
        rounds,
        concurrency,
        rowsPerRequest,
        localS: +local.toFixed(3),
        httpS: +http.toFixed(3),
        localRolloutsPerS: Math.round((2 * P) / local),
        httpRolloutsPerS: Math.round((2 * P) / http),
        httpOverLocal: +(http / local).toFixed(2),
        medianRoundRatio: +median(seconds.http.map((h, i) => h / seconds.local[i])).toFixed(2),
        seconds
      },
      null,
      2
    )
  )
} finally {
  server.kill("SIGTERM")
  policy.dispose()
}
console.error(`checkpoint kept for openai_python_check.py: ${dir}`)

/** Test fixtures: a tiny char-level checkpoint on disk, and the policy's own log-probs of completions. */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { Effect, Exit, Scope } from "effect"
import { Engine } from "@duet/engine"
import { Checkpoint, Gpt, Tokenizer } from "@duet/model"
import type { Policy } from "@duet/model"
import { OpenAiServer } from "../src/index.js"

export const alphabet = "0123456789+-= \n"
export const tokenizer = Tokenizer.CharTokenizer.fromAlphabet(alphabet)
export const config = Gpt.makeConfig({ vocabSize: tokenizer.vocabSize, blockSize: 32, nLayer: 1, nHead: 2, nEmbd: 16 })

/** Saves a fresh policy (init seed `seed`) as a checkpoint; returns its directory and the policy. */
export const tinyCheckpoint = async (seed: number, dir = mkdtempSync(join(tmpdir(), "duet-serve-"))): Promise<{ dir: string; policy: Policy }> => {
  await Engine.init({ threads: 1 })
  const policy = Gpt.init(config, seed)
  const path = join(dir, `ckpt-${seed}`)
  await Checkpoint.save(path, { config, params: policy.params, tokenizer })
  return { dir: path, policy }
}

/** The policy's log-prob of each completion token (temperature 1), recomputed locally. */
export const localLogprobs = (policy: Policy, prompt: Int32Array, completion: Int32Array): number[] => {
  if (completion.length === 0) return []
  const { logprobs, mask } = policy.sequenceLogprobs([prompt], [completion])
  const out = Array.from(logprobs.dataSync()).slice(0, completion.length)
  logprobs.dispose()
  mask.dispose()
  return out
}

/** Starts `OpenAiServer.serve` in its own scope; `close` shuts it down as SIGTERM would. */
export const startServer = async (options: OpenAiServer.Options): Promise<OpenAiServer.Running & { close: () => Promise<void> }> => {
  const scope = await Effect.runPromise(Scope.make())
  const running = await Effect.runPromise(Scope.provide(scope)(OpenAiServer.serve(options)))
  return { ...running, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

export const post = async (url: string, body: unknown): Promise<{ status: number; json: any }> => {
  const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: typeof body === "string" ? body : JSON.stringify(body) })
  return { status: res.status, json: await res.json() }
}

/**
 * `duet serve CHECKPOINT`: an OpenAI-compatible server over a duet checkpoint or an HF directory (`@duet/samplers`
 * `OpenAiServer`), for OpenAI clients, `duet eval --endpoint` and the HTTP sampler. Loopback only
 * unless `--host` says otherwise; SIGINT/SIGTERM answer the requests in flight, then exit.
 */
import { Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { InputError } from "../InputError.js"
import { backends } from "./Train.js"

export const command = Command.make(
  "serve",
  {
    checkpoint: Argument.Directory("checkpoint").pipe(Argument.withDescription("duet checkpoint directory (e.g. runs/x/checkpoints/step-000300), or a Hugging Face model directory (Llama, Qwen2, Qwen3)")),
    host: Flag.String("host").pipe(Flag.withDescription("interface to listen on; 0.0.0.0 exposes the server to the network"), Flag.withDefault("127.0.0.1")),
    port: Flag.Int("port").pipe(Flag.withDescription("port (0: any free one, printed at start)"), Flag.withDefault(8000)),
    name: Flag.String("served-model-name").pipe(Flag.withDescription("model id clients send (default: the checkpoint directory's name)"), Flag.optional),
    maxTokens: Flag.Int("max-tokens").pipe(Flag.withDescription("largest max_tokens a request may ask for (default: the context length)"), Flag.optional),
    maxBody: Flag.Int("max-body-bytes").pipe(Flag.withDescription("largest request body"), Flag.withDefault(1 << 20)),
    batchWindow: Flag.Int("batch-window-ms").pipe(Flag.withDescription("how long a request waits for others to share its batch"), Flag.withDefault(5)),
    maxBatchRows: Flag.Int("max-batch-rows").pipe(Flag.withDescription("most rows (prompts x n) sampled together in one batch"), Flag.withDefault(1024)),
    backend: Flag.Literals("backend", backends).pipe(Flag.withDescription("tfjs backend (as duet train)"), Flag.withDefault("auto" as const))
  },
  (flags) =>
    Effect.gen(function* () {
      if (!Number.isInteger(flags.port) || flags.port < 0 || flags.port > 65535) return yield* new InputError({ message: `--port must be in [0, 65535], got ${flags.port}` })
      if (flags.maxBatchRows < 1) return yield* new InputError({ message: `--max-batch-rows must be >= 1, got ${flags.maxBatchRows}` })
      const { Engine } = yield* Effect.promise(() => import("@duet/engine"))
      const { OpenAiServer } = yield* Effect.promise(() => import("@duet/samplers"))
      yield* Effect.tryPromise({ try: () => Engine.init({ backend: flags.backend }), catch: (e) => new InputError({ message: (e as Error).message }) })
      const log = (line: string) => process.stderr.write(`duet serve: ${line}\n`)
      yield* Effect.scoped(
        Effect.gen(function* () {
          const running = yield* OpenAiServer.serve({
            checkpoint: flags.checkpoint,
            host: flags.host,
            port: flags.port,
            maxBodyBytes: flags.maxBody,
            batchWindowMs: flags.batchWindow,
            maxBatchRows: flags.maxBatchRows,
            ...(Option.isSome(flags.name) ? { modelName: flags.name.value } : {}),
            ...(Option.isSome(flags.maxTokens) ? { maxTokens: flags.maxTokens.value } : {}),
            log
          }).pipe(Effect.mapError((e) => new InputError({ message: e.message })))
          yield* Effect.addFinalizer(() => Effect.sync(() => log(`stopped after ${running.stats().requests} requests`)))
          const exposed = !["127.0.0.1", "::1", "localhost"].includes(flags.host)
          log(`${running.modelName} at ${running.baseUrl}${exposed ? " (listening beyond loopback: anyone who reaches this port can use it)" : ""}`)
          // the line tools wait for: the base URL, alone on stdout
          process.stdout.write(`${running.baseUrl}\n`)
          return yield* Effect.never
        })
      )
    })
).pipe(
  Command.withDescription(
    "Serve a checkpoint (duet or Hugging Face) over the OpenAI API: /v1/completions (n, max_tokens, temperature, top_p, top_k, stop, seed, logprobs), /v1/chat/completions (HF chat templates), /v1/models, /health, and SGLang's /update_weights_from_disk."
  ),
  Command.withExamples([
    { command: "duet serve runs/x/checkpoints/step-000300 --port 8000", description: "then: duet eval --endpoint http://127.0.0.1:8000/v1 --data test.jsonl" }
  ])
)

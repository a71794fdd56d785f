/**
 * `duet bench --model DIR | --model-config NAME|FILE`: size and speed of a Hugging Face (Llama-family)
 * model: train and decode tokens/s, peak memory (HfBench in @duet/model).
 *
 * `duet bench`: the hot paths, duet's kernels beside stock tfjs-wasm measured in the same run
 * (alternating rounds, medians of paired ratios): a GPT training step (tokens/s), KV-cache decode at
 * batch 256 (tokens/s), and with --gemm the GEMM/kernel table (GFLOP/s).
 */
import { Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { InputError } from "../InputError.js"

const int = (name: string, description: string) => Flag.Int(name).pipe(Flag.withDescription(description), Flag.optional)

export const command = Command.make(
  "bench",
  {
    dim: int("dim", "residual width (default 128: the 0.81M-parameter reference model)"),
    layers: int("layers", "transformer blocks (default 4)"),
    heads: int("heads", "attention heads (default 4)"),
    vocab: int("vocab", "vocabulary size (default 32)"),
    batch: int("batch", "training rows (default 32)"),
    seq: int("seq", "sequence length (default 64)"),
    decodeBatch: int("decode-batch", "rows decoded together (default 256)"),
    rounds: int("rounds", "alternating stock/duet rounds (default 5)"),
    blas: Flag.Literals("blas", ["auto", "native", "openblas", "js"] as const).pipe(
      Flag.withDescription("duet's matmul path: native (duet's own GEMM, built at install), openblas (the OpenBLAS addon), js (no compiler: duet's wasm SIMD kernels), or auto (the first that loads, in that order)"),
      Flag.withDefault("auto" as const)
    ),
    rl: Flag.Boolean("rl").pipe(
      Flag.withDescription(
        "benchmark a whole RL step instead (sample 512 rollouts, reward, PPO-clip update: forward, backward, AdamW), duet beside stock, with a per-phase breakdown; --size picks the model"
      ),
      Flag.withDefault(false)
    ),
    size: Flag.Literals("size", ["default", "ref"] as const).pipe(
      Flag.withDescription("with --rl: the default recipe's model (0.23M: dim 96, 2 layers, seq 32) or the 0.81M reference"),
      Flag.withDefault("default" as const)
    ),
    skip: Flag.Boolean("skip").pipe(Flag.withDescription("with --rl: leave zero-advantage rows out of the update (rl.skipZeroAdvantage)"), Flag.withDefault(false)),
    gemm: Flag.Boolean("gemm").pipe(Flag.withDescription("also run the GEMM and per-kernel table (GFLOP/s, duet vs stock)"), Flag.withDefault(false)),
    model: Flag.Directory("model").pipe(
      Flag.withDescription("benchmark a Hugging Face model directory (config.json + safetensors): train and decode tokens/s, peak memory"),
      Flag.optional
    ),
    modelConfig: Flag.String("model-config").pipe(
      Flag.withDescription("like --model with random weights from a preset (smollm2-135m, qwen2.5-0.5b, qwen2.5-1.5b) or a config.json file; nothing is downloaded"),
      Flag.optional
    ),
    newTokens: int("new", "with --model: new tokens per decode row (default 32)"),
    steps: int("steps", "with --model: timed training steps per round (default 1)"),
    threads: int("threads", "threads for GEMMs and decode attention (default 1 with --model and --rl, as duet train; all cores otherwise)"),
    json: Flag.Boolean("json").pipe(Flag.withDescription("machine-readable output"), Flag.withDefault(false))
  },
  (flags) =>
    Effect.gen(function* () {
      if (Option.isSome(flags.model) || Option.isSome(flags.modelConfig)) {
        if (Option.isSome(flags.model) && Option.isSome(flags.modelConfig)) {
          return yield* new InputError({ message: "--model and --model-config: give one of them" })
        }
        const source = Option.isSome(flags.model) ? { dir: flags.model.value } : { config: Option.getOrThrow(flags.modelConfig) }
        const opts: Record<string, unknown> = { blas: flags.blas, json: flags.json }
        for (const [name, v] of [
          ["batch", flags.batch],
          ["seq", flags.seq],
          ["decodeBatch", flags.decodeBatch],
          ["newTokens", flags.newTokens],
          ["steps", flags.steps],
          ["rounds", flags.rounds],
          ["threads", flags.threads]
        ] as Array<[string, Option.Option<number>]>) {
          if (Option.isSome(v)) opts[name] = v.value
        }
        const { HfBench } = yield* Effect.promise(() => import("@duet/model"))
        yield* Effect.tryPromise({
          try: () => HfBench.cli(source, opts, (line) => console.log(line)),
          catch: (e) => new InputError({ message: e instanceof Error ? e.message : String(e) })
        })
        return
      }
      if (flags.rl) {
        const argv: string[] = ["--blas", flags.blas, "--size", flags.size]
        for (const [name, v] of [
          ["--dim", flags.dim],
          ["--layers", flags.layers],
          ["--heads", flags.heads],
          ["--vocab", flags.vocab],
          ["--seq", flags.seq],
          ["--rounds", flags.rounds],
          ["--threads", flags.threads]
        ] as Array<[string, Option.Option<number>]>) {
          if (Option.isSome(v)) argv.push(name, String(v.value))
        }
        if (flags.skip) argv.push("--skip")
        if (flags.json) argv.push("--json")
        const { Bench } = yield* Effect.promise(() => import("@duet/model"))
        yield* Effect.tryPromise({
          try: () => Bench.rlCli(argv, (line) => console.log(line)),
          catch: (e) => new InputError({ message: e instanceof Error ? e.message : String(e) })
        })
        return
      }
      const argv: string[] = ["--blas", flags.blas]
      const pairs: Array<[string, Option.Option<number>]> = [
        ["--dim", flags.dim],
        ["--layers", flags.layers],
        ["--heads", flags.heads],
        ["--vocab", flags.vocab],
        ["--batch", flags.batch],
        ["--seq", flags.seq],
        ["--decode-batch", flags.decodeBatch],
        ["--rounds", flags.rounds],
        ["--threads", flags.threads]
      ]
      for (const [name, v] of pairs) if (Option.isSome(v)) argv.push(name, String(v.value))
      if (flags.json) argv.push("--json")
      const { Bench } = yield* Effect.promise(() => import("@duet/model"))
      yield* Effect.tryPromise({
        try: () => Bench.cli(argv, (line) => console.log(line)),
        catch: (e) => new InputError({ message: e instanceof Error ? e.message : String(e) })
      })
      if (flags.gemm) {
        const engine = yield* Effect.promise(() => import("@duet/engine"))
        const report = yield* Effect.promise(() => engine.Bench.run({ groups: ["gemm", "kernels"] }))
        yield* Console.log(flags.json ? JSON.stringify(report) : engine.Bench.format(report))
      }
    })
).pipe(
  Command.withDescription(
    "Benchmark the hot paths: training step and batch-256 decode tokens/s, duet's kernels beside stock tfjs-wasm in the same run, with peak memory; --gemm adds GFLOP/s per GEMM shape. With --model DIR or --model-config NAME: a Hugging Face model's train and decode tokens/s and peak memory (defaults --batch 4 --seq 128 --decode-batch 8 --new 32 --steps 1 --rounds 3)."
  ),
  Command.withExamples([
    { command: "duet bench", description: "the reference model (0.81M params, B=32, T=64)" },
    { command: "duet bench --dim 256 --layers 6 --json", description: "a bigger model, JSON out" },
    { command: "duet bench --blas js --gemm", description: "the no-compiler path (wasm SIMD kernels), plus the GEMM table" },
    { command: "duet bench --model-config smollm2-135m", description: "a SmolLM2-135M-shaped Llama, random weights: train (4 x 128) and decode (8 x 32) tokens/s, peak memory" },
    { command: "duet bench --model ./my-model --batch 2 --seq 256 --json", description: "an HF directory's own weights, JSON out" },
    { command: "duet bench --rl", description: "a whole RL step (512 rollouts, update) of the default recipe's model, duet beside stock" },
    { command: "duet bench --rl --size ref --skip --blas js", description: "the 0.81M model, zero-advantage rows skipped, on the wasm SIMD kernels" }
  ])
)

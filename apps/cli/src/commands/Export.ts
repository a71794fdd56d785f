/**
 * `duet export CHECKPOINT --to hf OUT_DIR`: a duet GPT checkpoint (or a run directory's newest) as a
 * transformers GPT2LMHeadModel directory (config.json, model.safetensors, tokenizer.json, ...).
 */
import { Console, Effect } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { HfExport } from "@duet/pipeline"
import { InputError } from "../InputError.js"

export const command = Command.make(
  "export",
  {
    checkpoint: Argument.String("checkpoint").pipe(
      Argument.withDescription("a checkpoint folder (runs/X/checkpoints/step-000600), a pointer (runs/X/checkpoints/best) or a run directory (its checkpoints/latest)")
    ),
    to: Flag.Literals("to", ["hf"]).pipe(Flag.withDescription("target format: hf (a transformers GPT2LMHeadModel directory)")),
    out: Argument.String("out_dir").pipe(Argument.withDescription("directory to write (created; must be absent or empty)"))
  },
  (flags) =>
    Effect.gen(function* () {
      const r = yield* HfExport.toHf(flags.checkpoint, flags.out).pipe(Effect.mapError((e) => new InputError({ message: e.message })))
      yield* Console.log(`exported ${r.checkpoint} (${r.parameters.toLocaleString("en-US")} parameters) to ${r.outDir}: ${r.files.join(", ")}`)
      yield* Console.log(`load it with transformers: AutoModelForCausalLM.from_pretrained("${r.outDir}"), AutoTokenizer.from_pretrained("${r.outDir}")`)
    })
).pipe(
  Command.withDescription(
    "Write a duet GPT checkpoint as a Hugging Face transformers directory (GPT2LMHeadModel: config.json, model.safetensors, generation_config.json, tokenizer.json, tokenizer_config.json) with the same logits."
  ),
  Command.withExamples([
    { command: "duet export runs/2-grpo-20261122-101500 --to hf out/2-grpo-hf", description: "the run's newest checkpoint" },
    { command: "duet export runs/x/checkpoints/step-000000 --to hf out/warm-start", description: "one checkpoint (here the SFT warm start)" },
    { command: "duet export runs/x/checkpoints/best --to hf out/best", description: "the best by test Mean@n (checkpoint: { keepBest })" }
  ])
)

/**
 * The `duet` command tree. Each subcommand lives in `commands/<Name>.ts`; this file only assembles them.
 */
import { Effect } from "effect"
import { Command } from "effect/cli"
import * as Advantages from "./commands/Advantages.js"
import * as Theory from "./commands/Theory.js"
import * as Train from "./commands/Train.js"
import * as Verify from "./commands/Verify.js"
import * as Report from "./commands/Report.js"
import * as Export from "./commands/Export.js"
import * as Bench from "./commands/Bench.js"
import * as Compare from "./commands/Compare.js"
import * as Serve from "./commands/Serve.js"
import * as Score from "./commands/Score.js"
import * as Sample from "./commands/Sample.js"
import * as Pairs from "./commands/Pairs.js"

export const version = "0.1.0"

export const root = Command.make("duet").pipe(
  Command.withDescription(
    "duet: reinforcement learning with verifiable rewards for language models. GRPO is a contrastive loss, so two rollouts per prompt are enough."
  ),
  Command.withSubcommands([Train.train, Train.sft, Train.evaluate, Compare.command, Serve.command, Score.command, Sample.command, Pairs.pairs, Pairs.dpo, Verify.command, Report.command, Export.command, Theory.command, Advantages.command, Bench.command])
)

/** Runs the CLI on explicit arguments (tests) — the Stdio/Terminal services come from the caller. */
export const runWith = (args: ReadonlyArray<string>) => Command.runWith(root, { version })(args)

export const run = Command.run(root, { version }).pipe(Effect.asVoid)

/**
 * `duet verify`: grade completions from any model. Reads JSONL rows `{"pred": ..., "gold": ...}`
 * (stdin or --file) and writes each row back with `"correct"`, `"extracted"` and `"reward"`;
 * a summary (accuracy) goes to stderr.
 */
import { Console, Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { createReadStream } from "node:fs"
import { access } from "node:fs/promises"
import { createInterface } from "node:readline"
import { VerifyRows } from "@duet/verifiers"
import { InputError } from "../InputError.js"

const verifierNames = ["math", "gsm8k", "exact", "format"] as const

export const command = Command.make(
  "verify",
  {
    verifier: Flag.Literals("verifier", verifierNames).pipe(
      Flag.withDescription("math: extract the final answer and compare by value; gsm8k: '#### N' golds; exact: string match; format: has a final answer"),
      Flag.withDefault("math" as const)
    ),
    file: Flag.String("file").pipe(Flag.withDescription("JSONL file to read instead of stdin"), Flag.optional),
    explain: Flag.Boolean("explain").pipe(
      Flag.withDescription("add \"explain\" to each row: the extracted answer, the gold answer and the rule that decided"),
      Flag.withDefault(false)
    )
  },
  (flags) =>
    Effect.gen(function* () {
      let input: NodeJS.ReadableStream = process.stdin
      if (Option.isSome(flags.file)) {
        const path = flags.file.value
        yield* Effect.tryPromise({ try: () => access(path), catch: () => new InputError({ message: `cannot read ${path}` }) })
        input = createReadStream(path, "utf8")
      } else if (process.stdin.isTTY) {
        return yield* new InputError({ message: 'expects JSONL rows {"pred": ..., "gold": ...} on stdin or --file FILE' })
      }
      const lines = createInterface({ input, crlfDelay: Infinity })
      const where = Option.getOrElse(flags.file, () => "stdin")
      const rows = yield* VerifyRows.run(lines, flags.verifier, { explain: flags.explain }).pipe(
        Effect.mapError((e) => new InputError({ message: `${where}: ${e.message}` }))
      )
      for (const row of rows) yield* Console.log(JSON.stringify(row))
      const correct = rows.filter((r) => r.correct).length
      process.stderr.write(`${correct}/${rows.length} correct (${rows.length ? ((100 * correct) / rows.length).toFixed(1) : "0.0"}%) with the ${flags.verifier} verifier\n`)
    })
).pipe(
  Command.withDescription("Grade completions: JSONL rows {\"pred\", \"gold\"} in, the same rows with \"correct\" and \"extracted\" out."),
  Command.withExamples([
    { command: `echo '{"pred":"so the answer is \\\\boxed{\\\\frac{1}{2}}","gold":"0.5"}' | duet verify`, description: "-> correct: true, extracted: \\frac{1}{2}" }
  ])
)

/**
 * `duet verify`: grade completions from any model. Reads JSONL rows `{"pred": ..., "gold": ...}`
 * (stdin or --file) and writes each row back with `"correct"`, `"extracted"` and `"reward"` as soon
 * as it is graded (waiting for stdout to drain, so memory stays bounded); a summary (accuracy) goes
 * to stderr. A bad row is written as `{"line", "error", "correct": false, ...}` and the batch goes
 * on, unless `--strict` (then exit 2 at the first bad row).
 */
import { Effect, Option } from "effect"
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
    ),
    strict: Flag.Boolean("strict").pipe(
      Flag.withDescription("fail (exit 2) at the first bad row instead of writing it as {\"line\", \"error\", \"correct\": false} and going on"),
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
      // A reader that stops early (`| head`) ends the command quietly, as with other Unix tools.
      process.stdout.on("error", (e: NodeJS.ErrnoException) => {
        if (e.code === "EPIPE") process.exit(0)
        throw e
      })
      const write = (_row: unknown, json: string) =>
        process.stdout.write(json + "\n")
          ? Effect.void
          : Effect.promise<void>(() => new Promise((resolve) => process.stdout.once("drain", () => resolve())))
      const { correct, errors, rows } = yield* VerifyRows.streamByName(lines, flags.verifier, { explain: flags.explain, strict: flags.strict }, write).pipe(
        Effect.mapError((e) => new InputError({ message: `${where}: ${e.message}` }))
      )
      const bad = errors > 0 ? `, ${errors} bad row${errors === 1 ? "" : "s"}` : ""
      process.stderr.write(`${correct}/${rows} correct (${rows ? ((100 * correct) / rows).toFixed(1) : "0.0"}%) with the ${flags.verifier} verifier${bad}\n`)
    })
).pipe(
  Command.withDescription("Grade completions: JSONL rows {\"pred\", \"gold\"} in, the same rows with \"correct\" and \"extracted\" out, one per row as it is graded. Each side is graded on its last 100000 characters; a UTF-8 BOM is accepted; a bad row is written as {\"line\", \"error\", \"correct\": false} (--strict: exit 2); non-finite numbers (1e999) are written as the strings \"Infinity\"/\"-Infinity\", not null."),
  Command.withExamples([
    { command: `echo '{"pred":"so the answer is \\\\boxed{\\\\frac{1}{2}}","gold":"0.5"}' | duet verify`, description: "-> correct: true, extracted: \\frac{1}{2}" }
  ])
)

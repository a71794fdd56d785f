/**
 * `duet report DIR`: the results of one run directory, or of a directory of them (methods x seeds,
 * e.g. from `duet compare`), as a table in the terminal and as report.html (table, curves,
 * recipes; opens offline), table.md and table.csv; `--png` adds PNG images of the charts.
 */
import { Console, Effect, Option } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { join } from "node:path"
import { Report } from "@duet/report"
import { InputError } from "../InputError.js"

export const command = Command.make(
  "report",
  {
    dir: Argument.Directory("dir").pipe(
      Argument.withDescription("a run directory (duet train --out DIR) or a directory whose subdirectories are run directories")
    ),
    target: Flag.Finite("target").pipe(
      Flag.withDescription(
        "target test Mean@n in [0, 1] for the time-to-accuracy columns (default: the final test Mean@n of the method with the most rollouts per prompt)"
      ),
      Flag.optional
    ),
    delta: Flag.String("delta").pipe(
      Flag.withDescription("methods of the delta row as FROM,TO (default: largest group size -> smallest, e.g. 16-grpo,2-grpo)"),
      Flag.optional
    ),
    out: Flag.String("out").pipe(Flag.withDescription("where to write report.html, table.md, table.csv (default: DIR)"), Flag.optional),
    png: Flag.Boolean("png").pipe(
      Flag.withDescription("also save PNG images of the charts into OUT/png (needs a chromium: /usr/bin/chromium or $DUET_CHROMIUM)"),
      Flag.withDefault(false)
    )
  },
  (flags) =>
    Effect.gen(function* () {
      let delta: readonly [string, string] | undefined
      if (Option.isSome(flags.delta)) {
        const parts = flags.delta.value.split(",").map((s) => s.trim())
        if (parts.length !== 2 || parts.some((p) => p === "")) {
          return yield* new InputError({ message: `--delta expects FROM,TO (two method names), got ${JSON.stringify(flags.delta.value)}` })
        }
        delta = [parts[0]!, parts[1]!]
      }
      const written = yield* Report.write(flags.dir, {
        ...(Option.isSome(flags.out) ? { out: flags.out.value } : {}),
        ...(Option.isSome(flags.target) ? { target: flags.target.value } : {}),
        ...(delta ? { delta } : {})
      }).pipe(Effect.mapError((e) => new InputError({ message: e.message })))
      yield* Console.log(written.text)
      yield* Console.log("")
      yield* Console.log(`wrote ${written.files.html}`)
      yield* Console.log(`wrote ${written.files.markdown}`)
      yield* Console.log(`wrote ${written.files.csv}`)
      if (flags.png) {
        const outDir = join(Option.getOrElse(flags.out, () => flags.dir), "png")
        const shot = yield* Report.snapshot(written.files.html, outDir).pipe(Effect.mapError((e) => new InputError({ message: e.message })))
        if ("skipped" in shot) process.stderr.write(`--png skipped: ${shot.skipped}\n`)
        else yield* Console.log(`wrote ${shot.files.length} PNG images into ${outDir}`)
      }
    })
).pipe(
  Command.withDescription(
    "Table (terminal, Markdown, CSV) and an offline HTML report with charts (reward and held-out Mean@n vs steps, rollouts and wall time; zero-advantage groups per step; every logged scalar with smoothing and a metric picker) and each method's recipe, from one run directory or a directory of them."
  ),
  Command.withExamples([
    { command: "duet report runs/2-grpo-20261122-101500", description: "one run: its table row, curves and recipe" },
    { command: "duet report runs/compare --png", description: "every run under runs/compare, grouped by recipe name, plus PNG charts" },
    { command: "duet report runs/compare --target 0.6 --delta 16-grpo,2-grpo --out docs/results", description: "time to 60% test Mean@n, delta 16 -> 2" }
  ])
)

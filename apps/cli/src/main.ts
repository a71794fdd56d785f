/**
 * Entry point of the `duet` binary. Bad input (InputError) prints one line and exits with code 2;
 * flag parse errors are rendered by the CLI library and also exit with 2.
 */
import { Cause, Effect } from "effect"
import { CliError } from "effect/cli"
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { run } from "./Cli.js"
import { InputError, exitCodeInput } from "./InputError.js"

const program = run.pipe(
  Effect.catchCause((cause) =>
    Effect.sync(() => {
      const error = Cause.squash(cause)
      if (error instanceof InputError) {
        const sub = process.argv[2] && !process.argv[2].startsWith("-") ? ` ${process.argv[2]}` : ""
        process.stderr.write(`duet${sub}: ${error.message}\n`)
        process.exitCode = exitCodeInput
      } else if (CliError.isCliError(error)) {
        process.exitCode = exitCodeInput
      } else {
        process.stderr.write(`duet: ${Cause.pretty(cause)}\n`)
        process.exitCode = 1
      }
    })
  ),
  Effect.provide(NodeServices.layer)
)

NodeRuntime.runMain(program, { disableErrorReporting: true })

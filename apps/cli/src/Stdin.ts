/** Reads all of standard input as UTF-8 (the `duet advantages` / `duet verify` input). */
import { Effect } from "effect"
import { InputError } from "./InputError.js"

export const readAll: Effect.Effect<string, InputError> = Effect.tryPromise({
  try: async () => {
    if (process.stdin.isTTY) {
      throw new Error("expects JSON on standard input (pipe it in, e.g. `echo '{...}' | duet ...`)")
    }
    const chunks: Buffer[] = []
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
    return Buffer.concat(chunks).toString("utf8")
  },
  catch: (e) => new InputError({ message: e instanceof Error ? e.message : String(e) })
})

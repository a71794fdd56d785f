/**
 * `InputError`: bad input from the user (a file, stdin, a flag value). The CLI prints its message on
 * one line, prefixed with the command, and exits with code 2.
 */
import { Data } from "effect"

export class InputError extends Data.TaggedError("InputError")<{ readonly message: string }> {}

/** Exit code for bad input (as in many Unix tools: 2 = usage / input error). */
export const exitCodeInput = 2

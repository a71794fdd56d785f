/** @duet/cli: the `duet` command tree, importable for tests and embedding. */
export * as Cli from "./Cli.js"
export * as Advantages from "./commands/Advantages.js"
export { InputError } from "./InputError.js"

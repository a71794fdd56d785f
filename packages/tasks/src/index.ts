/**
 * @duet/tasks — procedural verifiable tasks with fixed-seed train / test / OOD splits, SFT
 * demonstrations with quality knobs, and loaders for GSM8K / MATH JSONL and verl Parquet data.
 */
export * as Alphabet from "./Alphabet.js"
export * as Arithmetic from "./Arithmetic.js"
export * as Countdown from "./Countdown.js"
export * as DataFile from "./DataFile.js"
export * as Dataset from "./Dataset.js"
export * as Demonstrations from "./Demonstrations.js"
export * as GoldAnswer from "./GoldAnswer.js"
export * as Jsonl from "./Jsonl.js"
export * as Parquet from "./Parquet.js"
export * as Partition from "./Partition.js"
export * as ProblemSampler from "./ProblemSampler.js"
export * as Range from "./Range.js"
export * as RowFormat from "./RowFormat.js"
export * as Task from "./Task.js"
export * as WordProblems from "./WordProblems.js"
export { DatasetError } from "./DatasetError.js"
export type { Demonstration, Problem, SplitName } from "./Problem.js"
export { splitNames } from "./Problem.js"
export type { LengthBounds, SplitOptions } from "./Task.js"

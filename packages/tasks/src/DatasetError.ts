/**
 * `DatasetError`: the one failure of the dataset loaders. It names the file and, for a bad row,
 * the line (JSONL, 1-based like an editor) or the row (Parquet, 0-based like pandas), and the
 * field at fault: `data/train.jsonl:17: field "answer": has no "#### N" final line`.
 */
import { Schema } from "effect"

export class DatasetError extends Schema.TaggedError<DatasetError>()("DatasetError", {
  file: Schema.String,
  /** 1-based line of a JSONL file. */
  line: Schema.optional(Schema.Number),
  /** 0-based row of a Parquet file. */
  row: Schema.optional(Schema.Number),
  /** Field path at fault, e.g. "reward_model.ground_truth". */
  field: Schema.optional(Schema.String),
  reason: Schema.String
}) {
  override get message(): string {
    const at = this.line !== undefined ? `:${this.line}` : this.row !== undefined ? ` row ${this.row}` : ""
    const field = this.field === undefined ? "" : `field "${this.field}": `
    return `${this.file}${at}: ${field}${this.reason}`
  }
}

/** Where a row sits in its file. */
export interface Location {
  readonly file: string
  readonly line?: number
  readonly row?: number
}

export const at = (where: Location, reason: string, field?: string): DatasetError =>
  new DatasetError({
    file: where.file,
    ...(where.line === undefined ? {} : { line: where.line }),
    ...(where.row === undefined ? {} : { row: where.row }),
    ...(field === undefined ? {} : { field }),
    reason
  })

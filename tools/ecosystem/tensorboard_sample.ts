// Writes TensorBoard event files for the committed sample records, through the same hook the
// trainer uses (RunDir.appendMetrics): `node_modules/.bin/jiti tools/ecosystem/tensorboard_sample.ts OUT_DIR`.
// OUT_DIR/run gets the first run's file; OUT_DIR/run again, from a second writer, the "resumed" records.
import { readFileSync } from "node:fs"
import { join } from "node:path"
import * as Tensorboard from "../../packages/pipeline/src/Tensorboard.ts"

const out = process.argv[2]
if (out === undefined) throw new Error("usage: tensorboard_sample.ts OUT_DIR")
const fixture = join(__dirname, "../../packages/pipeline/test/fixtures/tensorboard/records.json")
const { records, resumed } = JSON.parse(readFileSync(fixture, "utf8")) as Record<string, Array<Record<string, unknown>>>
const run = join(out, "run")
let wall = 1_700_000_000
// As a run and then its resumption (a new process: new writers, new files) write them.
for (const list of [records!, resumed!]) {
  const writers = new Map<string, Tensorboard.Writer>()
  for (const r of list) {
    const dir = Tensorboard.directoryOf(run, r)
    if (!writers.has(dir)) writers.set(dir, Tensorboard.open(dir))
    const { step, values } = Tensorboard.scalarsOf(r)
    writers.get(dir)!.scalars(step, values, wall++)
  }
  for (const w of writers.values()) console.log(w.path)
}

// The flag reader the bench-hf scripts share: `--name value` pairs anywhere on the command line.
/** The value after `--k`, or `d` when the flag is absent. */
export const arg = (k, d) => {
  const i = process.argv.indexOf(`--${k}`)
  return i < 0 ? d : process.argv[i + 1]
}
/** The directory after `--k`; exits 2 naming the flag (and `script`) when it is absent. */
export const required = (k, script) => {
  const v = arg(k, undefined)
  if (v === undefined) {
    console.error(`${script}: --${k} DIR is required`)
    process.exit(2)
  }
  return v
}

/**
 * @duet/report: the HTML report, Markdown/CSV tables and charts of `duet report`, read from run
 * directories (recipe.json, metrics.jsonl, summary.json) written by `duet train`.
 */
export * as Browser from "./Browser.js"
export * as Charts from "./Charts.js"
export * as Html from "./Html.js"
export * as Report from "./Report.js"
export * as Runs from "./Runs.js"
export * as Table from "./Table.js"
export { ReportError } from "./Runs.js"

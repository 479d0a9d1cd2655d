// Validates an AsyncAPI document with the official parser (@asyncapi/parser): the spec's JSON
// Schema, every message payload against its schemaFormat, and the parser's own rules (refs
// resolve, channel parameters match the address, operations name their channel's messages).
// Exit 0 only when there is nothing to report at error or warning level, so a document that
// other teams' generators may trip on fails `make check` instead of reaching them.
//
// usage: node scripts/asyncapi/validate.mjs docs/asyncapi.json
import { Parser, fromFile } from "@asyncapi/parser";

const SEVERITY = ["error", "warning", "info", "hint"];

const path = process.argv[2];
if (!path) {
  console.error("usage: validate.mjs <asyncapi document>");
  process.exit(2);
}
// 3.0 on purpose, not 3.1: the version the contract was asked in, and the one most tools read.
const ON_PURPOSE = new Set(["asyncapi-latest-version"]);
const parsed = await fromFile(new Parser(), path).parse();
const document = parsed.document;
const diagnostics = parsed.diagnostics.filter((d) => !ON_PURPOSE.has(d.code));
// Info and hints are advice (e.g. "a newer spec version exists"): shown, never fatal.
const failing = diagnostics.filter((d) => d.severity <= 1);
for (const d of diagnostics) {
  const where = d.path.length ? d.path.join("/") : "(document)";
  console.error(`${path}: ${SEVERITY[d.severity]} ${d.code} at ${where}: ${d.message}`);
}
if (document === undefined || failing.length > 0) {
  console.error(`${path}: not a valid AsyncAPI document`);
  process.exit(1);
}
console.error(`${path}: valid AsyncAPI ${document.version()}`);

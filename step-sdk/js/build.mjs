#!/usr/bin/env node
// Build a JavaScript step into a component: node build.mjs <app.js> <out.wasm>
//
// 1. esbuild bundles the step module with this SDK into one ES module ("weft:*" imports stay imports).
// 2. componentize-qjs embeds it in the QuickJS runtime, as a component of the weft:step/step world
//    (wit/step.wit), using the synchronous component ABI (the engine calls steps synchronously).
// Why QuickJS and not StarlingMonkey (componentize-js): see README.md.
import { readFile, writeFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { componentize } from "componentize-qjs";

const here = dirname(fileURLToPath(import.meta.url));
const [source, output] = process.argv.slice(2);
if (!source || !output) {
  console.error("usage: build.mjs <app.js> <out.wasm>");
  process.exit(2);
}

const work = await mkdtemp(join(tmpdir(), "weft-js-"));
try {
  const bundle = join(work, "bundle.js");
  await build({
    entryPoints: [resolve(source)],
    bundle: true,
    format: "esm",
    platform: "neutral",
    outfile: bundle,
    alias: { "weft-step": join(here, "weft-step.js") },
    external: ["weft:*"],
    logLevel: "warning",
  });
  const { component } = await componentize({
    witPath: resolve(here, "../../wit"),
    world: "weft:step/step",
    jsSource: await readFile(bundle, "utf8"),
    jsPath: bundle,
    sync: true,
  });
  await writeFile(output, component);
} finally {
  await rm(work, { recursive: true, force: true });
}

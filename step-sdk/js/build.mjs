#!/usr/bin/env node
// Build a JavaScript step into a component: node build.mjs <app.js> <out.wasm> (`weft build` runs it).
//
// 1. esbuild bundles an entry module, which hands the engine's imports to the SDK (`setHost`) and
//    re-exports the step module, with this SDK into one ES module ("weft:*" imports stay imports).
// 2. componentize-qjs embeds it in the QuickJS runtime, as a component of the weft:step/step world
//    (wit/step.wit, this package's copy of the repository's), using the synchronous component ABI (the
//    engine calls steps synchronously).
// Why QuickJS and not StarlingMonkey (componentize-js): see README.md.
import { readFile, writeFile, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { componentize } from "componentize-qjs";

const here = dirname(fileURLToPath(import.meta.url));
// The version of weft:step the bundled WIT declares (`package weft:step@X.Y.Z;`).
const WIT_VERSION = (await readFile(join(here, "wit", "step.wit"), "utf8")).match(/^package weft:step@([0-9.]+);/m)[1];
const [source, output] = process.argv.slice(2);
if (!source || !output) {
  console.error("usage: build.mjs <app.js> <out.wasm>");
  process.exit(2);
}

const work = await mkdtemp(join(tmpdir(), "weft-js-"));
try {
  const bundle = join(work, "bundle.js");
  const entry = join(work, "entry.js");
  await writeFile(entry, entryModule(resolve(source)));
  await build({
    entryPoints: [entry],
    bundle: true,
    format: "esm",
    platform: "neutral",
    outfile: bundle,
    alias: { "weft-step": join(here, "weft-step.js") },
    external: ["weft:*"],
    logLevel: "warning",
  });
  const { component } = await componentize({
    witPath: join(here, "wit"),
    world: "weft:step/step",
    jsSource: await readFile(bundle, "utf8"),
    jsPath: bundle,
    sync: true,
  });
  await writeFile(output, component);
} finally {
  await rm(work, { recursive: true, force: true });
}

/** The entry module: the engine's imports (of the WIT version this SDK targets) installed, then the step. */
function entryModule(step) {
  const v = WIT_VERSION;
  return `import { emit } from "weft:step/events@${v}";
import { log } from "weft:step/logging@${v}";
import { invocationId } from "weft:step/invocation@${v}";
import { get as configGet } from "weft:step/config@${v}";
import { get as secretGet } from "weft:step/secrets@${v}";
import { send } from "weft:step/http@${v}";
import { setHost } from "weft-step";
setHost({ emit, log, invocationId, configGet, secretGet, send });
export * from ${JSON.stringify(step)};
`;
}

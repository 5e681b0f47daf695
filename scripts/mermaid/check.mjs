// Parse each Mermaid file given with Mermaid's own parser (mermaid.parse, under a jsdom window since
// Mermaid expects a browser); print "<file>: <diagram type>" per file, or the parse error and exit 1.
// Run by the tests on `weft graph` output; installed by scripts/install-tools.
import fs from 'node:fs';
import { JSDOM } from 'jsdom';

const dom = new JSDOM('<!doctype html><html><body></body></html>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import('mermaid');
mermaid.initialize({ startOnLoad: false });

let failed = 0;
for (const file of process.argv.slice(2)) {
  try {
    const parsed = await mermaid.parse(fs.readFileSync(file, 'utf8'));
    console.log(`${file}: ${parsed.diagramType}`);
  } catch (e) {
    failed += 1;
    console.log(`${file}: ${e.message ?? e}`);
  }
}
process.exit(failed ? 1 : 0);

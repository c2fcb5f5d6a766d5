// Runs every vector file the static server lists (the project's and XNONCE_EXTRA_VECTORS)
// through the browser build; the result lands in window.__vectorResult for the test driver.
import init, * as x from "../pkg/web/xnonce_wasm.js";
import { checkAll } from "./check.mjs";

async function main() {
  await init();
  const list = await (await fetch("/__vectors/index.json")).json();
  const files = [];
  for (const url of list) {
    const res = await fetch(url);
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
    files.push({ name: url, cases: await res.json() });
  }
  return { files: files.length, ...checkAll(x, files) };
}

main().then(
  (r) => {
    document.getElementById("out").textContent = JSON.stringify(r, null, 2);
    window.__vectorResult = r;
  },
  (e) => {
    window.__vectorResult = { files: 0, passed: 0, failures: [String(e?.stack ?? e)] };
  },
);

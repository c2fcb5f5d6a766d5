// A tiny static file server for bindings-wasm/ (the page in www/, the package in pkg/), bound
// to 127.0.0.1. Also serves the conformance vectors for the browser test:
//   /__vectors/index.json  → ["/__vectors/0.json", ...]
//   /__vectors/<i>.json    → conformance/vectors/*.json, then each XNONCE_EXTRA_VECTORS file
//
// CLI: node scripts/serve.mjs [port]   (then open http://127.0.0.1:<port>/www/)
import { createServer } from "node:http";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, extname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

export const here = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const vectorsDir = resolve(here, "..", "conformance", "vectors");

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".png": "image/png",
  ".svg": "image/svg+xml",
  ".ts": "text/plain; charset=utf-8",
  ".md": "text/plain; charset=utf-8",
};

/** Every vector file: the project's, sorted, then XNONCE_EXTRA_VECTORS in order. */
export function vectorFiles(env = process.env) {
  const files = readdirSync(vectorsDir)
    .filter((f) => f.endsWith(".json"))
    .sort()
    .map((f) => join(vectorsDir, f));
  // Relative paths are relative to where the command was started (npm's INIT_CWD under `npm test`).
  const cwd = env.INIT_CWD ?? process.cwd();
  for (const p of (env.XNONCE_EXTRA_VECTORS ?? "").split(":")) if (p) files.push(resolve(cwd, p));
  return files;
}

function send(res, status, type, body) {
  res.writeHead(status, { "content-type": type, "cache-control": "no-store" });
  res.end(body);
}

/** Starts the server on 127.0.0.1:`port` (0 = any); resolves to `{ server, url }`. */
export function serve(port = 0) {
  const server = createServer((req, res) => {
    let path;
    let rawPath;
    try {
      rawPath = new URL(req.url, "http://x").pathname;
      path = decodeURIComponent(rawPath);
    } catch {
      // `/%zz`: thrown here, outside the handler's try, it stopped the whole server.
      return send(res, 400, "text/plain", "bad request path");
    }
    try {
      if (path === "/__vectors/index.json") {
        const list = vectorFiles().map((_, i) => `/__vectors/${i}.json`);
        return send(res, 200, TYPES[".json"], JSON.stringify(list));
      }
      const m = path.match(/^\/__vectors\/(\d+)\.json$/);
      if (m) {
        const file = vectorFiles()[Number(m[1])];
        if (!file) return send(res, 404, "text/plain", "no such vector file");
        return send(res, 200, TYPES[".json"], readFileSync(file));
      }
      let file = resolve(here, "." + path);
      if (file !== here && !file.startsWith(here + sep)) return send(res, 403, "text/plain", "forbidden");
      if (statSync(file, { throwIfNoEntry: false })?.isDirectory()) {
        if (!path.endsWith("/")) {
          // The path as requested (still percent-encoded: a decoded `%2F` is a `/`), with one
          // leading `/`: a location starting `//` (`/%2F%2Fevil.example%2F..%2Fwww`, or
          // `/.//evil/../www`) is another host's URL, and browsers would follow it there.
          res.writeHead(301, { location: "/" + rawPath.replace(/^\/+/, "") + "/" });
          return res.end();
        }
        file = join(file, "index.html");
      }
      if (!statSync(file, { throwIfNoEntry: false })?.isFile())
        return send(res, 404, "text/plain", "not found");
      send(res, 200, TYPES[extname(file)] ?? "application/octet-stream", readFileSync(file));
    } catch (e) {
      send(res, 500, "text/plain", String(e));
    }
  });
  return new Promise((ok, fail) => {
    server.once("error", fail);
    server.listen(port, "127.0.0.1", () => ok({ server, url: `http://127.0.0.1:${server.address().port}` }));
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { url } = await serve(Number(process.argv[2] ?? 8000));
  console.log(`serving ${here} at ${url}/ (page: ${url}/www/)`);
}

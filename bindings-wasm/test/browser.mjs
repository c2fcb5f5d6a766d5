// Checks in real headless Chromium (playwright-core driving /usr/bin/chromium):
//  1. every vector (the project's and XNONCE_EXTRA_VECTORS, fetched from a local static server)
//     through the browser build;
//  2. end to end: the page in www/ makes a link against a real `xnonce-server serve --demo`,
//     the browser opens it (200), opens it again (409), and a screenshot is saved.
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createServer } from "node:http";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";
import { here, serve } from "../scripts/serve.mjs";
import { assert, check, equal } from "./harness.mjs";

const STEP_MS = 30_000;
const root = resolve(here, "..");
const artifacts = join(here, "test-artifacts");

function serverBinary() {
  if (process.env.XNONCE_SERVER_BIN) return process.env.XNONCE_SERVER_BIN;
  const target = process.env.CARGO_TARGET_DIR ?? join(root, "target");
  return join(target, "debug", "xnonce-server");
}

/** Starts `xnonce-server serve --demo` on a free port; resolves to `{ proc, url }`. */
/**
 * The server's data dir and registry key, side by side in the test's temporary dir: the
 * test never creates nor reads the user's own key (the key must stay outside the data dir).
 */
function store(dir) {
  return ["--data", join(dir, "data"), "--key-file", join(dir, "registry.key")];
}

function startServer(bin, data) {
  const proc = spawn(bin, ["serve", "--demo", "--listen", "127.0.0.1:0", ...store(data)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  return new Promise((ok, fail) => {
    const timer = setTimeout(() => fail(new Error("xnonce-server did not report its address")), STEP_MS);
    proc.once("exit", (code) => fail(new Error(`xnonce-server exited early (${code})`)));
    createInterface({ input: proc.stdout }).once("line", (line) => {
      clearTimeout(timer);
      const m = line.match(/^xnonce-server listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (!m) return fail(new Error(`unexpected first line: ${line}`));
      ok({ proc, url: m[1] });
    });
  });
}

/** The Chromium checks; with `vectorsOnly`, only the vector check. */
export async function browserTests({ vectorsOnly = false } = {}) {
  const profile = mkdtempSync(join(tmpdir(), "xnonce-wasm-chromium-"));
  const data = mkdtempSync(join(tmpdir(), "xnonce-wasm-server-"));
  const { server: statics, url: staticUrl } = await serve(0);
  let context;
  let xserver;
  try {
    context = await chromium.launchPersistentContext(profile, {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      headless: true,
      timeout: STEP_MS,
      args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
      // Chromium's crash database goes to $XDG_CONFIG_HOME/chromium whatever the profile:
      // kept in the test's own folder, not the user's ~/.config.
      env: { ...process.env, XDG_CONFIG_HOME: join(profile, "xdg") },
    });
    context.setDefaultTimeout(STEP_MS);
    const page = context.pages()[0] ?? (await context.newPage());
    page.on("pageerror", (e) => console.log(`  page error: ${e}`));

    await check("vectors in headless Chromium (pkg/web)", async () => {
      await page.goto(`${staticUrl}/test/vectors.html`);
      await page.waitForFunction(() => window.__vectorResult !== undefined);
      const r = await page.evaluate(() => window.__vectorResult);
      for (const f of r.failures) console.log(`  vector failure: ${f}`);
      if (r.failures.length) throw new Error(`${r.failures.length} vector cases failed`);
      console.log(`wasm-browser: ${r.passed} vectors passed`);
    });
    if (vectorsOnly) return;

    await check("a link reaches the server as it was signed when Chromium opens it", async () => {
      // Chromium's URL parser percent-encodes more of a path than the WHATWG standard (and
      // Node's URL) does: `|` and `^` too. v1 signs the path as given and the server verifies
      // the path as received, so a link whose path Chromium rewrites can never verify; such a
      // path must be refused, every other one must arrive byte for byte as written.
      const seen = [];
      const sink = createServer((req, res) => {
        if (req.url !== "/favicon.ico") seen.push({ target: req.url, host: req.headers.host });
        res.end("ok");
      });
      await new Promise((ok) => sink.listen(0, "127.0.0.1", ok));
      const base = `http://127.0.0.1:${sink.address().port}/pre`;
      const tab = await context.newPage();
      try {
        await tab.goto(`${staticUrl}/test/vectors.html`);
        const paths = [];
        for (let c = 0x21; c < 0x7f; c++) {
          const ch = String.fromCharCode(c);
          if (!"?#".includes(ch)) paths.push(`/a${ch}b`);
        }
        paths.push("/a%41b", "/a%7cb", "/a%zzb", "/é", "/a b");
        const links = await tab.evaluate(
          async ({ paths, base, secret }) => {
            const x = await import("/pkg/web/xnonce_wasm.js");
            await x.default();
            const out = [];
            for (const scheme of ["v1", "v2"]) {
              for (const path of paths) {
                try {
                  const l = x.linkDetailed(scheme, "GET", path, [["k", "v w"]], "c", secret, base);
                  out.push({ scheme, path, url: l.url, canonical: l.canonical });
                } catch (e) {
                  out.push({ scheme, path, code: e.code ?? `not coded: ${e}` });
                }
              }
            }
            return out;
          },
          { paths, base, secret: "20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd" },
        );
        const wrong = [];
        for (const l of links) {
          if (l.code !== undefined) {
            if (!["invalid_path"].includes(l.code)) wrong.push(`${l.scheme} ${l.path}: ${l.code}`);
            continue;
          }
          await tab.goto(l.url);
          const got = seen.at(-1);
          const written = l.url.slice(base.length - "/pre".length);
          if (got.target !== written)
            wrong.push(`${l.scheme} ${l.path}: signed ${written}, sent ${got.target}`);
          // v2's canonical string holds the signed host and path on its lines 3 and 4; v1's
          // starts with method and path (the path signed as given).
          const signedPath = l.scheme === "v2" ? l.canonical.split("\n")[3] : l.path;
          if (!got.target.startsWith(`/pre${signedPath}?`)) {
            wrong.push(`${l.scheme} ${l.path}: signed path ${signedPath}, sent ${got.target}`);
          }
          if (l.scheme === "v2" && l.canonical.split("\n")[2] !== got.host) {
            wrong.push(`v2 ${l.path}: signed host ${l.canonical.split("\n")[2]}, sent ${got.host}`);
          }
        }
        equal(wrong.join("\n"), "", "every link arrives as signed, or is refused");
      } finally {
        await tab.close();
        sink.close();
      }
    });

    await check("end to end: the page's link opens once against xnonce-server", async () => {
      const bin = serverBinary();
      assert(existsSync(bin), `${bin} exists (build it: cargo build -p xnonce-server)`);
      const secret = execFileSync(bin, ["client", "add", "link-maker", ...store(data)], {
        timeout: STEP_MS,
      })
        .toString()
        .trim();
      assert(/^[0-9a-f]{64}$/.test(secret), "client add prints a 64-hex secret");
      const started = await startServer(bin, data);
      xserver = started.proc;

      // Fill the page as a person would, for each scheme; v2 last so the screenshot shows it.
      for (const scheme of ["v1", "v2"]) {
        await page.goto(`${staticUrl}/www/`);
        await page.waitForSelector("body[data-ready=true]");
        await page.fill("#server-url", started.url);
        await page.fill("#client", "link-maker");
        await page.fill("#secret", secret);
        await page.fill("#path", "/controller1/action1");
        // A blank line skipped; a value's trailing space kept (signed and sent as typed).
        await page.fill("#params", "username=alice\n  \npassword=s3cret pass\nopt1=été & co ");
        await page.selectOption("#scheme", scheme);
        await page.click("#make-link");
        await page.waitForSelector("#result:not([hidden])");
        const link = await page.inputValue("#link");
        assert(
          link.startsWith(`${started.url}/controller1/action1?username=alice&`),
          `${scheme} link: ${link}`,
        );
        equal(await page.getAttribute("#open-link", "href"), link, `${scheme} open-link href`);

        await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: staticUrl });
        await page.click("#copy");
        await page.waitForSelector("#copy:text('Copied')");
        equal(await page.evaluate(() => navigator.clipboard.readText()), link, `${scheme} copied text`);
        if (scheme === "v2") {
          mkdirSync(artifacts, { recursive: true });
          await page.screenshot({ path: join(artifacts, "page.png"), fullPage: true });
        }

        const tab = await context.newPage();
        try {
          const first = await tab.goto(link);
          const body = await first.text();
          equal(first.status(), 200, `${scheme} first open (${body})`);
          // em-secure-api's controller1_action1_get: opt1 upper-cased, opt2 absent → null.
          equal(body, '{"opt1":"ÉTÉ & CO ","opt2":null}', `${scheme} answer holds the params`);
          const again = await tab.goto(link);
          const againBody = await again.text();
          equal(again.status(), 409, `${scheme} second open (${againBody})`);
          if (scheme === "v1") equal(againBody.trim(), "ottoken already used", "v1 replay text");
          else assert(againBody.includes("replayed"), `v2 replay problem names the code: ${againBody}`);
        } finally {
          await tab.close();
        }
      }
      console.log(`  screenshot: ${join(artifacts, "page.png")}`);
    });

    await check("the page shows coded errors and keeps the secret out of them", async () => {
      await page.goto(`${staticUrl}/www/`);
      await page.waitForSelector("body[data-ready=true]");
      await page.fill("#server-url", "http://127.0.0.1:9");
      await page.fill("#client", "link-maker");
      await page.fill("#secret", "short-secret");
      await page.fill("#path", "/controller1/action1");
      await page.selectOption("#scheme", "v2");
      await page.click("#make-link");
      await page.waitForSelector("#error:not([hidden])");
      const text = await page.textContent("#error");
      assert(text.startsWith("invalid_secret"), `error text: ${text}`);
      assert(!text.includes("short-secret"), "the secret is not shown");
    });

    await check("a page whose module did not load never sends the secret in a URL", async () => {
      // The page before the fix: with app.js not running (pkg/ not built, a script blocked,
      // JavaScript off, a slow network), Enter submitted the form natively, as a GET to
      // /www/?server-url=…&client=…&secret=…: the secret in the URL, history and server logs.
      const requests = [];
      const onRequest = (r) => requests.push(r.url());
      await page.route("**/pkg/web/xnonce_wasm.js", (route) => route.fulfill({ status: 404, body: "" }));
      page.on("request", onRequest);
      try {
        await page.goto(`${staticUrl}/www/`);
        await page.fill("#server-url", "https://api.example.com");
        await page.fill("#client", "link-maker");
        await page.fill("#secret", "secret-in-url");
        await page.fill("#path", "/controller1/action1");
        await page.press("#path", "Enter");
        await page.evaluate(() => document.getElementById("link-form").submit());
        await page.waitForTimeout(500);
        const leaked = requests.filter((u) => u.includes("secret-in-url"));
        equal(leaked.join(), "", "no request carries the secret");
        equal(page.url(), `${staticUrl}/www/`, "the page did not navigate");
        assert(await page.isDisabled("#make-link"), "no button to submit with until the module is ready");
      } finally {
        page.off("request", onRequest);
        await page.unroute("**/pkg/web/xnonce_wasm.js");
      }
    });
  } finally {
    await context?.close().catch(() => {});
    xserver?.kill();
    statics.close();
    rmSync(profile, { recursive: true, force: true });
    rmSync(data, { recursive: true, force: true });
  }
}

// The link page: reads the form, signs with xnonce-wasm in the browser, shows the link.
// The secret stays in this page's memory only (never stored, never sent).
import init, { linkDetailed, XNonceError } from "../pkg/web/xnonce_wasm.js";

const $ = (id) => document.getElementById(id);
const ready = init();

/**
 * `key=value` lines (split on the first `=`), in order; blank lines are skipped. The key is
 * trimmed, the value kept as typed: a space it starts or ends with is signed and sent.
 */
export function parseParams(text) {
  const pairs = [];
  for (const [i, line] of text.split(/\r?\n/).entries()) {
    if (!line.trim()) continue;
    const eq = line.indexOf("=");
    if (eq < 0) throw new Error(`params line ${i + 1}: expected key=value`);
    pairs.push([line.slice(0, eq).trim(), line.slice(eq + 1)]);
  }
  return pairs;
}

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
  $("result").hidden = true;
}

async function makeLink(event) {
  event.preventDefault();
  $("error").hidden = true;
  await ready;
  try {
    const scheme = $("scheme").value;
    const client = $("client").value.trim();
    const made = linkDetailed(
      scheme,
      "GET",
      $("path").value.trim(),
      parseParams($("params").value),
      client,
      $("secret").value,
      $("server-url").value.trim(),
    );
    $("link").value = made.url;
    $("open-link").href = made.url;
    $("link-info").textContent =
      `Signed by ${client} (${scheme}) at ${new Date(made.timestamp).toISOString()}; ` +
      "the server accepts it once, within its time window (30 s either side by default).";
    $("result").hidden = false;
    $("copy").textContent = "Copy";
  } catch (e) {
    // XNonceError: e.code is the shared code, e.message (without it) never holds the secret.
    showError(e instanceof XNonceError ? `${e.code}: ${e.message}` : e.message);
  }
}

async function copyLink() {
  const text = $("link").value;
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    // No clipboard API (insecure context): select the text for Ctrl+C.
    $("link").select();
    document.execCommand?.("copy");
  }
  $("copy").textContent = "Copied";
}

$("link-form").addEventListener("submit", makeLink);
$("copy").addEventListener("click", copyLink);
ready.then(
  () => {
    $("make-link").disabled = false;
    document.body.setAttribute("data-ready", "true");
  },
  (e) => showError(`could not load the WebAssembly module: ${e}`),
);

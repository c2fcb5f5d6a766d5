// The vector checking rule of conformance/src/check.rs, for any JS runtime (Node or a
// browser): no Node APIs here. `x` is the loaded xnonce-wasm module.

function bodyBytes(b64) {
  const bin = atob(b64);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function inputs(v) {
  const options = { timestamp: v.timestamp };
  if (v.nonce !== undefined) options.nonce = v.nonce;
  if (v.host !== undefined) options.host = v.host;
  if (v.body !== undefined) options.body = bodyBytes(v.body);
  return [[v.scheme ?? "v1", v.method, v.path, v.params, v.client, v.secret], options];
}

function run(x, v) {
  const [args, options] = inputs(v);
  // A case with a base URL is linked (which signs, host taken from the URL); others are signed.
  if (v.base_url !== undefined) return x.linkDetailed(...args, v.base_url, options);
  return x.signDetailed(...args, options);
}

/** `sign` (the header only; in the package its one-crossing fast path) must agree too. */
function checkSign(x, v) {
  if (v.base_url !== undefined) return;
  const [args, options] = inputs(v);
  let header;
  try {
    header = x.sign(...args, options);
  } catch (e) {
    if (v.error === undefined || !(e instanceof x.XNonceError) || e.code !== v.error) {
      throw new Error(`sign: expected ${v.error ?? "a header"}, got ${e?.name} ${e?.code}: ${e?.message}`);
    }
    return;
  }
  if (v.error !== undefined) throw new Error(`sign: expected error ${v.error}, but signing succeeded`);
  same("x_nonce (sign)", v.x_nonce, header);
}

function same(field, expected, got) {
  if (expected !== undefined && expected !== got) {
    throw new Error(`${field}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(got)}`);
  }
}

// Every field of the vector format (conformance/README.md): any other fails the case, as a
// misspelt expected field (`ottokn`) would otherwise go unchecked.
const FIELDS = new Set([
  "id",
  "scheme",
  "method",
  "path",
  "params",
  "client",
  "secret",
  "timestamp",
  "host",
  "body",
  "nonce",
  "base_url",
  "canonical",
  "x_nonce",
  "ottoken",
  "ottoken_query_value",
  "link",
  "error",
]);

const OUTPUTS = ["canonical", "x_nonce", "ottoken", "ottoken_query_value", "link"];
const REQUIRED_TEXT = ["id", "method", "path", "client", "secret"];
const OPTIONAL_TEXT = ["scheme", "host", "body", "nonce", "base_url", "error", ...OUTPUTS];

/**
 * Why a case is not well formed, as the Rust checker (conformance/src/vector.rs) refuses it:
 * another JSON type than the format's (a number param value, a float timestamp), a `null` or
 * missing field, or an `error` case that also carries expected outputs (never compared).
 * JSON.parse reads `1.0` as the integer 1: that spelling of a float timestamp is not seen.
 */
export function shapeProblem(v) {
  if (v === null || typeof v !== "object" || Array.isArray(v)) return "a case must be a JSON object";
  const has = (k) => Object.prototype.hasOwnProperty.call(v, k);
  const unknown = Object.keys(v)
    .filter((k) => !FIELDS.has(k))
    .sort();
  if (unknown.length > 0) return `unknown field(s) ${JSON.stringify(unknown)}`;
  const nulls = Object.keys(v).filter((k) => v[k] === null);
  if (nulls.length > 0)
    return `field(s) ${JSON.stringify(nulls.sort())} are null (leave a field out instead)`;
  const missing = [...REQUIRED_TEXT, "params", "timestamp"].filter((k) => !has(k));
  if (missing.length > 0) return `missing field(s) ${JSON.stringify(missing)}`;
  for (const k of [...REQUIRED_TEXT, ...OPTIONAL_TEXT]) {
    if (has(k) && typeof v[k] !== "string")
      return `field \`${k}\` must be a string, got ${JSON.stringify(v[k])}`;
  }
  const ts = v.timestamp;
  if (!Number.isInteger(ts) || ts < 0 || ts > 2 ** 64 - 1) {
    return `field \`timestamp\` must be a non-negative integer (ms), got ${JSON.stringify(ts)}`;
  }
  const pairs = v.params;
  const isPair = (p) => Array.isArray(p) && p.length === 2 && p.every((s) => typeof s === "string");
  if (!Array.isArray(pairs) || !pairs.every(isPair)) {
    return `field \`params\` must be a list of [key, value] string pairs, got ${JSON.stringify(pairs)}`;
  }
  const outputs = OUTPUTS.filter(has);
  if (has("error") && outputs.length > 0) {
    return `error case also carries outputs ${JSON.stringify(outputs)} (they would go unchecked)`;
  }
  return null;
}

/** Checks one case; throws an Error naming the first field that differs. */
export function checkCase(x, v) {
  const problem = shapeProblem(v);
  if (problem !== null) throw new Error(problem);
  // Only a case with a base URL is linked: another case's `link` would go unchecked.
  if (v.link !== undefined && v.base_url === undefined) {
    throw new Error("case has link but no base_url");
  }
  // A case that describes no input fails whatever `error` it names; a checker never draws a
  // nonce (conformance/README.md, the checking rule).
  const scheme = v.scheme ?? "v1";
  if (scheme !== "v1" && scheme !== "v2") {
    throw new Error(`case does not describe an input: unknown scheme ${scheme}`);
  }
  if (scheme === "v2" && v.nonce === undefined && v.error === undefined) {
    throw new Error("v2 case has no nonce (a checker never draws one)");
  }
  if (v.body !== undefined && (!/^[A-Za-z0-9+/]*={0,2}$/.test(v.body) || v.body.length % 4 !== 0)) {
    throw new Error("case does not describe an input: body is not base64");
  }
  checkSign(x, v);
  let out;
  try {
    out = run(x, v);
  } catch (e) {
    if (v.error === undefined) throw new Error(`signing failed: ${e}`);
    if (!(e instanceof x.XNonceError) || e.code !== v.error) {
      throw new Error(`expected error ${v.error}, got ${e?.name} ${e?.code}: ${e?.message}`);
    }
    if (!(e instanceof Error)) throw new Error("thrown value is not an Error");
    return;
  }
  if (v.error !== undefined) throw new Error(`expected error ${v.error}, but signing succeeded`);
  if (v.x_nonce === undefined) throw new Error("case has neither x_nonce nor error");
  same("canonical", v.canonical, out.canonical);
  same("x_nonce", v.x_nonce, out.xNonce);
  same("ottoken", v.ottoken, out.ottoken);
  same("ottoken_query_value", v.ottoken_query_value, x.ottokenQueryValue(out.ottoken));
  same("link", v.link, out.url);
  const header = x.parseHeader(out.xNonce);
  if (header.client !== v.client || header.timestamp !== v.timestamp) {
    throw new Error("own header does not parse back to its client and timestamp");
  }
  // The mac is v1's first field ("<token> <client> <ms>") and v2's last.
  const fields = out.xNonce.split(" ");
  const mac = header.scheme === "v1" ? fields[0] : fields[fields.length - 1];
  if (header.mac !== mac) throw new Error("parseHeader's mac is not the header's mac field");
  // The Node package's fields, nonce null for v1.
  const nonce = header.scheme === "v1" ? null : fields[3];
  if (Object.keys(header).join() !== "scheme,client,timestamp,nonce,mac" || header.nonce !== nonce) {
    throw new Error(`parseHeader's fields are not the Node package's: ${JSON.stringify(header)}`);
  }
  if (x.ottokenDecode(out.ottoken) !== out.xNonce || x.ottokenEncode(out.xNonce) !== out.ottoken) {
    throw new Error("header/ottoken do not round-trip");
  }
}

/**
 * Checks every case of every file: `files` is a list of `{ name, cases }`.
 * Returns `{ passed, failures: [string] }`; zero cases is a failure.
 */
export function checkAll(x, files) {
  let passed = 0;
  const failures = [];
  for (const { name, cases } of files) {
    if (!Array.isArray(cases)) {
      failures.push(`${name}: not a JSON array of cases`);
      continue;
    }
    for (const v of cases) {
      try {
        checkCase(x, v);
        passed++;
      } catch (e) {
        failures.push(`${name} ${v?.id}: ${e.message}`);
      }
    }
  }
  if (passed + failures.length === 0) failures.push("no vector case ran");
  return { passed, failures };
}

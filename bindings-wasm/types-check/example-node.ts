// A typed Node example, checked by `tsc --noEmit` against the generated pkg/node .d.ts.
import {
  serverTimeFromAnswer,
  sign,
  signDetailed,
  signRequest,
  type RequestParts,
  type SignOptions,
} from "../pkg/node/xnonce_wasm.js";

const options: SignOptions = { timestamp: Date.now(), host: "127.0.0.1:8080", body: new Uint8Array([1]) };
export const header: string = sign(
  "v2",
  "POST",
  "/controller2/action1",
  { opt1: "x" },
  "svc",
  "00".repeat(32),
  options,
);
export const ts: number = signDetailed("v2", "GET", "/a", undefined, "svc", "00".repeat(32), {
  host: "h",
  nonce: null, // null counts as absent
}).timestamp;
// Any iterable of pairs is Params (a generator here).
function* pairs(): Generator<[string, string]> {
  yield ["opt1", "x"];
}
export const fromIterable: string = sign("v1", "GET", "/a", pairs(), "svc", "pw", { timestamp: 1 });
// null options are no options, at runtime and in the types (as in the Node package).
export const nullOptions: string = sign("v1", "GET", "/a", [], "svc", "pw", null);
// A stale answer's server time (null: nothing to learn); the hint header may be absent.
export const told: number | null = serverTimeFromAnswer(401, null, header, "00".repeat(32));
// A request signed as it goes out (a fetch in a Worker): its params read from the URL.
const url = new URL("http://127.0.0.1:8080/controller1/action1?username=phil&password=hello%20phil");
const parts: RequestParts = { host: url.host, contentType: null, body: "" };
export const asSent: string = signRequest(
  "v2",
  "GET",
  url.pathname + url.search,
  "svc",
  "00".repeat(32),
  parts,
);

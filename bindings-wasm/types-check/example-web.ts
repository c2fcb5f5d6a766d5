// A typed browser example, checked by `tsc --noEmit` against the generated pkg/web .d.ts.
import init, {
  errorCodes,
  link,
  linkDetailed,
  ottokenDecode,
  ottokenEncode,
  ottokenQueryValue,
  parseHeader,
  sign,
  signDetailed,
  type ErrorCode,
  type ErrorCodeInfo,
  type Header,
  type LinkDetails,
  type Params,
  type SignedDetails,
  InputError,
  XNonceError,
} from "../pkg/web/xnonce_wasm.js";

export async function demo(secret: string): Promise<string> {
  await init();
  const params: Params = [
    ["opt1", "a"],
    ["n", 3],
    ["flag", true],
    ["big", 10n],
  ];
  const header: string = sign("v2", "GET", "/controller1/action1", params, "link-maker", secret, {
    host: "api.example.com",
  });
  const detailed: SignedDetails = signDetailed("v1", "GET", "/admin/status", { a: "1" }, "c", secret);
  const nonce: string | null = detailed.nonce;
  const url: string = link("v2", "GET", "/files/get", new Map([["name", "x"]]), "c", secret, "https://h");
  const full: LinkDetails = linkDetailed("v2", "GET", "/f", null, "c", secret, "https://h", { timestamp: 1 });
  const h: Header = parseHeader(header);
  const mac: string = h.mac;
  const hNonce: string | null = h.nonce;
  const q: string = ottokenQueryValue(ottokenEncode(ottokenDecode(detailed.ottoken)));
  const codes: ErrorCodeInfo[] = errorCodes();
  const first: ErrorCode = codes[0].code;

  // @ts-expect-error: only "v1" and "v2" are schemes
  sign("v3", "GET", "/a", [], "c", secret);
  // @ts-expect-error: unknown option
  sign("v2", "GET", "/a", [], "c", secret, { hots: "h" });
  // @ts-expect-error: a param value cannot be an object
  sign("v2", "GET", "/a", [["k", { nested: 1 }]], "c", secret);

  try {
    sign("v2", "GET", "/a", [], "c", "not hex");
  } catch (e) {
    if (e instanceof InputError) return e.code;
    if (e instanceof XNonceError && e.family === "format") {
      const code: ErrorCode = e.code;
      return code;
    }
  }
  return [url, full.url, nonce, mac, hNonce, q, codes.length, first].join(" ");
}

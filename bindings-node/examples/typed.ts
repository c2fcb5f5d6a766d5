// A typed tour of the package, checked by `tsc --noEmit` (npm run typecheck). It is also a
// runnable example: `node --experimental-strip-types` is not needed; tsc only checks it.
import http = require('node:http')
import http2 = require('node:http2')
import xnonce = require('xnonce')
import {
  sign,
  signDetailed,
  link,
  linkDetailed,
  signRequest,
  parseHeader,
  serverTimeFromAnswer,
  ottokenEncode,
  ottokenDecode,
  ottokenQueryValue,
  Verifier,
  Requester,
  xnonceFetch,
  middleware,
  checkContinue,
  XNonceError,
  AuthError,
  ERROR_CODES,
  type ErrorCode,
  type Params,
  type SignedDetails,
  type Verified,
  type RequesterResponse,
  type Header,
  type Answer,
  type VerifiedRequest,
  type XNonceMiddleware,
} from 'xnonce'

const secret = '20a6250f1dc3f9e56cbbf4576016e517a066092d759402e9fa79dc0c64c0adfd'

// Every params shape is accepted.
const shapes: Params[] = [
  [
    ['username', 'phil'],
    ['n', 3],
    ['big', 10n],
    ['flag', true],
  ],
  { username: 'phil', n: 3 },
  new Map<string, string | number>([['username', 'phil']]),
  new URLSearchParams('username=phil'),
  null,
]
// @ts-expect-error nested objects are not param values
const nested: Params = { user: { name: 'phil' } }
void nested

const header: string = sign('v2', 'GET', '/controller1/action1', shapes[0], 'svc', secret, {
  host: 'api.example.com',
  timestamp: 1_700_000_000_000,
  body: Buffer.from('{}'),
})
const details: SignedDetails = signDetailed('v1', 'GET', '/a/b', shapes[1], 'svc', secret)
const nonce: string | null = details.nonce
const url: string = link(
  'v2',
  'GET',
  '/files/fetch',
  { name: 'r.pdf' },
  'svc',
  secret,
  'https://api.example.com',
)
const linked: string = linkDetailed('v1', 'GET', '/a/b', [], 'svc', secret, 'https://api.example.com').url
const raw: string = signRequest('v2', 'POST', '/a/b?x=1', 'svc', secret, {
  host: 'api.example.com',
  contentType: 'application/json',
  body: '{"a":1}',
})
const parsed: Header = parseHeader(header)
const scheme: 'v1' | 'v2' = parsed.scheme
const token: string = ottokenQueryValue(ottokenEncode(header))
const back: string = ottokenDecode(ottokenEncode(header))
// @ts-expect-error the scheme is 'v1' or 'v2'
sign('v3', 'GET', '/a/b', [], 'svc', secret)

const verifier = new Verifier(
  { svc: [secret] },
  { windowMs: 30_000, actionWindows: { 'reports/live': 5_000 }, schemes: ['v2'] },
)
// Read-only settings (`as const`, a ReadonlyMap, a frozen config) are what the runtime reads.
const config = { schemes: ['v2'], hosts: ['api.example.com'] } as const
const readonlySecrets: ReadonlyMap<string, readonly string[]> = new Map([['svc', [secret] as const]])
const frozen = new Verifier(readonlySecrets, config)
void new Verifier({ svc: secret }, config)
frozen.setSecrets({ svc: [secret] } as const)
frozen.setSecrets((client: string): readonly string[] | undefined => readonlySecrets.get(client))
// Secrets looked up per request, from a table the app keeps up to date.
const cached = new Map<string, string[]>([['svc', [secret]]])
const looking = new Verifier((client: string) => cached.get(client))
looking.setSecrets({ svc: secret })
// A configuration reload on the same verifier: its secrets and replay store stay.
frozen.reconfigure(config)
frozen.reconfigure({ windowMs: 60_000 }, Date.now())
frozen.reconfigure(null, 1_700_000_000_000n)
// @ts-expect-error `now` is in ms, a number or a bigint
frozen.reconfigure({}, new Date())
// @ts-expect-error the lookup is synchronous: a Promise is no secret
new Verifier(async (client: string) => cached.get(client))
void looking
try {
  const ok: Verified = verifier.verifyOnce('GET', '/controller1/action1', {
    host: 'api.example.com',
    xNonce: header,
  })
  const pairs: Array<[string, string]> = ok.params
  void pairs
} catch (e) {
  if (e instanceof XNonceError) {
    const code: ErrorCode = e.code
    if (e instanceof AuthError && e.code === 'expired') {
      const serverTime: number | undefined = e.serverTime
      void serverTime
    }
    const answer: Answer | undefined = e.answer
    if (answer) {
      const status: number = answer.status
      const contentType: string | undefined = answer.headers['content-type']
      const body: string = answer.body
      void [status, contentType, body]
    }
    void code
  }
}

// The server adapter: a complete node:http handler with `then`, or Express-style with `next`.
const server = http.createServer(
  middleware(verifier, {
    once: true,
    limit: 64 * 1024,
    then(req: VerifiedRequest, res: http.ServerResponse) {
      const client: string = req.xnonce.client
      const raw: Buffer = req.rawBody
      res.end(`${client} ${raw.length}`)
    },
  }),
)
const guard: XNonceMiddleware = middleware(verifier)
const viaNext: Promise<void> = guard(
  new http.IncomingMessage(null as never),
  {} as http.ServerResponse,
  (error) => {
    void error
  },
)
// @ts-expect-error limit is a number of bytes
middleware(verifier, { limit: '1mb' })
// A declared body over the limit is refused before node:http's `100 Continue`.
server.on('checkContinue', checkContinue({ limit: 64 * 1024 }))
// @ts-expect-error limit is a number of bytes
checkContinue({ limit: '1mb' })
void [server, viaNext]

// A framework's own request and response types (as Express's extend node:http's) flow
// through `then`, and the middleware takes them.
interface AppRequest extends http.IncomingMessage {
  session: string
}
interface AppResponse extends http.ServerResponse {
  json(value: unknown): void
}
const typedGuard: (req: AppRequest, res: AppResponse) => Promise<void> = middleware(verifier, {
  then(req: VerifiedRequest<AppRequest>, res: AppResponse) {
    res.json({ client: req.xnonce.client, session: req.session })
  },
})
// node:http2's compatibility API: inferred from createServer, explicit where overloads hide it.
const h2 = http2.createServer(
  middleware(verifier, {
    then(req, res) {
      res.end(req.xnonce.client + req.headers[':authority'])
    },
  }),
)
const h2s = http2.createSecureServer(
  {},
  middleware<http2.Http2ServerRequest, http2.Http2ServerResponse>(verifier, {
    then(req, res) {
      res.end(req.xnonce.client)
    },
  }),
)
h2.on('checkContinue', checkContinue())
// It emits 'request' on `this`, the server: from a listener of one's own, called on it.
const continuing = checkContinue()
server.on('checkContinue', (req, res) => continuing.call(server, req, res))
// @ts-expect-error called on its own, `this` is undefined (a TypeError at runtime)
server.on('checkContinue', (req, res) => continuing(req, res))
void [typedGuard, h2, h2s]

async function requests(): Promise<void> {
  const api = new Requester('http://127.0.0.1:8080', 'svc', secret, {
    scheme: 'v2',
    timeoutMs: 5_000,
    correctClock: true,
    clockOffsetMs: 0,
  })
  const offset: number = api.clockOffsetMs
  const res: RequesterResponse = await api.makeRequest(
    'GET',
    { username: 'phil' },
    'action1',
    'controller1',
    {
      timestamp: Date.now(),
      nonce: null, // null counts as absent: a random nonce
      json: { any: ['json', 1] },
      headers: { 'x-request-id': 'abc' },
    },
  )
  // extraParams are sent but NOT signed: a verifying server answers 401 (a tamper test).
  const tampered: RequesterResponse = await api.makeRequest(
    'GET',
    { username: 'phil' },
    '/admin/status',
    null,
    {
      extraParams: [['trace', 'on']],
    },
  )
  void tampered
  const code: number = res.code
  const data: unknown = res.data
  const headers: Array<[string, string]> = res.headers
  void [code, data, headers, offset]

  const signedFetch = xnonceFetch({ client: 'svc', secret, scheme: 'v2' })
  const answer: Response = await signedFetch('http://127.0.0.1:8080/admin/status', { method: 'GET' })
  void answer.status
  // null counts as absent in every options object (v2, the global fetch).
  void xnonceFetch({
    client: 'svc',
    secret,
    scheme: null,
    fetch: null,
    correctClock: null,
    clockOffsetMs: null,
  })
  // Clock correction: on by default; the offset in use is the function's, read-only.
  const corrected = xnonceFetch({ client: 'svc', secret, correctClock: true, clockOffsetMs: -1_500 })
  const learned: number = corrected.clockOffsetMs
  // @ts-expect-error read-only
  corrected.clockOffsetMs = 0
  // What a stale answer's hint says, for one's own HTTP stack (null: ignore the answer).
  const told: number | null = serverTimeFromAnswer(
    answer.status,
    answer.headers.get('x-nonce-server-time'),
    'v2 svc 1700000000000 00112233445566778899aabbccddeeff ' + '0'.repeat(64),
    secret,
  )
  void [learned, told]
}

// An options argument may be null, as every options object's option (null counts as absent).
const noOptions = null
void [
  sign('v1', 'GET', '/a/b', [], 'svc', secret, noOptions),
  signDetailed('v1', 'GET', '/a/b', [], 'svc', secret, noOptions),
  link('v1', 'GET', '/a/b', [], 'svc', secret, 'https://api.example.com', noOptions),
  linkDetailed('v1', 'GET', '/a/b', [], 'svc', secret, 'https://api.example.com', noOptions),
  signRequest('v1', 'GET', '/a/b', 'svc', secret, noOptions),
  new Verifier({ svc: secret }, noOptions),
  middleware(verifier, noOptions),
  checkContinue(noOptions),
  new Requester('http://127.0.0.1:8080', 'svc', secret, noOptions).makeRequest(
    'GET',
    [],
    '/a/b',
    null,
    noOptions,
  ),
]
try {
  verifier.verify('GET', '/a/b', noOptions)
  verifier.verifyOnce('GET', '/a/b', noOptions)
} catch {
  // refused: no credential
}

const codes: readonly ErrorCode[] = ERROR_CODES
const viaNamespace: string = xnonce.sign('v1', 'GET', '/a/b', [], 'svc', secret)
void [details, nonce, url, linked, raw, scheme, token, back, codes, viaNamespace, requests]

// The ES module entry point, typed: `import { ... } from 'xnonce'` from an .mts file.
import xnonce, { sign, XNonceError, type SignOptions } from 'xnonce'

const options: SignOptions = { host: 'api.example.com' }
const header: string = sign('v2', 'GET', '/a/b', [], 'svc', 'a'.repeat(64), options)
const same: typeof sign = xnonce.sign
const isError: boolean = new XNonceError('replayed', 'again') instanceof Error
void [header, same, isError]

'use strict'
// Randomized differential test: the binding (= core) against the independent implementation
// conformance/independent/xnonce_spec.mjs (written from docs/PROTOCOL.md alone), through the
// generators, runners and comparison shared with the WASM package's test
// (conformance/independent/differential.mjs, which says how). XNONCE_DIFF_SEED /
// XNONCE_DIFF_CASES override the fixed seed and case count; a failure message (seed,
// operation, index, inputs) is reproducible whatever the count.

const test = require('node:test')
const assert = require('node:assert/strict')
const path = require('node:path')
const { pathToFileURL } = require('node:url')
const xnonce = require('..')

const SHARED = pathToFileURL(
  path.join(__dirname, '..', '..', 'conformance', 'independent', 'differential.mjs'),
)
// An ES module, from this CommonJS file: a dynamic import(), started once (a failure to load
// it fails each test that awaits it, not the process).
const shared = import(SHARED)
shared.catch(() => {})

// One test per operation. The names are written here, as a CommonJS file declares its tests
// before the import answers; each test checks them against the shared module's list.
const NAMES = ['sign', 'link', 'parseHeader', 'ottoken', 'serverTime', 'signRequest']
for (const name of NAMES) {
  test(`differential: ${name} (binding vs xnonce_spec.mjs)`, async () => {
    const { OPERATIONS, runOperation, summaryLine, settingsFromEnv } = await shared
    assert.deepEqual(NAMES, OPERATIONS, 'the operations of differential.mjs')
    console.log(summaryLine(runOperation(name, xnonce, settingsFromEnv(process.env))))
  })
}
